import DinoSegNN
// The head's parameters as typed references into its ParameterArena, resolved once after allocation so forward and
// backward never look a parameter up by name. The names (PyTorch state_dict keys) live only in the declaration
// (SegmentationHead.declareParameters) and in checkpoints.

struct HeadParameters {
    struct Conv {
        let weight: ParameterRef
        let bias: ParameterRef?
    }

    struct BN {
        let gamma: ParameterRef, beta: ParameterRef
        /// Running statistics (in the stats arena; updated in training, used in eval).
        let runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>
        /// Index into SegmentationHead.bnBatchesTracked.
        let tracked: Int
    }

    /// FPN lateral 1×1 convs, finest level first (empty without FPN).
    let fpnInner: [Conv]
    /// FPN 3×3 output conv (nil without FPN).
    let fpnOut: Conv?
    /// PPM branch 1×1 convs (no bias) and their BatchNorms (empty without PPM).
    let ppmConv: [ParameterRef]
    let ppmBN: [BN]
    /// Classifier: 3×3 conv (no bias), BatchNorm, 1×1 conv to the classes.
    let clsConv: ParameterRef
    let clsBN: BN
    let clsOut: Conv

    /// Arena indices as `ParameterArena.add` returns them, before allocation.
    struct Declared {
        struct BN { var gamma, beta, runningMean, runningVar, tracked: Int }
        var fpnInner: [(weight: Int, bias: Int)] = []
        var fpnOut: (weight: Int, bias: Int)?
        var ppmConv: [Int] = []
        var ppmBN: [BN] = []
        var clsConv = 0
        var clsBN = BN(gamma: 0, beta: 0, runningMean: 0, runningVar: 0, tracked: 0)
        var clsOut = (weight: 0, bias: 0)
        var bnPrefixes: [String] = []

        func resolve(params: ParameterArena, stats: ParameterArena) -> HeadParameters {
            func bn(_ b: BN) -> HeadParameters.BN {
                .init(gamma: params.ref(b.gamma), beta: params.ref(b.beta), runningMean: stats.ref(b.runningMean).value,
                      runningVar: stats.ref(b.runningVar).value, tracked: b.tracked)
            }
            return HeadParameters(
                fpnInner: fpnInner.map { Conv(weight: params.ref($0.weight), bias: params.ref($0.bias)) },
                fpnOut: fpnOut.map { Conv(weight: params.ref($0.weight), bias: params.ref($0.bias)) },
                ppmConv: ppmConv.map { params.ref($0) }, ppmBN: ppmBN.map(bn),
                clsConv: params.ref(clsConv), clsBN: bn(clsBN),
                clsOut: Conv(weight: params.ref(clsOut.weight), bias: params.ref(clsOut.bias)))
        }
    }
}
