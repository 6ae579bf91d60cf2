// The evaluation protocol: how a photo becomes a canvas and windows (docs/DESIGN.md §5). Evaluation, `extract val` and
// `headtrain predict` all cut windows with it; the val cache manifest records it.
import Foundation

/// Slide (224×224 windows, stride 150) or whole image (one window covering the padded canvas).
package enum EvalMode: String, Codable, CaseIterable {
    case slide, whole
}

/// Everything that decides which numbers an evaluation produces; printed with every result.
package struct EvalProtocol: Codable, Equatable, CustomStringConvertible {
    package var mode: EvalMode
    package var flip: Bool
    package var crop: Int
    package var stride: Int
    package var longSide: Int

    package init(mode: EvalMode = .slide, flip: Bool = true, crop: Int = 224, stride: Int = 150, longSide: Int = 512) {
        self.mode = mode; self.flip = flip; self.crop = crop; self.stride = stride; self.longSide = longSide
    }

    package var description: String {
        let windows = mode == .slide ? "slide \(crop)×\(crop) stride \(stride)" : "whole image (padded to ≥\(crop))"
        return "\(windows), flip \(flip ? "on" : "off"), long side \(longSide)"
    }

    package func geometry(height: Int, width: Int) -> EvalGeometry {
        EvalGeometry(height: height, width: width, longSide: longSide, crop: crop)
    }

    /// Size of every window on the padded canvas.
    package func windowSize(_ g: EvalGeometry) -> (height: Int, width: Int) {
        mode == .slide ? (crop, crop) : (g.paddedHeight, g.paddedWidth)
    }

    /// Windows in evaluation order: row-major positions, each followed by its flipped twin when flip is on.
    package func windows(_ g: EvalGeometry) -> [EvalWindow] {
        let corners = mode == .slide
            ? SlidingWindow.windows(height: g.paddedHeight, width: g.paddedWidth, crop: crop, stride: stride)
            : [(y: 0, x: 0)]
        return corners.flatMap { c in
            flip ? [EvalWindow(y: c.y, x: c.x, flipped: false), EvalWindow(y: c.y, x: c.x, flipped: true)]
                 : [EvalWindow(y: c.y, x: c.x, flipped: false)]
        }
    }
}

/// One window on the padded canvas; `flipped` means the head saw the horizontally mirrored crop.
package struct EvalWindow: Equatable, Codable {
    package var y: Int, x: Int, flipped: Bool
    package init(y: Int, x: Int, flipped: Bool) { self.y = y; self.x = x; self.flipped = flipped }
}
