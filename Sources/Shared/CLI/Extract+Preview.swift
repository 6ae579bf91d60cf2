import ArgumentParser
import Foundation
import DinoSegCore
import DinoSegData

/// `extract preview`: the augmented crops the backbone would see, as PNGs and one contact sheet.
package struct ExtractPreview: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Write augmented training crops (image + coloured label) as PNGs and a contact sheet, to inspect the augmentation.")

    @Option(name: .long, help: "Dataset root.") var data: String
    @Option(name: .long, help: "Split list (path or name).") var list: String
    @Option(name: .long, help: "Views per image.") var views: Int = 4
    @Option(name: .long, help: "Output directory.") var out: String
    @Option(name: .long, help: "Number of images (from the start of the list).") var count: Int = 4
    @Option(name: .long, help: "Augmentation seed (same meaning as in extract train).") var seed: UInt64 = 0

    package init() {}

    package func validate() throws {
        try FlagBounds.check(views, in: FlagBounds.previewViews, "--views")
        try FlagBounds.check(count, in: FlagBounds.previewImages, "--count")
    }

    package func run() throws {
        let ds = try SegmentationDataset(root: data, list: list)
        print("list: \(ds.listSource)")
        let samples = Array(ds.samples.prefix(count))
        try FileSystem.createDirectory(out, what: "output directory")
        // The crops `extract train` would cut: the layout's long side, the dataset's colours.
        var recipe = AugmentationRecipe()
        recipe.longSide = type(of: ds.layout).trainLongSide
        var tiles: [[RGBImage]] = []
        for (i, s) in samples.enumerated() {
            let (img, lab) = try ds.load(s)
            var row: [RGBImage] = []
            for v in 0..<views {
                var rng = augmentationRNG(seed: seed, imageIndex: i, view: v)
                let (crop, label, d) = augmentCrop(img, lab, recipe: recipe, rng: &rng)
                let rgb = crop.toRGB(), coloured = ImageIO.colourise(label, dataset: ds.description)
                try ImageIO.writePNG(rgb, to: "\(out)/\(s.id)-view\(v).png")
                try ImageIO.writePNG(coloured, to: "\(out)/\(s.id)-view\(v)-label.png")
                print(String(format: "%@ view %d: scale %.3f, rotate %@, blur %@, flip %@, crop at (%d, %d)", s.id, v, d.scale,
                             d.rotation.map { String(format: "%.2f°", $0) } ?? "no", d.blur ? "yes" : "no", d.flip ? "yes" : "no",
                             d.cropTop, d.cropLeft))
                row += [rgb, coloured]
            }
            tiles.append(row)
        }
        let sheet = contactSheet(tiles, gap: 4)
        try ImageIO.writePNG(sheet, to: "\(out)/contact-sheet.png")
        print("wrote \(samples.count * views * 2) PNGs and \(out)/contact-sheet.png (rows: images; columns: view crop, label, …)")
    }
}

/// Tiles rows of equally sized images on a white background.
func contactSheet(_ rows: [[RGBImage]], gap: Int) -> RGBImage {
    let tw = rows.first?.first?.width ?? 1, th = rows.first?.first?.height ?? 1
    let cols = rows.map(\.count).max() ?? 1
    let w = cols * tw + (cols + 1) * gap, h = rows.count * th + (rows.count + 1) * gap
    var px = [UInt8](repeating: 255, count: w * h * 3)
    for (r, row) in rows.enumerated() {
        for (c, tile) in row.enumerated() {
            let x0 = gap + c * (tw + gap), y0 = gap + r * (th + gap)
            for y in 0..<min(th, tile.height) {
                for x in 0..<min(tw, tile.width) {
                    for k in 0..<3 { px[((y0 + y) * w + x0 + x) * 3 + k] = tile.pixels[(y * tile.width + x) * 3 + k] }
                }
            }
        }
    }
    return RGBImage(width: w, height: h, pixels: px)
}
