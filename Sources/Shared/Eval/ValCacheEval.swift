import Foundation

// The val cache written by `extract val` as the evaluator's input: its images are EvalFeatures, and its manifest
// says which protocol produced the windows, which dataset they come from and whether the backbone had random weights.

extension ValImage: EvalFeatures {
    public var labelPixels: [UInt8] { label }
    public var evalWindows: [EvalWindow] { windows.map { EvalWindow(y: $0.y, x: $0.x, flipped: $0.flipped) } }
    public var stageFeatures: [Int: [Float]] { stages }
    public var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)] { stageShapes }
}

public enum ValCacheEval {

    /// "RANDOM-WEIGHT BACKBONE" when the cache was extracted with random weights.
    public static func backboneNote(_ m: CacheManifest) -> String? {
        RandomCheckpoint.isRandom(backboneName: m.config.backbone.name) ? RandomCheckpoint.label : nil
    }

    public static func datasetKind(_ m: CacheManifest) -> DatasetKind { DatasetKind.detect(imageIDs: m.imageIDs) }

    /// Photos of the val images (`DATA/JPEGImages`), when the data root recorded in the manifest still exists.
    public static func photoDirectory(_ m: CacheManifest) -> String? {
        let dir = m.config.dataRoot + "/JPEGImages"
        return FileManager.default.fileExists(atPath: dir) ? dir : nil
    }

    /// Opens `directory` as a val cache and checks every image's windows against the recorded protocol.
    public static func settings(directory: String) throws -> (settings: EvalSettings, manifest: CacheManifest) {
        let reader = try ValCacheReader(directory: directory)
        let m = reader.manifest   // the reader refuses anything but a complete val cache
        guard let p = m.config.evalProtocol else {
            throw DinoSegError(file: directory, "the manifest records no evaluation protocol (written by an older DinoSeg); re-run extract val into a new directory")
        }
        let open: ValImageReader = { stages in
            let stream = try ValCacheReader(directory: directory).images(stages: stages)
            return {
                guard let image = try stream.nextImage() else { return nil }
                let size = p.windowSize(image.geometry)
                guard image.windowSize.h == size.height, image.windowSize.w == size.width else {
                    throw DinoSegError(file: directory, "image \(image.id): windows are \(image.windowSize.h)x\(image.windowSize.w), the protocol (\(p)) says \(size.height)x\(size.width)")
                }
                return image
            }
        }
        return (EvalSettings(open: open, evalProtocol: p, backboneNote: backboneNote(m)), m)
    }
}
