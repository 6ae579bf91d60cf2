import XCTest
@testable import Shared

final class ExtractBenchTests: XCTestCase {
    func testBenchmarkJSONLineAndFlops() throws {
        let config = ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 1, 1, 1])
        let backbone = ConvNeXtBackbone(weights: .random(config: config, seed: 3))
        let r = BackboneBenchmark.run(backbone: backbone, side: 64, threads: 2, batch: 2, images: 4)
        XCTAssertEqual(r.images, 4)
        XCTAssertEqual(r.gflopPerImage * 1e9, config.flops(height: 64, width: 64), accuracy: 1)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.jsonLine(engine: "swift", model: backbone.name).utf8)) as? [String: Any])
        for key in ["images_per_second", "gflops_per_second", "threads", "ms_per_image", "peak_memory_mib"] {
            XCTAssertNotNil(obj[key], key)
        }
        XCTAssertEqual(obj["threads"] as? Int, 2)
        XCTAssertGreaterThan((obj["images_per_second"] as? NSNumber)?.doubleValue ?? 0, 0)
        // Random weights are deterministic: same seed, same checksum; another seed, another checksum.
        XCTAssertEqual(ConvNeXtWeights.random(config: config, seed: 3).sha256, backbone.weightsSHA256)
        XCTAssertNotEqual(ConvNeXtWeights.random(config: config, seed: 4).sha256, backbone.weightsSHA256)
        XCTAssertEqual(ConvNeXtConfig.tiny.flops(height: 224, width: 224), 8.909e9, accuracy: 5e6)
    }

    func testBenchOptionValidation() {
        XCTAssertThrowsError(try ExtractCommand.parseAsRoot(["bench", "--threads", "0"]))
        XCTAssertThrowsError(try ExtractCommand.parseAsRoot(["bench", "--size", "huge"]))
        XCTAssertThrowsError(try ExtractCommand.parseAsRoot(["bench", "--batch", "0"]))
    }
}
