import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegData

/// `extract check-ade20k`: image/annotation pairs, annotation values and split sizes of an ADEChallengeData2016 tree.
package struct ExtractCheckADE20K: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "check-ade20k",
        abstract: "Check an ADE20K tree (ADEChallengeData2016): every image annotated, annotation values 0–150, 20,210 training / 2,000 validation images.")

    @Argument(help: "ADE20K root (the unzipped ADEChallengeData2016 directory).") var root: String
    @Option(name: .long, help: "Whether split sizes other than the official 20,210 / 2,000 are a problem (false for a subset or the synthetic set).")
    var expectCounts = true

    package init() {}

    package func run() throws {
        let r = ADE20KCheck.run(root: root, expectCounts: expectCounts)
        for l in r.lines { print(l) }
        for p in r.problems { print("problem: \(p)") }
        if !r.problems.isEmpty { throw DinoSegError(file: root, "\(r.problems.count) problem(s) found") }
        print("OK: every image has its annotation and every annotation holds values 0–\(ADE20KCheck.maxValue)")
    }
}
