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
        .target(name: "CBLAS", path: "Sources/CBLAS", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "CHDF5", path: "Sources/CHDF5",
                cSettings: [.unsafeFlags(["-I/usr/include/hdf5/serial"])],
                linkerSettings: [.linkedLibrary("hdf5_serial")]),
        .target(name: "CPNG", path: "Sources/CPNG", cSettings: fastC, linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", cSettings: fastC, linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "Shared",
            dependencies: [
                "CBLAS", "CHDF5", "CPNG", "CJPEG", "CKernels",
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
