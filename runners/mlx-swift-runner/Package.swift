// swift-tools-version: 5.10
// qwen3-bench runner on MLX Swift: Qwen3 written on MLX's own ops (MLX, MLXNN), speaking
// runners/PROTOCOL.md. Build with xcodebuild on a Mac (see README): SwiftPM on the command line
// cannot compile MLX's Metal shaders. On Linux (MLX's CPU backend) `swift build`: README, "Linux".

import PackageDescription

let package = Package(
    name: "qwen3-mlx-swift-runner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "qwen3-mlx-swift-runner", targets: ["Qwen3MLXSwiftRunner"])
    ],
    dependencies: [
        // Exact pin. 0.31.4 (MLX core 0.31.1) is the newest tag whose manifest (tools version
        // 5.12) builds with Xcode 16 / Swift 6.0+; 0.31.5 and later need Swift 6.3.
        .package(url: "https://github.com/ml-explore/mlx-swift", exact: "0.31.4")
    ],
    targets: [
        .executableTarget(
            name: "Qwen3MLXSwiftRunner",
            dependencies: [
                .product(name: "MLX", package: "mlx-swift"),
                .product(name: "MLXNN", package: "mlx-swift"),
            ],
            path: "Sources/Qwen3MLXSwiftRunner"
        )
    ]
)
