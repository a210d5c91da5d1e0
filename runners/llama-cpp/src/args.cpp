#include "args.h"

#include <stdexcept>

namespace qb {

namespace {

bool one_of(const std::string& value, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (value == a) return true;
  return false;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + ": missing value");
    const std::string value = argv[++i];
    if (flag == "--model") o.model_dir = value;
    else if (flag == "--dtype") o.dtype = value;
    else if (flag == "--device") o.device = value;
    else if (flag == "--gguf") o.gguf = value;
    else if (flag == "--type") o.type = value;
    else if (flag == "--sampling") o.sampling = value;
    else if (flag == "--flash-attn") o.flash_attn = value;
    else if (flag == "--threads") {
      try {
        o.threads = std::stoi(value);
      } catch (const std::exception&) {
        throw std::invalid_argument("--threads: expected an integer, got " + value);
      }
      if (o.threads < 0) throw std::invalid_argument("--threads: must be >= 0");
    } else throw std::invalid_argument(flag + ": unknown flag (--model --dtype --device --gguf --type --threads --sampling --flash-attn)");
  }
  if (o.model_dir.empty()) throw std::invalid_argument("--model: required");
  if (!one_of(o.dtype, {"f16", "bf16", "f32"})) throw std::invalid_argument("--dtype: must be f16, bf16 or f32, got '" + o.dtype + "'");
  if (!one_of(o.device, {"auto", "cpu", "gpu"})) throw std::invalid_argument("--device: must be auto, cpu or gpu, got '" + o.device + "'");
  if (o.gguf.empty()) throw std::invalid_argument("--gguf: required (the GGUF made from --model: bench/harness/setup/gguf-convert.ts)");
  if (o.type.empty()) o.type = o.dtype;
  if (!one_of(o.type, {"f32", "f16", "bf16", "q8_0", "q4_k_m"})) throw std::invalid_argument("--type: must be f32, f16, bf16, q8_0 or q4_k_m, got '" + o.type + "'");
  if (o.flash_attn.empty()) o.flash_attn = o.type == "f32" ? "off" : "auto";
  if (!one_of(o.flash_attn, {"auto", "on", "off"})) throw std::invalid_argument("--flash-attn: must be auto, on or off, got '" + o.flash_attn + "'");
  if (!one_of(o.sampling, {"backend", "host"})) throw std::invalid_argument("--sampling: must be backend or host, got '" + o.sampling + "'");
  return o;
}

}  // namespace qb
