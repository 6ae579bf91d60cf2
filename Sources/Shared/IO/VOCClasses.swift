/// PASCAL VOC 2012 classes and colours as data.
package enum VOC {
    package static let classNames = [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ]
    package static let numClasses = 21
    package static let ignoreLabel: UInt8 = 255

    /// Input normalisation (RGB in 0...255).
    package static let mean: [Float] = [123.675, 116.28, 103.53]
    package static let std: [Float] = [58.395, 57.12, 57.375]

    /// The standard VOC bit-interleave palette: 256 RGB triples (1 → (128,0,0), 2 → (0,128,0), …, 255 → (224,224,192)).
    package static let palette: [UInt8] = {
        var p = [UInt8](repeating: 0, count: 256 * 3)
        for i in 0..<256 {
            var c = i, r = 0, g = 0, b = 0
            for j in 0..<8 {
                r |= ((c >> 0) & 1) << (7 - j)
                g |= ((c >> 1) & 1) << (7 - j)
                b |= ((c >> 2) & 1) << (7 - j)
                c >>= 3
            }
            p[3 * i] = UInt8(r); p[3 * i + 1] = UInt8(g); p[3 * i + 2] = UInt8(b)
        }
        return p
    }()
}
