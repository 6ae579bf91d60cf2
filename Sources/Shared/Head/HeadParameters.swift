import DinoSegNN
// The head modules' parameters as typed references into the head's ParameterArena, resolved once after allocation so
// forward and backward never look a parameter up by name. A module declares its parameters (PyTorch state_dict keys,
// which live only there and in checkpoints) through a `HeadParameterDeclarer` before the arena is allocated, keeping
// the arena indices (`ConvSlot`, `BNSlot`), and resolves them into `HeadConv` / `HeadBN` afterwards.

/// A convolution's weight and optional bias.
struct HeadConv {
    let weight: ParameterRef
    let bias: ParameterRef?
}

/// A BatchNorm's affine parameters, running statistics and `num_batches_tracked` counter.
struct HeadBN {
    let gamma: ParameterRef, beta: ParameterRef
    /// Running statistics (in the stats arena; updated in training, used in eval).
    let runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>
    /// Index into the head's BatchNorm counters (`bnPrefixes` order).
    let tracked: Int
}

/// Arena indices of a convolution, as `ParameterArena.add` returns them before allocation.
struct ConvSlot {
    let weight: Int, bias: Int?
    func resolve(_ params: ParameterArena) -> HeadConv { HeadConv(weight: params.ref(weight), bias: bias.map(params.ref)) }
}

/// Arena indices of a BatchNorm.
struct BNSlot {
    let gamma: Int, beta: Int, runningMean: Int, runningVar: Int, tracked: Int
    func resolve(_ params: ParameterArena, _ stats: ParameterArena) -> HeadBN {
        HeadBN(gamma: params.ref(gamma), beta: params.ref(beta), runningMean: stats.ref(runningMean).value,
               runningVar: stats.ref(runningVar).value, tracked: tracked)
    }
}

/// Adds the modules' parameters to the head's arenas in declaration order (the checkpoint order) and numbers the
/// BatchNorms.
final class HeadParameterDeclarer {
    let params: ParameterArena, stats: ParameterArena
    private(set) var bnPrefixes: [String] = []

    init(params: ParameterArena, stats: ParameterArena) { self.params = params; self.stats = stats }

    /// PyTorch's default Conv2d init: U(±1/√fan_in) for the weight (and the bias, when there is one).
    func conv(_ name: String, cin: Int, cout: Int, kernel: Int, bias: Bool) -> ConvSlot {
        let bound = 1 / Float(cin * kernel * kernel).squareRoot()
        return conv(name, cin: cin, cout: cout, kernel: kernel, weightBound: bound, bias: bias ? bound : nil)
    }

    /// A convolution with explicit init bounds (`bias` nil: no bias; 0: a zero bias).
    func conv(_ name: String, cin: Int, cout: Int, kernel: Int, weightBound: Float, bias: Float?) -> ConvSlot {
        let layout: ParameterLayout = kernel == 1 ? .conv1x1 : kernel == 3 ? .conv3x3 : .convKxK
        let w = params.add("\(name).weight", torchShape: [cout, cin, kernel, kernel], layout: layout, initBound: weightBound)
        let b = bias.map { bound in
            params.add("\(name).bias", torchShape: [cout], layout: .vector, initBound: bound > 0 ? bound : nil)
        }
        return ConvSlot(weight: w, bias: b)
    }

    func batchNorm(_ prefix: String, width: Int) -> BNSlot {
        bnPrefixes.append(prefix)
        return BNSlot(gamma: params.add("\(prefix).weight", torchShape: [width], layout: .vector, initConstant: 1),
                      beta: params.add("\(prefix).bias", torchShape: [width], layout: .vector),
                      runningMean: stats.add("\(prefix).running_mean", torchShape: [width], layout: .vector),
                      runningVar: stats.add("\(prefix).running_var", torchShape: [width], layout: .vector, initConstant: 1),
                      tracked: bnPrefixes.count - 1)
    }
}
