// The one way the commands load a frozen backbone. A weights directory's config.json names the family in
// `model_type`; each family is one line of `families`. A directory without config.json, or a bare weights file, is
// read as a ConvNeXt (the size then comes from the tensor shapes, ConvNeXtWeights.inferConfig).
import Foundation
import DinoSegCore

package enum BackboneLoader {
    /// A backbone family: whether a config.json `model_type` names it, and how to load its weights from a path.
    struct Family {
        let name: String
        let matches: (String) -> Bool
        let load: (String) throws -> FeatureBackbone
    }

    /// Every family DinoSeg implements. The first is the default when the path names no `model_type`.
    static let families: [Family] = [
        Family(name: "dinov3_convnext", matches: { $0.contains("convnext") }, load: { try ConvNeXtBackbone(weightsPath: $0) }),
    ]

    /// Loads the backbone at `path`: a directory with config.json and weights, or a weights file.
    package static func load(_ path: String) throws -> FeatureBackbone {
        try family(at: path).load(path)
    }

    /// The family config.json names (the default one when there is no config.json or no `model_type`).
    static func family(at path: String) throws -> Family {
        let configPath = (path as NSString).appendingPathComponent("config.json")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: configPath) else { return families[0] }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DinoSegError(file: configPath, "not a JSON object")
        }
        guard let raw = json["model_type"] else { return families[0] }
        guard let type = raw as? String, let family = families.first(where: { $0.matches(type) }) else {
            throw DinoSegError(file: configPath, "'model_type' \(raw) is not a backbone DinoSeg implements ("
                               + families.map(\.name).joined(separator: ", ") + ")")
        }
        return family
    }
}
