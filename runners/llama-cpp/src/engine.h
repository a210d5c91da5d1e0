// The model in llama.cpp: loads the GGUF, answers generate (greedy, argmax in llama.cpp's graph where
// the backend takes the sampler) and score (teacher-forced logits). Everything fixed for a run (device,
// threads, sampling path) is chosen once, in the constructor.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "args.h"

struct llama_model;
struct llama_context;
struct llama_sampler;
struct ggml_threadpool;

namespace qb {

/** The model cannot be loaded: becomes the `fatal` line of kind model. */
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** What the `ready` line says of the loaded model (runners/PROTOCOL.md, "Start-up"). */
struct LoadedModel {
  std::string backend;
  std::string device;
  int64_t parameter_count = 0;
  int64_t vocab_size = 0;
  int64_t max_positions = 0;
  std::vector<std::string> notes;
};

struct Generated {
  std::vector<int32_t> token_ids;
  /** Per token: nanoseconds from t0 to the moment its id was on the host. */
  std::vector<int64_t> token_times_ns;
};

struct Scored {
  std::vector<int32_t> argmax_ids;
  /** Per continuation position: top_k (id, logit) pairs, highest logit first. */
  std::vector<std::vector<std::pair<int32_t, float>>> top_k;
};

class Engine {
 public:
  /** Loads the GGUF; throws ModelError naming the file and the field or tensor. */
  explicit Engine(const Options& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const LoadedModel& loaded() const { return loaded_; }

  /** Greedy decoding of exactly max_new_tokens ids after one prefill of the whole prompt, in a fresh KV cache. */
  Generated generate(const std::vector<int32_t>& prompt, int max_new_tokens, int64_t t0_ns);

  /** One teacher-forced pass over prompt ++ continuation. */
  Scored score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& continuation, int top_k);

 private:
  /** (Re)creates the context for sequences of up to n_ctx tokens (a longer request grows it). */
  void make_context(uint32_t n_ctx);
  void ensure_context(size_t tokens);
  int32_t next_token();

  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  llama_sampler* greedy_ = nullptr;
  ggml_threadpool* threadpool_ = nullptr;
  uint32_t n_ctx_ = 0;
  int threads_ = 0;
  /** Set once at load: the argmax runs in llama.cpp's graph (backend sampler) or on the host. */
  bool backend_sampling_ = false;
  bool want_backend_sampling_ = true;
  /** K/V cache in f32 (an f32 GGUF) instead of llama.cpp's f16. */
  bool kv_f32_ = false;
  /** llama_flash_attn_type from --flash-attn. */
  int flash_attn_ = -1;
  LoadedModel loaded_;
};

}  // namespace qb
