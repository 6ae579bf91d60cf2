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
    package static let palette: [UInt8] = [
        120, 120, 120,  // 0 wall
        180, 120, 120,  // 1 building
          6, 230, 230,  // 2 sky
         80,  50,  50,  // 3 floor
          4, 200,   3,  // 4 tree
        120, 120,  80,  // 5 ceiling
        140, 140, 140,  // 6 road
        204,   5, 255,  // 7 bed
        230, 230, 230,  // 8 windowpane
          4, 250,   7,  // 9 grass
        224,   5, 255,  // 10 cabinet
        235, 255,   7,  // 11 sidewalk
        150,   5,  61,  // 12 person
        120, 120,  70,  // 13 earth
          8, 255,  51,  // 14 door
        255,   6,  82,  // 15 table
        143, 255, 140,  // 16 mountain
        204, 255,   4,  // 17 plant
        255,  51,   7,  // 18 curtain
        204,  70,   3,  // 19 chair
          0, 102, 200,  // 20 car
         61, 230, 250,  // 21 water
        255,   6,  51,  // 22 painting
         11, 102, 255,  // 23 sofa
        255,   7,  71,  // 24 shelf
        255,   9, 224,  // 25 house
          9,   7, 230,  // 26 sea
        220, 220, 220,  // 27 mirror
        255,   9,  92,  // 28 rug
        112,   9, 255,  // 29 field
          8, 255, 214,  // 30 armchair
          7, 255, 224,  // 31 seat
        255, 184,   6,  // 32 fence
         10, 255,  71,  // 33 desk
        255,  41,  10,  // 34 rock
          7, 255, 255,  // 35 wardrobe
        224, 255,   8,  // 36 lamp
        102,   8, 255,  // 37 bathtub
        255,  61,   6,  // 38 railing
        255, 194,   7,  // 39 cushion
        255, 122,   8,  // 40 base
          0, 255,  20,  // 41 box
        255,   8,  41,  // 42 column
        255,   5, 153,  // 43 signboard
          6,  51, 255,  // 44 chest of drawers
        235,  12, 255,  // 45 counter
        160, 150,  20,  // 46 sand
          0, 163, 255,  // 47 sink
        140, 140, 140,  // 48 skyscraper
        250,  10,  15,  // 49 fireplace
         20, 255,   0,  // 50 refrigerator
         31, 255,   0,  // 51 grandstand
        255,  31,   0,  // 52 path
        255, 224,   0,  // 53 stairs
        153, 255,   0,  // 54 runway
          0,   0, 255,  // 55 case
        255,  71,   0,  // 56 pool table
          0, 235, 255,  // 57 pillow
          0, 173, 255,  // 58 screen door
         31,   0, 255,  // 59 stairway
         11, 200, 200,  // 60 river
        255,  82,   0,  // 61 bridge
          0, 255, 245,  // 62 bookcase
          0,  61, 255,  // 63 blind
          0, 255, 112,  // 64 coffee table
          0, 255, 133,  // 65 toilet
        255,   0,   0,  // 66 flower
        255, 163,   0,  // 67 book
        255, 102,   0,  // 68 hill
        194, 255,   0,  // 69 bench
          0, 143, 255,  // 70 countertop
         51, 255,   0,  // 71 stove
          0,  82, 255,  // 72 palm
          0, 255,  41,  // 73 kitchen island
          0, 255, 173,  // 74 computer
         10,   0, 255,  // 75 swivel chair
        173, 255,   0,  // 76 boat
          0, 255, 153,  // 77 bar
        255,  92,   0,  // 78 arcade machine
        255,   0, 255,  // 79 hovel
        255,   0, 245,  // 80 bus
        255,   0, 102,  // 81 towel
        255, 173,   0,  // 82 light
        255,   0,  20,  // 83 truck
        255, 184, 184,  // 84 tower
          0,  31, 255,  // 85 chandelier
          0, 255,  61,  // 86 awning
          0,  71, 255,  // 87 streetlight
        255,   0, 204,  // 88 booth
          0, 255, 194,  // 89 television receiver
          0, 255,  82,  // 90 airplane
          0,  10, 255,  // 91 dirt track
          0, 112, 255,  // 92 apparel
         51,   0, 255,  // 93 pole
          0, 194, 255,  // 94 land
          0, 122, 255,  // 95 bannister
          0, 255, 163,  // 96 escalator
        255, 153,   0,  // 97 ottoman
          0, 255,  10,  // 98 bottle
        255, 112,   0,  // 99 buffet
        143, 255,   0,  // 100 poster
         82,   0, 255,  // 101 stage
        163, 255,   0,  // 102 van
        255, 235,   0,  // 103 ship
          8, 184, 170,  // 104 fountain
        133,   0, 255,  // 105 conveyer belt
          0, 255,  92,  // 106 canopy
        184,   0, 255,  // 107 washer
        255,   0,  31,  // 108 plaything
          0, 184, 255,  // 109 swimming pool
          0, 214, 255,  // 110 stool
        255,   0, 112,  // 111 barrel
         92, 255,   0,  // 112 basket
          0, 224, 255,  // 113 waterfall
        112, 224, 255,  // 114 tent
         70, 184, 160,  // 115 bag
        163,   0, 255,  // 116 minibike
        153,   0, 255,  // 117 cradle
         71, 255,   0,  // 118 oven
        255,   0, 163,  // 119 ball
        255, 204,   0,  // 120 food
        255,   0, 143,  // 121 step
          0, 255, 235,  // 122 tank
        133, 255,   0,  // 123 trade name
        255,   0, 235,  // 124 microwave
        245,   0, 255,  // 125 pot
        255,   0, 122,  // 126 animal
        255, 245,   0,  // 127 bicycle
         10, 190, 212,  // 128 lake
        214, 255,   0,  // 129 dishwasher
          0, 204, 255,  // 130 screen
         20,   0, 255,  // 131 blanket
        255, 255,   0,  // 132 sculpture
          0, 153, 255,  // 133 hood
          0,  41, 255,  // 134 sconce
          0, 255, 204,  // 135 vase
         41,   0, 255,  // 136 traffic light
         41, 255,   0,  // 137 tray
        173,   0, 255,  // 138 ashcan
          0, 245, 255,  // 139 fan
         71,   0, 255,  // 140 pier
        122,   0, 255,  // 141 crt screen
          0, 255, 184,  // 142 plate
          0,  92, 255,  // 143 monitor
        184, 255,   0,  // 144 bulletin board
          0, 133, 255,  // 145 shower
        255, 214,   0,  // 146 radiator
         25, 194, 194,  // 147 glass
        102, 255,   0,  // 148 clock
         92,   0, 255,  // 149 flag
    ]
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
