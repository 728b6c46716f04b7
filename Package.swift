// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RocketWS",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rocketws-node", targets: ["rocketws-node"]),
        .executable(name: "rocketws-admin", targets: ["rocketws-admin"]),
        .library(name: "ClusterCore", targets: ["ClusterCore"]),
        .library(name: "ClusterKit", targets: ["ClusterKit"]),
        .library(name: "NodeServer", targets: ["NodeServer"]),
        .library(name: "RocketWSClient", targets: ["RocketWSClient"]),
        .library(name: "RocketWSProtocol", targets: ["RocketWSProtocol"]),
        .library(name: "AMQP", targets: ["AMQP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libnghttp2 from the system (Debian: libnghttp2-dev).
        .systemLibrary(
            name: "CNghttp2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        // The cluster's pure state machines (membership, interest, the cluster instance) and the seeded
        // generator they draw from: no NIO, no nghttp2, no I/O; events and `now` in, directives out. The compiler
        // keeps them pure.
        .target(name: "ClusterCore"),
        // What the node and the clients both speak, without NIO: the JSON value (one parser, one writer, one
        // string escaper), the JSON-RPC error, HOST:PORT, the ROCKETWS_* environment.
        .target(name: "RocketWSProtocol"),
        // Everything about being one node among many, as I/O: the HTTP/2 peer mesh and the shell that carries
        // out the core's directives over it (re-exports ClusterCore).
        .target(
            name: "ClusterKit",
            dependencies: [
                "ClusterCore",
                "RocketWSProtocol",
                "CNghttp2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // An AMQP 0-9-1 queue consumer as a pure frame codec and state machine (no sockets): RabbitMQ source.
        .target(
            name: "AMQP",
            dependencies: ["ClusterCore", "RocketWSProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // One node's serving side: JSON-RPC, subscriptions, WebSocket server, MessagesSource.
        .target(
            name: "NodeServer",
            dependencies: [
                "ClusterKit",
                "RocketWSProtocol",
                "AMQP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        // Clients for the node's two public APIs (WebSocket and MessagesSource), used by the admin tool and tests.
        .target(
            name: "RocketWSClient",
            dependencies: [
                "RocketWSProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // Test helpers shared by every test target (not a product): the node process launcher and test
        // cluster, `eventually`, free ports, the metrics scraper, certificates, seeded randomness.
        .target(
            name: "RocketWSTestKit",
            dependencies: [
                "ClusterCore",
                "RocketWSClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .executableTarget(
            name: "rocketws-node",
            dependencies: [
                "NodeServer",
                "RocketWSProtocol",
                "ClusterKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "rocketws-admin",
            dependencies: [
                "RocketWSClient",
                "RocketWSProtocol",
                "ClusterKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The pure cores, without sockets: unit tests and seeded simulations.
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore", "RocketWSTestKit"]),
        .testTarget(
            name: "ClusterKitTests",
            dependencies: [
                "ClusterKit",
                "RocketWSTestKit",
                "CNghttp2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "NodeServerTests",
            dependencies: [
                "NodeServer",
                "RocketWSTestKit",
                "RocketWSClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // The client library and rocketws-admin: parsing, golden help, error paths, against the real node.
        .testTarget(
            name: "AdminTests",
            dependencies: [
                "RocketWSClient",
                "RocketWSProtocol",
                "RocketWSTestKit",
                "rocketws-admin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // Multi-process tests: built binaries on loopback ports.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "ClusterCore",
                "RocketWSClient",
                "RocketWSTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
