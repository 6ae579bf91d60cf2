import XCTest
@testable import DinoSegCore
@testable import DinoSegData

final class SlidingWindowEvalTests: XCTestCase {
    /// Logits of all windows from a fake head that sees canvas coordinates: `f(canvasY, canvasX, flipped)` gives the
    /// logits of the canvas pixel that lands at each window position (flipped windows see mirrored columns).
    func fakeLogits(_ windows: [EvalWindow], winH: Int, winW: Int, classes: Int,
                    _ f: (Int, Int, Bool) -> [Float]) -> [Float] {
        var out: [Float] = []
        for w in windows {
            for r in 0..<winH {
                for c in 0..<winW {
                    let cx = w.flipped ? w.x + winW - 1 - c : w.x + c
                    let v = f(w.y + r, cx, w.flipped)
                    precondition(v.count == classes)
                    out += v
                }
            }
        }
        return out
    }

    func softmax(_ v: [Float]) -> [Float] {
        let m = v.max()!, e = v.map { expf($0 - m) }, s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testPublishedProtocolWindowPositions() {
        let p = EvalProtocol()  // slide 224, stride 150, flip, long side 512
        let g = p.geometry(height: 375, width: 500)
        XCTAssertEqual([g.resizedHeight, g.resizedWidth, g.paddedHeight, g.paddedWidth], [384, 512, 384, 512])
        let w = p.windows(g)
        XCTAssertEqual(w.count, 3 * 3 * 2)
        XCTAssertEqual(Set(w.map(\.y)), [0, 150, 160])  // last row of windows ends at 384
        XCTAssertEqual(Set(w.map(\.x)), [0, 150, 288])  // last column ends at 512
        XCTAssertEqual(w[0], EvalWindow(y: 0, x: 0, flipped: false))
        XCTAssertEqual(w[1], EvalWindow(y: 0, x: 0, flipped: true))
        XCTAssertEqual(w.last, EvalWindow(y: 160, x: 288, flipped: true))
        // A small image is padded to the crop: one position.
        let small = p.geometry(height: 100, width: 400)
        XCTAssertEqual([small.resizedHeight, small.paddedHeight, small.padTop], [128, 224, 48])
        XCTAssertEqual(Set(p.windows(small).map(\.y)), [0])
        XCTAssertEqual(Set(p.windows(small).map(\.x)), [0, 150, 288])
        XCTAssertEqual(EvalProtocol(mode: .whole, flip: false).windows(g), [EvalWindow(y: 0, x: 0, flipped: false)])
        XCTAssertEqual(p.description, "slide 224×224 stride 150, flip on, long side 512")
    }

    /// Canvas pixel (y, x) votes for class x % 3; padding votes for class 3. With correct flip-back, padding removal
    /// and placement, the prediction at original (r, c) is (c + padLeft) % 3 and never 3.
    func testPlacementFlipAndPaddingRemoval() {
        let p = EvalProtocol(mode: .slide, flip: true, crop: 8, stride: 5, longSide: 12)
        let g = p.geometry(height: 6, width: 12)
        XCTAssertEqual([g.resizedHeight, g.resizedWidth, g.paddedHeight, g.paddedWidth, g.padTop, g.padLeft],
                       [6, 12, 8, 12, 1, 0])
        let windows = p.windows(g)
        XCTAssertEqual(windows.map(\.x), [0, 0, 4, 4])
        let logits = fakeLogits(windows, winH: 8, winW: 8, classes: 4) { y, x, _ in
            var v: [Float] = [0, 0, 0, 0]
            let inside = y >= g.padTop && y < g.padTop + g.resizedHeight
            v[inside ? x % 3 : 3] = 6
            return v
        }
        let pred = SlidingWindowEval.predict(geometry: g, windows: windows, winH: 8, winW: 8, classes: 4,
                                             logits: logits)
        XCTAssertEqual(pred.count, 6 * 12)
        XCTAssertNil(byteDifference(Data(pred), Data((0..<(6 * 12)).map { UInt8($0 % 12 % 3) })), "prediction (row-major 6x12)")
    }

    /// Flip averaging and overlap averaging, checked numerically: unflipped windows output A, flipped ones B(x);
    /// a pixel covered by n positions gets the mean of its 2n softmaxes.
    func testFlipAndOverlapAveraging() {
        let p = EvalProtocol(mode: .slide, flip: true, crop: 4, stride: 3, longSide: 7)
        let g = p.geometry(height: 4, width: 7)  // windows at x = 0, 3; columns 3 is covered twice
        let windows = p.windows(g)
        XCTAssertEqual(windows.map(\.x), [0, 0, 3, 3])
        let a: [Float] = [1, 0], bLeft: [Float] = [0, 2], bRight: [Float] = [0, -1]
        var flippedWindowIndex = 0
        var logits: [Float] = []
        for w in windows {
            if w.flipped { flippedWindowIndex += 1 }
            logits += fakeLogits([w], winH: 4, winW: 4, classes: 2) { _, _, flipped in
                flipped ? (flippedWindowIndex == 1 ? bLeft : bRight) : a
            }
        }
        let prob = SlidingWindowEval.probabilities(geometry: g, windows: windows, winH: 4, winW: 4, classes: 2,
                                                   logits: logits)
        let sa = softmax(a), sl = softmax(bLeft), sr = softmax(bRight)
        for k in 0..<2 {
            XCTAssertEqual(prob[(0 * 7 + 0) * 2 + k], (sa[k] + sl[k]) / 2, accuracy: 1e-6)
            XCTAssertEqual(prob[(2 * 7 + 6) * 2 + k], (sa[k] + sr[k]) / 2, accuracy: 1e-6)
            XCTAssertEqual(prob[(1 * 7 + 3) * 2 + k], (2 * sa[k] + sl[k] + sr[k]) / 4, accuracy: 1e-6)
        }
    }

    /// Final resize: the long side 12 → original 6 halves each axis; bilinear with half-pixel centres then averages
    /// pairs of rows and columns exactly.
    func testFinalResizeToOriginalSize() {
        let p = EvalProtocol(mode: .whole, flip: false, crop: 4, stride: 4, longSide: 12)
        let g = p.geometry(height: 6, width: 3)
        XCTAssertEqual([g.resizedHeight, g.resizedWidth, g.paddedHeight, g.paddedWidth, g.padLeft], [12, 6, 12, 6, 0])
        let windows = p.windows(g)
        let (wh, ww) = p.windowSize(g)
        XCTAssertEqual([wh, ww], [12, 6])
        let big: Float = 3
        let logits = fakeLogits(windows, winH: wh, winW: ww, classes: 2) { y, _, _ in y % 2 == 0 ? [big, 0] : [0, 0] }
        let prob = SlidingWindowEval.probabilities(geometry: g, windows: windows, winH: wh, winW: ww, classes: 2,
                                                   logits: logits)
        XCTAssertEqual(prob.count, 6 * 3 * 2)
        let even = expf(big) / (expf(big) + 1), odd: Float = 0.5
        assertClose(stride(from: 0, to: prob.count, by: 2).map { prob[$0] }, [Float](repeating: (even + odd) / 2, count: 6 * 3),
                    rtol: 0, atol: 1e-6, shape: [6, 3], seed: nil, what: "class-0 probability after the final resize")
    }

    func testEvalInputPaddingIsMeanAndWindowsFlip() {
        let g = EvalGeometry(height: 2, width: 4, longSide: 4, crop: 4)
        XCTAssertEqual([g.paddedHeight, g.padTop], [4, 1])
        let rgb: [UInt8] = (0..<(2 * 4 * 3)).map { UInt8($0 * 10) }
        let canvas = EvalInput.canvas(rgb: rgb, geometry: g)
        assertClose(canvas[0..<12], [Float](repeating: 0, count: 12), rtol: 0, seed: nil, what: "padding row (mean colour)")
        XCTAssertEqual(canvas[(1 * 4 + 0) * 3], (0 - VOC.mean[0]) / VOC.std[0], accuracy: 1e-5)
        let w = EvalInput.window(canvas, canvasHeight: 4, canvasWidth: 4, channels: 3, y: 1, x: 0, h: 1, w: 4,
                                 flipped: true)
        XCTAssertEqual(w[0], canvas[(1 * 4 + 3) * 3])
        XCTAssertEqual(w[9], canvas[(1 * 4 + 0) * 3])
    }
}
