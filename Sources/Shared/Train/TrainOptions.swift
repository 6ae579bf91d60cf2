import DinoSegKernels
/// Optimisation settings of a training run (docs/DESIGN.md §6); the defaults are the published ones.
package struct TrainOptions: Codable, Equatable, Sendable {
    package var epochs = 50
    package var batch = 32
    package var lr = 0.01
    package var power = 0.9
    package var momentum: Float = 0.9
    package var weightDecay: Float = 1e-4
    package var seed: UInt64 = 0
    package var threads = Parallel.defaultThreads
    /// A human log line every this many steps (JSON lines are written for every step).
    package var logInterval = 20
    /// Also save last.safetensors every this many steps (0: only at epoch ends and on stop).
    package var checkpointEvery = 200
    /// Keep a checkpoint per epoch (epoch-NNN.safetensors) besides last.safetensors.
    package var keepEpochCheckpoints = false
    /// Stop (saving a checkpoint, as Ctrl-C does) after this many steps in this session; for tests and time limits.
    package var stopAfterSteps: Int? = nil
    /// The matrix multiplies' precision (Kernels/Precision.swift). Files written before it existed mean fp32.
    @FP32WhenAbsent package var precision: Precision = .fp32

    package init() {}

    /// The ResNet-50 PSPNet baseline's defaults (semseg's VOC config: batch 16; its steps are long, so a checkpoint
    /// every 100 of them).
    package static var baseline: TrainOptions {
        var o = TrainOptions()
        o.batch = 16
        o.checkpointEvery = 100
        return o
    }
}
