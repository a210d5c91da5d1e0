// qwen3-mlx-swift-runner: Qwen3 on MLX Swift behind the JSON-lines protocol of runners/PROTOCOL.md.

import Darwin
import Foundation
import Metal
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

/// The chip's name as the OS reports it ("Apple M3 Max").
func cpuName() -> String {
    var size = 0
    guard sysctlbyname("machdep.cpu.brand_string", nil, &size, nil, 0) == 0, size > 0 else { return "arm64 CPU" }
    var buffer = [CChar](repeating: 0, count: size)
    guard sysctlbyname("machdep.cpu.brand_string", &buffer, &size, nil, 0) == 0 else { return "arm64 CPU" }
    return String(cString: buffer)
}

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

let metalDevice = MTLCreateSystemDefaultDevice()
let onGPU = arguments.device == "gpu" || (arguments.device == "auto" && metalDevice != nil)
if onGPU && metalDevice == nil {
    fatal(RunnerError.internalError("--device gpu: no Metal device"))
}

Device.withDefaultDevice(onGPU ? Device.gpu : Device.cpu) {
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
    if onGPU { notes.append("Metal GPU architecture \(GPU.deviceInfo().architecture)") }
    let ready: JSON = .object([
        ("op", .string("ready")),
        ("protocol_version", .int(protocolVersion)),
        ("framework", .string("mlx-swift")),
        ("framework_version", .string("mlx-swift \(mlxSwiftVersion), mlx \(mlxCoreVersion)")),
        ("backend", .string(onGPU ? "metal" : "cpu")),
        ("device", .string(onGPU ? (metalDevice?.name ?? "Apple GPU") : cpuName())),
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
