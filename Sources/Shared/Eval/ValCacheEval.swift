import Foundation
import DinoSegData
import DinoSegBackbone
import DinoSegCache

// The val cache written by `extract val` as the evaluator's input: its images are EvalFeatures, and its manifest
// says which protocol produced the windows, which dataset they come from and whether the backbone had random weights.

extension ValImage: EvalFeatures {
    package var labelPixels: [UInt8] { label }
    package var evalWindows: [EvalWindow] { windows.map { EvalWindow(y: $0.y, x: $0.x, flipped: $0.flipped) } }
    package var stageFeatures: [Int: [Float]] { stages }
    package var stageShapesPerWindow: [Int: (h: Int, w: Int, c: Int)] { stageShapes }
}

package enum ValCacheEval {

    /// "RANDOM-WEIGHT BACKBONE" when the cache was extracted with random weights.
    package static func backboneNote(_ m: CacheManifest) -> String? {
        RandomCheckpoint.isRandom(backboneName: m.config.backbone.name) ? RandomCheckpoint.label : nil
    }

    package static func datasetKind(_ m: CacheManifest) -> DatasetKind {
        m.config.datasetDescription == .voc ? DatasetKind.detect(imageIDs: m.imageIDs) : .custom   // VOC ids of another dataset are not VOC's
    }

    /// Photos of the val images (`DATA/JPEGImages`), when the data root recorded in the manifest still exists.
    package static func photoDirectory(_ m: CacheManifest) -> String? {
        let dir = m.config.dataRoot + "/JPEGImages"
        return FileManager.default.fileExists(atPath: dir) ? dir : nil
    }

    /// Opens `directory` as a val cache. Its reader checks every shard against the recorded protocol (ShardCheck.val)
    /// before handing out an image.
    package static func settings(directory: String) throws -> (settings: EvalSettings, manifest: CacheManifest) {
        let m = try ValCacheReader(directory: directory).manifest
        try SourceFingerprint.checkInPlace(m, directory: directory)
        let p = m.config.evalProtocol!   // ManifestCheck refuses a val manifest without one
        let open: ValImageReader = { stages in
            let stream = try ValCacheReader(directory: directory).images(stages: stages)
            return { try stream.nextImage() }
        }
        var settings = EvalSettings(open: open, evalProtocol: p, backboneNote: backboneNote(m))
        settings.dataset = m.config.dataset
        return (settings, m)
    }
}
