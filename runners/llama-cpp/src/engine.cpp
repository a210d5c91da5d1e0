#include "engine.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "host.h"
#include "llama.h"
#include "tensor_names.h"

namespace qb {

namespace fs = std::filesystem;

namespace {

/** The first context holds this many positions (or max_position_embeddings, if fewer); a longer request grows it. */
constexpr uint32_t INITIAL_CONTEXT = 4096;
/** Sequence ids: generate's carries the greedy backend sampler; score's has none, so its logits come back. */
constexpr llama_seq_id GENERATE_SEQ = 0;
constexpr llama_seq_id SCORE_SEQ = 1;

/**
 * llama.cpp's log lines go to stderr (never stdout); its errors are kept for the fatal message, and
 * ggml-vulkan's line per device (features the build and driver give it: fp16, int dot, matrix cores)
 * for ready.notes, since which shaders a Vulkan run takes depends on them.
 */
struct LogCapture {
  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::string> vulkan_devices;
};
LogCapture log_capture;

std::string trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

void log_to_stderr(ggml_log_level level, const char* text, void*) {
  fputs(text, stderr);
  const std::string line = trimmed(text);
  if (level == GGML_LOG_LEVEL_ERROR && !line.empty()) {
    std::lock_guard<std::mutex> lock(log_capture.mutex);
    log_capture.errors.push_back(line);
  }
  if (line.rfind("ggml_vulkan: ", 0) == 0 && line.find(" | matrix cores: ") != std::string::npos) {
    std::lock_guard<std::mutex> lock(log_capture.mutex);
    log_capture.vulkan_devices.push_back(line);
  }
}

std::string captured_errors() {
  std::lock_guard<std::mutex> lock(log_capture.mutex);
  std::string out;
  for (const auto& e : log_capture.errors) out += (out.empty() ? "" : "; ") + e;
  log_capture.errors.clear();
  return out;
}

/** The model folder must hold what the GGUF was made from; a folder without weights is named as such. */
void check_model_dir(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw ModelError(dir.string() + ": not a directory (--model)");
  if (!fs::exists(dir / "config.json")) throw ModelError((dir / "config.json").string() + ": missing");
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json"))
    throw ModelError((dir / "model.safetensors").string() + ": missing (no model.safetensors or model.safetensors.index.json in the model folder)");
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

/** The GGUF must exist; where its conversion failed, the converter's message (FILE.error) says why. */
void check_gguf(const fs::path& gguf) {
  if (fs::exists(gguf)) return;
  const fs::path error = gguf.string() + ".error";
  if (fs::exists(error)) throw ModelError(gguf.string() + ": not made: " + read_text(error));
  throw ModelError(gguf.string() + ": missing (made by `npx qwen3-bench setup` or the harness: bench/harness/setup/gguf-convert.ts)");
}

/** The notes of the GGUF's provenance file (FILE.json, written beside it when it was made). */
std::vector<std::string> provenance_notes(const fs::path& gguf, const std::string& type) {
  const fs::path sidecar = gguf.string() + ".json";
  if (!fs::exists(sidecar)) return {"GGUF " + type + " " + gguf.filename().string() + ": no provenance file (" + sidecar.filename().string() + ")"};
  try {
    const auto p = nlohmann::json::parse(read_text(sidecar));
    std::vector<std::string> notes = {"GGUF " + type + " sha256 " + p.at("sha256").get<std::string>()};
    notes.push_back("GGUF made by " + p.at("made_by").get<std::string>());
    return notes;
  } catch (const std::exception& e) {
    throw ModelError(sidecar.string() + ": " + e.what());
  }
}

/** The first GPU-like device llama.cpp's backends found, or null. */
ggml_backend_dev_t find_gpu() {
  for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    const auto type = ggml_backend_dev_type(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) return dev;
  }
  return nullptr;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Engine::Engine(const Options& options) {
  llama_log_set(log_to_stderr, nullptr);
  check_model_dir(options.model_dir);
  check_gguf(options.gguf);
  llama_backend_init();

  ggml_backend_dev_t gpu = options.device == "cpu" ? nullptr : find_gpu();
  if (options.device == "gpu" && !gpu) throw ModelError("--device gpu: this llama.cpp build found no GPU device (built for the CPU only, or no driver)");
  static ggml_backend_dev_t no_devices[] = {nullptr};
  llama_model_params mparams = llama_model_default_params();
  if (gpu) {
    mparams.n_gpu_layers = -1;  // every layer on the GPU, as llama-bench's default (-ngl 99)
    loaded_.backend = lower(ggml_backend_reg_name(ggml_backend_dev_backend_reg(gpu)));
    loaded_.device = ggml_backend_dev_description(gpu);
  } else {
    mparams.n_gpu_layers = 0;
    mparams.devices = no_devices;  // no offload of large products to a GPU either
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    loaded_.backend = "cpu";
    loaded_.device = cpu ? ggml_backend_dev_description(cpu) : "CPU";
  }

  model_ = llama_model_load_from_file(options.gguf.c_str(), mparams);
  if (!model_) {
    const std::string why = captured_errors();
    throw ModelError(options.gguf + ": " + (why.empty() ? "llama.cpp could not load it" : with_checkpoint_names(why)));
  }
  const llama_vocab* vocab = llama_model_get_vocab(model_);
  loaded_.vocab_size = llama_vocab_n_tokens(vocab);
  loaded_.max_positions = llama_model_n_ctx_train(model_);
  loaded_.parameter_count = static_cast<int64_t>(llama_model_n_params(model_));

  threads_ = options.threads > 0 ? options.threads : common_cpu_get_num_math();
  ggml_threadpool_params tpp = ggml_threadpool_params_default(threads_);
  tpp.poll = 50;  // llama-bench's default --poll
  threadpool_ = ggml_threadpool_new(&tpp);
  if (!threadpool_) throw ModelError("ggml_threadpool_new failed for " + std::to_string(threads_) + " threads");

  want_backend_sampling_ = options.sampling == "backend";
  kv_f32_ = options.type == "f32";
  flash_attn_ = options.flash_attn == "on" ? LLAMA_FLASH_ATTN_TYPE_ENABLED : options.flash_attn == "off" ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_AUTO;
  make_context(std::min<uint32_t>(INITIAL_CONTEXT, static_cast<uint32_t>(loaded_.max_positions)));
  // Warm-up (one generate), which also shows whether the backend took the greedy sampler: if it
  // produced no token, the context is made again without it and the argmax runs on the host.
  const std::vector<int32_t> warmup = {0, 1, 2, 3};
  if (want_backend_sampling_) {
    backend_sampling_ = true;
    llama_memory_clear(llama_get_memory(ctx_), true);
    std::vector<int32_t> tokens = warmup;
    if (llama_decode(ctx_, llama_batch_get_one(tokens.data(), static_cast<int32_t>(tokens.size()))) != 0)
      throw ModelError(options.gguf + ": warm-up decode failed: " + captured_errors());
    if (llama_get_sampled_token_ith(ctx_, -1) == LLAMA_TOKEN_NULL) {
      want_backend_sampling_ = false;
      make_context(n_ctx_);
    }
  }
  backend_sampling_ = want_backend_sampling_;
  generate(warmup, 2, now_ns());

  loaded_.notes = provenance_notes(options.gguf, options.type);
  loaded_.notes.push_back(backend_sampling_
                              ? "argmax in llama.cpp's graph on " + loaded_.backend + " (backend sampler: llama_sampler_init_greedy); only the token id is read back"
                              : std::string("argmax on the host over the logits (") + (options.sampling == "host" ? "--sampling host" : "the backend did not take the greedy sampler") + ")");
  if (loaded_.backend == "vulkan") {
    std::lock_guard<std::mutex> lock(log_capture.mutex);
    for (const auto& device : log_capture.vulkan_devices) loaded_.notes.push_back(device);
  }
  if (loaded_.backend == "cpu")
    loaded_.notes.push_back(std::to_string(threads_) + " threads (" + (options.threads > 0 ? "--threads" : "llama-bench's default: the physical cores") + "), poll 50");
  loaded_.notes.push_back(std::string("llama-bench's context settings: n_ubatch 512, flash attention " + options.flash_attn + ", KV cache ") + (kv_f32_ ? "f32 (an f32 model: f32 throughout; llama-bench's defaults are f16 and flash attention auto)" : "f16") + "; prompt in one llama_decode");
}

Engine::~Engine() {
  if (ctx_) llama_free(ctx_);
  if (greedy_) llama_sampler_free(greedy_);
  if (model_) llama_model_free(model_);
  if (threadpool_) ggml_threadpool_free(threadpool_);
}

void Engine::make_context(uint32_t n_ctx) {
  if (ctx_) llama_free(ctx_);
  if (greedy_) llama_sampler_free(greedy_);
  ctx_ = nullptr;
  greedy_ = nullptr;
  llama_context_params cparams = llama_context_default_params();
  cparams.n_ctx = n_ctx;
  cparams.n_batch = n_ctx;  // the whole prompt (or scored sequence) is one llama_decode
  cparams.n_seq_max = 2;    // GENERATE_SEQ and SCORE_SEQ, one at a time
  cparams.kv_unified = true;
  cparams.n_threads = threads_;
  cparams.n_threads_batch = threads_;
  cparams.no_perf = true;
  // llama.cpp keeps K and V in f16 by default (llama-bench too) and its CPU flash attention computes
  // in f16: an f32 model keeps them in f32 with flash attention off (args.cpp), so "f32" means f32
  // throughout. With either in f16, the tiny model's greedy tokens left the transformers goldens on
  // the 529-token prompt at token 13 (top-3 logits off by 5.7e-4; 3.6e-7 with both in f32).
  if (kv_f32_) cparams.type_k = cparams.type_v = GGML_TYPE_F32;
  cparams.flash_attn_type = static_cast<llama_flash_attn_type>(flash_attn_);
  llama_sampler_seq_config sampler_config{};
  if (want_backend_sampling_) {
    greedy_ = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(greedy_, llama_sampler_init_greedy());
    sampler_config = {GENERATE_SEQ, greedy_};
    cparams.samplers = &sampler_config;
    cparams.n_samplers = 1;
  }
  ctx_ = llama_init_from_model(model_, cparams);
  if (!ctx_) throw ModelError("llama_init_from_model failed for a context of " + std::to_string(n_ctx) + " positions: " + captured_errors());
  llama_attach_threadpool(ctx_, threadpool_, nullptr);
  n_ctx_ = n_ctx;
}

void Engine::ensure_context(size_t tokens) {
  if (tokens <= n_ctx_) return;
  uint32_t n = n_ctx_;
  while (n < tokens) n *= 2;
  make_context(std::min<uint32_t>(n, static_cast<uint32_t>(loaded_.max_positions)));
}

int32_t Engine::next_token() {
  if (backend_sampling_) {
    const llama_token token = llama_get_sampled_token_ith(ctx_, -1);
    if (token == LLAMA_TOKEN_NULL) throw std::runtime_error("llama_get_sampled_token_ith: no sampled token");
    return token;
  }
  const float* logits = llama_get_logits_ith(ctx_, -1);
  if (!logits) throw std::runtime_error("llama_get_logits_ith: no logits");
  return static_cast<int32_t>(std::max_element(logits, logits + loaded_.vocab_size) - logits);
}

Generated Engine::generate(const std::vector<int32_t>& prompt, int max_new_tokens, int64_t t0_ns) {
  ensure_context(prompt.size() + static_cast<size_t>(max_new_tokens));
  llama_memory_clear(llama_get_memory(ctx_), true);
  Generated out;
  out.token_ids.reserve(static_cast<size_t>(max_new_tokens));
  out.token_times_ns.reserve(static_cast<size_t>(max_new_tokens));
  std::vector<int32_t> tokens = prompt;
  // llama_batch_get_one: sequence GENERATE_SEQ (0), positions from the cache, output at the last token.
  if (llama_decode(ctx_, llama_batch_get_one(tokens.data(), static_cast<int32_t>(tokens.size()))) != 0)
    throw std::runtime_error("llama_decode (prefill of " + std::to_string(prompt.size()) + " tokens) failed: " + captured_errors());
  int32_t token = next_token();
  out.token_ids.push_back(token);
  out.token_times_ns.push_back(now_ns() - t0_ns);
  for (int i = 1; i < max_new_tokens; i++) {
    if (llama_decode(ctx_, llama_batch_get_one(&token, 1)) != 0)
      throw std::runtime_error("llama_decode (step " + std::to_string(i) + ") failed: " + captured_errors());
    token = next_token();
    out.token_ids.push_back(token);
    out.token_times_ns.push_back(now_ns() - t0_ns);
  }
  return out;
}

Scored Engine::score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& continuation, int top_k) {
  const size_t total = prompt.size() + continuation.size();
  ensure_context(total);
  llama_memory_clear(llama_get_memory(ctx_), true);
  llama_batch batch = llama_batch_init(static_cast<int32_t>(total), 0, 1);
  const size_t first_output = prompt.size() - 1;
  for (size_t i = 0; i < total; i++) {
    batch.token[i] = i < prompt.size() ? prompt[i] : continuation[i - prompt.size()];
    batch.pos[i] = static_cast<llama_pos>(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = SCORE_SEQ;
    // Position p's logits predict token p + 1: the continuation's are at prompt.size() - 1 + i.
    batch.logits[i] = i >= first_output && i < first_output + continuation.size();
  }
  batch.n_tokens = static_cast<int32_t>(total);
  const int status = llama_decode(ctx_, batch);
  llama_batch_free(batch);
  if (status != 0) throw std::runtime_error("llama_decode (score of " + std::to_string(total) + " tokens) failed: " + captured_errors());

  Scored out;
  std::vector<int32_t> ids(static_cast<size_t>(loaded_.vocab_size));
  for (size_t i = 0; i < continuation.size(); i++) {
    const float* logits = llama_get_logits_ith(ctx_, static_cast<int32_t>(first_output + i));
    if (!logits) throw std::runtime_error("llama_get_logits_ith(" + std::to_string(first_output + i) + "): no logits");
    for (size_t v = 0; v < ids.size(); v++) ids[v] = static_cast<int32_t>(v);
    // Highest logit first; equal logits by the lower id, as an argmax takes the first maximum.
    std::partial_sort(ids.begin(), ids.begin() + top_k, ids.end(), [logits](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<std::pair<int32_t, float>> row;
    for (int k = 0; k < top_k; k++) row.emplace_back(ids[static_cast<size_t>(k)], logits[ids[static_cast<size_t>(k)]]);
    out.argmax_ids.push_back(row[0].first);
    out.top_k.push_back(std::move(row));
  }
  return out;
}

}  // namespace qb
