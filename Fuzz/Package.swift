// swift-tools-version:6.0
// libFuzzer targets for RocketWS, outside the main package graph so `swift build` / `swift test` never
// compile them. Build and run with `Fuzz/run.sh` (it passes -sanitize=fuzzer; see the script).
// Each target defines `<target>_main` (SwiftPM aliases `main` to it), which runs libFuzzer's driver (LLVMFuzzerRunDriver).
import Foundation
import PackageDescription

// The root package is a path dependency; its identity is the name of the directory it is checked out in.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "RocketWSFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "FuzzJSONRPC",
            dependencies: ["CLibFuzzer", .product(name: "NodeServer", package: rootIdentity)]
        ),
        .executableTarget(
            name: "FuzzWebSocket",
            dependencies: [
                "CLibFuzzer",
                .product(name: "NodeServer", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzAMQPFrame",
            dependencies: ["CLibFuzzer", .product(name: "AMQP", package: rootIdentity)]
        ),
        .executableTarget(
            name: "FuzzPeerFrame",
            dependencies: ["CLibFuzzer", .product(name: "ClusterKit", package: rootIdentity)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
