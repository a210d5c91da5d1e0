import Foundation
import MLX

/// The checkpoint's tensors under their own names (Hugging Face layout: `model.safetensors`, or
/// shards listed in `model.safetensors.index.json`), each with the file it came from so errors
/// can name it. MLX reads safetensors lazily; nothing is copied until the model is evaluated.
struct Checkpoint {
    private var tensors: [String: (file: String, array: MLXArray)] = [:]
    /// Where a missing tensor should have been: the single file or the index.
    private let layoutFile: String

    init(modelDir: URL) throws {
        let fileManager = FileManager.default
        let indexURL = modelDir.appendingPathComponent("model.safetensors.index.json")
        let files: [String]
        if fileManager.fileExists(atPath: indexURL.path) {
            layoutFile = "model.safetensors.index.json"
            files = try Checkpoint.shardFiles(indexURL: indexURL)
        } else if fileManager.fileExists(atPath: modelDir.appendingPathComponent("model.safetensors").path) {
            layoutFile = "model.safetensors"
            files = ["model.safetensors"]
        } else {
            throw RunnerError.model(
                "model.safetensors: not found in \(modelDir.path) (nor model.safetensors.index.json)")
        }
        for file in files {
            let url = modelDir.appendingPathComponent(file)
            let arrays: [String: MLXArray]
            do {
                arrays = try withError { try loadArrays(url: url) }
            } catch {
                throw RunnerError.model("\(file): cannot read safetensors: \(error)")
            }
            for (name, array) in arrays {
                tensors[name] = (file, array)
            }
        }
    }

    /// The shard files named by the index's `weight_map`, in a stable order.
    private static func shardFiles(indexURL: URL) throws -> [String] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL))
        } catch {
            throw RunnerError.model("model.safetensors.index.json: \(error.localizedDescription)")
        }
        guard let index = object as? [String: Any], let weightMap = index["weight_map"] as? [String: String] else {
            throw RunnerError.model("model.safetensors.index.json: weight_map: expected an object of tensor name to file")
        }
        return Array(Set(weightMap.values)).sorted()
    }

    func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor `name`, checked against `shape`, converted to `dtype` (lazily).
    func tensor(_ name: String, shape: [Int], dtype: DType) throws -> MLXArray {
        guard let entry = tensors[name] else {
            throw RunnerError.model("\(layoutFile): tensor \(name): missing")
        }
        let (file, array) = entry
        guard array.shape == shape else {
            throw RunnerError.model("\(file): tensor \(name): expected shape \(shape), found \(array.shape)")
        }
        guard [DType.float32, .float16, .bfloat16].contains(array.dtype) else {
            throw RunnerError.model("\(file): tensor \(name): dtype \(array.dtype) is not f32, f16 or bf16")
        }
        return array.dtype == dtype ? array : array.asType(dtype)
    }
}
