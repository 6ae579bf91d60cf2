import Foundation
@testable import DinoSegCore
@testable import DinoSegKernels
@testable import DinoSegNN
@testable import DinoSegModels

/// One head-training fixture of scripts/make_head_fixture.py, read the way every parity test reads it: the head built
/// from the fixture's config with its "init." weights, the four backbone stages, the labels and the SGD settings.
struct HeadStepFixture {
    let config: HeadConfig
    let head: SegmentationHead
    let inputs: [Int: [Float]]
    let shapes: [Int: SegmentationHead.StageShape]
    let batch: Int
    let labels: [UInt8]
    let labelHeight: Int, labelWidth: Int
    let lr: Double, momentum: Float, weightDecay: Float, maxIter: Int

    init(_ f: SafetensorsFile, winograd: Bool) throws {
        config = try JSONDecoder().decode(HeadConfig.self, from: Data(f.metadata["config"]!.utf8))
        head = try SegmentationHead(config: config, seed: 1, threads: 2)
        head.useWinograd = winograd
        try HeadCheckpoint.loadTorchState(f, prefix: "init.", into: head)
        var inputs: [Int: [Float]] = [:], shapes: [Int: SegmentationHead.StageShape] = [:]
        for s in 0..<4 {
            let info = f.tensors["input.stage\(s)"]!
            inputs[s] = try f.floats("input.stage\(s)")
            shapes[s] = (info.shape[1], info.shape[2], info.shape[3])
        }
        self.inputs = inputs
        self.shapes = shapes
        batch = f.tensors["input.stage0"]!.shape[0]
        labels = try f.integers("labels").map { UInt8($0) }
        labelHeight = f.tensors["labels"]!.shape[1]
        labelWidth = f.tensors["labels"]!.shape[2]
        lr = Double(f.metadata["lr"]!)!
        momentum = Float(f.metadata["momentum"]!)!
        weightDecay = Float(f.metadata["weight_decay"]!)!
        maxIter = Int(f.metadata["max_iter"]!)!
    }
}
