import Foundation
import DinoSegCore

// report.html: one self-contained page (inline SVG charts, images as base64 PNG data URIs, inline CSS, no scripts and
// no external resources) so it can be mailed or opened from any directory.

package struct ReportCurves: Codable, Equatable {
    /// (training step or fractional epoch, loss)
    package var loss: [[Double]] = []
    /// (epoch, val mIoU)
    package var mIoU: [[Double]] = []
    package init(loss: [[Double]] = [], mIoU: [[Double]] = []) { self.loss = loss; self.mIoU = mIoU }
}

/// One image of the val set shown beside its ground truth.
package struct ReportExample {
    package var id: String
    package var photo: RGBImage?
    package var label: LabelImage
    package var prediction: LabelImage
    package init(id: String, photo: RGBImage?, label: LabelImage, prediction: LabelImage) {
        self.id = id; self.photo = photo; self.label = label; self.prediction = prediction
    }
}

package enum HTMLReport {
    /// PNG bytes of an image, as a data URI.
    package static func dataURI(_ image: RGBImage) throws -> String {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("dinoseg-report-\(getpid())-\(UUID().uuidString).png").path
        defer { unlink(tmp) }
        try ImageIO.writePNG(image, to: tmp)
        guard let data = FileManager.default.contents(atPath: tmp) else { throw DinoSegError(file: tmp, "cannot read back PNG") }
        return "data:image/png;base64," + data.base64EncodedString()
    }

    static let style = """
    body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1150px}
    h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
    table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
    td:nth-child(2),th:nth-child(2){text-align:left}.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px;font-weight:bold}
    .charts{display:flex;flex-wrap:wrap;gap:12px}.ex{display:flex;gap:8px;align-items:flex-start;margin:8px 0}
    .ex figure{margin:0;font-size:12px;text-align:center}.ex img{max-width:260px;image-rendering:pixelated;border:1px solid #ccc}
    .note{color:#555;font-size:13px}
    """

    static func esc(_ s: String) -> String { SVGChart.escape(s) }

    /// The whole page. `best` indexes `rows` (a DINOv3 row: its confusion matrix and examples are shown); baseline
    /// rows join the results table, the curves and the per-class IoU bars.
    package static func render(title: String, notes: [String], warning: String?, rows: [ReportRow],
                              curves: [ReportCurves], best: Int?, examples: [ReportExample], isVOC: Bool) throws -> String {
        // The rows' dataset names the classes and colours (a sweep refuses runs of two datasets; nil: VOC).
        let dataset = rows.lazy.compactMap(\.result.dataset).first ?? .voc
        var h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(esc(title))</title>"
        h += "<style>\(style)</style></head><body><h1>\(esc(title))</h1>"
        if let w = warning { h += "<p class=\"warn\">\(esc(w))</p>" }
        h += "<ul class=\"note\">" + notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        if let p = rows.first?.result.evalProtocol { h += "<p class=\"note\">Evaluation protocol: \(esc(p.description))</p>" }

        h += "<h2>Results</h2><table><tr><th>#</th><th>model</th><th>mIoU</th><th>mAcc</th><th>allAcc</th>"
        if isVOC { h += "<th>published mIoU</th><th>published mAcc</th><th>published allAcc</th>" }
        h += "<th>mIoU (classes present)</th><th>epochs</th><th>train time</th><th>checkpoint step</th></tr>"
        for (i, e) in rows.enumerated() {
            let m = e.result.metrics
            let mark = i == best ? " <b>(best)</b>" : ""
            h += "<tr><td>\(i + 1)</td><td>\(esc(e.model))\(mark)</td>"
            h += "<td>\(f4(m.mIoU))</td><td>\(f4(m.mAcc))</td><td>\(f4(m.allAcc))</td>"
            if isVOC {
                if let p = e.published {
                    h += "<td>\(f4(p.mIoU)) (row \(p.number))</td><td>\(f4(p.mAcc))</td><td>\(f4(p.allAcc))</td>"
                } else { h += "<td>—</td><td>—</td><td>—</td>" }
            }
            h += "<td>\(f4(m.mIoUPresent)) (\(m.presentClasses))</td><td>\(e.epochs)</td><td>\(e.trainSeconds.map(ResultsTable.duration) ?? "—")</td>"
            h += "<td>\(e.result.checkpointStep.map(String.init) ?? "—")</td></tr>"
        }
        h += "</table>"

        h += "<h2>Training curves</h2><div class=\"charts\">"
        let names = rows.map(\.model)
        let loss = zip(names, curves).map { SVGChart.Series(name: $0, points: $1.loss.map { (x: $0[0], y: $0[1]) }) }
        let miou = zip(names, curves).map { SVGChart.Series(name: $0, points: $1.mIoU.map { (x: $0[0], y: $0[1]) }) }
        h += SVGChart.lineChart(title: "training loss", xLabel: "epoch", yLabel: "cross-entropy", series: loss)
        h += SVGChart.lineChart(title: "val mIoU during training", xLabel: "epoch", yLabel: "mIoU", series: miou,
                                yRange: 0...1)
        h += "</div>"

        if let b = best, b < rows.count {
            let e = rows[b]
            h += "<h2>Per-class IoU</h2>"
            var bars: [(name: String, values: [Double])] = [("best: " + e.model, e.result.metrics.iou)]
            let others = rows.indices.filter { $0 != b && !rows[$0].isBaseline }
            if let other = others.max(by: { rows[$0].result.metrics.mIoU < rows[$1].result.metrics.mIoU }) {
                bars.append(("runner-up: " + rows[other].model, rows[other].result.metrics.iou))
            }
            bars += rows.filter(\.isBaseline).map { ("baseline: " + $0.model, $0.result.metrics.iou) }
            h += SVGChart.groupedBars(title: "IoU per class", categories: dataset.classNames, series: bars)
            h += "<h2>Confusion matrix (\(esc(e.model)))</h2>"
            h += SVGChart.confusionHeatMap(title: "confusion (\(e.result.images) val images)", confusion: e.result.confusion,
                                           names: dataset.classNames)
        }

        if !examples.isEmpty {
            h += "<h2>Example predictions</h2>"
            for ex in examples {
                h += "<div class=\"ex\">"
                if let p = ex.photo { h += "<figure><img alt=\"photo \(esc(ex.id))\" src=\"\(try dataURI(p))\"><figcaption>\(esc(ex.id))</figcaption></figure>" }
                h += "<figure><img alt=\"ground truth \(esc(ex.id))\" src=\"\(try dataURI(ImageIO.colourise(ex.label, dataset: dataset)))\"><figcaption>\(esc(ex.id)) ground truth</figcaption></figure>"
                h += "<figure><img alt=\"prediction \(esc(ex.id))\" src=\"\(try dataURI(ImageIO.colourise(ex.prediction, dataset: dataset)))\"><figcaption>prediction</figcaption></figure>"
                if let p = ex.photo, let o = try? ImageIO.overlay(ex.prediction, on: p, dataset: dataset) {
                    h += "<figure><img alt=\"overlay \(esc(ex.id))\" src=\"\(try dataURI(o))\"><figcaption>overlay</figcaption></figure>"
                }
                h += "</div>"
            }
        }
        h += legend(dataset)
        h += "</body></html>\n"
        return h
    }

    /// Colour key of the dataset's palette.
    static func legend(_ dataset: DatasetDescription = .voc) -> String {
        var s = "<h2>Colour key</h2><p class=\"note\">"
        for (i, n) in dataset.classNames.enumerated() {
            let p = dataset.palette
            s += "<span style=\"display:inline-block;margin:2px 8px 2px 0\"><span style=\"display:inline-block;width:12px;"
                + "height:12px;background:rgb(\(p[3 * i]),\(p[3 * i + 1]),\(p[3 * i + 2]));border:1px solid #888\"></span> \(esc(n))</span>"
        }
        return s + "</p>"
    }

    static func f4(_ v: Double) -> String { String(format: "%.4f", v) }
}
