// A minimal PNG writer for tests: any colour type and bit depth libpng reads, optional PLTE and tRNS, stored
// (uncompressed) deflate blocks. It makes the variants DinoSeg's own writer never produces (16-bit, 1/2/4-bit,
// grey+alpha, tRNS), and seeds for the decoder fuzzers.
import Foundation

enum TestPNG {
    enum Colour: UInt8 { case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6 }

    /// `samples`: height · width · channels sample values (each < 2^depth), row-major.
    static func encode(width: Int, height: Int, depth: Int, colour: Colour, samples: [Int],
                       palette: [UInt8]? = nil, transparency: [UInt8]? = nil) -> Data {
        let channels = [Colour.grey: 1, .rgb: 3, .palette: 1, .greyAlpha: 2, .rgba: 4][colour]!
        precondition(samples.count == width * height * channels)
        var raw = Data()
        for y in 0..<height {
            raw.append(0)  // filter: none
            let row = samples[(y * width * channels)..<((y + 1) * width * channels)]
            if depth >= 8 {
                for v in row {
                    if depth == 16 { raw.append(UInt8(v >> 8)) }
                    raw.append(UInt8(v & 0xFF))
                }
            } else {
                var byte = 0, bits = 0
                for v in row {
                    byte = (byte << depth) | v; bits += depth
                    if bits == 8 { raw.append(UInt8(byte)); byte = 0; bits = 0 }
                }
                if bits > 0 { raw.append(UInt8(byte << (8 - bits))) }
            }
        }
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.append(bigEndian: UInt32(width)); ihdr.append(bigEndian: UInt32(height))
        ihdr.append(contentsOf: [UInt8(depth), colour.rawValue, 0, 0, 0])
        png.appendChunk("IHDR", ihdr)
        if let palette { png.appendChunk("PLTE", Data(palette)) }
        if let transparency { png.appendChunk("tRNS", Data(transparency)) }
        png.appendChunk("IDAT", zlibStored(raw))
        png.appendChunk("IEND", Data())
        return png
    }

    /// A zlib stream of stored blocks (no compression).
    static func zlibStored(_ data: Data) -> Data {
        var out = Data([0x78, 0x01])
        let bytes = [UInt8](data)
        var start = 0
        repeat {
            let n = min(65535, bytes.count - start)
            out.append(start + n == bytes.count ? 1 : 0)
            out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)])
            out.append(contentsOf: bytes[start..<(start + n)])
            start += n
        } while start < bytes.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        out.append(bigEndian: (b << 16) | a)
        return out
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in bytes { c = crcTable[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

extension Data {
    mutating func append(bigEndian v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }

    mutating func appendChunk(_ type: String, _ body: Data) {
        append(bigEndian: UInt32(body.count))
        let typed = Data(type.utf8) + body
        append(typed)
        append(bigEndian: TestPNG.crc32(typed))
    }
}
