/// Cityscapes (fine annotations) labels as data: the labelId → trainId table of cityscapesScripts
/// (helpers/labels.py). gtFine's *_gtFine_labelIds.png files store labelIds 0–33; the 19 labels with a trainId are the
/// classes every published result is measured on, all other labelIds are ignored.
package enum Cityscapes {
    /// One labelId: its name, its train class (nil: ignored) and its official colour.
    package struct Label {
        package var name: String
        package var trainId: Int?
        package var colour: (UInt8, UInt8, UInt8)
    }

    /// Indexed by labelId (0–33).
    package static let labels: [Label] = [
        Label(name: "unlabeled", trainId: nil, colour: (0, 0, 0)),
        Label(name: "ego vehicle", trainId: nil, colour: (0, 0, 0)),
        Label(name: "rectification border", trainId: nil, colour: (0, 0, 0)),
        Label(name: "out of roi", trainId: nil, colour: (0, 0, 0)),
        Label(name: "static", trainId: nil, colour: (0, 0, 0)),
        Label(name: "dynamic", trainId: nil, colour: (111, 74, 0)),
        Label(name: "ground", trainId: nil, colour: (81, 0, 81)),
        Label(name: "road", trainId: 0, colour: (128, 64, 128)),
        Label(name: "sidewalk", trainId: 1, colour: (244, 35, 232)),
        Label(name: "parking", trainId: nil, colour: (250, 170, 160)),
        Label(name: "rail track", trainId: nil, colour: (230, 150, 140)),
        Label(name: "building", trainId: 2, colour: (70, 70, 70)),
        Label(name: "wall", trainId: 3, colour: (102, 102, 156)),
        Label(name: "fence", trainId: 4, colour: (190, 153, 153)),
        Label(name: "guard rail", trainId: nil, colour: (180, 165, 180)),
        Label(name: "bridge", trainId: nil, colour: (150, 100, 100)),
        Label(name: "tunnel", trainId: nil, colour: (150, 120, 90)),
        Label(name: "pole", trainId: 5, colour: (153, 153, 153)),
        Label(name: "polegroup", trainId: nil, colour: (153, 153, 153)),
        Label(name: "traffic light", trainId: 6, colour: (250, 170, 30)),
        Label(name: "traffic sign", trainId: 7, colour: (220, 220, 0)),
        Label(name: "vegetation", trainId: 8, colour: (107, 142, 35)),
        Label(name: "terrain", trainId: 9, colour: (152, 251, 152)),
        Label(name: "sky", trainId: 10, colour: (70, 130, 180)),
        Label(name: "person", trainId: 11, colour: (220, 20, 60)),
        Label(name: "rider", trainId: 12, colour: (255, 0, 0)),
        Label(name: "car", trainId: 13, colour: (0, 0, 142)),
        Label(name: "truck", trainId: 14, colour: (0, 0, 70)),
        Label(name: "bus", trainId: 15, colour: (0, 60, 100)),
        Label(name: "caravan", trainId: nil, colour: (0, 0, 90)),
        Label(name: "trailer", trainId: nil, colour: (0, 0, 110)),
        Label(name: "train", trainId: 16, colour: (0, 80, 100)),
        Label(name: "motorcycle", trainId: 17, colour: (0, 0, 230)),
        Label(name: "bicycle", trainId: 18, colour: (119, 11, 32)),
    ]

    /// labelIds a gtFine file may hold (0–33); converted files sometimes also hold 255, which is ignored too.
    package static let labelIdCount = 34
    package static let ignoreLabel: UInt8 = 255

    /// The labelIds of the train classes, in trainId order (road = 7, …, bicycle = 33).
    package static let trainLabelIds: [Int] = labels.indices
        .filter { labels[$0].trainId != nil }
        .sorted { labels[$0].trainId! < labels[$1].trainId! }

    /// The 19 train classes' names, in trainId order.
    package static let classNames: [String] = trainLabelIds.map { labels[$0].name }

    /// The 19 train classes' colours, RGB per class.
    package static let palette: [UInt8] = trainLabelIds.flatMap { id -> [UInt8] in
        let c = labels[id].colour
        return [c.0, c.1, c.2]
    }

    /// 256 entries: labelId → trainId, every other value → 255 (ignored).
    package static let labelMap: [UInt8] = (0..<256).map { v in
        v < labels.count ? labels[v].trainId.map { UInt8($0) } ?? DatasetDescription.ignoredIndex : DatasetDescription.ignoredIndex
    }
}

extension DatasetDescription {
    /// Cityscapes fine: 19 classes, labelIds 0–33 stored (255 tolerated), mapped to trainIds at load.
    package static let cityscapes = DatasetDescription(
        name: "cityscapes", classNames: Cityscapes.classNames, palette: Cityscapes.palette,
        ignoreLabel: Cityscapes.ignoreLabel, labelMap: Cityscapes.labelMap,
        splits: ["train": "leftImg8bit/train", "val": "leftImg8bit/val"], storedLabels: Cityscapes.labelIdCount)
}
