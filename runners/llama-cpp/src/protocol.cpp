#include "protocol.h"

namespace qb {

namespace {

using nlohmann::json;

std::vector<int32_t> token_ids(const json& request, const char* name, int64_t id, const Limits& limits) {
  auto it = request.find(name);
  if (it == request.end() || !it->is_array() || it->empty())
    throw BadRequest(id, std::string(name) + ": must be a non-empty array of token ids");
  std::vector<int32_t> ids;
  ids.reserve(it->size());
  for (size_t i = 0; i < it->size(); i++) {
    const json& token = (*it)[i];
    const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    if (!token.is_number_integer() || token.get<int64_t>() < 0)
      throw BadRequest(id, field + ": " + token.dump() + " is not a non-negative integer");
    const int64_t value = token.get<int64_t>();
    if (value >= limits.vocab_size)
      throw BadRequest(id, field + ": " + std::to_string(value) + " is outside the vocabulary (" + std::to_string(limits.vocab_size) + ")");
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

int positive_int(const json& request, const char* name, int64_t id) {
  auto it = request.find(name);
  if (it == request.end() || !it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > INT32_MAX)
    throw BadRequest(id, std::string(name) + ": must be an integer >= 1, got " + (it == request.end() ? "nothing" : it->dump()));
  return static_cast<int>(it->get<int64_t>());
}

void check_length(size_t total, int64_t id, const Limits& limits) {
  if (static_cast<int64_t>(total) > limits.max_positions)
    throw BadRequest(id, "sequence of " + std::to_string(total) + " tokens exceeds max_position_embeddings (" + std::to_string(limits.max_positions) + ")");
}

}  // namespace

Request parse_request(const std::string& line, const Limits& limits) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::parse_error& e) {
    throw BadRequest(std::nullopt, std::string("malformed JSON: ") + e.what());
  }
  if (!request.is_object()) throw BadRequest(std::nullopt, "request must be a JSON object");
  auto id_field = request.find("id");
  if (id_field == request.end() || !id_field->is_number_integer()) throw BadRequest(std::nullopt, "id: must be an integer");
  Request r;
  r.id = id_field->get<int64_t>();
  auto op_field = request.find("op");
  const std::string op = op_field != request.end() && op_field->is_string() ? op_field->get<std::string>() : "";
  if (op == "shutdown") {
    r.op = Op::shutdown;
  } else if (op == "generate") {
    r.op = Op::generate;
    r.prompt = token_ids(request, "prompt_token_ids", r.id, limits);
    r.max_new_tokens = positive_int(request, "max_new_tokens", r.id);
    auto eos = request.find("ignore_eos");
    if (eos == request.end() || !eos->is_boolean() || !eos->get<bool>())
      throw BadRequest(r.id, "ignore_eos: must be true (the benchmark always generates exactly max_new_tokens)");
    check_length(r.prompt.size() + static_cast<size_t>(r.max_new_tokens), r.id, limits);
  } else if (op == "score") {
    r.op = Op::score;
    r.prompt = token_ids(request, "prompt_token_ids", r.id, limits);
    r.continuation = token_ids(request, "continuation_token_ids", r.id, limits);
    r.top_k = positive_int(request, "top_k", r.id);
    if (r.top_k > limits.vocab_size)
      throw BadRequest(r.id, "top_k: " + std::to_string(r.top_k) + " exceeds the vocabulary (" + std::to_string(limits.vocab_size) + ")");
    check_length(r.prompt.size() + r.continuation.size(), r.id, limits);
  } else {
    throw BadRequest(r.id, "op: unknown operation " + (op_field == request.end() ? std::string("(missing)") : op_field->dump()) + " (expected generate, score or shutdown)");
  }
  return r;
}

}  // namespace qb
