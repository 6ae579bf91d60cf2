import XCTest
@testable import DinoSegBackbone
@testable import DinoSegCLI

final class ExtractBenchTests: XCTestCase {
    /// A real run on a small random backbone: the counts and FLOPs are exact, and the JSON fields agree with each other.
    func testBenchmarkJSONLineAndFlops() throws {
        let config = ConvNeXtConfig(hiddenSizes: [8, 16, 24, 32], depths: [1, 1, 1, 1])
        let backbone = ConvNeXtBackbone(weights: .random(config: config, seed: 3))
        let r = BackboneBenchmark.run(backbone: backbone, side: 64, threads: 2, batch: 2, images: 4)
        XCTAssertEqual(r.images, 4)
        XCTAssertEqual(r.gflopPerImage * 1e9, config.flops(height: 64, width: 64), accuracy: 1)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.jsonLine(engine: "swift", model: backbone.name).utf8)) as? [String: Any])
        func number(_ key: String) -> Double { (obj[key] as? NSNumber)?.doubleValue ?? .nan }
        XCTAssertEqual(obj["threads"] as? Int, 2)
        XCTAssertEqual(obj["images"] as? Int, 4)
        XCTAssertEqual(obj["batch"] as? Int, 2)
        XCTAssertEqual(obj["resolution"] as? Int, 64)
        XCTAssertEqual(obj["model"] as? String, backbone.name)
        XCTAssertGreaterThan(r.imagesPerSecond, 0)
        // The fields are the result's numbers, printed with 3, 2, 3 and 1 decimals.
        assertClose([number("images_per_second"), number("ms_per_image"), number("gflop_per_image"), number("gflops_per_second")],
                    [Double(r.images) / r.seconds, 1000 * r.seconds / Double(r.images), r.gflopPerImage, r.gflopPerImage * Double(r.images) / r.seconds],
                    rtol: 0, atol: 0.051, seed: 3, what: "images_per_second, ms_per_image, gflop_per_image, gflops_per_second vs the measured time")
        XCTAssertGreaterThan(number("peak_memory_mib"), 0)
        // Random weights are deterministic: same seed, same checksum; another seed, another checksum.
        XCTAssertEqual(ConvNeXtWeights.random(config: config, seed: 3).sha256, backbone.weightsSHA256)
        XCTAssertNotEqual(ConvNeXtWeights.random(config: config, seed: 4).sha256, backbone.weightsSHA256)
        XCTAssertEqual(ConvNeXtConfig.tiny.flops(height: 224, width: 224), 8.909e9, accuracy: 5e6)
    }

    /// Fixed counts and times give exactly these lines (rates, milliseconds, GFLOP/s and their rounding).
    func testBenchResultLinesForFixedNumbers() {
        let r = BenchResult(images: 8, seconds: 2, cpuSeconds: 6, batch: 2, threads: 2, side: 224, gflopPerImage: 4.5, peakMemoryMiB: 123.4)
        XCTAssertEqual(r.jsonLine(engine: "swift", model: "m"),
                       #"{"engine":"swift","model":"m","resolution":224,"images":8,"threads":2,"batch":2,"images_per_second":4.000,"#
                       + #""ms_per_image":250.00,"gflop_per_image":4.500,"gflops_per_second":18.0,"peak_memory_mib":123.4,"#
                       + #""cpu_normalised_images_per_second":2.667}"#)
        XCTAssertEqual(r.text(engine: "swift", model: "m"),
                       "swift m 224x224: 4.00 images/s, 250.0 ms/image (per image, wall / images), 18.0 GFLOP/s (4.50 GFLOP/image), "
                       + "2 threads, batch 2, peak memory 123 MiB\n  CPU-normalised: 2.67 images/s (images × threads / worker CPU time; "
                       + "what 2 uncontended core(s) would give)")
    }

    /// Each bad value is refused before running, as a usage error whose one line names the option and what is wrong.
    func testBenchOptionValidation() throws {
        let cases: [(arguments: [String], message: String)] = [
            (["--threads", "0"], "--threads must be in 1...1024 (got 0)"),
            (["--batch", "0"], "--batch must be in 1...256 (got 0)"),
            (["--repeat", "0"], "--repeat must be in 1...100 (got 0)"),
            (["--images", "0"], "--images must be in 1...100000 (got 0)"),
            (["--resolution", "16"], "--resolution must be in 32...4096 (got 16)"),
            (["--size", "huge"], "The value 'huge' is invalid for '--size <size>'. Please provide one of 'tiny', 'small', 'base' or 'large'."),
        ]
        for (arguments, message) in cases {
            XCTAssertThrowsError(try ExtractCommand.parseAsRoot(["bench"] + arguments), "bench \(arguments)") { e in
                XCTAssertEqual(ExtractCommand.message(for: e), message, "bench \(arguments)")
                XCTAssertEqual(ExtractCommand.exitCode(for: e), .validationFailure, "bench \(arguments): \(e)")
            }
        }
        // The values next to the refused ones are accepted, so each refusal above is the bound it names.
        let accepted = try ExtractCommand.parseAsRoot(["bench", "--threads", "1", "--batch", "1", "--repeat", "1", "--images", "1",
                                                       "--resolution", "32", "--size", "large"])
        XCTAssertTrue(accepted is ExtractBench, "\(type(of: accepted))")
    }
}
