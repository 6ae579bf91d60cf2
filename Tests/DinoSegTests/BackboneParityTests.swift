import XCTest
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegBackbone
@testable import DinoSegCache

/// The Swift backbone against transformers' DINOv3ConvNextModel (fixtures written by scripts/make_backbone_fixture.py),
/// plus the weight-file variants it must accept and the bad inputs it must reject.
final class BackboneParityTests: XCTestCase {
    static let goldenShapes = [(16, 16, 24), (32, 8, 12), (48, 4, 6), (64, 2, 3)]  // (C, H, W)

    private var goldenDir: String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/golden-small").path
    }

    private func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The golden input converted from NCHW [1, 3, 64, 96] to NHWC.
    private func goldenInputNHWC() throws -> [Float] {
        let nchw = try readFloats(goldenDir + "/input.f32.bin")
        let h = 64, w = 96
        var nhwc = [Float](repeating: 0, count: nchw.count)
        for c in 0..<3 { for y in 0..<h { for x in 0..<w { nhwc[(y * w + x) * 3 + c] = nchw[(c * h + y) * w + x] } } }
        return nhwc
    }

    private func stageOutputs(_ backbone: ConvNeXtBackbone) throws -> [FeatureMap] {
        let input = try goldenInputNHWC()
        return backbone.forward(image: input, height: 64, width: 96, stages: [0, 1, 2, 3])
    }

    /// Each stage against the fixture's NCHW reference `stage{s}.f32.bin` in `dir`: max |ours − ref| / max |ref| ≤ rtol.
    /// Returns the one-line reports.
    @discardableResult
    private func assertParity(_ maps: [FeatureMap], fixture dir: String, rtol: Double, what: String,
                              file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try maps.enumerated().map { s, m in
            let ref = try readFloats(dir + "/stage\(s).f32.bin")
            var nchw = [Float](repeating: 0, count: m.data.count)
            for ch in 0..<m.channels { for y in 0..<m.height { for x in 0..<m.width {
                nchw[(ch * m.height + y) * m.width + x] = m.data[(y * m.width + x) * m.channels + ch]
            } } }
            let c = closeness(nchw, ref, rtol: rtol, relativeTo: .maxExpected, shape: [m.channels, m.height, m.width],
                              seed: nil, what: "\(what) stage \(s) vs transformers")
            if !c.passed { XCTFail(c.report, file: file, line: line) }
            return c.report
        }
    }

    func testGoldenParity() throws {
        let backbone = try ConvNeXtBackbone(weightsPath: goldenDir)
        XCTAssertEqual(backbone.config.hiddenSizes, [16, 32, 48, 64])
        XCTAssertEqual(backbone.config.depths, [1, 1, 2, 1])
        let maps = try stageOutputs(backbone)
        XCTAssertEqual(maps.map { [$0.channels, $0.height, $0.width] }, Self.goldenShapes.map { [$0.0, $0.1, $0.2] })
        for report in try assertParity(maps, fixture: goldenDir, rtol: 1e-5, what: "golden-small") { print(report) }
        // Checksum of the weight file (value from the golden manifest's tool run: sha256sum model.safetensors).
        XCTAssertEqual(backbone.weightsSHA256, try SHA256.hex(ofFile: goldenDir + "/model.safetensors"))
        XCTAssertEqual(backbone.weightsSHA256.count, 64)
    }

    /// A second fixture from scripts/make_backbone_fixture.py: channel counts that are not multiples of 8 (scalar
    /// kernel tails) and an input of 71×99 (floor division at every stride).
    func testOddSizedFixtureParity() throws {
        let dir = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/golden-odd").path
        let backbone = try ConvNeXtBackbone(weightsPath: dir)
        XCTAssertEqual(backbone.config, ConvNeXtConfig(hiddenSizes: [12, 20, 36, 44], depths: [1, 2, 1, 1]))
        let (h, w) = (71, 99)
        let nchw = try readFloats(dir + "/input.f32.bin")
        var nhwc = [Float](repeating: 0, count: nchw.count)
        for c in 0..<3 { for y in 0..<h { for x in 0..<w { nhwc[(y * w + x) * 3 + c] = nchw[(c * h + y) * w + x] } } }
        let maps = backbone.forward(image: nhwc, height: h, width: w, stages: [0, 1, 2, 3])
        XCTAssertEqual(maps.map { [$0.channels, $0.height, $0.width] }, [[12, 17, 24], [20, 8, 12], [36, 4, 6], [44, 2, 3]])
        try assertParity(maps, fixture: dir, rtol: 1e-5, what: "golden-odd")
    }

    func testConcurrentForwardCallsAgree() throws {
        let backbone = try ConvNeXtBackbone(weightsPath: goldenDir)
        let input = try goldenInputNHWC()
        let single = backbone.forward(image: input, height: 64, width: 96, stages: [3])[0].data
        var results = [[Float]](repeating: [], count: 8)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let out = backbone.forward(image: input, height: 64, width: 96, stages: [1, 3])
            lock.lock(); results[i] = out[1].data; lock.unlock()
        }
        for (i, r) in results.enumerated() {
            assertClose(r, single, rtol: 0, seed: nil, what: "golden-small stage 3, concurrent call \(i) vs alone")
        }
    }

    func testShapeInferenceWithoutConfig() throws {
        let backbone = try ConvNeXtBackbone(weightsPath: goldenDir + "/model.safetensors")
        XCTAssertEqual(backbone.config, ConvNeXtConfig(hiddenSizes: [16, 32, 48, 64], depths: [1, 1, 2, 1]))
        try assertParity(try stageOutputs(backbone), fixture: goldenDir, rtol: 1e-5, what: "golden-small, shapes inferred")
        XCTAssertEqual(ConvNeXtConfig.tiny.flops(height: 224, width: 224) / 1e9, 8.91, accuracy: 0.005)
    }

    /// Rewrites the golden weights under another naming / prefix and checks the outputs are unchanged.
    func testMetaNamingAndModelPrefix() throws {
        let st = try SafetensorsFile(path: goldenDir + "/model.safetensors")
        let dir = try tempDir("bb-names")
        for (tag, naming) in [("meta", ConvNeXtKeyNaming(style: .meta)), ("prefixed", ConvNeXtKeyNaming(style: .huggingFace, prefix: "model.")),
                              ("meta-prefixed", ConvNeXtKeyNaming(style: .meta, prefix: "model."))] {
            var tensors: [(name: String, shape: [Int], values: [Float])] = []
            for name in st.names { tensors.append((naming.fileKey(name), st.tensors[name]!.shape, try st.floats(name))) }
            if naming.style == .meta { XCTAssertTrue(tensors.contains { $0.name == naming.prefix + "stages.2.1.dwconv.weight" }) }
            let path = dir + "/\(tag).safetensors"
            try SafetensorsFile.write(path: path, floats: tensors)
            let backbone = try ConvNeXtBackbone(weightsPath: path)
            XCTAssertEqual(backbone.weights.naming, naming, tag)
            try assertParity(try stageOutputs(backbone), fixture: goldenDir, rtol: 1e-5, what: "golden-small, \(tag) names")
        }
    }

    /// F16 and BF16 checkpoints load to exactly the rounded values (compared with an F32 file holding those values).
    func testHalfPrecisionWeights() throws {
        let st = try SafetensorsFile(path: goldenDir + "/model.safetensors")
        let dir = try tempDir("bb-half")
        for dtype in ["F16", "BF16"] {
            var entries: [(String, [Int], String, Data)] = []
            var rounded: [(name: String, shape: [Int], values: [Float])] = []
            for name in st.names {
                let v = try st.floats(name)
                var bits = [UInt16](), back = [Float]()
                for x in v {
                    if dtype == "F16" { let h = Float16(x); bits.append(h.bitPattern); back.append(Float(h)) }
                    else { let b = UInt16((x.bitPattern &+ 0x7FFF &+ ((x.bitPattern >> 16) & 1)) >> 16); bits.append(b); back.append(Float(bitPattern: UInt32(b) << 16)) }
                }
                entries.append((name, st.tensors[name]!.shape, dtype, bits.withUnsafeBytes { Data($0) }))
                rounded.append((name, st.tensors[name]!.shape, back))
            }
            try writeRawSafetensors(path: dir + "/\(dtype).safetensors", entries)
            try SafetensorsFile.write(path: dir + "/\(dtype)-as-f32.safetensors", floats: rounded)
            let half = try stageOutputs(try ConvNeXtBackbone(weightsPath: dir + "/\(dtype).safetensors"))
            let full = try stageOutputs(try ConvNeXtBackbone(weightsPath: dir + "/\(dtype)-as-f32.safetensors"))
            for s in 0..<4 {
                assertClose(half[s].data, full[s].data, rtol: 0, seed: nil, what: "golden-small \(dtype) file vs rounded F32 file, stage \(s)")
            }
            // Rounding the weights moves the outputs only a little from the F32 reference.
            try assertParity(half, fixture: goldenDir, rtol: dtype == "F16" ? 2e-2 : 1e-1, what: "golden-small, \(dtype) weights")
        }
    }

    // MARK: bad input

    private func assertLoadFails(_ path: String, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ConvNeXtBackbone(weightsPath: path), file: file, line: line) { error in
            let msg = "\(error)"
            XCTAssertTrue(error is DinoSegError, "not a DinoSegError: \(msg)", file: file, line: line)
            for p in parts { XCTAssertTrue(msg.contains(p), "'\(msg)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func testBadWeightFiles() throws {
        let dir = try tempDir("bb-bad")
        assertLoadFails(dir + "/nope.safetensors", contains: ["nope.safetensors", "not found"])
        assertLoadFails(dir, contains: ["model.safetensors", "not found"])  // directory without the weights

        let data = try Data(contentsOf: URL(fileURLWithPath: goldenDir + "/model.safetensors"))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: dir + "/truncated.safetensors"))
        assertLoadFails(dir + "/truncated.safetensors", contains: ["truncated"])
        try data.prefix(5).write(to: URL(fileURLWithPath: dir + "/tiny.safetensors"))
        assertLoadFails(dir + "/tiny.safetensors", contains: ["truncated"])

        let st = try SafetensorsFile(path: goldenDir + "/model.safetensors")
        func rewrite(_ path: String, drop: String? = nil, reshape: (String, [Int])? = nil) throws {
            var t: [(name: String, shape: [Int], values: [Float])] = []
            for name in st.names where name != drop {
                var shape = st.tensors[name]!.shape, v = try st.floats(name)
                if let (n, s) = reshape, n == name { shape = s; v = [Float](repeating: 0.5, count: s.reduce(1, *)) }
                t.append((name, shape, v))
            }
            try SafetensorsFile.write(path: path, floats: t)
        }
        try rewrite(dir + "/missing.safetensors", drop: "stages.2.layers.1.gamma")
        assertLoadFails(dir + "/missing.safetensors", contains: ["missing tensor 'stages.2.layers.1.gamma'", "[48]"])
        try rewrite(dir + "/missing-dw.safetensors", drop: "stages.1.layers.0.pointwise_conv1.weight")
        assertLoadFails(dir + "/missing-dw.safetensors", contains: ["'stages.1.layers.0.pointwise_conv1.weight'", "[128, 32]"])

        // Wrong shape, with config.json (so the shapes are fixed by the config).
        let cfgDir = dir + "/wrongshape"
        try FileManager.default.createDirectory(atPath: cfgDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: goldenDir + "/config.json", toPath: cfgDir + "/config.json")
        try rewrite(cfgDir + "/model.safetensors", reshape: ("stages.3.layers.0.pointwise_conv2.weight", [64, 255]))
        assertLoadFails(cfgDir, contains: ["stages.3.layers.0.pointwise_conv2.weight", "[64, 255]", "expected [64, 256]"])

        // Unsupported dtype.
        try writeRawSafetensors(path: dir + "/f8.safetensors", [("stages.0.downsample_layers.0.weight", [2], "F8_E4M3", Data([1, 2]))])
        assertLoadFails(dir + "/f8.safetensors", contains: ["unsupported dtype F8_E4M3"])
        var entries: [(String, [Int], String, Data)] = []
        for name in st.names {
            let v = try st.floats(name)
            if name == "stages.0.layers.0.gamma" { entries.append((name, [16], "I32", Data(count: 64))) }
            else { entries.append((name, st.tensors[name]!.shape, "F32", v.withUnsafeBytes { Data($0) })) }
        }
        try writeRawSafetensors(path: dir + "/int.safetensors", entries)
        assertLoadFails(dir + "/int.safetensors", contains: ["stages.0.layers.0.gamma", "I32"])

        // Not a ConvNeXt checkpoint at all.
        try SafetensorsFile.write(path: dir + "/other.safetensors", floats: [("encoder.weight", [2], [1, 2])])
        assertLoadFails(dir + "/other.safetensors", contains: ["stages.0.downsample_layers.0.weight", "not a DINOv3 ConvNeXt"])
    }
}

/// Minimal safetensors writer for any dtype string (the project writer only emits F32/I64).
func writeRawSafetensors(path: String, _ entries: [(String, [Int], String, Data)]) throws {
    var header: [String: Any] = [:]
    var body = Data()
    for (name, shape, dtype, bytes) in entries {
        header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [body.count, body.count + bytes.count]]
        body.append(bytes)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var len = UInt64(json.count).littleEndian
    var file = Data(bytes: &len, count: 8)
    file.append(json); file.append(body)
    try file.write(to: URL(fileURLWithPath: path))
}

extension BackboneParityTests {
    /// Batched and single-image passes agree up to float rounding. A batch only stacks the images' rows into the same
    /// GEMMs, so each output is the same dot product; whether it is rounded bit for bit the same depends on the BLAS
    /// kernel (OpenBLAS's Haswell and Prescott kernels block rows differently by matrix height, its SkylakeX and
    /// Cooperlake ones do not). Bound: 1e-5 of each stage's largest value, the bound the parity with transformers (a
    /// wholly different summation order) meets; a row mix-up or a wrong offset between images gives errors of order 1.
    static let batchRelativeTolerance = 1e-5

    /// `forwardBatch` (what extraction calls) on both fixtures: 3 images, every stage, against one call per image.
    func testBatchedForwardMatchesSingle() throws {
        for (fixture, h, w, seed) in [("golden-odd", 45, 70, UInt64(77)), ("golden-small", 64, 96, UInt64(12))] {
            let backbone = try ConvNeXtBackbone(weightsPath: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(fixture)").path)
            var rng = SplitMix64(seed: seed)
            let images = (0..<3).map { _ in (0..<(h * w * 3)).map { _ in Float(rng.normal()) } }
            let single = images.map { backbone.forward(image: $0, height: h, width: w, stages: [0, 1, 2, 3]) }
            let batched = forwardBatch(backbone, inputs: images, height: h, width: w, stages: [3, 0, 1, 2])
            for i in 0..<3 {
                for (j, s) in [3, 0, 1, 2].enumerated() {
                    let m = single[i][s]
                    assertClose(batched[i][j].data, m.data, rtol: Self.batchRelativeTolerance, relativeTo: .maxExpected,
                                shape: [m.height, m.width, m.channels], seed: seed,
                                what: "\(fixture) \(h)x\(w) image \(i) of 3, stage \(s): batched vs single")
                }
            }
        }
    }
}

extension BackboneParityTests {
    /// Parity on any fixture written by scripts/make_backbone_fixture.py, e.g. the full tiny architecture at 224×224
    /// (111 MB, so not committed): DINOSEG_BACKBONE_FIXTURE=/tmp/tiny-fx swift test --filter EnvironmentFixture.
    func testEnvironmentFixtureParity() throws {
        guard let dir = ProcessInfo.processInfo.environment["DINOSEG_BACKBONE_FIXTURE"] else {
            throw XCTSkip("set DINOSEG_BACKBONE_FIXTURE to a fixture directory to run")
        }
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as? [String: Any])
        let tensors = try XCTUnwrap(manifest["tensors"] as? [String: Any])
        let inputShape = try XCTUnwrap((tensors["input"] as? [String: Any])?["shape"] as? [Int])
        let (h, w) = (inputShape[2], inputShape[3])
        let backbone = try ConvNeXtBackbone(weightsPath: dir)
        let nchw = try readFloats(dir + "/input.f32.bin")
        var nhwc = [Float](repeating: 0, count: nchw.count)
        for c in 0..<3 { for y in 0..<h { for x in 0..<w { nhwc[(y * w + x) * 3 + c] = nchw[(c * h + y) * w + x] } } }
        let maps = backbone.forward(image: nhwc, height: h, width: w, stages: [0, 1, 2, 3])
        for report in try assertParity(maps, fixture: dir, rtol: 1e-4, what: "fixture \(dir)") { print(report) }
    }
}

extension BackboneParityTests {
    /// The real tiny architecture at 224×224 (random weights), with the GEMM shapes extraction really uses (BLAS picks
    /// kernels and blockings by matrix size): batch 3 agrees with batch 1 as `testBatchedForwardMatchesSingle` says.
    func testBatchedTinyAt224MatchesSingle() {
        let backbone = ConvNeXtBackbone(weights: .random(config: .tiny, seed: 9))
        var rng = SplitMix64(seed: 91)
        let side = 224
        let images = (0..<3).map { _ in (0..<(side * side * 3)).map { _ in Float(rng.normal()) } }
        let (single, batched) = withBLASThreads(1) {
            (images.map { backbone.forward(image: $0, height: side, width: side, stages: [0, 3]) },
             forwardBatch(backbone, inputs: images, height: side, width: side, stages: [0, 3]))
        }
        for i in 0..<3 {
            for (j, s) in [0, 3].enumerated() {
                let m = single[i][j]
                let c = closeness(batched[i][j].data, m.data, rtol: Self.batchRelativeTolerance, relativeTo: .maxExpected,
                                  shape: [m.height, m.width, m.channels], seed: "9/91",
                                  what: "tiny 224 image \(i) of 3, stage \(s): batched vs single")
                if c.passed { print(c.report) } else { XCTFail(c.report) }
            }
        }
    }
}
