@testable import DinoSegData

/// Writes a synthetic VOC-layout dataset for a test into `root`: `train` + `val` images whose sides lie in `sides`,
/// drawn from `seed` (the seed names the data in failure messages), with `objects` classes spread over the 20.
@discardableResult
func writeSyntheticData(to root: String, train: Int, val: Int, seed: UInt64, sides: ClosedRange<Int>,
                        objects: Int? = nil, layout: String = VOCLayout.name) throws -> SyntheticDatasetConfig {
    var c = SyntheticDatasetConfig()
    c.trainCount = train; c.valCount = val; c.seed = seed; c.minSide = sides.lowerBound; c.maxSide = sides.upperBound
    if let objects { c.objectClasses = SyntheticDatasetConfig.spreadClasses(objects) }
    try SyntheticDataset.write(to: root, config: c, layout: layout)
    return c
}
