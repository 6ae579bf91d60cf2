// Arithmetic cost of the head, counted as the direct algorithms do it (2 FLOP per multiply-add of every convolution;
// elementwise layers are not counted). Used to report GFLOP/s.

extension HeadConfig {
    /// FLOPs of one forward pass, and of one training step (forward + backward), for a batch with the given stage shapes.
    package func flops(batch n: Int, shapes: [Int: (h: Int, w: Int, c: Int)]) -> (forward: Double, trainingStep: Double) {
        var fwd = 0.0, step = 0.0
        // cost of one conv: forward 1×, weight gradient 1×, input gradient 1× when it is needed
        func conv(_ rows: Int, _ kin: Int, _ cout: Int, inputGrad: Bool) {
            let f = 2.0 * Double(rows) * Double(kin) * Double(cout)
            fwd += f
            step += f * (inputGrad ? 3 : 2)
        }
        let work = shapes[workingStage]!
        let rows = n * work.h * work.w
        if useFPN {
            for level in fpnLevels {
                let s = shapes[level]!
                conv(n * s.h * s.w, s.c, fpnWidth, inputGrad: false)
            }
            conv(rows, 9 * fpnWidth, fpnWidth, inputGrad: true)
        }
        switch context {
        case .none:
            break
        case .ppm:
            for b in ppmBins { conv(n * b * b, featureWidth, ppmReduction, inputGrad: useFPN) }
        case .aspp:
            // the 1×1 branch, the three atrous 3×3 branches, the image-pooling 1×1 conv, the 1×1 projection
            conv(rows, featureWidth, asppWidth, inputGrad: useFPN)
            for _ in asppRates { conv(rows, 9 * featureWidth, asppWidth, inputGrad: useFPN) }
            conv(n, featureWidth, asppWidth, inputGrad: useFPN)
            conv(rows, (asppRates.count + 2) * asppWidth, asppWidth, inputGrad: true)
        }
        conv(rows, 9 * classifierInput, classifierWidth, inputGrad: useFPN || context != .none)
        conv(rows, classifierWidth, numClasses, inputGrad: true)
        return (fwd, step)
    }
}
