import XCTest
@testable import DinoSegCore
@testable import DinoSegData
@testable import DinoSegCache

/// What the image readers accept before decoding (ImageLimits, regular files only) and the EXIF orientation, applied
/// to JPEGs as cv2.imread applies it.
final class ImageInputTests: TempDirTestCase {
    override class var tempTag: String { "imginput" }

    /// A PNG whose header declares width×height, with one tiny IDAT: only the header decides.
    private func headerOnlyPNG(width: UInt32, height: UInt32) -> Data {
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.append(bigEndian: width); ihdr.append(bigEndian: height)
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])
        png.appendChunk("IHDR", ihdr)
        png.appendChunk("IDAT", TestPNG.zlibStored(Data([0, 1, 2, 3])))
        png.appendChunk("IEND", Data())
        return png
    }

    /// A JPEG written by DinoSeg with the size in its SOF0 header replaced.
    private func jpegDeclaring(width: UInt16, height: UInt16) throws -> Data {
        try ImageIO.writeJPEG(RGBImage(width: 16, height: 16, fill: (10, 20, 30)), to: tmp + "/small.jpg")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tmp + "/small.jpg")))
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = UInt8(height >> 8); bytes[sof + 6] = UInt8(height & 0xFF)
        bytes[sof + 7] = UInt8(width >> 8); bytes[sof + 8] = UInt8(width & 0xFF)
        return Data(bytes)
    }

    /// The 261 KB PNG of the issue declared 16384×16384 (2^28 pixels) and was decoded (23 GB in predict); now the
    /// header is refused. Sides beyond 65535 are refused even when the pixel count is small.
    func testImagesBeyondTheLimitsAreRefusedFromTheirHeader() throws {
        let cases: [(String, Data, String)] = [
            ("big.png", headerOnlyPNG(width: 16384, height: 16384), "image is 16384x16384"),
            ("long.png", headerOnlyPNG(width: 70_000, height: 1), "image is 70000x1"),
            ("big.jpg", try jpegDeclaring(width: 16384, height: 16384), "image is 16384x16384"),
        ]
        for (name, data, size) in cases {
            try data.write(to: URL(fileURLWithPath: tmp + "/" + name))
            XCTAssertThrowsError(try ImageIO.readRGB(tmp + "/" + name), name) {
                XCTAssertEqual("\($0)", "\(self.tmp)/\(name): \(size); images may have at most 67108864 pixels and 65535 per side")
            }
        }
        XCTAssertThrowsError(try ImageIO.readLabel(tmp + "/big.png")) { XCTAssertTrue("\($0)".hasSuffix("images may have at most 67108864 pixels and 65535 per side"), "\($0)") }
        XCTAssertEqual(ImageLimits.problem(width: 9248, height: 6936), nil, "a 64 MP phone photo is accepted")
        XCTAssertEqual(ImageLimits.problem(width: 8193, height: 8192), "image is 8193x8192; images may have at most 67108864 pixels and 65535 per side")
    }

    /// A directory named like an image crashed the reader (try! inside FileHandle); a FIFO blocked forever.
    func testDirectoriesAndFIFOsAreRefused() throws {
        try FileManager.default.createDirectory(atPath: tmp + "/x.jpg", withIntermediateDirectories: false)
        XCTAssertThrowsError(try ImageIO.readRGB(tmp + "/x.jpg")) {
            XCTAssertEqual("\($0)", "\(self.tmp)/x.jpg: is a directory, expected an image file")
        }
        XCTAssertThrowsError(try ImageIO.readLabel(tmp + "/x.jpg")) {
            XCTAssertEqual("\($0)", "\(self.tmp)/x.jpg: is a directory, expected an image file")
        }
        XCTAssertEqual(mkfifo(tmp + "/fifo.png", 0o600), 0)
        let start = Date()
        XCTAssertThrowsError(try ImageIO.readRGB(tmp + "/fifo.png")) {
            XCTAssertEqual("\($0)", "\(self.tmp)/fifo.png: is not a regular file (a FIFO, socket or device), expected an image file")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertThrowsError(try ImageIO.readRGB(tmp + "/none.png")) { XCTAssertEqual("\($0)", "\(self.tmp)/none.png: file not found") }
    }

    /// `extract val --skip-bad` skips a listed image that is a directory (it crashed before).
    func testExtractionSkipsADirectoryImage() throws {
        try writeSyntheticData(to: tmp + "/data", train: 0, val: 3, seed: 21, sides: 40...80)
        let samples = try SegmentationDataset(root: tmp + "/data", list: "val").samples
        try FileManager.default.removeItem(atPath: samples[1].imagePath)
        try FileManager.default.createDirectory(atPath: samples[1].imagePath, withIntermediateDirectories: false)
        var o = ValExtractionOptions(dataRoot: tmp + "/data", list: "val", out: tmp + "/val")
        o.workers = 1; o.quiet = true; o.skipBad = true
        let m = try ValExtraction.run(o, backbone: FakeBackbone()) { _ in }
        XCTAssertEqual(m.skipped, ["\(samples[1].id): \(samples[1].imagePath): is a directory, expected an image file"])
        XCTAssertEqual(m.shards.map(\.images), [2])
    }

    /// An APP1 Exif segment holding only the Orientation tag (SHORT), little- or big-endian.
    private func exifSegment(orientation: UInt16, bigEndian: Bool) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? (0..<4).map { UInt8((v >> (24 - 8 * $0)) & 0xFF) } : (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        tiff += u16(42) + u32(8) + u16(1)
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + [0, 0]
        tiff += u32(0)
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    /// cv2's ExifTransform written as flips and a transpose of the stored image.
    private func cv2Transform(_ im: RGBImage, _ o: Int) -> RGBImage {
        func flipLR(_ a: RGBImage) -> RGBImage {
            var p = a.pixels
            for y in 0..<a.height { for x in 0..<a.width { for k in 0..<3 { p[(y * a.width + x) * 3 + k] = a.pixels[(y * a.width + a.width - 1 - x) * 3 + k] } } }
            return RGBImage(width: a.width, height: a.height, pixels: p)
        }
        func flipUD(_ a: RGBImage) -> RGBImage {
            var p = a.pixels
            for y in 0..<a.height { for x in 0..<a.width { for k in 0..<3 { p[(y * a.width + x) * 3 + k] = a.pixels[((a.height - 1 - y) * a.width + x) * 3 + k] } } }
            return RGBImage(width: a.width, height: a.height, pixels: p)
        }
        func transpose(_ a: RGBImage) -> RGBImage {
            var p = a.pixels
            for y in 0..<a.width { for x in 0..<a.height { for k in 0..<3 { p[(y * a.height + x) * 3 + k] = a.pixels[(x * a.width + y) * 3 + k] } } }
            return RGBImage(width: a.height, height: a.width, pixels: p)
        }
        switch o {
        case 2: return flipLR(im)
        case 3: return flipUD(flipLR(im))
        case 4: return flipUD(im)
        case 5: return transpose(im)
        case 6: return flipLR(transpose(im))
        case 7: return flipUD(flipLR(transpose(im)))
        case 8: return flipUD(transpose(im))
        default: return im
        }
    }

    /// Every orientation, both byte orders: the decoded pixels are cv2's transform of the stored ones. A phone photo
    /// (orientation 6, stored landscape) comes out portrait with its left edge on top.
    func testEXIFOrientationIsAppliedAsCV2Does() throws {
        // 32×16: left half red, right half blue (8×8 blocks, so JPEG keeps the colours apart).
        var stored = RGBImage(width: 32, height: 16)
        for y in 0..<16 { for x in 0..<32 { stored.pixels.replaceSubrange(((y * 32 + x) * 3)..<((y * 32 + x) * 3 + 3), with: x < 16 ? [250, 0, 0] : [0, 0, 250]) } }
        try ImageIO.writeJPEG(stored, to: tmp + "/plain.jpg", quality: 100)
        let plainBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tmp + "/plain.jpg")))
        let plain = try ImageIO.readRGB(tmp + "/plain.jpg")
        for bigEndian in [false, true] {
            for o in 1...8 {
                let path = tmp + "/o\(o)\(bigEndian ? "MM" : "II").jpg"
                try Data(Array(plainBytes[0..<2]) + exifSegment(orientation: UInt16(o), bigEndian: bigEndian) + Array(plainBytes[2...]))
                    .write(to: URL(fileURLWithPath: path))
                XCTAssertEqual(try ImageIO.readRGB(path), cv2Transform(plain, o), "orientation \(o), \(bigEndian ? "MM" : "II")")
            }
        }
        let portrait = try ImageIO.readRGB(tmp + "/o6II.jpg")
        XCTAssertEqual([portrait.width, portrait.height], [16, 32])
        XCTAssertGreaterThan(portrait.pixels[0], 200, "rotated clockwise: the red left half is on top")
        XCTAssertGreaterThan(portrait.pixels[(31 * 16) * 3 + 2], 200, "and the blue right half at the bottom")
        // Values outside 1…8 and segments whose offsets point outside are ignored, as cv2 ignores them.
        var bad = exifSegment(orientation: 9, bigEndian: false)
        try Data(Array(plainBytes[0..<2]) + bad + Array(plainBytes[2...])).write(to: URL(fileURLWithPath: tmp + "/o9.jpg"))
        XCTAssertEqual(try ImageIO.readRGB(tmp + "/o9.jpg"), plain)
        bad = exifSegment(orientation: 6, bigEndian: false)
        bad[14] = 0xF0   // IFD0 offset far beyond the segment
        try Data(Array(plainBytes[0..<2]) + bad + Array(plainBytes[2...])).write(to: URL(fileURLWithPath: tmp + "/wild.jpg"))
        XCTAssertEqual(try ImageIO.readRGB(tmp + "/wild.jpg"), plain)
    }
}
