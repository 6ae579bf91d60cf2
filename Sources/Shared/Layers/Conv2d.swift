// General convolution: kernel k×k, stride, zero padding, dilation, channels-last, via
// im2col + GEMM one image at a time (the column buffer of one image is reused). A 1×1 stride-1 convolution is one
// GEMM over all pixels. Backward recomputes the columns instead of keeping them.
//
//   inp     [n, h, w, cin]
//   weight  [k·k·cin, cout]   row (ky·k + kx)·cin + ci  (PyTorch [cout, cin, k, k] permuted; converted on save/load)
//   bias    [cout] or nil
//   out     [n, oh, ow, cout]  oh = geometry.outSize(h)
//   scratch [oh·ow·k·k·cin]   column buffer (unused by pointwise convolutions)

import Foundation

public enum Conv2d {
    /// Who computes a convolution.
    public enum Route: Sendable {
        /// oneDNN where it is measured faster at the active precision (`oneDNNType`), else im2col + `matmul`.
        case auto
        /// im2col + `matmul` at the active precision (the reference).
        case im2col
        /// oneDNN's convolution with f32 or bf16 inputs as the active precision says (oneDNN must be loaded).
        case oneDNN
    }

    /// The input type oneDNN's convolution would run `g` with under `route` and the active engine, or nil for
    /// im2col + `matmul`: always nil without oneDNN and for emulated bf16 (`.roundedBLAS`, the reference).
    static func oneDNNType(_ route: Route, geometry g: ConvGeometry, cin: Int, cout: Int) -> OneDNN.ElementType? {
        switch route {
        case .im2col: return nil
        case .oneDNN:
            precondition(OneDNN.info != nil, "Conv2d.Route.oneDNN needs oneDNN loaded")
            return activeEngine == .blas ? .f32 : .bf16
        case .auto:
            if let o = routeOverride {  // TEMP measurement
                if o == "im2col" || activeEngine == .roundedBLAS || OneDNN.info == nil { return nil }
                if o == "onednn" { return activeEngine == .blas ? .f32 : .bf16 }
                if o == "nonpw" { return g.isPointwise ? nil : (activeEngine == .blas ? .f32 : .bf16) }
            }
            switch activeEngine {
            case .roundedBLAS: return nil
            case .blas: return useOneDNNFP32(g) && OneDNN.info != nil ? .f32 : nil
            case .oneDNNBF16: return useOneDNNBF16(g) ? .bf16 : nil
            }
        }
    }

    static let routeOverride = ProcessInfo.processInfo.environment["DINOSEG_CONV_ROUTE"]  // TEMP
    static func useOneDNNFP32(_ g: ConvGeometry) -> Bool { !g.isPointwise }
    static func useOneDNNBF16(_ g: ConvGeometry) -> Bool { !g.isPointwise }

    public static func scratchCount(h: Int, w: Int, cin: Int, geometry g: ConvGeometry) -> Int {
        g.isPointwise ? 0 : g.outSize(h) * g.outSize(w) * g.taps * cin
    }

    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                               scratch: UnsafeMutablePointer<Float>, threads: Int = 1, route: Route = .auto) {
        if let type = oneDNNType(route, geometry: g, cin: cin, cout: cout) {
            OneDNN.convForward(type: type, out: out, inp: inp, weight: weight, bias: bias, n: n, h: h, w: w, cin: cin,
                               cout: cout, geometry: g, threads: blasThreads())
            return
        }
        let oh = g.outSize(h), ow = g.outSize(w), ohw = oh * ow, kc = g.taps * cin
        if let bias { for p in 0..<(n * ohw) { (out + p * cout).update(from: bias, count: cout) } }
        let beta: Float = bias == nil ? 0 : 1
        if g.isPointwise {
            matmul(m: n * ohw, n: cout, k: cin, a: inp, lda: cin, b: weight, ldb: cout, beta: beta, c: out, ldc: cout)
            return
        }
        for b in 0..<n {
            im2col(image: inp + b * h * w * cin, h: h, w: w, c: cin, geometry: g, cols: scratch, threads: threads)
            matmul(m: ohw, n: cout, k: kc, a: scratch, lda: kc, b: weight, ldb: cout, beta: beta,
                  c: out + b * ohw * cout, ldc: cout)
        }
    }

    /// dweight += colsᵀ · dout;  dbias += Σ dout;  dinp += col2im(dout · weightᵀ) (skipped when dinp is nil).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                                scratch: UnsafeMutablePointer<Float>, threads: Int = 1, route: Route = .auto) {
        let oh = g.outSize(h), ow = g.outSize(w), ohw = oh * ow, kc = g.taps * cin
        if let dbias { addColumnSums(dout, rows: n * ohw, cols: cout, into: dbias) }
        if let type = oneDNNType(route, geometry: g, cin: cin, cout: cout) {
            let t = blasThreads()
            OneDNN.convBackwardWeights(type: type, dweight: dweight, inp: inp, dout: dout, n: n, h: h, w: w, cin: cin,
                                       cout: cout, geometry: g, threads: t)
            if let dinp {
                OneDNN.convBackwardData(type: type, dinp: dinp, dout: dout, weight: weight, n: n, h: h, w: w, cin: cin,
                                        cout: cout, geometry: g, threads: t)
            }
            return
        }
        if g.isPointwise {
            matmul(transA: true, m: cin, n: cout, k: n * ohw, a: inp, lda: cin, b: dout, ldb: cout, beta: 1, c: dweight, ldc: cout)
            if let dinp {
                matmul(transB: true, m: n * ohw, n: cin, k: cout, a: dout, lda: cout, b: weight, ldb: cout, beta: 1, c: dinp, ldc: cin)
            }
            return
        }
        for b in 0..<n {
            let gout = dout + b * ohw * cout
            im2col(image: inp + b * h * w * cin, h: h, w: w, c: cin, geometry: g, cols: scratch, threads: threads)
            matmul(transA: true, m: kc, n: cout, k: ohw, a: scratch, lda: kc, b: gout, ldb: cout, beta: 1, c: dweight, ldc: cout)
            if let dinp {
                matmul(transB: true, m: ohw, n: kc, k: cout, a: gout, lda: cout, b: weight, ldb: cout, beta: 0, c: scratch, ldc: kc)
                col2im(cols: scratch, h: h, w: w, c: cin, geometry: g, image: dinp + b * h * w * cin, threads: threads)
            }
        }
    }
}
