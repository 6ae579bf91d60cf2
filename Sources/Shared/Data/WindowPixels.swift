// The walk over one evaluation window's pixels, shared by cutting a window out of the canvas (EvalInput.window) and
// adding its probabilities back into the canvas (ProbabilityCanvas.add), so both place a flipped window alike.

/// Calls `body(canvasPixel, windowPixel)`, both pixel indices, for every pixel of the h×w window whose top-left corner
/// is (y, x) on a canvas `canvasWidth` pixels wide, row by row. A flipped window is mirrored left-right: its column c
/// is canvas column x + w − 1 − c.
@inline(__always)
func forEachWindowPixel(y: Int, x: Int, h: Int, w: Int, canvasWidth: Int, flipped: Bool,
                        _ body: (_ canvasPixel: Int, _ windowPixel: Int) -> Void) {
    for r in 0..<h {
        for c in 0..<w {
            body((y + r) * canvasWidth + (flipped ? x + w - 1 - c : x + c), r * w + c)
        }
    }
}
