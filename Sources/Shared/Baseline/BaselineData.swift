import Foundation
import DinoSegCore
import DinoSegKernels
import DinoSegData

/// Training batches for the end-to-end baseline: images go through the seeded augmentation on the fly, so every
/// epoch sees new crops. Image i of epoch e uses `augmentationRNG(seed, i, view: e)` (the extraction's stream for
/// view e), and the order of an epoch is a seeded shuffle: any batch can be rebuilt from (seed, epoch, index).
package struct BaselineData {
    package let dataset: SegmentationDataset
    package let crop: Int

    package init(dataset: SegmentationDataset, crop: Int) {
        self.dataset = dataset; self.crop = crop
    }

    package var count: Int { dataset.samples.count }

    package func order(epoch: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed, 17, epoch)
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        return order
    }

    /// Positions `part` (default all) of batch `index` of `epoch`: normalised images [part.count, crop, crop, 3] and
    /// labels [part.count, crop, crop]. Data-parallel training reads its part only; every image's augmentation depends
    /// on (seed, image, epoch) alone, so the parts together are the whole batch. Images are decoded and augmented on
    /// `threads` threads.
    package func batch(epoch: Int, index: Int, batchSize: Int, seed: UInt64, threads: Int,
                       part: Range<Int>? = nil) throws -> (images: [Float], labels: [UInt8]) {
        let positions = part ?? 0..<batchSize
        let ids = Array(order(epoch: epoch, seed: seed)[(index * batchSize + positions.lowerBound)..<(index * batchSize + positions.upperBound)])
        let batchSize = ids.count
        let pixels = crop * crop
        var images = [Float](repeating: 0, count: batchSize * pixels * 3)
        var labels = [UInt8](repeating: 0, count: batchSize * pixels)
        var errors = [Error?](repeating: nil, count: batchSize)
        images.withUnsafeMutableBufferPointer { img in labels.withUnsafeMutableBufferPointer { lab in errors.withUnsafeMutableBufferPointer { err in
            let ip = img.baseAddress!, lp = lab.baseAddress!, ep = err.baseAddress!
            Parallel.forEach(batchSize, threads: threads) { b in
                do {
                    let (image, label) = try dataset.load(dataset.samples[ids[b]])
                    var recipe = AugmentationRecipe()
                    recipe.crop = crop
                    var rng = augmentationRNG(seed: seed, imageIndex: ids[b], view: epoch)
                    let (out, outLabel, _) = augment(image, label, recipe: recipe, rng: &rng)
                    let norm = normalise(out)
                    (ip + b * pixels * 3).update(from: norm, count: pixels * 3)
                    (lp + b * pixels).update(from: outLabel.pixels, count: pixels)
                } catch { ep[b] = error }
            }
        } } }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return (images, labels)
    }
}
