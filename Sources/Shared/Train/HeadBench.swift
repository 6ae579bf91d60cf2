import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegModels

/// Times full training steps (forward, loss, backward, SGD) of a head on random features and labels.
package struct HeadBenchConfig: Sendable {
    package var head: HeadConfig
    package var batch: Int
    package var steps: Int
    package var threads: Int
    /// Spatial sizes of stages 0...3 (the tiny backbone at 224: 56, 28, 14, 7).
    package var stageSizes: [Int] = [56, 28, 14, 7]
    package var labelSize = 224
    /// 3×3 convolutions by Winograd (default) or by the im2col + GEMM reference path.
    package var useWinograd = true

    package init(head: HeadConfig, batch: Int, steps: Int, threads: Int) {
        self.head = head; self.batch = batch; self.steps = steps; self.threads = threads
    }
}

package struct HeadBenchResult: Sendable {
    package var samplesPerSecond: Double
    package var gflopsPerSecond: Double
    package var secondsPerStep: Double
    package var gflopPerStep: Double
    package var activationBytes: Int
    package var parameterCount: Int
    package var lastLoss: Double
}

package enum HeadBench {
    /// Times training steps with the BLAS on `cfg.threads` threads (restored afterwards).
    package static func run(_ cfg: HeadBenchConfig) throws -> HeadBenchResult {
        try withBLASThreads(cfg.threads) { try measure(cfg) }
    }

    private static func measure(_ cfg: HeadBenchConfig) throws -> HeadBenchResult {
        let head = try SegmentationHead(config: cfg.head, seed: 1, threads: cfg.threads)
        head.useWinograd = cfg.useWinograd
        var rng = SplitMix64(seed: 2)
        var shapes: [Int: SegmentationHead.StageShape] = [:]
        var buffers: [Int: UnsafeMutablePointer<Float>] = [:]
        for s in cfg.head.requiredStages {
            let size = cfg.stageSizes[s], c = cfg.head.stageChannels[s]
            shapes[s] = (size, size, c)
            let count = cfg.batch * size * size * c
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = Float(rng.normal()) }
            buffers[s] = p
        }
        defer { buffers.values.forEach { $0.deallocate() } }
        let stages = buffers.mapValues { UnsafePointer($0) }
        let labelCount = cfg.batch * cfg.labelSize * cfg.labelSize
        let labels = (0..<labelCount).map { _ in UInt8(rng.next() % UInt64(cfg.head.numClasses)) }

        var loss = 0.0
        func step(_ k: Int) {
            head.params.zeroGrads()
            let activations = head.forward(stages: stages, shapes: shapes, batch: cfg.batch, training: true,
                                           dropoutSeed: UInt64(k))
            labels.withUnsafeBufferPointer {
                let l = head.loss(activations, labels: $0.baseAddress!, labelHeight: cfg.labelSize, labelWidth: cfg.labelSize)
                head.backward(saved: activations, loss: l)
                loss = l.loss
            }
            head.sgdStep(lr: 0.01, momentum: 0.9, weightDecay: 1e-4)
        }
        step(0)  // warm-up: allocates the activations
        let start = DispatchTime.now().uptimeNanoseconds
        for k in 1...max(1, cfg.steps) { step(k) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(max(1, cfg.steps))
        let flops = cfg.head.flops(batch: cfg.batch, shapes: shapes).trainingStep
        return HeadBenchResult(samplesPerSecond: Double(cfg.batch) / seconds, gflopsPerSecond: flops / seconds / 1e9,
                               secondsPerStep: seconds, gflopPerStep: flops / 1e9, activationBytes: head.activationBytes,
                               parameterCount: head.params.count, lastLoss: loss)
    }
}
