import Foundation
import DinoSegKernels
import DinoSegModels
import DinoSegEval

// The sweep's results as data (one entry per trained head, plus the baseline runs shown beside them) and the two tables
// written from them: results.md in the form of the published results table (published numbers beside ours when the
// dataset is VOC) and results.csv.

/// The published results (PASCAL VOC 2012 val) of the experiment DinoSeg re-implements, mIoU / mAcc / allAcc.
package enum PublishedResults {
    package struct Row: Equatable {
        package var number: Int, model: String, mIoU: Double, mAcc: Double, allAcc: Double
        package var variant: HeadVariant?, width: Int?
    }

    package static let rows: [Row] = [
        Row(number: 1, model: "ResNet-50 + PPM + head (original PSPNet)", mIoU: 0.7705, mAcc: 0.8513, allAcc: 0.9489),
        Row(number: 2, model: "DINOv3 + head", mIoU: 0.7599, mAcc: 0.8634, allAcc: 0.9427, variant: .head),
        Row(number: 3, model: "DINOv3 + PPM + head", mIoU: 0.7630, mAcc: 0.8654, allAcc: 0.9430, variant: .ppm),
        Row(number: 4, model: "DINOv3 + FPN(768) + head", mIoU: 0.7870, mAcc: 0.8738, allAcc: 0.9530,
            variant: .fpn, width: 768),
        Row(number: 5, model: "DINOv3 + FPN(768) + PPM + head", mIoU: 0.8156, mAcc: 0.8989, allAcc: 0.9591,
            variant: .fpnPPM, width: 768),
        Row(number: 6, model: "ResNet-50 + PPM + head (reproduced)", mIoU: 0.7641, mAcc: 0.8483, allAcc: 0.9476),
        Row(number: 7, model: "ResNet-50 with stride restored (OS 32) + PPM + head", mIoU: 0.7528, mAcc: 0.8361,
            allAcc: 0.9421),
        Row(number: 8, model: "DINOv3 + FPN(512) + PPM + head", mIoU: 0.8132, mAcc: 0.9028, allAcc: 0.9586,
            variant: .fpnPPM, width: 512),
        Row(number: 9, model: "DINOv3 + FPN(1024) + PPM + head (final)", mIoU: 0.8162, mAcc: 0.9061, allAcc: 0.9595,
            variant: .fpnPPM, width: 1024),
        Row(number: 10, model: "DINOv3 + FPN(2048) + PPM + head", mIoU: 0.8180, mAcc: 0.9062, allAcc: 0.9597,
            variant: .fpnPPM, width: 2048),
    ]

    /// The published ResNet-50 PSPNet row: 6 (output stride 8, reproduced) or 7 (output stride 32).
    package static func baselineRow(outputStride: Int) -> Row? {
        rows.first { $0.number == (outputStride == 8 ? 6 : outputStride == 32 ? 7 : -1) }
    }

    /// The published row for a variant/width, if the report has one.
    package static func row(variant: HeadVariant, width: Int?) -> Row? {
        rows.first { $0.variant == variant && (!variant.usesFPN || $0.width == width) }
    }
}

/// One trained and evaluated head of a sweep.
package struct SweepEntry: Codable, Equatable {
    package var variant: HeadVariant
    package var width: Int?
    package var outputStride: Int
    package var epochs: Int
    package var runDirectory: String
    package var trainSeconds: Double
    package var finalLoss: Double?
    package var result: EvalResult
    /// The matrix multiplies' precision of training and evaluation; nil in entries written before it existed (fp32).
    package var precision: Precision?
    /// The content digest of the val cache it was evaluated on; nil in entries written before it was recorded.
    package var valCacheDigest: String?

    package init(variant: HeadVariant, width: Int?, outputStride: Int, epochs: Int, runDirectory: String,
                trainSeconds: Double, finalLoss: Double?, result: EvalResult, precision: Precision = .fp32) {
        self.variant = variant; self.width = variant.usesFPN ? width : nil; self.outputStride = outputStride
        self.epochs = epochs; self.runDirectory = runDirectory; self.trainSeconds = trainSeconds
        self.finalLoss = finalLoss; self.result = result; self.precision = precision
    }

    package var modelName: String { variant.modelName(width: width) }

    package var row: ReportRow {
        ReportRow(model: "\(modelName) (OS \(outputStride))", variant: variant.rawValue, width: width, outputStride: outputStride,
                  epochs: epochs, trainSeconds: trainSeconds, finalLoss: finalLoss, result: result, runDirectory: runDirectory,
                  published: PublishedResults.row(variant: variant, width: width), isBaseline: false)
    }
}

/// One row of the sweep's tables: a trained DINOv3 head, or a baseline run shown beside them (BaselineRun).
package struct ReportRow: Equatable {
    /// "DINOv3 + FPN(768) + PPM + head (OS 8)", "PSPNet ResNet-50 (OS 8)"
    package var model: String
    /// results.csv's variant and fpn_width columns.
    package var variant: String
    package var width: Int?
    package var outputStride: Int
    package var epochs: Int
    package var trainSeconds: Double?
    package var finalLoss: Double?
    package var result: EvalResult
    package var runDirectory: String
    /// The published row of the same model, shown beside ours when the val set is VOC.
    package var published: PublishedResults.Row?
    package var isBaseline: Bool
}

package enum ResultsTable {
    static func f4(_ v: Double) -> String { String(format: "%.4f", v) }

    /// results.md: our numbers per trained head, the published ones beside them when `isVOC`, and the notes that say
    /// what the numbers are (dataset, backbone, protocol).
    package static func markdown(_ rows: [ReportRow], title: String, isVOC: Bool, notes: [String]) -> String {
        var md = "# \(title)\n\n"
        for n in notes { md += "- \(n)\n" }
        if let p = rows.first?.result.evalProtocol { md += "- Evaluation protocol: \(p).\n" }
        md += "- mIoU, mAcc, allAcc: semseg definitions (mean over all 21 classes). \"mIoU (classes present)\" averages only the classes that occur in the val ground truth (their number in brackets); it is not a published metric.\n"
        md += "\n"
        if isVOC {
            md += "| # | model | mIoU | mAcc | allAcc | published mIoU | published mAcc | published allAcc | mIoU (classes present) | epochs | train time |\n"
            md += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        } else {
            md += "| # | model | mIoU | mAcc | allAcc | mIoU (classes present) | epochs | train time |\n|---|---|---|---|---|---|---|---|\n"
        }
        for (i, e) in rows.enumerated() {
            let m = e.result.metrics
            var row = "| \(i + 1) | \(e.model) | \(f4(m.mIoU)) | \(f4(m.mAcc)) | \(f4(m.allAcc)) |"
            if isVOC {
                if let p = e.published {
                    row += " \(f4(p.mIoU)) (row \(p.number)) | \(f4(p.mAcc)) | \(f4(p.allAcc)) |"
                } else {
                    row += " — | — | — |"
                }
            }
            row += " \(f4(m.mIoUPresent)) (\(m.presentClasses)) | \(e.epochs) | \(e.trainSeconds.map(duration) ?? "—") |"
            md += row + "\n"
        }
        if isVOC {
            md += "\nPublished (VOC 2012 val, PyTorch on one RTX 4090), for reference:\n\n"
            md += "| # | model | mIoU | mAcc | allAcc |\n|---|---|---|---|---|\n"
            for r in PublishedResults.rows {
                md += "| \(r.number) | \(r.model) | \(f4(r.mIoU)) | \(f4(r.mAcc)) | \(f4(r.allAcc)) |\n"
            }
        }
        return md
    }

    package static func csv(_ rows: [ReportRow]) -> String {
        var lines = ["variant,fpn_width,output_stride,epochs,mIoU,mAcc,allAcc,mIoU_present,classes_present,train_seconds,final_loss,checkpoint_step,"
                     + "protocol,run_directory"]
        for e in rows {
            let m = e.result.metrics
            let width: String = e.width.map { String($0) } ?? ""
            let loss: String = e.finalLoss.map { String(format: "%.5f", $0) } ?? ""
            let step: String = e.result.checkpointStep.map { String($0) } ?? ""
            var fields: [String] = [e.variant, width, String(e.outputStride), String(e.epochs)]
            fields += [f4(m.mIoU), f4(m.mAcc), f4(m.allAcc), f4(m.mIoUPresent), String(m.presentClasses)]
            fields += [e.trainSeconds.map { String(format: "%.1f", $0) } ?? "", loss, step]
            fields += ["\"\(e.result.evalProtocol)\"", e.runDirectory]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    package static func duration(_ s: Double) -> String {
        s < 60 ? String(format: "%.0f s", s) : s < 3600 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
    }
}
