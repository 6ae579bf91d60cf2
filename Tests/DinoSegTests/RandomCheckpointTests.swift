import XCTest
@testable import Shared

final class RandomCheckpointTests: XCTestCase {
    func testRandomCheckpointLoadsRunsAndIsMarked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dinoseg-rw-\(getpid())").path
        let config = ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 2, 1, 1])
        try RandomCheckpoint.write(config: config, seed: 3, to: dir)
        XCTAssertTrue(RandomCheckpoint.isRandom(weightsPath: dir))
        XCTAssertFalse(RandomCheckpoint.isRandom(weightsPath: dir + "/missing"))
        let backbone = try ConvNeXtBackbone(weightsPath: dir)
        XCTAssertEqual(backbone.stageChannels, [8, 16, 24, 32])
        XCTAssertTrue(RandomCheckpoint.isRandom(backboneName: backbone.name), backbone.name)
        var rng = SplitMix64(seed: 3)
        let image = (0..<(64 * 64 * 3)).map { _ in Float(rng.normal()) }
        let maps = image.withUnsafeBufferPointer { backbone.forward(image: $0.baseAddress!, height: 64, width: 64, stages: [0, 3]) }
        XCTAssertEqual(maps.map(\.height), [16, 2])
        XCTAssertTrue(maps[1].data.allSatisfy(\.isFinite))
        // Deterministic for the seed, different for another seed.
        let a = RandomCheckpoint.tensors(config: config, seed: 3), b = RandomCheckpoint.tensors(config: config, seed: 4)
        assertClose(RandomCheckpoint.tensors(config: config, seed: 3).flatMap(\.values), a.flatMap(\.values), rtol: 0, seed: 3,
                    what: "random checkpoint made twice")
        XCTAssertFalse(closeness(b[0].values, a[0].values, rtol: 0, seed: "3, 4", what: "first tensor").passed, "seeds 3 and 4 give the same first tensor")
    }
}
