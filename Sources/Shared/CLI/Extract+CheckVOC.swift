import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegData

/// `extract check-voc`: layout report, train_aug.txt construction and split checks.
package struct ExtractCheckVOC: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "check-voc",
        abstract: "Check a VOC 2012 (+SBD) tree; build ImageSets/Segmentation/train_aug.txt from the SBD lists when missing.")

    @Argument(help: "VOC root (VOCdevkit/VOC2012).") var root: String
    @Option(name: .long, help: "Directory holding SBD's train.txt and val.txt (default: searched under ROOT).") var sbd: String?
    @Flag(name: .long, help: "Do not write train_aug.txt.") var dryRun = false

    package init() {}

    package func run() throws {
        let r = VOCCheck.run(root: root, sbd: sbd, writeTrainAug: !dryRun)
        for l in r.lines { print(l) }
        for p in r.problems { print("problem: \(p)") }
        if !r.problems.isEmpty { throw DinoSegError(file: root, "\(r.problems.count) problem(s) found") }
        print("OK: train_aug \(VOCCheck.expectedTrainAug) and val \(VOCCheck.expectedVal) ids, disjoint, all files present")
    }
}
