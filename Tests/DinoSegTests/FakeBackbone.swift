@testable import DinoSegCore
@testable import DinoSegBackbone

/// A tiny deterministic stand-in for the ConvNeXt: stage k = average pool over stride×stride blocks of the input,
/// then a fixed random projection 3 → Ck. Fast, thread-safe, and sensitive to every input pixel.
final class FakeBackbone: FeatureBackbone {
    let name = "fake-pool-projection"
    let stageChannels: [Int]
    let stageStrides = [4, 8, 16, 32]
    var weightsSHA256 = String(repeating: "ab", count: 32)
    let projections: [[Float]]   // [3, Ck]

    init(channels: [Int] = [8, 12, 16, 20], seed: UInt64 = 1, gain: Float = 1) {
        stageChannels = channels
        var rng = SplitMix64(seed: seed)
        projections = channels.map { c in (0..<(3 * c)).map { _ in gain * Float(rng.normal()) } }
    }

    func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        stages.map { k in
            let s = stageStrides[k], c = stageChannels[k]
            var h = height / 4, w = width / 4
            for _ in 0..<k { h /= 2; w /= 2 }
            var out = [Float](repeating: 0, count: h * w * c)
            for y in 0..<h {
                for x in 0..<w {
                    var mean: [Float] = [0, 0, 0]
                    for yy in (y * s)..<(y * s + s) {
                        for xx in (x * s)..<(x * s + s) { for ch in 0..<3 { mean[ch] += image[(yy * width + xx) * 3 + ch] } }
                    }
                    for o in 0..<c {
                        var v: Float = 0
                        for ch in 0..<3 { v += mean[ch] / Float(s * s) * projections[k][ch * c + o] }
                        out[(y * w + x) * c + o] = v
                    }
                }
            }
            return FeatureMap(height: h, width: w, channels: c, data: out)
        }
    }
}
