// Image and label files: JPEG (libjpeg-turbo) and PNG (libpng). The only Swift file that imports CJPEG and CPNG.
//
//   RGBImage.pixels: [height, width, 3] UInt8, row-major, channels-last (HWC)
//   LabelImage.pixels: [height, width] UInt8 class indices (255 = void)
//
// Labels are read as raw indices: a palette PNG yields its palette indices, never the expanded colours.
// Every write goes through a temporary file and is renamed into place (AtomicWrite).
import Foundation
import CJPEG
import CPNG

public struct RGBImage: Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage pixels do not match \(width)x\(height)x3")
        self.width = width; self.height = height; self.pixels = pixels
    }

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        self.init(width: width, height: height, pixels: p)
    }
}

public struct LabelImage: Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "LabelImage pixels do not match \(width)x\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }
}

public enum ImageIO {
    private static let errorLength = 512

    /// Reads a JPEG or PNG (decided by the file's magic bytes, not its name) as 8-bit RGB; grey is replicated.
    public static func readRGB(_ path: String) throws -> RGBImage {
        switch try sniff(path) {
        case .jpeg: return try readJPEG(path)
        case .png:
            let (w, h, px) = try readPNG(path, mode: 1)
            return RGBImage(width: w, height: h, pixels: px)
        }
    }

    /// Reads a label PNG as raw indices (single-channel grey or palette indices). Colour PNGs are refused.
    public static func readLabel(_ path: String) throws -> LabelImage {
        guard try sniff(path) == .png else { throw DinoSegError(file: path, "label is not a PNG file") }
        let (w, h, px) = try readPNG(path, mode: 0)
        return LabelImage(width: w, height: h, pixels: px)
    }

    /// Writes an RGB image as PNG.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        try writePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 3, palette: nil, to: path)
    }

    /// Writes a single-channel grey PNG.
    public static func writeGreyPNG(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        try writePNG(pixels: pixels, width: width, height: height, channels: 1, palette: nil, to: path)
    }

    /// Writes a label as a palette-indexed PNG with the VOC palette (the format of VOC's SegmentationClass).
    public static func writeLabelPNG(_ label: LabelImage, to path: String) throws {
        try writePNG(pixels: label.pixels, width: label.width, height: label.height, channels: 1,
                     palette: VOC.palette, to: path)
    }

    /// Writes an RGB image as JPEG (quality 1...100).
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 90) throws {
        try AtomicWrite.withTemporary(for: path) { tmp in
            var err = [CChar](repeating: 0, count: errorLength)
            let rc = image.pixels.withUnsafeBufferPointer { px in
                cjpeg_encode_file(tmp, px.baseAddress, Int32(image.width), Int32(image.height), 3,
                                  Int32(quality), &err, errorLength)
            }
            if rc != 0 { throw DinoSegError(file: path, "cannot write JPEG (\(String(cString: err)))") }
        }
    }

    // MARK: - Colour helpers

    /// Label indices → RGB with the VOC palette (255 → (224,224,192)).
    public static func colourise(_ label: LabelImage) -> RGBImage {
        var out = [UInt8](repeating: 0, count: label.width * label.height * 3)
        let pal = VOC.palette
        for i in 0..<label.pixels.count {
            let c = Int(label.pixels[i]) * 3
            out[3 * i] = pal[c]; out[3 * i + 1] = pal[c + 1]; out[3 * i + 2] = pal[c + 2]
        }
        return RGBImage(width: label.width, height: label.height, pixels: out)
    }

    /// Blends the coloured label onto the photo: out = (1 − alpha)·photo + alpha·colour, rounded.
    /// Void pixels (255) keep the photo unchanged.
    public static func overlay(_ label: LabelImage, on photo: RGBImage, alpha: Float = 0.5) throws -> RGBImage {
        guard label.width == photo.width, label.height == photo.height else {
            throw DinoSegError("overlay: label \(label.width)x\(label.height) does not match image \(photo.width)x\(photo.height)")
        }
        let colour = colourise(label)
        var out = photo.pixels
        for i in 0..<label.pixels.count where label.pixels[i] != VOC.ignoreLabel {
            for k in 0..<3 {
                let v = (1 - alpha) * Float(photo.pixels[3 * i + k]) + alpha * Float(colour.pixels[3 * i + k])
                out[3 * i + k] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: photo.width, height: photo.height, pixels: out)
    }

    // MARK: - Internals

    enum Format { case jpeg, png }

    static func sniff(_ path: String) throws -> Format {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DinoSegError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot open for reading" : "file not found")
        }
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head.count == 8, head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.isEmpty { throw DinoSegError(file: path, "empty file") }
        throw DinoSegError(file: path, "not a JPEG or PNG file")
    }

    static func readJPEG(_ path: String) throws -> RGBImage {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: errorLength)
        switch cjpeg_decode_file(path, &out, &w, &h, &err, errorLength) {
        case 0: break
        case 2: throw DinoSegError(file: path, String(cString: err))
        default: throw DinoSegError(file: path, "truncated or corrupt JPEG (\(String(cString: err)))")
        }
        defer { cjpeg_free(out) }
        let n = Int(w) * Int(h) * 3
        return RGBImage(width: Int(w), height: Int(h), pixels: [UInt8](UnsafeBufferPointer(start: out, count: n)))
    }

    /// mode 0: one channel of raw indices; mode 1: RGB.
    static func readPNG(_ path: String, mode: Int32) throws -> (Int, Int, [UInt8]) {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0, kind: Int32 = 0
        var err = [CChar](repeating: 0, count: errorLength)
        switch cpng_read_file(path, mode, &out, &w, &h, &kind, &err, errorLength) {
        case 0: break
        case 2: throw DinoSegError(file: path, String(cString: err))
        default: throw DinoSegError(file: path, "truncated or corrupt PNG (\(String(cString: err)))")
        }
        defer { cpng_free(out) }
        let n = Int(w) * Int(h) * (mode == 0 ? 1 : 3)
        return (Int(w), Int(h), [UInt8](UnsafeBufferPointer(start: out, count: n)))
    }

    static func writePNG(pixels: [UInt8], width: Int, height: Int, channels: Int, palette: [UInt8]?,
                         to path: String) throws {
        precondition(pixels.count == width * height * channels)
        try AtomicWrite.withTemporary(for: path) { tmp in
            var err = [CChar](repeating: 0, count: errorLength)
            let rc: Int32 = pixels.withUnsafeBufferPointer { px in
                if let palette {
                    return palette.withUnsafeBufferPointer { pal in
                        cpng_write_file(tmp, px.baseAddress, Int32(width), Int32(height), Int32(channels),
                                        pal.baseAddress, Int32(palette.count / 3), &err, errorLength)
                    }
                }
                return cpng_write_file(tmp, px.baseAddress, Int32(width), Int32(height), Int32(channels),
                                       nil, 0, &err, errorLength)
            }
            if rc != 0 { throw DinoSegError(file: path, "cannot write PNG (\(String(cString: err)))") }
        }
    }
}
