import Foundation
import DinoSegCore
// A checkpoint names the dataset its classifier was trained for (metadata "dataset": the DatasetDescription as JSON),
// so `predict` colours and names classes without the run directory. A checkpoint without it was trained on VOC (all
// were, before descriptions existed).

package enum CheckpointDataset {
    package static let key = "dataset"

    /// The metadata entry for `dataset`: none for VOC, so a VOC checkpoint reads as it always did.
    package static func metadata(_ dataset: DatasetDescription?) throws -> [String: String] {
        guard let dataset, dataset != .voc else { return [:] }
        return [key: try CheckpointWriter.metadataJSON(dataset)]
    }

    /// The dataset recorded in `file` (VOC when none is), refusing one that does not describe `classes` classes.
    package static func read(_ file: SafetensorsFile, classes: Int) throws -> DatasetDescription {
        var dataset = DatasetDescription.voc
        if let json = file.metadata[key] {
            guard let d = try? JSONDecoder().decode(DatasetDescription.self, from: Data(json.utf8)) else {
                throw DinoSegError(file: file.path, "metadata \"\(key)\" is not a dataset description")
            }
            try d.validate(source: file.path)
            dataset = d
        }
        guard dataset.classCount == classes else {
            throw DinoSegError(file: file.path, "the classifier has \(classes) classes, its dataset \"\(dataset.name)\" \(dataset.classCount)")
        }
        return dataset
    }
}
