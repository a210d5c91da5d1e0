import Foundation

/// A start-up or request failure with the protocol's error kind (`model`, `internal`, `bad_request`).
struct RunnerError: Error, CustomStringConvertible {
    let kind: String
    let message: String

    static func model(_ message: String) -> RunnerError { RunnerError(kind: "model", message: message) }
    static func internalError(_ message: String) -> RunnerError { RunnerError(kind: "internal", message: message) }

    var description: String { message }
}

/// Qwen3 hyper-parameters, decoded field for field from the checkpoint's `config.json`
/// (as mlx-lm's `ModelArgs`). Fields the runner does not use are ignored.
struct Qwen3Config: Decodable {
    let vocabSize: Int
    let hiddenSize: Int
    let intermediateSize: Int
    let numHiddenLayers: Int
    let numAttentionHeads: Int
    let numKeyValueHeads: Int
    /// Per-head width; for Qwen3 it is *not* hiddenSize / numAttentionHeads in general.
    let headDim: Int
    let ropeTheta: Double
    let rmsNormEps: Double
    let maxPositionEmbeddings: Int
    /// Hugging Face's default for Qwen3Config is false (untied `lm_head`).
    let tieWordEmbeddings: Bool

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case ropeTheta = "rope_theta"
        case rmsNormEps = "rms_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decode(Int.self, forKey: .numKeyValueHeads)
        headDim = try c.decode(Int.self, forKey: .headDim)
        ropeTheta = try c.decode(Double.self, forKey: .ropeTheta)
        rmsNormEps = try c.decode(Double.self, forKey: .rmsNormEps)
        maxPositionEmbeddings = try c.decode(Int.self, forKey: .maxPositionEmbeddings)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
    }

    /// Reads and checks `DIR/config.json`; errors name the file and the field.
    static func load(modelDir: URL) throws -> Qwen3Config {
        let url = modelDir.appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RunnerError.model("config.json: cannot read \(url.path): \(error.localizedDescription)")
        }
        let config: Qwen3Config
        do {
            config = try JSONDecoder().decode(Qwen3Config.self, from: data)
        } catch let error as DecodingError {
            throw RunnerError.model("config.json: \(describe(error))")
        }
        try config.validate()
        return config
    }

    private func validate() throws {
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
            ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim),
            ("max_position_embeddings", maxPositionEmbeddings),
        ]
        for (field, value) in positive where value <= 0 {
            throw RunnerError.model("config.json: \(field) must be positive, got \(value)")
        }
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw RunnerError.model(
                "config.json: num_attention_heads (\(numAttentionHeads)) is not a multiple of num_key_value_heads (\(numKeyValueHeads))")
        }
        if headDim % 2 != 0 {
            throw RunnerError.model("config.json: head_dim (\(headDim)) must be even for RoPE")
        }
    }
}

/// "missing field head_dim" rather than Foundation's debug description.
private func describe(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, _):
        return "missing field \(key.stringValue)"
    case .typeMismatch(let type, let context):
        return "field \(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type)"
    case .valueNotFound(let type, let context):
        return "field \(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type), found null"
    case .dataCorrupted(let context):
        return "not valid JSON (\(context.debugDescription))"
    @unknown default:
        return "\(error)"
    }
}
