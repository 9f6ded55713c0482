// swift-tools-version:6.0
import PackageDescription

// `DROVER_FUZZ=1` (set by scripts/fuzz) instruments Drover's own modules for libFuzzer and links
// the fuzz targets with it; the dependencies stay as built, so fuzzing costs a rebuild of this
// package's code only.
let fuzzing = Context.environment["DROVER_FUZZ"] == "1"
let fuzzInstrumented: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"]), .define("FUZZING")] : []
let fuzzLinked: [LinkerSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer", "-use-ld=lld"])] : []

let package = Package(
    name: "drover",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Drover", targets: ["Drover"]),
        .library(name: "DroverCore", targets: ["DroverCore"]),
        .library(name: "DroverRedis", targets: ["DroverRedis"]),
        .library(name: "DroverMaster", targets: ["DroverMaster"]),
        .library(name: "DroverRemote", targets: ["DroverRemote"]),
        .executable(name: "drover", targets: ["drover"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // The import graph runs one way, from the bottom of this list up (see the README's
        // architecture section): no module imports one below it in the list that imports it.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "DroverTLS",
            dependencies: [.product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .target(
            name: "DroverRedis",
            dependencies: [
                "CHiredis",
                "DroverTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fuzzInstrumented
        ),
        .target(
            name: "DroverCore",
            swiftSettings: fuzzInstrumented
        ),
        .target(
            name: "DroverRedisStore",
            dependencies: [
                "DroverCore",
                "DroverRedis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fuzzInstrumented
        ),
        .target(
            name: "DroverMaintenance",
            dependencies: [
                "DroverCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "DroverAPI",
            dependencies: ["DroverCore"],
            swiftSettings: fuzzInstrumented
        ),
        .target(
            name: "DroverProcess"
        ),
        .target(
            name: "DroverLocalRedis",
            dependencies: [
                "DroverProcess",
                "DroverRedis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Drover",
            dependencies: [
                "DroverCore",
                "DroverRedis",
                "DroverRedisStore",
                "DroverMaintenance",
                "DroverProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "DroverMaster",
            dependencies: [
                "DroverAPI",
                "DroverCore",
                "DroverMaintenance",
                "DroverRedis",
                "DroverTLS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The dashboard's files, compiled into the binary: nothing to install beside it.
            resources: [
                .embedInCode("Dashboard/index.html"), .embedInCode("Dashboard/login.html"), .embedInCode("Dashboard/dashboard.js"),
                .embedInCode("Dashboard/overview.js"), .embedInCode("Dashboard/pages.js"), .embedInCode("Dashboard/dashboard.css"),
            ],
            swiftSettings: fuzzInstrumented
        ),
        .target(
            name: "DroverRemote",
            dependencies: [
                "DroverAPI",
                "DroverCore",
                "DroverTLS",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "drover",
            dependencies: [
                "Drover",
                "DroverAPI",
                "DroverCore",
                "DroverLocalRedis",
                "DroverMaintenance",
                "DroverMaster",
                "DroverProcess",
                "DroverRedis",
                "DroverRedisStore",
                "DroverRemote",
                "DroverTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "SimpleTask",
            dependencies: ["Drover"],
            path: "Examples/SimpleTask"
        ),
        .executableTarget(
            name: "BatchFanOut",
            dependencies: ["Drover"],
            path: "Examples/BatchFanOut"
        ),
        .executableTarget(
            name: "Workflow",
            dependencies: ["Drover"],
            path: "Examples/Workflow"
        ),
        // Fuzz targets: `scripts/fuzz` builds them with libFuzzer; a normal build replays inputs.
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: fuzzInstrumented),
        .executableTarget(
            name: "FuzzTCPFrames",
            dependencies: ["DroverAPI", "DroverMaster", "FuzzSupport", .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Fuzz/TCPFrames",
            swiftSettings: fuzzInstrumented,
            linkerSettings: fuzzLinked
        ),
        .executableTarget(
            name: "FuzzJobDecoding",
            dependencies: ["DroverAPI", "DroverCore", "DroverMaster", "DroverRedisStore", "FuzzSupport"],
            path: "Fuzz/JobDecoding",
            swiftSettings: fuzzInstrumented,
            linkerSettings: fuzzLinked
        ),
        // Tests: a target per library module with logic, then the store contract suite (every
        // store, one set of tests) and the system tests (real drover processes).
        .target(
            name: "DroverTestSupport",
            dependencies: [
                "Drover",
                "DroverCore",
                "DroverLocalRedis",
                "DroverProcess",
                "DroverRedis",
                "DroverRedisStore",
                "DroverTLS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/DroverTestSupport"
        ),
        .testTarget(name: "DroverRedisTests", dependencies: ["DroverRedis", "DroverTLS", "DroverTestSupport"]),
        .testTarget(name: "DroverCoreTests", dependencies: ["DroverCore"]),
        .testTarget(name: "DroverRedisStoreTests", dependencies: ["DroverRedisStore", "DroverTestSupport"]),
        .testTarget(name: "DroverAPITests", dependencies: ["DroverAPI"]),
        .testTarget(name: "DroverMaintenanceTests", dependencies: ["DroverMaintenance", "Drover", "DroverTestSupport"]),
        .testTarget(name: "DroverTests", dependencies: ["Drover", "DroverTestSupport"]),
        .testTarget(
            name: "DroverMasterTests",
            dependencies: [
                "Drover", "DroverAPI", "DroverMaster", "DroverRemote", "DroverTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "StoreContractTests",
            dependencies: [
                "DroverCore", "DroverMaster", "DroverRemote", "DroverTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SystemTests",
            dependencies: ["Drover", "DroverRemote", "DroverTestSupport"],
            // The browser test's Selenium script, run by path with Python.
            exclude: ["Browser"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
