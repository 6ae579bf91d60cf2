// The settings every extraction has, whatever its kind: which images, where the cache goes, what it stores and how the
// work runs. Each kind's options hold one and read and write its fields as their own (`o.workers = 2`).
import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData

package struct ExtractionSettings {
    package var dataRoot: String
    package var list: String
    package var out: String
    package var stages = [0, 1, 2, 3]
    package var dtype = HDF5DType.f16
    /// Samples (train) or images (val) per shard; each kind has its own default.
    package var shardSize: Int
    package var workers = Parallel.defaultThreads
    /// Inputs per backbone call in each worker: images (train) or windows (val). A resume keeps the recorded value.
    package var batch = 4
    package var limit: Int? = nil
    /// The dataset layout's name (nil: detected) and its options.
    package var layout: String? = nil
    package var layoutOptions = LayoutOptions()
    package var skipBad = false
    /// Test hook (and hidden CLI option): stop as if interrupted after this many shards of this run.
    package var stopAfterShards: Int? = nil
    package var quiet = false

    package init(dataRoot: String, list: String, out: String, shardSize: Int) {
        self.dataRoot = dataRoot; self.list = list; self.out = out; self.shardSize = shardSize
    }
}

/// The options of one kind of extraction: its own fields beside the shared settings, whose fields read and write as
/// the options' own.
@dynamicMemberLookup
package protocol ExtractionOptions {
    var settings: ExtractionSettings { get set }
}

extension ExtractionOptions {
    package subscript<T>(dynamicMember field: WritableKeyPath<ExtractionSettings, T>) -> T {
        get { settings[keyPath: field] }
        set { settings[keyPath: field] = newValue }
    }
}
