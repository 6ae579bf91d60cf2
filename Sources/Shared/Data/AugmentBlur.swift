// Step 3 of the train augmentation (docs/DESIGN.md §3): cv2.GaussianBlur(image, (5, 5), 0). With sigma 0 and ksize 5, OpenCV uses its fixed kernel
// [1, 4, 6, 4, 1] / 16 on each axis; borders are BORDER_REFLECT_101 (…, 2, 1 | 0, 1, 2, … | n−2, n−3, …).

package let blurKernel5: [Float] = [1, 4, 6, 4, 1].map { $0 / 16 }

/// Reflect-101 index into 0..<n.
@inline(__always)
package func reflect101(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    var j = i
    while j < 0 || j >= n {
        if j < 0 { j = -j }
        if j >= n { j = 2 * (n - 1) - j }
    }
    return j
}

/// Separable 5×5 blur: rows first, then columns.
package func blurImage(_ image: FloatImage) -> FloatImage {
    let w = image.width, h = image.height, k = blurKernel5
    var tmp = [Float](repeating: 0, count: w * h * 3)
    var out = tmp
    image.data.withUnsafeBufferPointer { src in
        tmp.withUnsafeMutableBufferPointer { t in
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        var s: Float = 0
                        for d in -2...2 { s += k[d + 2] * src[(y * w + reflect101(x + d, w)) * 3 + c] }
                        t[(y * w + x) * 3 + c] = s
                    }
                }
            }
        }
    }
    tmp.withUnsafeBufferPointer { t in
        out.withUnsafeMutableBufferPointer { o in
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        var s: Float = 0
                        for d in -2...2 { s += k[d + 2] * t[(reflect101(y + d, h) * w + x) * 3 + c] }
                        o[(y * w + x) * 3 + c] = s
                    }
                }
            }
        }
    }
    return FloatImage(width: w, height: h, data: out)
}
