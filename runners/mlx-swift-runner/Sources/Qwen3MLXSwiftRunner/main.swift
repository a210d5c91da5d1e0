// qwen3-mlx-swift-runner: Qwen3 on MLX Swift behind the JSON-lines protocol of runners/PROTOCOL.md.

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif
import Foundation
#if canImport(Metal)
    import Metal
#endif
import MLX

let processStart = monotonicNanoseconds()

/// The mlx-swift tag in Package.swift (`exact:`) and the MLX core it bundles; a test in
/// bench/tests/apple.test.ts keeps this equal to the pin.
let mlxSwiftVersion = "0.31.4"
let mlxCoreVersion = "0.31.1"

let usage = "usage: qwen3-mlx-swift-runner --model DIR [--dtype f16|bf16|f32] [--device auto|gpu|cpu] [--decode pipelined|sync]"

struct Arguments {
    var modelDir: URL
    var dtypeName = "f16"
    var device = "auto"
    var pipelined = true

    static func parse(_ argv: [String]) throws -> Arguments {
        var model: String?
        var parsed = Arguments(modelDir: URL(fileURLWithPath: "."))
        var rest = argv[...]
        while let flag = rest.popFirst() {
            guard ["--model", "--dtype", "--device", "--decode"].contains(flag) else {
                throw RunnerError.internalError("unknown argument \(flag); \(usage)")
            }
            guard let value = rest.popFirst() else { throw RunnerError.internalError("\(flag): missing value") }
            switch flag {
            case "--model": model = value
            case "--dtype":
                guard dtypes[value] != nil else { throw RunnerError.internalError("--dtype: unknown dtype \(value) (f16, bf16, f32)") }
                parsed.dtypeName = value
            case "--device":
                guard ["auto", "gpu", "cpu"].contains(value) else { throw RunnerError.internalError("--device: unknown device \(value) (auto, gpu, cpu)") }
                parsed.device = value
            default:
                guard ["pipelined", "sync"].contains(value) else { throw RunnerError.internalError("--decode: expected pipelined or sync, got \(value)") }
                parsed.pipelined = value == "pipelined"
            }
        }
        guard let model else { throw RunnerError.internalError("--model is required; \(usage)") }
        parsed.modelDir = URL(fileURLWithPath: model)
        return parsed
    }
}

let dtypes: [String: DType] = ["f16": .float16, "bf16": .bfloat16, "f32": .float32]

/// The CPU's name as the OS reports it ("Apple M3 Max", "AMD EPYC 7B13").
func cpuName() -> String {
    #if os(Linux)
        // The first "model name" line of /proc/cpuinfo (x86-64; aarch64 kernels may have none).
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "\(machineArchitecture()) CPU"
    #else
        var size = 0
        guard sysctlbyname("machdep.cpu.brand_string", nil, &size, nil, 0) == 0, size > 0 else { return "arm64 CPU" }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname("machdep.cpu.brand_string", &buffer, &size, nil, 0) == 0 else { return "arm64 CPU" }
        return String(cString: buffer)
    #endif
}

#if os(Linux)
    /// `uname -m` ("x86_64", "aarch64").
    func machineArchitecture() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: &names.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }
#endif

let output = ProtocolOutput()

func fatal(_ error: RunnerError) -> Never {
    output.send(.object([("op", .string("fatal")), ("error", .object([("kind", .string(error.kind)), ("message", .string(error.message))]))]))
    exit(1)
}

func runnerError(_ error: Error) -> RunnerError {
    (error as? RunnerError) ?? RunnerError.internalError("\(error)")
}

let arguments: Arguments
do {
    arguments = try Arguments.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fatal(runnerError(error))
}

/// The device of `type` after one small operation on it, so that a device MLX cannot use fails
/// here as a Swift error carrying MLX's reason instead of exiting the process at its first use
/// (MLX's default error handler exits, e.g. on "Cannot get gpu stream without gpu backend").
func probe(_ type: DeviceType) throws -> Device {
    try withError { error in
        // Device.gpu creates MLX's default GPU stream: that alone fails without a GPU backend.
        let device = type == .gpu ? Device.gpu : Device.cpu
        try error.check()
        Device.withDefaultDevice(device) { eval(MLXArray(Int32(1)) + 1) }
        return device
    }
}

/// The MLX error's text without Swift's wrapping and without mlx-c's " at FILE:LINE" suffix.
func mlxMessage(_ error: Error) -> String {
    guard case MLXError.caught(let message) = error else { return "\(error)" }
    if let at = message.range(of: " at /", options: .backwards), message[at.upperBound...].contains(":") {
        return String(message[..<at.lowerBound])
    }
    return message
}

#if canImport(Metal)
    let metalDeviceName = MTLCreateSystemDefaultDevice()?.name
#endif

/// The GPU's name: the Metal device's on macOS.
func gpuName() -> String {
    #if canImport(Metal)
        return metalDeviceName ?? "Apple GPU"
    #else
        return "GPU"
    #endif
}

/// The GPU, or why MLX cannot run on it here. MLX itself is asked: mlx-swift's Linux build
/// compiles MLX's no_gpu backend (no Metal, no CUDA), where the GPU stream cannot be created.
func gpuDevice() -> Result<Device, RunnerError> {
    #if canImport(Metal)
        // Without a Metal device MLX's Metal backend aborts while starting, so do not ask it.
        guard metalDeviceName != nil else { return .failure(RunnerError.internalError("no Metal device")) }
    #endif
    do {
        return .success(try probe(.gpu))
    } catch {
        return .failure(RunnerError.internalError(mlxMessage(error)))
    }
}

/// The CPU; a `fatal` line if MLX cannot run there either.
func cpuDevice() -> Device {
    // The process-wide default first (a deprecated call, but the only way): mlx-swift's task-local
    // default device starts as `_defaultDevice ?? .gpu` on first use, and merely creating
    // Device.gpu fails without a GPU backend, even inside withDefaultDevice(.cpu).
    Device.setDefault(device: Device.cpu)
    do {
        return try probe(.cpu)
    } catch {
        fatal(RunnerError.internalError("--device \(arguments.device): MLX cannot run on the CPU: \(mlxMessage(error))"))
    }
}

/// `--device auto`: the GPU where MLX has one, else the CPU; `gpu`/`cpu` as asked. Every device
/// error is a `fatal` line with MLX's reason.
let device: Device
var deviceNote: String? = nil
switch arguments.device {
case "gpu":
    switch gpuDevice() {
    case .success(let gpu): device = gpu
    case .failure(let error): fatal(RunnerError.internalError("--device gpu: \(error.message)"))
    }
case "cpu":
    device = cpuDevice()
default:
    switch gpuDevice() {
    case .success(let gpu): device = gpu
    case .failure(let error):
        deviceNote = "--device auto chose the CPU: no GPU for MLX (\(error.message))"
        device = cpuDevice()
    }
}
let onGPU = device.deviceType == .gpu

Device.withDefaultDevice(device) {
    let dtype = dtypes[arguments.dtypeName]!
    let model: Qwen3Model
    let config: Qwen3Config
    do {
        config = try Qwen3Config.load(modelDir: arguments.modelDir)
        model = try withError {
            let checkpoint = try Checkpoint(modelDir: arguments.modelDir)
            let loaded = try Qwen3Model(config: config, checkpoint: checkpoint, dtype: dtype)
            eval(loaded.weights)
            return loaded
        }
    } catch {
        fatal(runnerError(error))
    }

    let generator = Generator(model: model, pipelined: arguments.pipelined)
    do {
        // One short warm-up so Metal pipeline creation happens before the first timed request.
        let warmUp = (0 ..< Int32(min(4, config.vocabSize))).map { $0 }
        _ = try withError { generator.generate(prompt: warmUp, maxNewTokens: 2, start: monotonicNanoseconds()) }
    } catch {
        fatal(RunnerError.internalError("the warm-up forward pass failed: \(error)"))
    }

    var notes = [
        "Qwen3 written on MLX Swift ops (MLXFast.rmsNorm/RoPE/scaledDotProductAttention), after mlx-lm models/qwen3.py",
        arguments.pipelined
            ? "decode pipelined with asyncEval (token i+1 queued before token i is read), as mlx-lm's generate_step"
            : "decode synchronous: eval and read back one token at a time",
        "prompt prefilled in one forward pass; KV cache preallocated per request",
    ]
    if let deviceNote { notes.append(deviceNote) }
    #if canImport(Metal)
        if onGPU { notes.append("Metal GPU architecture \(GPU.deviceInfo().architecture)") }
    #else
        notes.append("Linux build, MLX's CPU backend: f32 matmuls through OpenBLAS, f16 and bf16 through MLX's own simd_gemm (no BLAS)")
        notes.append("SwiGLU's silu is x * sigmoid(x), not MLX-compiled (MLX's run-time C++ compile fails on x86-64)")
    #endif
    let ready: JSON = .object([
        ("op", .string("ready")),
        ("protocol_version", .int(protocolVersion)),
        ("framework", .string("mlx-swift")),
        ("framework_version", .string("mlx-swift \(mlxSwiftVersion), mlx \(mlxCoreVersion)")),
        ("backend", .string(onGPU ? "metal" : "cpu")),
        ("device", .string(onGPU ? gpuName() : cpuName())),
        ("dtype", .string(arguments.dtypeName)),
        ("parameter_count", .int(model.parameterCount)),
        ("load_time_ms", .double(Double(monotonicNanoseconds() - processStart) / 1e6)),
        ("fusion", .null),
        ("autotune", .null),
        ("notes", .array(notes.map { JSON.string($0) })),
    ])
    output.send(ready)

    serve(
        generator: generator,
        limits: Limits(vocabSize: config.vocabSize, maxPositions: config.maxPositionEmbeddings),
        onDevice: onGPU, output: output)
}
exit(0)
