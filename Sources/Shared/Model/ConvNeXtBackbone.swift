import Foundation
import DinoSegKernels
import DinoSegData

/// The frozen DINOv3 ConvNeXt (inference only), NHWC, matching transformers' DINOv3ConvNextModel stage outputs.
///
/// forward: image [height, width, 3] normalised RGB → stage s output [height/4/2^s, width/4/2^s, C_s] (floor division
/// at each step). Each call uses its own scratch buffers (taken from a pool), so several threads may run forward
/// concurrently (one image or batch per core; run them inside `withBLASThreads(1)` so BLAS does not oversubscribe).
package final class ConvNeXtBackbone: FeatureBackbone {
    package let weights: ConvNeXtWeights
    package var config: ConvNeXtConfig { weights.config }
    /// The name recorded in cache manifests; random weights say so, so every downstream number is labelled.
    package var name: String { config.modelName + (weights.isRandom ? RandomCheckpoint.nameSuffix : "") }
    package var stageChannels: [Int] { config.hiddenSizes }
    package var stageStrides: [Int] { config.stageStrides }
    package var inputNormalization: InputNormalization { .imageNet }
    package var depths: [Int] { config.depths }
    package var weightsSHA256: String { weights.sha256 }

    package init(weights: ConvNeXtWeights) { self.weights = weights }

    /// Loads weights from a directory (config.json + model.safetensors) or a .safetensors file.
    package convenience init(weightsPath: String) throws { self.init(weights: try ConvNeXtWeights.load(path: weightsPath)) }

    /// Spatial size of each stage output for an input of height × width.
    package func stageSizes(height: Int, width: Int) -> [(height: Int, width: Int)] {
        stageGeometry.map { ($0.side(height), $0.side(width)) }
    }

    package func forward(image: UnsafePointer<Float>, height: Int, width: Int, stages: [Int]) -> [FeatureMap] {
        forward(images: [image], height: height, width: width, stages: stages)[0]
    }

    /// Several images of the same size in one pass: the pointwise GEMMs then see `images.count` times more rows per
    /// weight load (the late stages have few pixels and large weights). Returns, per image, the requested stages.
    package func forward(images: [UnsafePointer<Float>], height: Int, width: Int, stages: [Int]) -> [[FeatureMap]] {
        precondition(stages.allSatisfy { (0..<config.stageCount).contains($0) }, "stages \(stages) outside 0..<\(config.stageCount)")
        var maps = [[Int: FeatureMap]](repeating: [:], count: images.count)
        run(images: images, height: height, width: width, through: stages.max() ?? -1) { b, s, h, w, c, data in
            if stages.contains(s) {
                maps[b][s] = FeatureMap(height: h, width: w, channels: c, data: Array(UnsafeBufferPointer(start: data, count: h * w * c)))
            }
        }
        return maps.map { m in stages.map { m[$0]! } }
    }

    /// Rows of the block MLP processed at once: keeps the expanded [rows, 4C] activation near 1.5 MiB (in L2) for the
    /// early stages, but never splits below 512 rows (late stages are limited by weight loads, not activations).
    static func mlpChunkRows(channels: Int) -> Int { max(512, (3 << 19) / (4 * channels * 4)) }

    /// Working memory of one forward call, sized for the largest stage.
    private final class Scratch {
        let sizes: [Int]                           // capacities of the buffers below, in floats
        let x: UnsafeMutablePointer<Float>        // current activation [batch, h, w, C]
        let t: UnsafeMutablePointer<Float>        // dwconv / LayerNorm output, then projection output
        let hidden: UnsafeMutablePointer<Float>   // expanded activation of one row chunk [rows, 4C]
        let hidden16: UnsafeMutablePointer<UInt16> // the same after GELU, as bf16 (native bf16 only)
        let padded: UnsafeMutablePointer<Float>   // zero-bordered dwconv input (one image)
        let patches: UnsafeMutablePointer<Float>  // patchify rows
        init(_ sizes: [Int]) {
            self.sizes = sizes
            x = .allocate(capacity: sizes[0]); t = .allocate(capacity: sizes[1]); hidden = .allocate(capacity: sizes[2])
            hidden16 = .allocate(capacity: sizes[2])
            padded = .allocate(capacity: sizes[3]); patches = .allocate(capacity: sizes[4])
        }
        func fits(_ need: [Int]) -> Bool { zip(sizes, need).allSatisfy { $0 >= $1 } }
        deinit {
            for p in [x, t, hidden, padded, patches] { p.deallocate() }
            hidden16.deallocate()
        }
    }

    /// bf16 copies of every block's MLP weights [stage][block], made on the first native-bf16 forward (the weights
    /// never change) and shared by all threads.
    private var bf16MLP: [[(expand: BF16Matrix, project: BF16Matrix)]]?
    private let bf16Lock = NSLock()

    private func bf16MLPWeights() -> [[(expand: BF16Matrix, project: BF16Matrix)]] {
        bf16Lock.lock()
        defer { bf16Lock.unlock() }
        if let made = bf16MLP { return made }
        let made = weights.stages.enumerated().map { s, stage in
            stage.blocks.map { b in
                (BF16Matrix(b.expand, rows: config.hiddenSizes[s], columns: 4 * config.hiddenSizes[s]),
                 BF16Matrix(b.project, rows: 4 * config.hiddenSizes[s], columns: config.hiddenSizes[s]))
            }
        }
        bf16MLP = made
        return made
    }

    /// Scratch buffers not in use. A call takes one (or makes one) and returns it, so concurrent calls never share
    /// memory, and repeated calls reuse already-faulted pages instead of paying page faults on every image.
    private var freeScratch: [Scratch] = []
    private let scratchLock = NSLock()

    private func scratchSizes(sizes: [(height: Int, width: Int)], batch: Int) -> [Int] {
        var act = 1, hid = 1, pad = 1, patches = max(1, batch * sizes[0].height * sizes[0].width * 16 * config.inputChannels)
        for (s, size) in sizes.enumerated() {
            let c = config.hiddenSizes[s], rows = batch * size.height * size.width
            act = max(act, rows * c)
            hid = max(hid, min(rows, Self.mlpChunkRows(channels: c)) * 4 * c)
            pad = max(pad, depthwisePaddedCount(height: size.height, width: size.width, channels: c))
            if s > 0 { patches = max(patches, rows * 4 * config.hiddenSizes[s - 1]) }
        }
        return [act, max(act, patches), hid, pad, patches]
    }

    private func takeScratch(_ need: [Int]) -> Scratch {
        scratchLock.lock()
        defer { scratchLock.unlock() }
        if let i = freeScratch.firstIndex(where: { $0.fits(need) }) { return freeScratch.remove(at: i) }
        // Drop a too-small buffer set rather than keep it (sizes change only when the input size does).
        if !freeScratch.isEmpty { freeScratch.removeFirst() }
        return Scratch(need)
    }

    private func returnScratch(_ s: Scratch) {
        scratchLock.lock()
        freeScratch.append(s)
        scratchLock.unlock()
    }

    /// Runs stages 0...lastStage on one image (see the batched form).
    package func run(image: UnsafePointer<Float>, height: Int, width: Int, through lastStage: Int, profile: OpProfile? = nil,
                    output: (Int, Int, Int, Int, UnsafePointer<Float>) -> Void) {
        run(images: [image], height: height, width: width, through: lastStage, profile: profile) { _, s, h, w, c, d in output(s, h, w, c, d) }
    }

    /// Runs stages 0...lastStage on a batch of images, calling `output(image, stage, h, w, C, data)` with each raw
    /// stage output (valid only during the call). `profile`, when given, accumulates the thread CPU time per operation.
    package func run(images: [UnsafePointer<Float>], height: Int, width: Int, through lastStage: Int, profile: OpProfile? = nil,
                    output: (Int, Int, Int, Int, Int, UnsafePointer<Float>) -> Void) {
        guard lastStage >= 0, !images.isEmpty else { return }
        let batch = images.count
        let sizes = stageSizes(height: height, width: width)
        let scratch = takeScratch(scratchSizes(sizes: sizes, batch: batch))
        defer { returnScratch(scratch) }
        let eps = config.layerNormEps
        let cin0 = config.inputChannels
        for s in 0...min(lastStage, config.stageCount - 1) {
            let sw = weights.stages[s]
            let c = config.hiddenSizes[s]
            let (h, w) = sizes[s]
            let rows = batch * h * w
            var mark = profile?.start()
            if s == 0 {
                // Each image is patchified straight into its rows of the patch matrix; one GEMM for the batch.
                let k = 16 * cin0
                for (b, im) in images.enumerated() {
                    patchify(input: im, height: height, width: width, channels: cin0, patch: 4, patches: scratch.patches + b * h * w * k)
                }
                patchRowsGEMM(patches: scratch.patches, rows: rows, patchSize: k, weight: sw.conv, bias: sw.convBias,
                              outChannels: c, output: scratch.x)
                profile?.add("stem conv 4x4 (GEMM)", &mark)
                layerNormRows(input: scratch.x, rows: rows, channels: c, weight: sw.normWeight, bias: sw.normBias, eps: eps, output: scratch.x)
                profile?.add("layernorm", &mark)
            } else {
                let cin = config.hiddenSizes[s - 1]
                let (ph, pw) = sizes[s - 1]
                layerNormRows(input: scratch.x, rows: batch * ph * pw, channels: cin, weight: sw.normWeight, bias: sw.normBias, eps: eps, output: scratch.t)
                profile?.add("layernorm", &mark)
                patchConv(input: scratch.t, batch: batch, height: ph, width: pw, inChannels: cin, patch: 2,
                          weight: sw.conv, bias: sw.convBias, outChannels: c, output: scratch.x, patches: scratch.patches)
                profile?.add("downsample conv 2x2 (GEMM)", &mark)
            }
            if rows > 0 {
                let packed = activeEngine == .oneDNNBF16 ? bf16MLPWeights()[s] : nil
                for (i, block) in sw.blocks.enumerated() {
                    runBlock(block, bf16: packed?[i], scratch: scratch, batch: batch, height: h, width: w, channels: c,
                             eps: eps, profile: profile)
                }
            }
            for b in 0..<batch { output(b, s, h, w, c, scratch.x + b * h * w * c) }
        }
    }

    /// x ← x + gamma · (pw2(gelu(pw1(LN(dwconv(x)))))); the MLP runs in row chunks so [rows, 4C] stays in cache.
    /// With native bf16 (`bf16` weights given), the weights are rounded once, and bias + GELU writes the hidden
    /// activation as bf16, which is what pw2 rounds its input to anyway: the same arithmetic, one pass fewer.
    private func runBlock(_ b: ConvNeXtBlockWeights, bf16: (expand: BF16Matrix, project: BF16Matrix)?, scratch: Scratch, batch: Int, height: Int, width: Int, channels c: Int,
                          eps: Float, profile: OpProfile?) {
        let perImage = height * width
        let rows = batch * perImage
        var mark = profile?.start()
        for i in 0..<batch {
            depthwiseConv7x7(input: scratch.x + i * perImage * c, height: height, width: width, channels: c, weight: b.depthwise,
                             bias: b.depthwiseBias, output: scratch.t + i * perImage * c, padded: scratch.padded)
        }
        profile?.add("depthwise 7x7", &mark)
        layerNormRows(input: scratch.t, rows: rows, channels: c, weight: b.normWeight, bias: b.normBias, eps: eps, output: scratch.t)
        profile?.add("layernorm", &mark)
        let chunk = Self.mlpChunkRows(channels: c)
        var r0 = 0
        while r0 < rows {
            let n = min(chunk, rows - r0)
            let t = scratch.t + r0 * c
            if let bf16 {
                matmulBF16(m: n, a: t, lda: c, w: bf16.expand, c: scratch.hidden, ldc: 4 * c)
                profile?.add("pointwise C->4C (bf16 GEMM) C=\(c)", &mark)
                biasGELUToBF16(scratch.hidden, rows: n, columns: 4 * c, bias: b.expandBias, output: scratch.hidden16)
                profile?.add("bias + GELU → bf16", &mark)
                matmulBF16(m: n, a: UnsafePointer(scratch.hidden16), lda: 4 * c, w: bf16.project, c: t, ldc: c)
                profile?.add("pointwise 4C->C (bf16 GEMM) C=\(c)", &mark)
                addScaledResidual(scratch.x + r0 * c, update: t, rows: n, channels: c, bias: b.projectBias, gamma: b.gamma)
                profile?.add("bias + gamma + residual", &mark)
                r0 += n
                continue
            }
            matmul(m: n, n: 4 * c, k: c, a: t, lda: c, b: b.expand, ldb: 4 * c, c: scratch.hidden, ldc: 4 * c)
            profile?.add("pointwise C->4C (GEMM) C=\(c)", &mark)
            biasGELU(scratch.hidden, rows: n, columns: 4 * c, bias: b.expandBias)
            profile?.add("bias + GELU", &mark)
            // The chunk's LayerNorm input is no longer needed: the projection overwrites it in place.
            matmul(m: n, n: c, k: 4 * c, a: scratch.hidden, lda: 4 * c, b: b.project, ldb: c, c: t, ldc: c)
            profile?.add("pointwise 4C->C (GEMM) C=\(c)", &mark)
            addScaledResidual(scratch.x + r0 * c, update: t, rows: n, channels: c, bias: b.projectBias, gamma: b.gamma)
            profile?.add("bias + gamma + residual", &mark)
            r0 += n
        }
    }
}

