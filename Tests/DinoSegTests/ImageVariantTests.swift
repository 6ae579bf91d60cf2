import XCTest
@testable import DinoSegCore
@testable import DinoSegData

/// PNG variants (bit depths, grey+alpha, tRNS, 16-bit) and CMYK JPEGs: read correctly or refused with one line.
final class ImageVariantTests: TempDirTestCase {
    override class var tempTag: String { "variants" }

    func write(_ name: String, _ data: Data) throws -> String {
        let path = "\(tmp)/\(name)"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testSixteenBitLabelsKeepTheirValuesOrAreRefused() throws {
        // The case: a 16-bit grey label with values 0, 1, 17, 255 used to come back as all zeros.
        let ok = try write("l16.png", TestPNG.encode(width: 4, height: 1, depth: 16, colour: .grey, samples: [0, 1, 17, 255]))
        XCTAssertEqual(try ImageIO.readLabel(ok).pixels, [0, 1, 17, 255])
        // With its image, the usual range check applies to the 16-bit values.
        let image = RGBImage(width: 4, height: 1)
        let bad = try write("l16-bad.png", TestPNG.encode(width: 4, height: 1, depth: 16, colour: .grey, samples: [0, 21, 1, 2]))
        XCTAssertThrowsError(try validateLabel(ImageIO.readLabel(bad), path: bad, image: image, description: .voc)) {
            XCTAssertEqual("\($0)", "\(bad): pixel (x 1, y 0): label value 21 is not a voc2012 label (expected 0–20 or 255)")
        }
        let wide = try write("l16-wide.png", TestPNG.encode(width: 4, height: 1, depth: 16, colour: .grey, samples: [0, 1, 300, 2]))
        XCTAssertThrowsError(try ImageIO.readLabel(wide)) {
            XCTAssertEqual("\($0)", "\(wide): label value 300 at (x 2, y 0) of a 16-bit label (stored labels are 0–255)")
        }
        // 16-bit grey+alpha: the grey channel.
        let ga = try write("l16ga.png", TestPNG.encode(width: 2, height: 1, depth: 16, colour: .greyAlpha,
                                                        samples: [5, 65535, 255, 0]))
        XCTAssertEqual(try ImageIO.readLabel(ga).pixels, [5, 255])
    }

    func testLowBitDepthPaletteTransparencyAndGreyAlphaLabels() throws {
        // Grey and palette samples below 8 bits are indices, not scaled; as images, grey is scaled to 0–255.
        for depth in [1, 2, 4] {
            let values = (0..<5).map { $0 % (1 << depth) }
            let grey = try write("g\(depth).png", TestPNG.encode(width: 5, height: 1, depth: depth, colour: .grey, samples: values))
            XCTAssertEqual(try ImageIO.readLabel(grey).pixels, values.map(UInt8.init), "grey depth \(depth)")
            let scale = 255 / ((1 << depth) - 1)
            XCTAssertEqual(try ImageIO.readRGB(grey).pixels, values.flatMap { [UInt8($0 * scale), UInt8($0 * scale), UInt8($0 * scale)] },
                           "grey depth \(depth) as an image")
            let pal = try write("p\(depth).png", TestPNG.encode(width: 5, height: 1, depth: depth, colour: .palette, samples: values,
                                                                palette: Array(VOC.palette.prefix(3 << depth))))
            XCTAssertEqual(try ImageIO.readLabel(pal).pixels, values.map(UInt8.init), "palette depth \(depth)")
        }
        // Palette with tRNS: indices as a label; colours without alpha as an image.
        let trns = try write("trns.png", TestPNG.encode(width: 3, height: 1, depth: 8, colour: .palette, samples: [0, 1, 2],
                                                        palette: Array(VOC.palette.prefix(9)), transparency: [0, 128]))
        XCTAssertEqual(try ImageIO.readLabel(trns).pixels, [0, 1, 2])
        XCTAssertEqual(try ImageIO.readRGB(trns).pixels, Array(VOC.palette.prefix(9)))
        // Grey with tRNS and grey+alpha: the grey values.
        let gt = try write("gt.png", TestPNG.encode(width: 2, height: 1, depth: 8, colour: .grey, samples: [3, 255], transparency: [0, 3]))
        XCTAssertEqual(try ImageIO.readLabel(gt).pixels, [3, 255])
        XCTAssertEqual(try ImageIO.readRGB(gt).pixels, [3, 3, 3, 255, 255, 255])
        let ga = try write("ga.png", TestPNG.encode(width: 2, height: 1, depth: 8, colour: .greyAlpha, samples: [7, 0, 20, 255]))
        XCTAssertEqual(try ImageIO.readLabel(ga).pixels, [7, 20])
        XCTAssertEqual(try ImageIO.readRGB(ga).pixels, [7, 7, 7, 20, 20, 20])
    }

    func testColourLabelsAreRefusedAndSixteenBitImagesReduced() throws {
        let rgba = try write("rgba.png", TestPNG.encode(width: 1, height: 1, depth: 8, colour: .rgba, samples: [1, 2, 3, 4]))
        XCTAssertThrowsError(try ImageIO.readLabel(rgba)) {
            XCTAssertEqual("\($0)", "\(rgba): label PNG is colour (RGBA), expected a single-channel index or palette PNG")
        }
        let rgb16 = try write("rgb16.png", TestPNG.encode(width: 1, height: 1, depth: 16, colour: .rgb, samples: [0x1234, 0xFF00, 0x00FF]))
        XCTAssertThrowsError(try ImageIO.readLabel(rgb16)) { XCTAssertTrue("\($0)".hasSuffix("label PNG is colour (RGB), expected a single-channel index or palette PNG")) }
        XCTAssertEqual(try ImageIO.readRGB(rgb16).pixels, [0x12, 0xFF, 0x00])
        XCTAssertEqual(try ImageIO.readRGB(rgba).pixels, [1, 2, 3])
    }

    func testCMYKJPEGMatchesOpenCV() throws {
        let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/cmyk").path
        let ours = try ImageIO.readRGB(fixtures + "/cmyk.jpg")
        let reference = try ImageIO.readRGB(fixtures + "/cmyk-reference-rgb.png")
        XCTAssertEqual([ours.width, ours.height], [24, 16])
        var worst = (diff: 0, at: 0)
        for i in 0..<ours.pixels.count {
            let d = abs(Int(ours.pixels[i]) - Int(reference.pixels[i]))
            if d > worst.diff { worst = (d, i) }
        }
        // OpenCV converts with 8-bit integer steps; 2 levels of rounding difference are expected.
        XCTAssertLessThanOrEqual(worst.diff, 2, "largest |ours − cv2| = \(worst.diff) at pixel \(worst.at / 3) channel \(worst.at % 3)")
    }
}
