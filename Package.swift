// swift-tools-version:5.10
import PackageDescription

// Release builds use the CPU's vector units (AVX2 + FMA); without them SIMD fused multiply-adds become libm calls.
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
let fastC: [CSetting] = [.unsafeFlags(["-O3", "-march=haswell"])]

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
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "CHDF5", path: "Sources/CHDF5",
                cSettings: [.unsafeFlags(["-I/usr/include/hdf5/serial"])],
                linkerSettings: [.linkedLibrary("hdf5_serial")]),
        .target(name: "CPNG", path: "Sources/CPNG", cSettings: fastC, linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", cSettings: fastC, linkerSettings: [.linkedLibrary("jpeg")]),
        // Open MPI (libopenmpi-dev); MPI is only initialised when a launcher (mpirun, srun) started the process.
        .target(name: "CMPI", path: "Sources/CMPI",
                cSettings: [.unsafeFlags(["-I/usr/lib/x86_64-linux-gnu/openmpi/include"])],
                linkerSettings: [.linkedLibrary("mpi")]),
        .target(
            name: "Shared",
            dependencies: [
                "CBLAS", "CHDF5", "CPNG", "CJPEG", "CMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .executableTarget(name: "Extract", dependencies: ["Shared"], swiftSettings: cpuFlags),
        .executableTarget(name: "HeadTrain", dependencies: ["Shared"], swiftSettings: cpuFlags),
        .testTarget(name: "DinoSegTests", dependencies: ["Shared"],
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    ],
    swiftLanguageVersions: [.v5]
)
