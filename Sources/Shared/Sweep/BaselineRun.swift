import Foundation
import DinoSegCore
import DinoSegModels
import DinoSegEval

// A ResNet-50 PSPNet baseline run (`headtrain baseline train` + `headtrain baseline eval`) shown beside the DINOv3
// rows of a sweep. Only an evaluation of the same val images can stand in the same table: the baseline's metrics.json
// records its images (EvalData: dataset kind, count, hash of the ids), which must be the val cache's; and once the
// sweep has a DINOv3 result, the labelled pixels per class (the confusion matrix's row sums) must agree too, which
// catches another copy of a dataset with the same image names (e.g. synthetic data of another seed).

package struct BaselineRun {
    package var row: ReportRow
    package var curves: ReportCurves
    package var settings: BaselineSettings

    /// Reads `run`'s config.json, metrics.json and log.jsonl; refuses a run without an evaluation or with one of
    /// other images than `valData`.
    package static func load(_ run: String, valData: EvalData) throws -> BaselineRun {
        let configPath = run + "/config.json"
        guard let config = FileManager.default.contents(atPath: configPath) else {
            throw DinoSegError(file: run, "is not a baseline run (no config.json; train one with `headtrain baseline train`)")
        }
        let settings: BaselineSettings
        do { settings = try JSONDecoder().decode(BaselineSettings.self, from: config) } catch {
            throw DinoSegError(file: configPath, "is not the config.json of a baseline run (`headtrain baseline train`)")
        }
        // The network settings only name the run in the tables, but the names do arithmetic on them (depth = blocks
        // × 3 + 2), so they are held to what a trainable network has.
        let net = settings.network
        guard (try? net.validate()) != nil, net.blocks.allSatisfy({ $0 <= 1000 }),
              ([net.stemWidth, net.ppmWidth, net.classifierWidth, net.auxWidth, net.numClasses] + net.planes + net.bins).allSatisfy({ $0 <= 1 << 20 }) else {
            throw DinoSegError(file: configPath, "network settings out of range (\(net.blocks) blocks, widths \(net.stemWidth)/\(net.planes))")
        }
        let metricsPath = run + "/metrics.json"
        guard FileManager.default.fileExists(atPath: metricsPath) else {
            throw DinoSegError(file: run, "has no evaluation yet; run `headtrain baseline eval --run \(run) --data ROOT --list LIST` on the sweep's val images")
        }
        let result = try EvalResult.read(metricsPath)
        guard let data = result.data else {
            throw DinoSegError(file: metricsPath, "does not record which images were evaluated; run `headtrain baseline eval --run \(run) …` again")
        }
        guard data.sameImages(as: valData) else {
            throw DinoSegError(file: run, "was evaluated on other data (\(data)) than the sweep's val cache (\(valData)); run `headtrain baseline eval` on the val cache's images")
        }
        let log = TrainingLog.lastStep(directory: run)
        let row = ReportRow(model: "\(modelName(net)) (OS \(net.outputStride))", variant: "pspnet-baseline", width: nil,
                            outputStride: net.outputStride, epochs: settings.train.epochs, trainSeconds: log?.trainSeconds,
                            finalLoss: log?.loss, result: result, runDirectory: run,
                            published: isResNet50(net) ? PublishedResults.baselineRow(outputStride: net.outputStride) : nil,
                            isBaseline: true)
        let stepsPerEpoch = max(1, (result.checkpointStep ?? 0) / max(1, settings.train.epochs))
        let curves = ReportCurves(loss: TrainAndEvaluate.lossCurve(runDirectory: run, stepsPerEpoch: stepsPerEpoch,
                                                                   bucket: max(1, stepsPerEpoch / 8)))
        return BaselineRun(row: row, curves: curves, settings: settings)
    }

    /// The published network (ResNet-50 widths and depths, either stem) or a reduced one.
    static func isResNet50(_ c: PSPNetConfig) -> Bool {
        c == PSPNetConfig.resnet50(outputStride: c.outputStride, stem: c.stem, numClasses: c.numClasses)
    }

    /// "PSPNet ResNet-50", or "PSPNet ResNet-14 (widths 4/4,8,16,32)" for a reduced network.
    static func modelName(_ c: PSPNetConfig) -> String {
        let depth = c.blocks.reduce(0, +) * 3 + 2
        return isResNet50(c) ? "PSPNet ResNet-50"
            : "PSPNet ResNet-\(depth) (widths \(c.stemWidth)/\(c.planes.map(String.init).joined(separator: ",")))"
    }

    /// Refuses the run when its val labels differ from those the DINOv3 heads were evaluated on.
    package func checkSameLabels(as dinov3: EvalResult) throws {
        guard row.result.confusion.target == dinov3.confusion.target else {
            throw DinoSegError(file: row.runDirectory, "was evaluated on other val labels than the sweep's val cache (the labelled pixels per class differ: \(row.result.confusion.target) vs \(dinov3.confusion.target)); run `headtrain baseline eval` on the val cache's data")
        }
    }

    /// The line results.md and report.html carry about this run.
    package var note: String {
        let t = settings.train
        return "\(row.model): \(settings.network.summary), trained end to end in \(row.runDirectory) (\(settings.list), crop \(settings.crop), batch \(t.batch), \(t.epochs) epochs, lr \(t.lr) backbone / ×\(settings.headLRFactor) head, seed \(t.seed), \(settings.weights.map { "backbone from \($0)" } ?? "random initialisation")); protocol: \(row.result.evalProtocol)"
    }
}
