// One fuzz driver per parser. Each feeds mutated files to the real reader and requires that it either returns a
// value or throws a DinoSegError. The suite runs a short seeded pass (a fixed number of inputs per driver);
// `make fuzz` runs each driver for FUZZ_SECONDS.
import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegBackbone
@testable import DinoSegCache

final class FuzzTests: XCTestCase {
    /// The class's directory, made on first use; a crashing input is left in it (the process ends before tearDown).
    static var workDir: String = {
        do { return try makeTempDir("fuzz") } catch { preconditionFailure("fuzz work directory: \(error)") }
    }()
    var work: String { FuzzTests.workDir }

    /// Removes the work directory unless a driver saved a failing input in it (its failure message names the file).
    override class func tearDown() {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: workDir)) ?? []
        if !files.contains(where: { $0.contains("-failure-") }) { try? FileManager.default.removeItem(atPath: workDir) }
    }

    // MARK: safetensors header (and the backbone's weight loading on top of it)

    func testFuzzSafetensors() throws {
        let dir = "\(work)/st"
        try FileSystem.createDirectory(dir)
        let config = ConvNeXtConfig(hiddenSizes: [4, 8, 8, 8], depths: [1, 1, 1, 1])
        try RandomCheckpoint.write(config: config, seed: 3, to: dir + "/seed")
        let weights = try Data(contentsOf: URL(fileURLWithPath: dir + "/seed/model.safetensors"))
        let small = SafetensorsValidationTests.file(
            header: #"{"__metadata__":{"a":"b"},"x":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"y":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"z":{"dtype":"I64","shape":[1],"data_offsets":[10,18]}}"#,
            dataBytes: 18)
        let path = dir + "/input.safetensors"
        runFuzz("safetensors", seeds: [weights, small], budget: .fromEnvironment(defaultInputs: 400), focus: 2048,
                workDir: work, structured: FuzzFormats.safetensors) { input in
            try input.write(to: URL(fileURLWithPath: path))
            let st = try SafetensorsFile(path: path)
            for name in st.names {
                switch st.tensors[name]!.dtype {
                case .i64, .i32, .u8: _ = try st.integers(name)
                default: _ = try st.floats(name)
                }
            }
            let naming = ConvNeXtKeyNaming(keys: Array(st.tensors.keys))
            _ = try ConvNeXtWeights.load(st, config: try ConvNeXtWeights.inferConfig(st, naming: naming), naming: naming)
        }
    }

    // MARK: images and labels

    func imageSeeds() throws -> (jpeg: [Data], png: [Data]) {
        let dir = "\(work)/img"
        try FileSystem.createDirectory(dir)
        var px = [UInt8](repeating: 0, count: 20 * 12 * 3)
        for i in 0..<px.count { px[i] = UInt8((i * 37) % 256) }
        try ImageIO.writeJPEG(RGBImage(width: 20, height: 12, pixels: px), to: dir + "/a.jpg", quality: 80)
        try ImageIO.writePNG(RGBImage(width: 20, height: 12, pixels: px), to: dir + "/a.png")
        try ImageIO.writeLabelPNG(LabelImage(width: 9, height: 5, pixels: (0..<45).map { UInt8($0 % 21) }), to: dir + "/l.png")
        let cmyk = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/cmyk/cmyk.jpg")
        let read = { (p: String) in try Data(contentsOf: URL(fileURLWithPath: p)) }
        let pngs = [try read(dir + "/a.png"), try read(dir + "/l.png"),
                    TestPNG.encode(width: 4, height: 2, depth: 16, colour: .grey, samples: [0, 1, 17, 255, 3, 4, 5, 6]),
                    TestPNG.encode(width: 5, height: 2, depth: 2, colour: .palette, samples: (0..<10).map { $0 % 4 },
                                   palette: Array(VOC.palette.prefix(12)), transparency: [0, 255]),
                    TestPNG.encode(width: 3, height: 1, depth: 8, colour: .greyAlpha, samples: [1, 2, 3, 4, 5, 6]),
                    TestPNG.encode(width: 2, height: 2, depth: 16, colour: .rgba, samples: (0..<16).map { $0 * 4000 })]
        return ([try read(dir + "/a.jpg"), try Data(contentsOf: cmyk)], pngs)
    }

    /// Feeds mutations of `seeds` to `read` through the file work/img/NAME-input.
    func fuzzImageFile(_ name: String, seeds: [Data], structured: @escaping (inout FuzzMutator, Data) -> Data,
                       read: (_ path: String) throws -> Void) {
        let path = "\(work)/img/\(name)-input"
        runFuzz(name, seeds: seeds, budget: .fromEnvironment(defaultInputs: 400), focus: 1024, workDir: work,
                structured: structured) { input in
            try input.write(to: URL(fileURLWithPath: path))
            try read(path)
        }
    }

    func testFuzzJPEGAndPNGDecode() throws {
        let seeds = try imageSeeds()
        for (name, files, structured) in [("jpeg", seeds.jpeg, FuzzFormats.jpeg), ("png", seeds.png, FuzzFormats.png)] {
            fuzzImageFile(name, seeds: files, structured: structured) { path in
                let image = try ImageIO.readRGB(path)
                XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
            }
        }
    }

    func testFuzzLabelPNG() throws {
        fuzzImageFile("label-png", seeds: try imageSeeds().png, structured: FuzzFormats.png) { path in
            let label = try ImageIO.readLabel(path)
            try validateLabel(label, path: path, image: RGBImage(width: label.width, height: label.height), description: .voc)
            XCTAssertTrue(label.pixels.allSatisfy { $0 < 21 || $0 == 255 })
        }
    }

    // MARK: HDF5 shards through the cache readers

    /// A small real dataset and cache (fake backbone, 64-pixel crops) to mutate.
    func makeCache(kind: CacheKind) throws -> String {
        let root = "\(work)/data"
        if !FileManager.default.fileExists(atPath: root) {
            try writeSyntheticData(to: root, train: 2, val: 2, seed: 5, sides: 40...70)
        }
        let backbone = FakeBackbone(channels: [3, 4, 5, 6])
        let out = "\(work)/cache-\(kind.rawValue)"
        switch kind {
        case .train:
            var o = TrainExtractionOptions(dataRoot: root, list: "train", out: out)
            o.recipe.crop = 64; o.shardSize = 2; o.workers = 1; o.quiet = true
            try TrainExtraction.run(o, backbone: backbone) { _ in }
        case .val:
            var o = ValExtractionOptions(dataRoot: root, list: "val", out: out)
            o.crop = 32; o.longSide = 64; o.stride = 24; o.flip = true; o.shardSize = 2; o.workers = 1; o.quiet = true
            try ValExtraction.run(o, backbone: backbone) { _ in }
        }
        return out
    }

    /// Puts `input` in place of the cache's only shard and records its size and checksum in the manifest, so the
    /// reader gets past the manifest checks and parses the mutated file.
    func installShard(_ input: Data, in dir: String, manifest: CacheManifest) throws {
        var m = manifest
        let file = "\(dir)/\(m.shards[0].file)"
        try input.write(to: URL(fileURLWithPath: file))
        m.shards[0].bytes = input.count
        m.shards[0].sha256 = try SHA256.hex(ofFile: file)
        try m.save(directory: dir)
    }

    /// Mutates the only shard of a `kind` cache and reads it through the verifier and then `read`.
    func fuzzShard(_ kind: CacheKind, inputs: Int, read: (_ dir: String, _ manifest: CacheManifest) throws -> Void) throws {
        let dir = try makeCache(kind: kind)
        let manifest = try CacheManifest.load(directory: dir)
        XCTAssertEqual(manifest.shards.count, 1)
        let seed = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(manifest.shards[0].file)"))
        runFuzz("\(kind.rawValue)-shard", seeds: [seed], budget: .fromEnvironment(defaultInputs: inputs), focus: 8192,
                workDir: work) { input in
            try installShard(input, in: dir, manifest: manifest)
            _ = try CacheVerifier.verify(directory: dir)
            try read(dir, manifest)
        }
    }

    func testFuzzTrainShard() throws {
        try fuzzShard(.train, inputs: 100) { dir, manifest in
            let reader = try TrainCacheReader(directory: dir)
            let batch = try reader.readBatch(reader.epochOrder(epoch: 0, seed: 0), stages: manifest.stages)
            XCTAssertEqual(batch.count, 2)
        }
    }

    func testFuzzValShard() throws {
        try fuzzShard(.val, inputs: 60) { dir, manifest in
            let stream = try ValCacheReader(directory: dir).images(stages: manifest.stages)
            while let image = try stream.nextImage() { XCTAssertFalse(image.windows.isEmpty) }
        }
    }

    // MARK: manifest JSON

    func testFuzzManifest() throws {
        let dir = try makeCache(kind: .train)
        let seed = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(CacheManifest.fileName)"))
        let copy = "\(work)/manifest-input"
        try FileSystem.createDirectory(copy)
        let shard = try CacheManifest.load(directory: dir).shards[0].file
        try? FileManager.default.copyItem(atPath: "\(dir)/\(shard)", toPath: "\(copy)/\(shard)")
        runFuzz("manifest", seeds: [seed], budget: .fromEnvironment(defaultInputs: 300), focus: 1 << 16, workDir: work,
                structured: FuzzFormats.json()) { input in
            try input.write(to: URL(fileURLWithPath: "\(copy)/\(CacheManifest.fileName)"))
            _ = try CacheManifest.load(directory: copy)
            _ = try CacheVerifier.verify(directory: copy)
        }
    }
}
