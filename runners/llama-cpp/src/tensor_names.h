// GGUF tensor names back to the checkpoint's (Hugging Face) names, so a load error names the tensor
// the way the model folder does (runners/PROTOCOL.md: the fatal message names the tensor).
#pragma once

#include <string>

namespace qb {

/** `blk.3.ffn_up.weight` → `model.layers.3.mlp.up_proj.weight`; names it does not know come back as they are. */
std::string checkpoint_name(const std::string& gguf_name);

/** Every GGUF tensor name in `text` (quoted or not) followed by its checkpoint name in brackets. */
std::string with_checkpoint_names(const std::string& text);

}  // namespace qb
