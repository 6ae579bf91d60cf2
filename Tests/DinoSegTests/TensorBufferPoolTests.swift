import XCTest
@testable import DinoSegCore
@testable import DinoSegModels
@testable import DinoSegPipeline

/// The baseline's tensor memory is reused across steps, within the live peak (sizes in floats; no randomness).
final class TensorBufferPoolTests: XCTestCase {
    func testFreedBuffersAreReusedForTheSameCount() {
        let pool = TensorBufferPool()
        let a = pool.take(1000), b = pool.take(1000), c = pool.take(500)
        XCTAssertEqual(pool.liveBytes, 10_000)
        pool.give(a, count: 1000); pool.give(b, count: 1000); pool.give(c, count: 500)
        XCTAssertEqual(pool.liveBytes, 0)
        XCTAssertEqual(pool.keptBytes, 10_000, "everything freed fits within the live peak of 10,000 bytes")
        let again = pool.take(1000)
        XCTAssertTrue(again == a || again == b, "a kept buffer of 1000 floats is handed out again")
        XCTAssertEqual(pool.keptBytes, 6_000)
        let other = pool.take(777)
        XCTAssertTrue(other != a && other != b && other != c, "no kept buffer has 777 floats: a new one")
        pool.give(again, count: 1000); pool.give(other, count: 777)
    }

    func testKeptBytesNeverExceedTheLivePeak() {
        let pool = TensorBufferPool()
        pool.give(pool.take(100), count: 100)          // peak 400 bytes; 400 kept
        XCTAssertEqual(pool.keptBytes, 400)
        pool.give(pool.take(200), count: 200)          // peak 800; keeping it too would make 1,200 > 800: freed
        XCTAssertEqual(pool.peakLiveBytes, 800)
        XCTAssertEqual(pool.keptBytes, 400)
        for count in 300..<340 { pool.give(pool.take(count), count: count) }   // ever-changing shapes
        XCTAssertLessThanOrEqual(pool.keptBytes, pool.peakLiveBytes)
    }

    /// Two training steps of a small baseline give the same losses and weights whether its tensors get fresh memory
    /// or kept buffers filled with NaN: this fails if any layer reads memory it did not write first.
    func testKeptBuffersFilledWithNaNDoNotChangeTrainingSteps() throws {
        let config = PSPNetConfig.reduced(divisor: 16, blocks: [1, 1, 1, 1], outputStride: 8)
        let (n, crop, seed): (Int, Int, UInt64) = (2, 65, 17)
        func train() throws -> (losses: [Double], weights: [Float]) {
            let net = try PSPNet(config: config, seed: seed, threads: 1)
            var rng = SplitMix64(seed: seed, 1)
            let images = (0..<(n * crop * crop * 3)).map { _ in Float(rng.normal()) }
            let labels = (0..<(n * crop * crop)).map { _ in UInt8(rng.next() % UInt64(config.numClasses)) }
            var losses: [Double] = []
            for k in 0..<2 {
                net.params.zeroGrads()
                let saved = net.forward(images: images, n: n, h: crop, w: crop, training: true, dropoutSeed: UInt64(k))
                losses.append(labels.withUnsafeBufferPointer { net.loss(saved, labels: $0.baseAddress!).total })
                net.backward(saved: saved)
                net.sgdStep(lr: 0.01, headLR: 0.1, momentum: 0.9, weightDecay: 1e-4)
            }
            return (losses, Array(UnsafeBufferPointer(start: net.params.values, count: net.params.count)))
        }
        let first = try train()
        TensorBufferPool.shared.fillKept(with: .nan)
        XCTAssertGreaterThan(TensorBufferPool.shared.keptBytes, 0, "the first run's tensors are kept")
        let second = try train()
        XCTAssertEqual(first.losses, second.losses, "seed \(seed): losses with fresh vs NaN-filled kept tensor memory")
        assertClose(second.weights, first.weights, rtol: 0, atol: 0, seed: seed, what: "weights after 2 steps, NaN-filled kept memory")
    }
}
