// The runner's command line (runners/PROTOCOL.md, "Command line", plus this runner's own flags).
#pragma once

#include <string>

namespace qb {

struct Options {
  /** Hugging Face-layout model folder the GGUF was made from (config.json, safetensors). */
  std::string model_dir;
  /** f16, bf16 or f32: the GGUF's unquantized type, or the one a quantized GGUF was made from. */
  std::string dtype;
  /** auto (a GPU backend where one was built and found, else the CPU), cpu or gpu. */
  std::string device = "auto";
  /** The GGUF file to load (made by bench/harness/setup/gguf-convert.ts). */
  std::string gguf;
  /** GGUF weight type of that file: f32, f16, bf16, q8_0, q4_k_m. */
  std::string type;
  /** CPU threads; 0: llama-bench's default (the physical cores). */
  int threads = 0;
  /**
   * Flash attention, as llama-bench's -fa: auto, on or off. Default: auto (llama-bench's), except
   * for an f32 GGUF: off, since the CPU's flash attention computes in f16 (f32 means f32 throughout).
   */
  std::string flash_attn;
  /** Argmax in llama.cpp's graph (backend, default) or on the host from the logits (host). */
  std::string sampling = "backend";
};

/** Parses argv; throws std::invalid_argument naming the flag. */
Options parse_options(int argc, char** argv);

}  // namespace qb
