import Foundation
import DinoSegCore
import DinoSegData

// What one evaluation produced, how it is printed, and the files it leaves in the run directory
// (metrics.json, confusion.csv). Every printout carries the protocol so no number travels without it.

package struct EvalResult: Codable, Equatable {
    package var evalProtocol: EvalProtocol
    /// Training step of the evaluated checkpoint (nil when unknown).
    package var checkpointStep: Int?
    package var checkpoint: String?
    package var images: Int
    package var confusion: ConfusionMatrix
    package var metrics: SegmentationMetrics
    /// Printed beside every number when the features do not come from real DINOv3 weights.
    package var backboneNote: String?
    package var seconds: Double
    /// The images evaluated, when the evaluator recorded them (baseline evaluations do; see EvalData).
    package var data: EvalData? = nil
    /// The dataset whose classes the matrix counts (nil: VOC, as in a metrics.json written before it was recorded).
    package var dataset: DatasetDescription? = nil

    /// The names the tables print: the dataset's, or VOC's.
    package var classNames: [String] { dataset?.classNames ?? VOC.classNames }

    package init(evalProtocol: EvalProtocol, checkpointStep: Int?, checkpoint: String?, images: Int,
                confusion: ConfusionMatrix, backboneNote: String?, seconds: Double) {
        self.evalProtocol = evalProtocol; self.checkpointStep = checkpointStep; self.checkpoint = checkpoint
        self.images = images; self.confusion = confusion; self.metrics = SegmentationMetrics(confusion)
        self.backboneNote = backboneNote; self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case evalProtocol = "protocol", checkpointStep = "checkpoint_step", checkpoint, images, confusion, metrics
        case backboneNote = "backbone_note", seconds, data, dataset
    }

    /// The metrics are recomputed from the (checked) confusion matrix rather than trusted: per-class lists of another
    /// length than the matrix would be indexed past their end by the tables.
    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        evalProtocol = try c.decode(EvalProtocol.self, forKey: .evalProtocol)
        checkpointStep = try c.decodeIfPresent(Int.self, forKey: .checkpointStep)
        checkpoint = try c.decodeIfPresent(String.self, forKey: .checkpoint)
        images = try c.decode(Int.self, forKey: .images)
        confusion = try c.decode(ConfusionMatrix.self, forKey: .confusion)
        _ = try c.decode(SegmentationMetrics.self, forKey: .metrics)
        metrics = SegmentationMetrics(confusion)
        backboneNote = try c.decodeIfPresent(String.self, forKey: .backboneNote)
        seconds = try c.decode(Double.self, forKey: .seconds)
        data = try c.decodeIfPresent(EvalData.self, forKey: .data)
        dataset = try c.decodeIfPresent(DatasetDescription.self, forKey: .dataset)
        if let dataset {
            try dataset.validate(source: "metrics.json")
            guard dataset.classCount == confusion.classes else {
                throw DinoSegError("metrics.json: dataset \"\(dataset.name)\" has \(dataset.classCount) classes, the confusion matrix \(confusion.classes)")
            }
        }
    }

    /// "protocol: slide 224×224 stride 150, flip on, long side 512; checkpoint step 1234 (…); 1449 images"
    package var protocolLine: String {
        var s = "protocol: \(evalProtocol)"
        if let step = checkpointStep { s += "; checkpoint step \(step)" }
        if let c = checkpoint { s += " (\((c as NSString).lastPathComponent))" }
        s += "; \(images) images"
        if let note = backboneNote { s += "; \(note)" }
        return s
    }

    package var summaryLine: String {
        var s = String(format: "mIoU %.4f  mAcc %.4f  allAcc %.4f", metrics.mIoU, metrics.mAcc, metrics.allAcc)
        if metrics.presentClasses < confusion.classes {
            s += String(format: "  (mIoU over the %d classes in the ground truth: %.4f)", metrics.presentClasses, metrics.mIoUPresent)
        }
        return s
    }

    /// Per-class table: index, name, IoU, accuracy, pixels labelled.
    package func classTable(names: [String]? = nil) -> String {
        let names = names ?? classNames
        let target = confusion.target
        var lines = ["class  name          IoU     Acc     pixels"]
        for c in 0..<confusion.classes {
            let name = c < names.count ? names[c] : "class\(c)"
            lines.append(String(format: "%5d  %@ %.4f  %.4f  %lld", c, name.padding(toLength: 13, withPad: " ", startingAt: 0),
                                metrics.iou[c], metrics.accuracy[c], target[c]))
        }
        return lines.joined(separator: "\n")
    }

    /// Everything a person reads after `headtrain eval`.
    package var report: String {
        [protocolLine, summaryLine, classTable(), protocolLine].joined(separator: "\n")
    }

    /// 21×21 raw counts, header row of predicted class names, one row per ground-truth class.
    package func confusionCSV(names: [String]? = nil) -> String {
        let names = names ?? classNames
        let k = confusion.classes
        let name = { (c: Int) in c < names.count ? names[c] : "class\(c)" }
        var lines = ["label\\prediction," + (0..<k).map(name).joined(separator: ",")]
        for t in 0..<k {
            lines.append(name(t) + "," + (0..<k).map { String(confusion[t, $0]) }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    package func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    /// Writes metrics.json and confusion.csv into `directory` (atomically).
    package func write(to directory: String, prefix: String = "") throws {
        try AtomicWrite.write(jsonData(), to: directory + "/\(prefix)metrics.json")
        try AtomicWrite.write(Data(confusionCSV().utf8), to: directory + "/\(prefix)confusion.csv")
    }

    /// What `headtrain eval` and `headtrain baseline eval` end with: the metrics printed (as JSON, or the table), then
    /// metrics.json and confusion.csv written into `directory` (printed first, so a failing write loses no numbers).
    package func writeAndPrint(to directory: String, json: Bool) throws {
        if json {
            print(String(decoding: try jsonData(), as: UTF8.self))
            fflush(stdout)
            try write(to: directory)
        } else {
            print(report)
            fflush(stdout)
            try write(to: directory)
            print(String(format: "%.1f s (%.2f images/s); wrote %@/metrics.json and confusion.csv", seconds,
                         Double(images) / max(seconds, 1e-9), directory))
        }
    }

    package static func read(_ path: String) throws -> EvalResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DinoSegError(file: path, "cannot read metrics")
        }
        do { return try JSONDecoder().decode(EvalResult.self, from: data) } catch {
            throw DinoSegError(file: path, "not a metrics.json written by headtrain eval (\(error))")
        }
    }
}
