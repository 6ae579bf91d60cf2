import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegKernels

/// Times full training steps of the PSPNet baseline (forward with aux, loss, backward, SGD with two learning rates) on
/// random normalised images and labels.
package enum BaselineBench {
    package struct Result {
        package var samplesPerSecond: Double
        package var secondsPerStep: Double
        package var activationBytes: Int
        package var parameterCount: Int
        package var lastLoss: Double
    }

    /// Times training steps with the BLAS on `threads` threads (restored afterwards).
    package static func run(config: PSPNetConfig, crop: Int, batch: Int, steps: Int, threads: Int) throws -> Result {
        try withBLASThreads(threads) { try measure(config: config, crop: crop, batch: batch, steps: steps, threads: threads) }
    }

    private static func measure(config: PSPNetConfig, crop: Int, batch: Int, steps: Int, threads: Int) throws -> Result {
        let net = try PSPNet(config: config, seed: 1, threads: threads)
        var rng = SplitMix64(seed: 2)
        let images = (0..<(batch * crop * crop * 3)).map { _ in Float(rng.normal()) }
        let labels = (0..<(batch * crop * crop)).map { _ in UInt8(rng.next() % UInt64(config.numClasses)) }
        var loss = 0.0, bytes = 0
        func step(_ k: Int) {
            net.params.zeroGrads()
            let saved = net.forward(images: images, n: batch, h: crop, w: crop, training: true, dropoutSeed: UInt64(k))
            bytes = saved.bytes
            loss = labels.withUnsafeBufferPointer { net.loss(saved, labels: $0.baseAddress!).total }
            net.backward(saved: saved)
            net.sgdStep(lr: 0.01, headLR: 0.1, momentum: 0.9, weightDecay: 1e-4)
        }
        step(0)  // warm-up
        let start = DispatchTime.now().uptimeNanoseconds
        for k in 1...max(1, steps) { step(k) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(max(1, steps))
        return Result(samplesPerSecond: Double(batch) / seconds, secondsPerStep: seconds, activationBytes: bytes,
                      parameterCount: net.params.count, lastLoss: loss)
    }
}
