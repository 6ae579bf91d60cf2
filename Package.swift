// swift-tools-version:5.10
import PackageDescription

// The hot numeric loops are C kernels (Sources/CKernels) built once per instruction set and chosen at run time from
// CPUID, so that target needs no CPU flag. The Swift code is built with bounds and overflow checks on (plain -O) and,
// on x86-64, for the x86-64-v3 level (AVX2, FMA, F16C: the floor DinoSeg supports; swiftc names it `haswell`) so its
// remaining loops (f16 conversion, BatchNorm, loss) stay vectorised; other architectures get their baseline.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
let fastC: [CSetting] = [.unsafeFlags(["-O3", "-march=x86-64-v3"])]
#else
let cpuFlags: [SwiftSetting] = []
let fastC: [CSetting] = [.unsafeFlags(["-O3"])]
#endif
// Per-function `target` attributes select AVX2 / AVX-512 inside the kernels; fused multiply-adds are explicit.
let kernelC: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]

// The library is a stack of targets, each made of whole folders of Sources/Shared and importing only the targets below
// it, so the compiler rejects a dependency cycle (docs/DESIGN.md "Modules"). Bottom to top:
let layers: [(name: String, folders: [String])] = [
    ("DinoSegCore", ["Support", "IO", "Distributed"]),  // errors, files, random, SHA-256, HDF5, images, safetensors, MPI
    ("DinoSegKernels", ["Kernels"]),                    // the only Swift side of CBLAS, CDNNL and CKernels
    ("DinoSegNN", ["Layers", "Parameters"]),            // layers; parameter arena, SGD, schedule, checkpoint writer
    ("DinoSegData", ["Data"]),                          // datasets, augmentation, normalisation, evaluation windows
    ("DinoSegBackbone", ["Model"]),                     // the frozen ConvNeXt
    ("DinoSegCache", ["Cache"]),                        // the feature cache's format and the extraction writing it
    ("DinoSegModels", ["Head", "Networks"]),            // the segmentation heads; the PSPNet baseline built on their modules
    ("DinoSegEval", ["Eval"]),                          // metrics, the evaluator, prediction
    ("DinoSegPipeline", ["Train", "Baseline", "Sweep", "Report"]),  // training, the PSPNet baseline, sweeps, reports
    ("DinoSegCLI", ["CLI"]),                            // the commands; the only importer of ArgumentParser
]
let sharedFolders = layers.flatMap(\.folders)

/// A library target of `layers[index]`: its folders, every target below it, and the C libraries it wraps.
func layer(_ index: Int, _ extra: [Target.Dependency] = []) -> Target {
    let (name, folders) = layers[index]
    let below = layers[..<index].map { Target.Dependency(stringLiteral: $0.name) }
    return .target(name: name, dependencies: below + extra, path: "Sources/Shared",
                   exclude: sharedFolders.filter { !folders.contains($0) }, sources: folders, swiftSettings: cpuFlags)
}

let package = Package(
    name: "DinoSeg",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "extract", targets: ["Extract"]),
        .executable(name: "headtrain", targets: ["HeadTrain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CBLAS", path: "Sources/CBLAS", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "CHDF5", path: "Sources/CHDF5",
                cSettings: [.unsafeFlags(["-I/usr/include/hdf5/serial"])],
                linkerSettings: [.linkedLibrary("hdf5_serial")]),
        .target(name: "CPNG", path: "Sources/CPNG", cSettings: fastC, linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", cSettings: fastC, linkerSettings: [.linkedLibrary("jpeg")]),
        // oneDNN 2.x (libdnnl-dev), loaded at run time for bf16 matrix multiplies; builds without it (fp32 only).
        .target(name: "CDNNL", path: "Sources/CDNNL", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // The Ctrl-C / SIGTERM stop flag (an async-signal-safe handler, polled by extraction and training).
        .target(name: "CStopSignal", path: "Sources/CStopSignal"),
        .target(name: "CKernels", path: "Sources/CKernels", exclude: ["kernels_body.h", "kernel_list.h"], cSettings: kernelC),
        // Open MPI (libopenmpi-dev); MPI is only initialised when a launcher (mpirun, srun) started the process.
        .target(name: "CMPI", path: "Sources/CMPI",
                cSettings: [.unsafeFlags(["-I/usr/lib/x86_64-linux-gnu/openmpi/include"])],
                linkerSettings: [.linkedLibrary("mpi")]),
        layer(0, ["CHDF5", "CPNG", "CJPEG", "CMPI", "CStopSignal"]),
        layer(1, ["CBLAS", "CDNNL", "CKernels"]),
        layer(2), layer(3), layer(4), layer(5), layer(6), layer(7), layer(8),
        layer(9, [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "Extract", dependencies: ["DinoSegCLI", "DinoSegKernels"], swiftSettings: cpuFlags),
        .executableTarget(name: "HeadTrain", dependencies: ["DinoSegCLI", "DinoSegKernels"], swiftSettings: cpuFlags),
        .testTarget(name: "DinoSegTests",
                    dependencies: layers.map { Target.Dependency(stringLiteral: $0.name) },
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    ],
    swiftLanguageVersions: [.v5]
)
