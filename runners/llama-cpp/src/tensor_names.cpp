#include "tensor_names.h"

#include <regex>
#include <utility>

namespace qb {

namespace {

// llama.cpp's Qwen3 tensor names (src/llama-arch.cpp, LLM_ARCH_QWEN3) and the checkpoint's.
const std::pair<const char*, const char*> LAYER_PARTS[] = {
    {"attn_norm", "input_layernorm"},     {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
    {"attn_q", "self_attn.q_proj"},       {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},  {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},        {"ffn_up", "mlp.up_proj"},           {"ffn_down", "mlp.down_proj"},
};
const std::pair<const char*, const char*> MODEL_PARTS[] = {
    {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"},
};

const std::regex GGUF_NAME(R"((blk\.(\d+)\.([a-z_]+)|token_embd|output_norm|output)\.(weight|bias))");

}  // namespace

std::string checkpoint_name(const std::string& gguf_name) {
  std::smatch m;
  if (!std::regex_match(gguf_name, m, GGUF_NAME)) return gguf_name;
  const std::string suffix = "." + m[4].str();
  if (m[2].matched) {
    for (const auto& [gguf, hf] : LAYER_PARTS)
      if (m[3] == gguf) return "model.layers." + m[2].str() + "." + hf + suffix;
    return gguf_name;
  }
  for (const auto& [gguf, hf] : MODEL_PARTS)
    if (m[1] == gguf) return hf + suffix;
  return gguf_name;
}

std::string with_checkpoint_names(const std::string& text) {
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), GGUF_NAME);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const size_t end = static_cast<size_t>(m.position(0) + m.length(0));
    out += text.substr(last, end - last);
    const std::string hf = checkpoint_name(m.str(0));
    if (hf != m.str(0)) out += " (" + hf + ")";
    last = end;
  }
  return out + text.substr(last);
}

}  // namespace qb
