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

package struct RGBImage: Equatable {
    package var width: Int
    package var height: Int
    package var pixels: [UInt8]

    package init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage pixels do not match \(width)x\(height)x3")
        self.width = width; self.height = height; self.pixels = pixels
    }

    package init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        self.init(width: width, height: height, pixels: p)
    }
}

package struct LabelImage: Equatable {
    package var width: Int
    package var height: Int
    package var pixels: [UInt8]

    package init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "LabelImage pixels do not match \(width)x\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }
}

/// What an image file may declare; checked on its header, before any pixel is decoded or allocated. Every reader of
/// photos and labels (training, extraction, evaluation, prediction) and the val cache's shard checks use these numbers,
/// so an image that can be extracted can also be read back.
package enum ImageLimits {
    /// 2^26 pixels (67 Mpx, e.g. a 64 MP phone photo of 9248×6936): `headtrain predict` then holds about 10 bytes per
    /// pixel (photo, mask, colour and overlay images) ≈ 0.7 GB; nothing of the photo's size is held as floats.
    package static let maxPixels = 1 << 26
    /// The JPEG format's own limit (65,500) rounded up; longer sides only arise from damaged or hostile headers.
    package static let maxSide = 65_535

    /// Nil when a width×height image is within the limits, else what is wrong.
    package static func problem(width: Int, height: Int) -> String? {
        guard width >= 1, height >= 1, width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            return "image is \(width)x\(height); images may have at most \(maxPixels) pixels and \(maxSide) per side"
        }
        return nil
    }
}

package enum ImageIO {
    private static let errorLength = 512

    /// Reads a JPEG or PNG (decided by the file's magic bytes, not its name) as 8-bit RGB; grey is replicated.
    /// A JPEG's EXIF orientation is applied, as cv2.imread does (so width and height may be swapped); PNGs are read as
    /// stored.
    package static func readRGB(_ path: String) throws -> RGBImage {
        let fd = try openImageFile(path)
        switch try sniff(fd, path: path) {
        case .jpeg: return try readJPEG(fd, path: path)
        case .png:
            let (w, h, px) = try readPNG(fd, path: path, mode: 1)
            return RGBImage(width: w, height: h, pixels: px)
        }
    }

    /// Reads a label PNG as raw indices (single-channel grey or palette indices). Colour PNGs are refused.
    package static func readLabel(_ path: String) throws -> LabelImage {
        let fd = try openImageFile(path)
        guard try sniff(fd, path: path) == .png else { close(fd); throw DinoSegError(file: path, "label is not a PNG file") }
        let (w, h, px) = try readPNG(fd, path: path, mode: 0)
        return LabelImage(width: w, height: h, pixels: px)
    }

    /// Writes an RGB image as PNG.
    package static func writePNG(_ image: RGBImage, to path: String) throws {
        try writePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 3, palette: nil, to: path)
    }

    /// Writes a single-channel grey PNG.
    package static func writeGreyPNG(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        try writePNG(pixels: pixels, width: width, height: height, channels: 1, palette: nil, to: path)
    }

    /// Writes a label as a palette-indexed PNG with the dataset's palette (VOC's: the format of its SegmentationClass).
    package static func writeLabelPNG(_ label: LabelImage, to path: String, dataset: DatasetDescription = .voc) throws {
        try writePNG(pixels: label.pixels, width: label.width, height: label.height, channels: 1,
                     palette: dataset.paletteTable, to: path)
    }

    /// Writes an RGB image as JPEG (quality 1...100).
    package static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 90) throws {
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

    /// Label indices → RGB with the dataset's palette (255 → (224,224,192)).
    package static func colourise(_ label: LabelImage, dataset: DatasetDescription = .voc) -> RGBImage {
        var out = [UInt8](repeating: 0, count: label.width * label.height * 3)
        let pal = dataset.paletteTable
        for i in 0..<label.pixels.count {
            let c = Int(label.pixels[i]) * 3
            out[3 * i] = pal[c]; out[3 * i + 1] = pal[c + 1]; out[3 * i + 2] = pal[c + 2]
        }
        return RGBImage(width: label.width, height: label.height, pixels: out)
    }

    /// Blends the coloured label onto the photo: out = (1 − alpha)·photo + alpha·colour, rounded.
    /// Void pixels (255) keep the photo unchanged.
    package static func overlay(_ label: LabelImage, on photo: RGBImage, alpha: Float = 0.5,
                                dataset: DatasetDescription = .voc) throws -> RGBImage {
        guard label.width == photo.width, label.height == photo.height else {
            throw DinoSegError("overlay: label \(label.width)x\(label.height) does not match image \(photo.width)x\(photo.height)")
        }
        let colour = colourise(label, dataset: dataset)
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

    /// Opens a regular file for reading. O_NONBLOCK so that a FIFO or device is refused by fstat instead of blocking
    /// open(2); the flag is cleared again for the decoder's reads.
    static func openImageFile(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            throw DinoSegError(file: path, e == ENOENT ? "file not found" : "cannot open for reading: \(String(cString: strerror(e)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DinoSegError(file: path, "cannot read: \(reason)")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            throw DinoSegError(file: path, type == S_IFDIR ? "is a directory, expected an image file"
                                                         : "is not a regular file (a FIFO, socket or device), expected an image file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Format from the first bytes of `fd`, which is rewound; closes `fd` when it throws.
    static func sniff(_ fd: Int32, path: String) throws -> Format {
        var head = [UInt8](repeating: 0, count: 8)
        var got = 0
        while got < 8 {
            let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, 8 - got) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw DinoSegError(file: path, "cannot read: \(reason)")
            }
            if n == 0 { break }
            got += n
        }
        head = Array(head.prefix(got))
        guard lseek(fd, 0, SEEK_SET) == 0 else { close(fd); throw DinoSegError(file: path, "cannot read: not seekable") }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head.count == 8, head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        close(fd)
        if head.isEmpty { throw DinoSegError(file: path, "empty file") }
        throw DinoSegError(file: path, "not a JPEG or PNG file")
    }

    /// Decodes and closes `fd`.
    static func readJPEG(_ fd: Int32, path: String) throws -> RGBImage {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0, orientation: Int32 = 1
        var err = [CChar](repeating: 0, count: errorLength)
        var limits = cjpeg_limits(max_pixels: ImageLimits.maxPixels, max_side: UInt32(ImageLimits.maxSide), apply_orientation: 1)
        switch cjpeg_decode_fd(fd, &limits, &out, &w, &h, &orientation, &err, errorLength) {
        case 0: break
        case 2: throw DinoSegError(file: path, String(cString: err))
        default: throw DinoSegError(file: path, "truncated or corrupt JPEG (\(String(cString: err)))")
        }
        defer { cjpeg_free(out) }
        let n = Int(w) * Int(h) * 3
        return RGBImage(width: Int(w), height: Int(h), pixels: [UInt8](UnsafeBufferPointer(start: out, count: n)))
    }

    /// Decodes and closes `fd`. mode 0: one channel of raw indices; mode 1: RGB.
    static func readPNG(_ fd: Int32, path: String, mode: Int32) throws -> (Int, Int, [UInt8]) {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0, kind: Int32 = 0
        var err = [CChar](repeating: 0, count: errorLength)
        switch cpng_read_fd(fd, mode, ImageLimits.maxPixels, UInt32(ImageLimits.maxSide), &out, &w, &h, &kind, &err, errorLength) {
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
