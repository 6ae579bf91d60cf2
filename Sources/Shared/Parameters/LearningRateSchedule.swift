import Foundation

// The learning-rate schedule of head training (semseg's poly policy); the update itself is ParameterArena.sgdStep.

/// Poly learning-rate schedule: lr_k = base · (1 − k/maxIter)^power.
package func polyLearningRate(base: Double, iteration k: Int, maxIter: Int, power: Double = 0.9) -> Double {
    guard maxIter > 0 else { return base }
    return base * pow(max(0, 1 - Double(k) / Double(maxIter)), power)
}
