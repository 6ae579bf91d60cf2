import XCTest
import Foundation
@testable import DinoSegCore
@testable import DinoSegModels
@testable import DinoSegPipeline
@testable import DinoSegCLI

/// The one variant definition: flag values, run and model names, the flags of `headtrain train` / `bench`, and head
/// configs recorded before the neck/context split.
final class HeadVariantTests: XCTestCase {
    func testNamesOfEveryVariant() {
        XCTAssertEqual(HeadVariant.allCases.map(\.rawValue), ["head", "ppm", "aspp", "fpn", "fpn-ppm", "fpn-aspp"])
        XCTAssertEqual(HeadVariant.allCases.map { HeadVariant(rawValue: $0.rawValue) }, HeadVariant.allCases.map { $0 })
        XCTAssertNil(HeadVariant(rawValue: "fpn-"))
        XCTAssertEqual(HeadVariant.fpnASPP.modelName(width: 768), "DINOv3 + FPN(768) + ASPP + head")
        XCTAssertEqual(HeadVariant.aspp.runName(width: 768), "aspp")
        XCTAssertEqual(HeadVariant.fpnASPP.runName(width: 512), "fpn512-aspp")
        XCTAssertEqual(HeadVariant.fpnPPM.runName(width: 512), "fpn512-ppm")
        let c = HeadConfig(stageChannels: [8, 8, 8, 8], fpnWidth: 64, outputStride: 4, variant: .fpnASPP)
        XCTAssertEqual(c.variantName, "FPN(64) + ASPP + head, OS 4")
        XCTAssertEqual(c.asppRates, [24, 48, 72], "rates scaled to output stride 4")
        XCTAssertEqual(HeadConfig(stageChannels: [8, 8, 8, 8], variant: .aspp).asppRates, [3, 6, 9], "rates on F3")
        XCTAssertEqual(HeadConfig(stageChannels: [8, 8, 8, 8], variant: .ppm).variantName, "PPM + head on F3")
    }

    /// run.json files and checkpoints written before the split say useFPN / usePPM.
    func testConfigWithTheOldKeysLoadsAsTheSameHead() throws {
        let old = #"{"stageChannels":[8,8,8,8],"fpnWidth":16,"outputStride":8,"useFPN":false,"usePPM":true,"numClasses":21,"classifierWidth":512,"dropout":0.1,"ppmBins":[1,2,3,6]}"#
        let c = try JSONDecoder().decode(HeadConfig.self, from: Data(old.utf8))
        XCTAssertEqual(c.variant, .ppm)
        XCTAssertEqual(c, HeadConfig(stageChannels: [8, 8, 8, 8], fpnWidth: 16, outputStride: 8, variant: .ppm))
        let again = try JSONDecoder().decode(HeadConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(again, c, "round trip with the new keys")
    }

    func testBadASPPConfigIsRefusedByName() {
        var c = HeadConfig(stageChannels: [8, 8, 8, 8], fpnWidth: 16, variant: .fpnASPP)
        c.asppRates = [12, 0, 36]
        XCTAssertThrowsError(try c.validate()) { e in
            XCTAssertEqual("\(e)", "head config: ASPP needs three dilation rates in 1...256, got [12, 0, 36]")
        }
        c.asppRates = [1, 2, 3]; c.asppWidth = 100_000
        XCTAssertThrowsError(try c.validate()) { e in
            XCTAssertEqual("\(e)", "head config: ASPP width must be in 1...4096, got 100000")
        }
    }

    func testContextAndVariantFlags() throws {
        let channels = [8, 8, 8, 8]
        XCTAssertEqual(try HeadVariantOptions.parse([]).headConfig(stageChannels: channels).variant, .fpnPPM)
        XCTAssertEqual(try HeadVariantOptions.parse(["--context", "aspp"]).headConfig(stageChannels: channels).variant, .fpnASPP)
        XCTAssertEqual(try HeadVariantOptions.parse(["--no-fpn", "--context", "aspp"]).headConfig(stageChannels: channels).variant, .aspp)
        XCTAssertEqual(try HeadVariantOptions.parse(["--variant", "fpn-aspp"]).headConfig(stageChannels: channels).variant, .fpnASPP)
        XCTAssertEqual(try HeadVariantOptions.parse(["--no-ppm"]).headConfig(stageChannels: channels).variant, .fpn)
        let rates = try HeadVariantOptions.parse(["--context", "aspp", "--aspp-rates", "6,12,18"]).headConfig(stageChannels: channels)
        XCTAssertEqual(rates.asppRates, [6, 12, 18])
        for bad in [["--variant", "fpn-aspp", "--no-ppm"], ["--no-ppm", "--context", "aspp"], ["--aspp-rates", "6,12,18"],
                    ["--context", "aspp", "--aspp-rates", "6,12"], ["--context", "aspp", "--aspp-rates", "6,0,18"], ["--context", "psp"]] {
            XCTAssertThrowsError(try HeadVariantOptions.parse(bad), "\(bad) should be refused")
        }
        let sweep = try HeadTrainSweep.parse(["--cache", "c", "--val-cache", "v", "--run", "r", "--variants", "aspp,fpn-aspp"])
        XCTAssertEqual(SweepJob.plan(variants: sweep.variants.values, widths: [32]).map(\.name), ["aspp", "fpn32-aspp"])
    }
}
