import DinoSegKernels
// General convolution: kernel k×k, stride, zero padding, dilation, channels-last. Two engines, chosen per pass
// (`Conv2d.engine`): oneDNN's convolution primitives (direct, or Winograd F(4×4, 3×3) computed in f32), and im2col +
// GEMM one image at a time (the column buffer of one image is reused; a 1×1 stride-1 convolution is one GEMM over all
// pixels; backward recomputes the columns instead of keeping them), which runs at the active precision through
// `matmul` and is the reference (and the path without oneDNN, and of emulated bf16).
//
//   inp     [n, h, w, cin]
//   weight  [k·k·cin, cout]   row (ky·k + kx)·cin + ci  (PyTorch [cout, cin, k, k] permuted; converted on save/load;
//                             oneDNN's hwio)
//   bias    [cout] or nil
//   out     [n, oh, ow, cout]  oh = geometry.outSize(h)
//   scratch [oh·ow·k·k·cin]   column buffer (unused by pointwise convolutions and by oneDNN)

package enum Conv2d {
    /// Who computes a convolution.
    package enum Route: Sendable {
        /// Per pass, the engine measured fastest for the geometry at the active precision (`engine`).
        case auto
        /// im2col + `matmul` at the active precision (the reference).
        case im2col
        /// oneDNN's direct convolution with f32 or bf16 inputs as the active precision says (oneDNN must be loaded).
        case oneDNN
        /// oneDNN's Winograd F(4×4, 3×3) where it has one (3×3 stride 1 without dilation; in f32 on bf16-rounded
        /// inputs at bf16), else as `.oneDNN`.
        case oneDNNWinograd
    }

    /// The engine of one pass.
    enum Engine: Equatable {
        case im2col
        case oneDNN(OneDNN.ElementType, OneDNN.ConvAlgorithm)
    }

    /// The engine `route` runs `pass` of `g` on under the active matmul engine. `.auto` keeps im2col + `matmul`
    /// without oneDNN and for emulated bf16 (`.roundedBLAS`, the reference).
    static func engine(_ route: Route, _ pass: OneDNN.ConvPass, geometry g: ConvGeometry, n: Int, h: Int, w: Int,
                       cin: Int, cout: Int) -> Engine {
        let type: OneDNN.ElementType = activeEngine == .blas ? .f32 : .bf16
        switch route {
        case .im2col: return .im2col
        case .oneDNN, .oneDNNWinograd:
            precondition(OneDNN.info != nil, "Conv2d.Route.\(route) needs oneDNN loaded")
            return .oneDNN(type, route == .oneDNNWinograd ? .winograd : .direct)
        case .auto:
            if activeEngine == .roundedBLAS || OneDNN.info == nil { return .im2col }
            return autoEngine(pass, type: type, geometry: g, n: n, h: h, w: w, cin: cin, cout: cout)
        }
    }

    /// `.auto`'s choice, from timings of the PSPNet baseline's convolutions (crop 224 batch 4 and crop 473 batch 2) on
    /// 2 Zen 4 cores, every pass against im2col + GEMM: oneDNN wins nearly everywhere (brgconv / jit kernels on blocked
    /// weights), and its Winograd F(4×4, 3×3) is 2.5–4× faster than either on the undilated stride-1 3×3 convolutions
    /// in fp32; in bf16 (f32 Winograd on bf16-rounded inputs against native bf16 direct) it only pays with wide
    /// channels (the classifiers: 4096→512, 1024→256). Tiny maps (the pyramid's pooled 1×1 … 6×6 maps) stay on GEMM.
    static func autoEngine(_ pass: OneDNN.ConvPass, type: OneDNN.ElementType, geometry g: ConvGeometry, n: Int, h: Int,
                           w: Int, cin: Int, cout: Int) -> Engine {
        if n * g.outSize(h) * g.outSize(w) < 256 { return .im2col }
        if g.kernel == 3 && g.stride == 1 && g.dilation == 1 && (type == .f32 || cin * cout >= 256 * 256) {
            return .oneDNN(type, .winograd)
        }
        return .oneDNN(type, .direct)
    }

    package static func scratchCount(h: Int, w: Int, cin: Int, geometry g: ConvGeometry) -> Int {
        g.isPointwise ? 0 : g.outSize(h) * g.outSize(w) * g.taps * cin
    }

    package static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                               scratch: UnsafeMutablePointer<Float>, threads: Int = 1, route: Route = .auto) {
        if case .oneDNN(let type, let algorithm) = engine(route, .forward, geometry: g, n: n, h: h, w: w, cin: cin,
                                                          cout: cout) {
            OneDNN.convForward(type: type, algorithm: algorithm, out: out, inp: inp, weight: weight, bias: bias, n: n,
                               h: h, w: w, cin: cin, cout: cout, geometry: g, threads: blasThreads())
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
    package static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int, geometry g: ConvGeometry,
                                scratch: UnsafeMutablePointer<Float>, threads: Int = 1, route: Route = .auto) {
        let oh = g.outSize(h), ow = g.outSize(w), ohw = oh * ow, kc = g.taps * cin
        if let dbias { addColumnSums(dout, rows: n * ohw, cols: cout, into: dbias) }
        let weights = engine(route, .backwardWeights, geometry: g, n: n, h: h, w: w, cin: cin, cout: cout)
        let data = dinp == nil ? nil : engine(route, .backwardData, geometry: g, n: n, h: h, w: w, cin: cin, cout: cout)
        var type: OneDNN.ElementType?, weightsAlgorithm: OneDNN.ConvAlgorithm?, dataAlgorithm: OneDNN.ConvAlgorithm?
        if case .oneDNN(let t, let a) = weights { type = t; weightsAlgorithm = a }
        if case .oneDNN(let t, let a) = data { type = t; dataAlgorithm = a }
        if let type {
            OneDNN.convBackward(type: type, weights: weightsAlgorithm, data: dataAlgorithm, dweight: dweight, dinp: dinp,
                                dout: dout, inp: inp, weight: weight, n: n, h: h, w: w, cin: cin, cout: cout,
                                geometry: g, threads: blasThreads())
        }
        let im2colWeights = weights == .im2col, im2colData = data == .im2col
        if !im2colWeights && !im2colData { return }
        if g.isPointwise {
            if im2colWeights {
                matmul(transA: true, m: cin, n: cout, k: n * ohw, a: inp, lda: cin, b: dout, ldb: cout, beta: 1,
                       c: dweight, ldc: cout)
            }
            if let dinp, im2colData {
                matmul(transB: true, m: n * ohw, n: cin, k: cout, a: dout, lda: cout, b: weight, ldb: cout, beta: 1,
                       c: dinp, ldc: cin)
            }
            return
        }
        for b in 0..<n {
            let gout = dout + b * ohw * cout
            if im2colWeights {
                im2col(image: inp + b * h * w * cin, h: h, w: w, c: cin, geometry: g, cols: scratch, threads: threads)
                matmul(transA: true, m: kc, n: cout, k: ohw, a: scratch, lda: kc, b: gout, ldb: cout, beta: 1,
                       c: dweight, ldc: cout)
            }
            if let dinp, im2colData {
                matmul(transB: true, m: ohw, n: kc, k: cout, a: gout, lda: cout, b: weight, ldb: cout, beta: 0,
                       c: scratch, ldc: kc)
                col2im(cols: scratch, h: h, w: w, c: cin, geometry: g, image: dinp + b * h * w * cin, threads: threads)
            }
        }
    }
}
