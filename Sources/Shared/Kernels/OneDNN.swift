// oneDNN's matmul, the engine of bf16 matrix multiplies (bf16 inputs, f32 accumulation and output). This is the only
// file that imports CDNNL, a small C shim that loads oneDNN 2.x at run time (libdnnl.so.2, Debian's libdnnl2), so a
// machine without it still runs fp32. oneDNN picks its kernels from CPUID (AVX512-BF16, AMX) when it loads.
import CDNNL
import Foundation
import DinoSegCore

/// oneDNN as loaded: its version, file and the instruction set it chose.
package struct OneDNNInfo: Codable, Equatable, Sendable {
    package var version: String
    package var library: String
    package var isa: String
    package var summary: String { "oneDNN \(version) (\(library)), ISA \(isa)" }
}

package enum OneDNN {
    /// Whether this binary was built with oneDNN's headers.
    package static var built: Bool { dinoseg_dnnl_built() != 0 }

    /// The result of loading oneDNN once: its description, or why it is not usable ($DINOSEG_DNNL names another file).
    package static let loaded: Result<OneDNNInfo, DinoSegError> = {
        var error = [CChar](repeating: 0, count: 2048)
        guard dinoseg_dnnl_open(nil, &error, error.count) == 0, let d = dinoseg_dnnl_describe()?.pointee else {
            return .failure(DinoSegError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return .success(OneDNNInfo(version: "\(d.major).\(d.minor).\(d.patch)", library: text(d.path), isa: text(d.isa)))
    }()

    package static var info: OneDNNInfo? { try? loaded.get() }

    /// The implementation oneDNN ran for this thread's last matmul, e.g. "brg:avx512_core_bf16".
    package static var lastImplementation: String { String(cString: dinoseg_dnnl_last_impl()) }

    package enum ElementType { case f32, bf16 }

    /// Row-major C[m, n] = act(alpha · op(A) · op(B) + bias + beta · C) on `threads` threads. A and B hold `type`
    /// values, C `outType` ones (bf16 as UInt16 bit patterns); `bias` [n] needs alpha 1, beta needs an f32 C; `gelu`
    /// is the exact (erf) GELU. oneDNN is loaded by then (the precision choice checked it); a refusal is a programming
    /// error and stops the process with its reason.
    static func gemm(type: ElementType, outType: ElementType = .f32, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int, beta: Float = 0,
                     bias: UnsafePointer<Float>? = nil, gelu: Bool = false, c: UnsafeMutableRawPointer, ldc: Int,
                     threads: Int) {
        precondition(bias == nil || alpha == 1, "a matmul bias needs alpha 1")
        precondition(outType == .f32 || beta == 0, "beta needs an f32 output")
        func code(_ t: ElementType) -> Int32 { t == .bf16 ? Int32(DINOSEG_DNNL_BF16) : Int32(DINOSEG_DNNL_F32) }
        var d = dinoseg_dnnl_matmul_desc(type: code(type), outType: code(outType), transA: transA ? 1 : 0,
                                         transB: transB ? 1 : 0, m: Int32(m), n: Int32(n), k: Int32(k), lda: Int32(lda),
                                         ldb: Int32(ldb), ldc: Int32(ldc), alpha: alpha, beta: beta,
                                         hasBias: bias == nil ? 0 : 1, gelu: gelu ? 1 : 0)
        var error = [CChar](repeating: 0, count: 512)
        let rc = dinoseg_dnnl_matmul(&d, a, b, bias, c, Int32(threads), &error, error.count)
        precondition(rc == 0, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

// MARK: convolutions

extension OneDNN {
    /// One pass of a convolution (the C shim's dinoseg_dnnl_conv).
    package enum ConvPass { case forward, backwardData, backwardWeights }

    /// How oneDNN convolves: directly, or with its Winograd F(4×4, 3×3) where it has one (f32 3×3 stride 1 without
    /// dilation on AVX-512; direct otherwise). Winograd reorders the activations to and from a blocked layout.
    package enum ConvAlgorithm: Sendable { case direct, winograd }

    /// oneDNN's convolution on channels-last maps and hwio weights as `Conv2d` stores them, on `threads` threads;
    /// inputs `type`, output f32:
    ///   forward:          out [n, oh, ow, cout] (+)= conv(a = inp, b = weight) + bias
    ///   backward data:    out [n, h, w, cin]    (+)= conv_backward_data(a = dout, b = weight)
    ///   backward weights: out [k·k·cin, cout]   (+)= conv_backward_weights(a = inp, b = dout)
    /// `accumulate` adds to `out` instead of overwriting it. `plainWeights` makes oneDNN read and write the hwio
    /// weights as stored (else they go through its preferred layout in scratch, which measured faster). A refusal is
    /// a programming error and stops the process with its reason.
    static func convolution(_ pass: ConvPass, type: ElementType, algorithm: ConvAlgorithm = .direct, n: Int, h: Int,
                            w: Int, cin: Int, cout: Int, geometry g: ConvGeometry, a: UnsafeRawPointer,
                            b: UnsafeRawPointer, bias: UnsafePointer<Float>? = nil, out: UnsafeMutablePointer<Float>,
                            accumulate: Bool, plainWeights: Bool = false, threads: Int) {
        precondition(bias == nil || pass == .forward, "only the forward convolution takes a bias")
        let code: Int32
        switch pass {
        case .forward: code = Int32(DINOSEG_DNNL_CONV_FORWARD)
        case .backwardData: code = Int32(DINOSEG_DNNL_CONV_BACKWARD_DATA)
        case .backwardWeights: code = Int32(DINOSEG_DNNL_CONV_BACKWARD_WEIGHTS)
        }
        var d = dinoseg_dnnl_conv_desc(pass: code, type: type == .bf16 ? Int32(DINOSEG_DNNL_BF16) : Int32(DINOSEG_DNNL_F32),
                                       n: Int32(n), h: Int32(h), w: Int32(w), cin: Int32(cin), cout: Int32(cout),
                                       kernel: Int32(g.kernel), stride: Int32(g.stride), pad: Int32(g.pad),
                                       dilation: Int32(g.dilation), hasBias: bias == nil ? 0 : 1,
                                       accumulate: accumulate ? 1 : 0, plainWeights: plainWeights ? 1 : 0,
                                       winograd: algorithm == .winograd ? 1 : 0)
        var error = [CChar](repeating: 0, count: 512)
        let rc = dinoseg_dnnl_conv(&d, a, b, bias, out, Int32(threads), &error, error.count)
        precondition(rc == 0, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// bf16 copies of the convolution inputs, converted on each call (the weights change every step).
    private static let convScratch = ThreadScratch("bf16 convolution")

    /// Calls `body` with bf16 copies (ties to even) of `arrays` (pointer, count) in the calling thread's scratch, or
    /// with the arrays themselves for f32. Large arrays are converted on `threads` threads.
    private static func withInputs<R>(_ type: ElementType, _ arrays: [(UnsafePointer<Float>, Int)], threads: Int,
                                      _ body: ([UnsafeRawPointer]) -> R) -> R {
        if type == .f32 { return body(arrays.map { UnsafeRawPointer($0.0) }) }
        let padded = arrays.map { ($0.1 + 31) & ~31 }, total = padded.reduce(0, +)
        var next = convScratch.forCurrentThread(bytes: total * 2).bindMemory(to: UInt16.self, capacity: total)
        var copies: [UnsafeRawPointer] = []
        for ((src, count), room) in zip(arrays, padded) {
            let dst = next
            next += room
            let blocks = count / 4096
            if blocks < 16 || threads <= 1 {
                convertToBF16(src, count: count, into: dst)
            } else {
                Parallel.forRanges(blocks, parts: threads) { r in
                    let lo = r.lowerBound * 4096, hi = r.upperBound == blocks ? count : r.upperBound * 4096
                    convertToBF16(src + lo, count: hi - lo, into: dst + lo)
                }
            }
            copies.append(UnsafeRawPointer(dst))
        }
        return body(copies)
    }

    /// out [n, oh, ow, cout] = conv(inp, weight) + bias, inputs rounded to bf16 when `type` is bf16.
    package static func convForward(type: ElementType, algorithm: ConvAlgorithm, out: UnsafeMutablePointer<Float>,
                            inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                            n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry, threads: Int) {
        withInputs(type, [(inp, n * h * w * cin), (weight, g.taps * cin * cout)], threads: threads) { p in
            convolution(.forward, type: type, algorithm: algorithm, n: n, h: h, w: w, cin: cin, cout: cout, geometry: g,
                        a: p[0], b: p[1], bias: bias, out: out, accumulate: false, threads: threads)
        }
    }

    /// dweight [k·k·cin, cout] += conv_backward_weights(inp, dout) with `weights` (nil: skipped), and
    /// dinp [n, h, w, cin] += conv_backward_data(dout, weight) with `data` (nil: skipped); inputs rounded to bf16 when
    /// `type` is bf16 (dout once for both passes).
    package static func convBackward(type: ElementType, weights: ConvAlgorithm?, data: ConvAlgorithm?,
                             dweight: UnsafeMutablePointer<Float>, dinp: UnsafeMutablePointer<Float>?,
                             dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry, threads: Int) {
        let doutCount = n * g.outSize(h) * g.outSize(w) * cout
        let data = dinp == nil ? nil : data
        var arrays = [(dout, doutCount)]
        if weights != nil { arrays.append((inp, n * h * w * cin)) }
        if data != nil { arrays.append((weight, g.taps * cin * cout)) }
        withInputs(type, arrays, threads: threads) { p in
            if let weights {
                convolution(.backwardWeights, type: type, algorithm: weights, n: n, h: h, w: w, cin: cin, cout: cout,
                            geometry: g, a: p[1], b: p[0], out: dweight, accumulate: true, threads: threads)
            }
            if let data, let dinp {
                convolution(.backwardData, type: type, algorithm: data, n: n, h: h, w: w, cin: cin, cout: cout,
                            geometry: g, a: p[0], b: p[arrays.count - 1], out: dinp, accumulate: true, threads: threads)
            }
        }
    }
}
