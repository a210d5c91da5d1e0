import Dispatch
import Foundation
import MLX

/// Nanoseconds on a monotonic clock (DispatchTime: mach absolute time on macOS, CLOCK_MONOTONIC on Linux).
func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Greedy decoding and teacher-forced scoring on a loaded model.
struct Generator {
    let model: Qwen3Model
    /// true: compute token i+1's graph and `asyncEval` it before reading token i back, as mlx-lm's
    /// generate_step (and MLXLMCommon's TokenIterator) do; false: `eval` then read, one at a time.
    let pipelined: Bool

    /// The argmax token of the last position, `[1, 1]`, as a lazy array.
    private func nextToken(_ tokens: MLXArray, cache: KVCache) -> MLXArray {
        let hidden = model.hiddenStates(tokens, cache: cache)
        let length = hidden.dim(1)
        return argMax(model.logits(hidden[.ellipsis, (length - 1)..., 0...]), axis: -1)
    }

    /// Exactly `maxNewTokens` greedy tokens (EOS ignored) and, per token, nanoseconds from `start`
    /// to the moment its id was on the host.
    func generate(prompt: [Int32], maxNewTokens: Int, start: UInt64) -> (tokenIds: [Int], tokenTimesNs: [UInt64]) {
        let cache = KVCache(config: model.config, capacity: prompt.count + maxNewTokens, dtype: model.dtype)
        var tokenIds: [Int] = []
        var times: [UInt64] = []
        tokenIds.reserveCapacity(maxNewTokens)
        times.reserveCapacity(maxNewTokens)

        // Prefill: the whole prompt in one forward pass.
        var token = nextToken(MLXArray(prompt, [1, prompt.count]), cache: cache)
        if pipelined { asyncEval([token]) }
        for i in 0 ..< maxNewTokens {
            var next: MLXArray? = nil
            if pipelined && i + 1 < maxNewTokens {
                next = nextToken(token, cache: cache)
                asyncEval([next!])
            }
            // item() evaluates (if needed) and copies the 4-byte id to the host.
            tokenIds.append(Int(token.item(Int32.self)))
            times.append(monotonicNanoseconds() - start)
            if i + 1 < maxNewTokens {
                token = next ?? nextToken(token, cache: cache)
            }
        }
        return (tokenIds, times)
    }

    /// One forward pass over `prompt ++ continuation[..-1]`; per continuation position the argmax
    /// and the top-k (id, logit) pairs of the logits that predict it, highest first.
    func score(prompt: [Int32], continuation: [Int32], topK: Int) -> (argmaxIds: [Int], topK: [[(Int, Float)]]) {
        let tokens = prompt + continuation.dropLast()
        let cache = KVCache(config: model.config, capacity: tokens.count, dtype: model.dtype)
        let hidden = model.hiddenStates(MLXArray(tokens, [1, tokens.count]), cache: cache)
        let logits = model.logits(hidden[.ellipsis, (prompt.count - 1)..., 0...])[0].asType(.float32)
        let order = argSort(-logits, axis: -1)[0..., ..<topK]
        let values = takeAlong(logits, order, axis: -1)
        let argmax = argMax(logits, axis: -1)
        eval(order, values, argmax)

        let ids = order.asArray(Int32.self)
        let logitValues = values.asArray(Float.self)
        let rows = continuation.count
        let pairs = (0 ..< rows).map { row in
            (0 ..< topK).map { k in (Int(ids[row * topK + k]), logitValues[row * topK + k]) }
        }
        return (argmax.asArray(Int32.self).map { Int($0) }, pairs)
    }
}
