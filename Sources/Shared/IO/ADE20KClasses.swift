// The 150 classes of the MIT Scene Parsing benchmark (ADE20K's ADEChallengeData2016) in annotation order, and the
// colours mmsegmentation's ADE20KDataset draws them with, so our palette PNGs and reports look like everyone else's.
// Annotation value v (1–150) is class v − 1; 0 is "other" (unlabelled), ignored.

/// ADE20K (SceneParsing 150) classes and colours as data.
package enum ADE20K {
    package static let classNames = [
        "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
        "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
        "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
        "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
        "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path",
        "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase",
        "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
        "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel",
        "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver", "airplane",
        "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster",
        "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool",
        "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
        "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture",
        "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
        "bulletin board", "shower", "radiator", "glass", "clock", "flag",
    ]
    package static let numClasses = 150
    /// Annotation values 0 ("other") … 150.
    package static let storedLabels = 151

    /// RGB per class (class c at 3c..<3c+3).
    package static let palette: [UInt8] = hexBytes(paletteHex)

    /// The colours as RRGGBB hex, class c at characters 6c..<6c+6 (one line: 150 rows of three numbers would be
    /// 150 lines of noise; `ADE20KLayoutTests` checks the first and last colours).
    static let paletteHex = "787878b4787806e6e650323204c8037878508c8c8ccc05ffe6e6e604fa07e005ffebff0796053d78784608ff33ff06528fff8cccff04ff3307cc46030066c83de6faff06330b66ffff0747ff09e00907e6dcdcdcff095c7009ff08ffd607ffe0ffb8060aff47ff290a07ffffe0ff086608ffff3d06ffc207ff7a0800ff14ff0829ff05990633ffeb0cffa0961400a3ff8c8c8cfa0a0f14ff001fff00ff1f00ffe00099ff000000ffff470000ebff00adff1f00ff0bc8c8ff520000fff5003dff00ff7000ff85ff0000ffa300ff6600c2ff00008fff33ff000052ff00ff2900ffad0a00ffadff0000ff99ff5c00ff00ffff00f5ff0066ffad00ff0014ffb8b8001fff00ff3d0047ffff00cc00ffc200ff52000aff0070ff3300ff00c2ff007aff00ffa3ff990000ff0aff70008fff005200ffa3ff00ffeb0008b8aa8500ff00ff5cb800ffff001f00b8ff00d6ffff00705cff0000e0ff70e0ff46b8a0a300ff9900ff47ff00ff00a3ffcc00ff008f00ffeb85ff00ff00ebf500ffff007afff5000abed4d6ff0000ccff1400ffffff000099ff0029ff00ffcc2900ff29ff00ad00ff00f5ff4700ff7a00ff00ffb8005cffb8ff000085ffffd60019c2c266ff005c00ff"

    /// "0a1bff" → [10, 27, 255].
    static func hexBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { UInt8(Character(UnicodeScalar($0)).hexDigitValue!) }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

extension DatasetDescription {
    /// ADE20K (ADEChallengeData2016): annotation 0 ("other") is ignored and v = 1…150 is class v − 1 (mmsegmentation's
    /// reduce_zero_label). 255 never occurs in ADE files; it is accepted as ignored so the ignore label is one that maps
    /// to "ignored" (what `validate` demands); 151…254 are refused.
    package static let ade20k = DatasetDescription(
        name: "ade20k", classNames: ADE20K.classNames, palette: ADE20K.palette, ignoreLabel: 255,
        labelMap: (0..<256).map { $0 >= 1 && $0 < ADE20K.storedLabels ? UInt8($0 - 1) : ignoredIndex },
        splits: ["train": "images/training", "val": "images/validation"], storedLabels: ADE20K.storedLabels)
}
