#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif
import Foundation
import MLX

// The runner side of runners/PROTOCOL.md: request validation (the same rules and messages as
// runners/python-common/qwen3_bench_protocol.py), replies, and the serve loop.

let protocolVersion = 1

/// What the loaded model accepts; requests outside it are `bad_request`.
struct Limits {
    let vocabSize: Int
    let maxPositions: Int
}

enum Request {
    case generate(id: Int, prompt: [Int32], maxNewTokens: Int)
    case score(id: Int, prompt: [Int32], continuation: [Int32], topK: Int)
    case shutdown(id: Int)
}

/// A request that cannot be served; `id` is nil when none could be read.
struct BadRequest: Error {
    let id: Int?
    let message: String
}

func parseRequest(_ line: String, limits: Limits) throws -> Request {
    let object: Any
    do {
        object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
    } catch {
        throw BadRequest(id: nil, message: "malformed JSON: \(error.localizedDescription)")
    }
    guard let request = object as? [String: Any] else {
        throw BadRequest(id: nil, message: "request must be a JSON object")
    }
    guard let id = JSONField.integer(request["id"]) else {
        throw BadRequest(id: nil, message: "id: must be an integer")
    }
    func bad(_ message: String) -> BadRequest { BadRequest(id: id, message: message) }

    switch (request["op"] as? String) ?? "" {
    case "shutdown":
        return .shutdown(id: id)
    case "generate":
        let prompt = try tokenIds(request, "prompt_token_ids", limits).get { bad($0) }
        let maxNew = try positiveInt(request, "max_new_tokens").get { bad($0) }
        guard JSONField.isBool(request["ignore_eos"]), request["ignore_eos"] as? Bool == true else {
            throw bad("ignore_eos: must be true (the benchmark always generates exactly max_new_tokens)")
        }
        try checkLength(prompt.count + maxNew, limits).get { bad($0) }
        return .generate(id: id, prompt: prompt, maxNewTokens: maxNew)
    case "score":
        let prompt = try tokenIds(request, "prompt_token_ids", limits).get { bad($0) }
        let continuation = try tokenIds(request, "continuation_token_ids", limits).get { bad($0) }
        let topK = try positiveInt(request, "top_k").get { bad($0) }
        if topK > limits.vocabSize {
            throw bad("top_k: \(topK) exceeds the vocabulary (\(limits.vocabSize))")
        }
        try checkLength(prompt.count + continuation.count, limits).get { bad($0) }
        return .score(id: id, prompt: prompt, continuation: continuation, topK: topK)
    default:
        let op = request["op"].map { "\($0)" } ?? "nil"
        throw bad("op: unknown operation \(op) (expected generate, score or shutdown)")
    }
}

/// A field check: the value, or the message of a `bad_request`.
enum FieldResult<T> {
    case ok(T)
    case error(String)

    func get(_ toError: (String) -> BadRequest) throws -> T {
        switch self {
        case .ok(let value): return value
        case .error(let message): throw toError(message)
        }
    }
}

private func tokenIds(_ request: [String: Any], _ name: String, _ limits: Limits) -> FieldResult<[Int32]> {
    guard let items = request[name] as? [Any], !items.isEmpty else {
        return .error("\(name): must be a non-empty array of token ids")
    }
    var ids: [Int32] = []
    ids.reserveCapacity(items.count)
    for (i, item) in items.enumerated() {
        guard let token = JSONField.integer(item), token >= 0 else {
            return .error("\(name)[\(i)]: \(item) is not a non-negative integer")
        }
        if token >= limits.vocabSize {
            return .error("\(name)[\(i)]: \(token) is outside the vocabulary (\(limits.vocabSize))")
        }
        ids.append(Int32(token))
    }
    return .ok(ids)
}

private func positiveInt(_ request: [String: Any], _ name: String) -> FieldResult<Int> {
    guard let value = JSONField.integer(request[name]), value >= 1 else {
        return .error("\(name): must be an integer >= 1, got \(request[name].map { "\($0)" } ?? "nothing")")
    }
    return .ok(value)
}

private func checkLength(_ total: Int, _ limits: Limits) -> FieldResult<Void> {
    if total > limits.maxPositions {
        return .error("sequence of \(total) tokens exceeds max_position_embeddings (\(limits.maxPositions))")
    }
    return .ok(())
}

func errorReply(id: Int?, kind: String, message: String) -> JSON {
    .object([
        ("id", id.map { JSON.int($0) } ?? JSON.null),
        ("ok", .bool(false)),
        ("error", .object([("kind", .string(kind)), ("message", .string(message))])),
    ])
}

/// Peak resident set size of this process so far, bytes (`ru_maxrss` is bytes on macOS, KiB on Linux).
func peakRSSBytes() -> UInt64 {
    var usage = rusage()
    #if os(Linux)
        // Glibc imports RUSAGE_SELF as the enum __rusage_who but types getrusage's `who` as Int32.
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return UInt64(usage.ru_maxrss) * 1024
    #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return UInt64(usage.ru_maxrss)
    #endif
}

/// Writes protocol lines to the original stdout; everything else printed to fd 1 (MLX's own
/// messages, print()) goes to stderr so it cannot corrupt the protocol stream.
final class ProtocolOutput {
    private let handle: FileHandle

    init() {
        let protocolFd = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        handle = FileHandle(fileDescriptor: protocolFd, closeOnDealloc: false)
    }

    func send(_ value: JSON) {
        handle.write(Data((value.text + "\n").utf8))
    }
}

/// Serves requests from stdin until `shutdown` or end of input.
func serve(generator: Generator, limits: Limits, onDevice: Bool, output: ProtocolOutput) {
    while let line = readLine(strippingNewline: true) {
        if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
        let start = monotonicNanoseconds()
        let request: Request
        do {
            request = try parseRequest(line, limits: limits)
        } catch let bad as BadRequest {
            output.send(errorReply(id: bad.id, kind: "bad_request", message: bad.message))
            continue
        } catch {
            output.send(errorReply(id: nil, kind: "bad_request", message: "\(error)"))
            continue
        }
        switch request {
        case .shutdown(let id):
            output.send(.object([("id", .int(id)), ("ok", .bool(true)), ("op", .string("shutdown"))]))
            return
        case .generate(let id, let prompt, let maxNewTokens):
            do {
                // MLX errors (out of memory, a failed kernel) become Swift errors inside withError.
                let result = try withError { generator.generate(prompt: prompt, maxNewTokens: maxNewTokens, start: start) }
                let peakDevice: JSON = onDevice ? .int(Memory.peakMemory) : .null
                output.send(.object([
                    ("id", .int(id)), ("ok", .bool(true)), ("op", .string("generate")),
                    ("token_ids", .array(result.tokenIds.map { JSON.int($0) })),
                    ("token_times_ns", .array(result.tokenTimesNs.map { JSON.uint($0) })),
                    ("total_time_ns", .uint(monotonicNanoseconds() - start)),
                    ("peak_rss_bytes", .uint(peakRSSBytes())),
                    ("peak_device_bytes", peakDevice),
                ]))
            } catch {
                output.send(errorReply(id: id, kind: "internal", message: "\(error)"))
            }
        case .score(let id, let prompt, let continuation, let topK):
            do {
                let result = try withError { generator.score(prompt: prompt, continuation: continuation, topK: topK) }
                let allFinite = result.topK.allSatisfy { row in row.allSatisfy { $0.1.isFinite } }
                guard allFinite else {
                    output.send(errorReply(id: id, kind: "internal", message: "non-finite logits (overflow in this dtype?)"))
                    continue
                }
                output.send(.object([
                    ("id", .int(id)), ("ok", .bool(true)), ("op", .string("score")),
                    ("argmax_ids", .array(result.argmaxIds.map { JSON.int($0) })),
                    ("top_k", .array(result.topK.map { row -> JSON in
                        JSON.array(row.map { pair -> JSON in JSON.array([.int(pair.0), .double(Double(pair.1))]) })
                    })),
                ]))
            } catch {
                output.send(errorReply(id: id, kind: "internal", message: "\(error)"))
            }
        }
    }
}
