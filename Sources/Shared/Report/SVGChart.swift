import Foundation
import DinoSegEval

// Small inline SVG charts for the self-contained report: line charts (training curves), grouped bars (per-class IoU)
// and a heat map (confusion matrix). Plain strings, no scripts, no external resources.

package enum SVGChart {
    package struct Series {
        package var name: String
        package var points: [(x: Double, y: Double)]
        package init(name: String, points: [(x: Double, y: Double)]) { self.name = name; self.points = points }
    }

    /// Distinguishable colours for series (Tableau 10).
    package static let colours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                                 "#ff9da7", "#9c755f", "#bab0ac"]

    package static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A tick label that stays short: 0.25, 12, 1.2k.
    static func tick(_ v: Double) -> String {
        if abs(v) >= 1000 { return String(format: "%.1fk", v / 1000) }
        if v == v.rounded() { return String(format: "%.0f", v) }
        return String(format: "%.2g", v)
    }

    /// Lines over a shared x axis with a legend; empty series are skipped.
    package static func lineChart(title: String, xLabel: String, yLabel: String, series: [Series],
                                 yRange: ClosedRange<Double>? = nil, width: Int = 560, height: Int = 300) -> String {
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        // The legend sits under the plot, one row per series, so long names never cover the lines.
        let legendHeight = 14 * series.count
        let left = 56.0, right = 16.0, top = 28.0, bottom = 42.0
        let w = Double(width), h = Double(height), pw = w - left - right, ph = h - top - bottom
        let fullHeight = height + legendHeight
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(fullHeight)\" "
            + "viewBox=\"0 0 \(width) \(fullHeight)\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"\(fmt(w / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>"
        guard !all.isEmpty else {
            return svg + "<text x=\"\(fmt(w / 2))\" y=\"\(fmt(h / 2))\" text-anchor=\"middle\">no data</text></svg>"
        }
        let x0 = all.map(\.x).min()!, x1 = max(all.map(\.x).max()!, x0 + 1e-9)
        var y0 = yRange?.lowerBound ?? all.map(\.y).min()!, y1 = yRange?.upperBound ?? all.map(\.y).max()!
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let sx = { (x: Double) in left + (x - x0) / (x1 - x0) * pw }
        let sy = { (y: Double) in top + ph - (y - y0) / (y1 - y0) * ph }
        svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(pw))\" height=\"\(fmt(ph))\" fill=\"#fafafa\" stroke=\"#999\"/>"
        for i in 0...4 {
            let yv = y0 + (y1 - y0) * Double(i) / 4, xv = x0 + (x1 - x0) * Double(i) / 4
            svg += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(left + pw))\" y1=\"\(fmt(sy(yv)))\" y2=\"\(fmt(sy(yv)))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(fmt(left - 4))\" y=\"\(fmt(sy(yv) + 4))\" text-anchor=\"end\" font-size=\"10\">\(tick(yv))</text>"
            svg += "<text x=\"\(fmt(sx(xv)))\" y=\"\(fmt(top + ph + 14))\" text-anchor=\"middle\" font-size=\"10\">\(tick(xv))</text>"
        }
        svg += "<text x=\"\(fmt(left + pw / 2))\" y=\"\(fmt(h - 6))\" text-anchor=\"middle\" font-size=\"11\">\(escape(xLabel))</text>"
        svg += "<text x=\"12\" y=\"\(fmt(top + ph / 2))\" text-anchor=\"middle\" font-size=\"11\" "
            + "transform=\"rotate(-90 12 \(fmt(top + ph / 2)))\">\(escape(yLabel))</text>"
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let colour = colours[i % colours.count]
            let pts = s.points.filter { $0.y.isFinite }.map { "\(fmt(sx($0.x))),\(fmt(sy($0.y)))" }
            if pts.count == 1 {
                let p = s.points[0]
                svg += "<circle cx=\"\(fmt(sx(p.x)))\" cy=\"\(fmt(sy(p.y)))\" r=\"3\" fill=\"\(colour)\"/>"
            } else {
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\"/>"
            }
            let ly = h + 10 + Double(i) * 14
            svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(ly - 8))\" width=\"10\" height=\"8\" fill=\"\(colour)\"/>"
            svg += "<text x=\"\(fmt(left + 14))\" y=\"\(fmt(ly))\" font-size=\"10\">\(escape(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Vertical grouped bars: one group per category, one bar per series; values in 0...1.
    package static func groupedBars(title: String, categories: [String], series: [(name: String, values: [Double])],
                                   width: Int = 1100, height: Int = 320) -> String {
        let left = 44.0, right = 10.0, top = 40.0, bottom = 80.0
        let w = Double(width), h = Double(height), pw = w - left - right, ph = h - top - bottom
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"\(fmt(w / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>"
        for i in 0...4 {
            let v = Double(i) / 4, y = top + ph - v * ph
            svg += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(left + pw))\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(fmt(left - 4))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\" font-size=\"10\">\(tick(v))</text>"
        }
        let groupW = pw / Double(max(1, categories.count))
        let barW = groupW * 0.8 / Double(max(1, series.count))
        for (si, s) in series.enumerated() {
            let colour = colours[si % colours.count]
            for (ci, v) in s.values.enumerated() where ci < categories.count {
                let clamped = max(0, min(1, v.isFinite ? v : 0))
                let x = left + Double(ci) * groupW + groupW * 0.1 + Double(si) * barW
                svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(top + ph - clamped * ph))\" width=\"\(fmt(max(1, barW - 0.5)))\" "
                    + "height=\"\(fmt(clamped * ph))\" fill=\"\(colour)\"><title>\(escape(s.name)) · "
                    + "\(escape(categories[ci])): \(String(format: "%.4f", v))</title></rect>"
            }
            let lx = left + 8 + Double(si) * 320
            svg += "<rect x=\"\(fmt(lx))\" y=\"24\" width=\"10\" height=\"8\" fill=\"\(colour)\"/>"
            svg += "<text x=\"\(fmt(lx + 14))\" y=\"32\" font-size=\"10\">\(escape(s.name))</text>"
        }
        for (ci, name) in categories.enumerated() {
            let x = left + (Double(ci) + 0.5) * groupW, y = top + ph + 8
            svg += "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"10\" text-anchor=\"end\" "
                + "transform=\"rotate(-45 \(fmt(x)) \(fmt(y)))\">\(escape(name))</text>"
        }
        return svg + "</svg>"
    }

    /// Confusion matrix as a heat map, each row normalised by its ground-truth pixel count (cell shade = fraction of
    /// the row); hovering shows the raw count.
    package static func confusionHeatMap(title: String, confusion: ConfusionMatrix, names: [String],
                                        cell: Int = 22) -> String {
        let k = confusion.classes, margin = 96.0, c = Double(cell)
        let size = margin + c * Double(k) + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size))\" height=\"\(Int(size + 24))\" "
            + "viewBox=\"0 0 \(Int(size)) \(Int(size + 24))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"\(fmt(size / 2))\" y=\"14\" text-anchor=\"middle\" font-size=\"13\">\(escape(title))</text>"
        let top = margin + 20
        let rowTotals = confusion.target
        for t in 0..<k {
            for p in 0..<k {
                let n = confusion[t, p]
                let f = rowTotals[t] > 0 ? Double(n) / Double(rowTotals[t]) : 0
                // White → dark blue, with a gamma so small confusions stay visible.
                let s = pow(f, 0.5)
                let r = Int(255 - s * (255 - 8)), g = Int(255 - s * (255 - 48)), b = Int(255 - s * (255 - 107))
                svg += "<rect x=\"\(fmt(margin + Double(p) * c))\" y=\"\(fmt(top + Double(t) * c))\" width=\"\(cell)\" "
                    + "height=\"\(cell)\" fill=\"rgb(\(r),\(g),\(b))\" stroke=\"#fff\" stroke-width=\"0.5\">"
                    + "<title>label \(escape(names[t])) → predicted \(escape(names[p])): \(n) px "
                    + "(\(String(format: "%.1f", 100 * f))% of row)</title></rect>"
            }
            svg += "<text x=\"\(fmt(margin - 4))\" y=\"\(fmt(top + (Double(t) + 0.7) * c))\" text-anchor=\"end\" "
                + "font-size=\"10\">\(escape(names[t]))</text>"
            let x = margin + (Double(t) + 0.7) * c, y = top - 4
            svg += "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"10\" transform=\"rotate(-60 \(fmt(x)) \(fmt(y)))\">"
                + "\(escape(names[t]))</text>"
        }
        svg += "<text x=\"\(fmt(margin))\" y=\"\(fmt(size + 20))\" font-size=\"10\">rows: ground truth · columns: prediction · "
            + "shade: fraction of the row</text>"
        return svg + "</svg>"
    }
}
