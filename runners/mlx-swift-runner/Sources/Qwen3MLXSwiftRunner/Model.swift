import Foundation
import MLX
import MLXNN

// Qwen3 on MLX's own ops, after mlx-lm's models/qwen3.py and mlx-swift-lm's
// Libraries/MLXLLM/Models/Qwen3.swift. Weights stay as the checkpoint stores them (`[out, in]`);
// a projection is `matmul(x, w.T)`, exactly what MLXNN.Linear does.

struct Attention {
    let qProj, kProj, vProj, oProj: MLXArray
    /// Per-head RMSNorm weights, `[head_dim]`.
    let qNorm, kNorm: MLXArray
}

struct Mlp {
    let gateProj, upProj, downProj: MLXArray
}

struct TransformerBlock {
    let selfAttn: Attention
    let mlp: Mlp
    let inputLayernorm, postAttentionLayernorm: MLXArray
}

final class Qwen3Model {
    let config: Qwen3Config
    let dtype: DType
    let embedTokens: MLXArray
    let layers: [TransformerBlock]
    let norm: MLXArray
    /// nil when the embeddings are tied: the LM head is then `embed_tokens`.
    let lmHead: MLXArray?
    /// Parameters loaded, tied embeddings counted once.
    private(set) var parameterCount = 0

    private let eps: Float
    private let ropeBase: Float
    private let scale: Float

    /// Looks every tensor up under its checkpoint name and checks its shape.
    init(config: Qwen3Config, checkpoint: Checkpoint, dtype: DType) throws {
        self.config = config
        self.dtype = dtype
        let (hidden, heads, kvHeads, headDim) = (config.hiddenSize, config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let tensor = { (name: String, shape: [Int]) in try checkpoint.tensor(name, shape: shape, dtype: dtype) }

        embedTokens = try tensor("model.embed_tokens.weight", [config.vocabSize, hidden])
        layers = try (0 ..< config.numHiddenLayers).map { i -> TransformerBlock in
            let p = "model.layers.\(i)"
            return TransformerBlock(
                selfAttn: Attention(
                    qProj: try tensor("\(p).self_attn.q_proj.weight", [heads * headDim, hidden]),
                    kProj: try tensor("\(p).self_attn.k_proj.weight", [kvHeads * headDim, hidden]),
                    vProj: try tensor("\(p).self_attn.v_proj.weight", [kvHeads * headDim, hidden]),
                    oProj: try tensor("\(p).self_attn.o_proj.weight", [hidden, heads * headDim]),
                    qNorm: try tensor("\(p).self_attn.q_norm.weight", [headDim]),
                    kNorm: try tensor("\(p).self_attn.k_norm.weight", [headDim])),
                mlp: Mlp(
                    gateProj: try tensor("\(p).mlp.gate_proj.weight", [config.intermediateSize, hidden]),
                    upProj: try tensor("\(p).mlp.up_proj.weight", [config.intermediateSize, hidden]),
                    downProj: try tensor("\(p).mlp.down_proj.weight", [hidden, config.intermediateSize])),
                inputLayernorm: try tensor("\(p).input_layernorm.weight", [hidden]),
                postAttentionLayernorm: try tensor("\(p).post_attention_layernorm.weight", [hidden]))
        }
        norm = try tensor("model.norm.weight", [hidden])
        // A tied checkpoint may still carry lm_head.weight; like mlx-lm, it is not used then.
        lmHead = try config.tieWordEmbeddings ? nil : tensor("lm_head.weight", [config.vocabSize, hidden])

        eps = Float(config.rmsNormEps)
        ropeBase = Float(config.ropeTheta)
        scale = 1 / Float(headDim).squareRoot()
        parameterCount = weights.reduce(0) { $0 + $1.size }
    }

    /// Every weight array, for `eval` after loading.
    var weights: [MLXArray] {
        var all = [embedTokens, norm] + (lmHead.map { [$0] } ?? [])
        for block in layers {
            let a = block.selfAttn
            all += [a.qProj, a.kProj, a.vProj, a.oProj, a.qNorm, a.kNorm]
            all += [block.mlp.gateProj, block.mlp.upProj, block.mlp.downProj]
            all += [block.inputLayernorm, block.postAttentionLayernorm]
        }
        return all
    }

    /// Final hidden states `[1, L, hidden]` for token ids `[1, L]`; appends L positions to `cache`.
    func hiddenStates(_ tokens: MLXArray, cache: KVCache) -> MLXArray {
        let length = tokens.dim(1)
        // A fresh cache is filled in one pass (prefill): causal mask. One new token attends to all.
        let mask: MLXFast.ScaledDotProductAttentionMaskMode = length > 1 ? .causal : .none
        var h = embedTokens.take(tokens, axis: 0)
        for (i, block) in layers.enumerated() {
            h = h + attention(block.selfAttn, MLXFast.rmsNorm(h, weight: block.inputLayernorm, eps: eps), layer: i, cache: cache, mask: mask)
            h = h + mlp(block.mlp, MLXFast.rmsNorm(h, weight: block.postAttentionLayernorm, eps: eps))
        }
        cache.offset += length
        return MLXFast.rmsNorm(h, weight: norm, eps: eps)
    }

    /// Logits `[..., vocab]` from hidden states.
    func logits(_ hidden: MLXArray) -> MLXArray {
        matmul(hidden, (lmHead ?? embedTokens).T)
    }

    private func attention(_ a: Attention, _ x: MLXArray, layer: Int, cache: KVCache, mask: MLXFast.ScaledDotProductAttentionMaskMode) -> MLXArray {
        let (batch, length) = (x.dim(0), x.dim(1))
        let (heads, kvHeads, headDim) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        // q/k RMSNorm per head before RoPE, as Qwen3 does.
        var queries = MLXFast.rmsNorm(matmul(x, a.qProj.T).reshaped(batch, length, heads, headDim), weight: a.qNorm, eps: eps)
            .transposed(0, 2, 1, 3)
        var keys = MLXFast.rmsNorm(matmul(x, a.kProj.T).reshaped(batch, length, kvHeads, headDim), weight: a.kNorm, eps: eps)
            .transposed(0, 2, 1, 3)
        let values = matmul(x, a.vProj.T).reshaped(batch, length, kvHeads, headDim).transposed(0, 2, 1, 3)

        // Non-interleaved RoPE (rotate_half), positions continuing from the cache.
        queries = MLXFast.RoPE(queries, dimensions: headDim, traditional: false, base: ropeBase, scale: 1, offset: cache.offset)
        keys = MLXFast.RoPE(keys, dimensions: headDim, traditional: false, base: ropeBase, scale: 1, offset: cache.offset)

        let (allKeys, allValues) = cache.update(layer: layer, keys: keys, values: values)
        // Grouped-query attention: the kernel takes K/V with kv_heads heads, no repeat.
        let output = MLXFast.scaledDotProductAttention(
            queries: queries, keys: allKeys, values: allValues, scale: scale, mask: mask)
        return matmul(output.transposed(0, 2, 1, 3).reshaped(batch, length, heads * headDim), a.oProj.T)
    }

    private func mlp(_ m: Mlp, _ x: MLXArray) -> MLXArray {
        matmul(swish(matmul(x, m.gateProj.T)) * matmul(x, m.upProj.T), m.downProj.T)
    }
}

/// SiLU. On macOS MLXNN's `silu`, an MLX-compiled function as mlx-lm's `nn.silu`. On Linux the
/// same formula uncompiled: MLX's CPU backend compiles a fused function by writing C++ and running
/// the system compiler at run time, and on x86-64 that source does not build ("'float16_t' has not
/// been declared"), so the first forward pass would fail.
private func swish(_ x: MLXArray) -> MLXArray {
    #if os(Linux)
        return x * sigmoid(x)
    #else
        return silu(x)
    #endif
}

/// Keys and values of every layer, `[1, kv_heads, capacity, head_dim]`, allocated once per request
/// for `prompt + new tokens` positions and written in place (as MLXLMCommon's KVCacheSimple does
/// within one 256-step block). A fresh cache per request: nothing is reused across requests.
final class KVCache {
    private var keys: [MLXArray]
    private var values: [MLXArray]
    /// Positions already written (the same for every layer once a forward pass is done).
    var offset = 0

    init(config: Qwen3Config, capacity: Int, dtype: DType) {
        let shape = [1, config.numKeyValueHeads, capacity, config.headDim]
        keys = (0 ..< config.numHiddenLayers).map { _ in MLXArray.zeros(shape, dtype: dtype) }
        values = (0 ..< config.numHiddenLayers).map { _ in MLXArray.zeros(shape, dtype: dtype) }
    }

    /// Writes this step's keys/values at `offset` and returns everything written so far.
    func update(layer: Int, keys newKeys: MLXArray, values newValues: MLXArray) -> (MLXArray, MLXArray) {
        let end = offset + newKeys.dim(2)
        keys[layer][.ellipsis, offset ..< end, 0...] = newKeys
        values[layer][.ellipsis, offset ..< end, 0...] = newValues
        return (keys[layer][.ellipsis, ..<end, 0...], values[layer][.ellipsis, ..<end, 0...])
    }
}
