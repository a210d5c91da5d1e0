// Request parsing and validation of runners/PROTOCOL.md: every rule of its "Errors" table becomes a
// BadRequest naming the field. The engine only ever sees requests that passed.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qb {

/** A request the runner cannot serve: answered with kind bad_request; `id` is null where the id itself was bad. */
struct BadRequest : std::runtime_error {
  std::optional<int64_t> id;
  BadRequest(std::optional<int64_t> id_, const std::string& message) : std::runtime_error(message), id(id_) {}
};

enum class Op { generate, score, shutdown };

struct Request {
  int64_t id = 0;
  Op op = Op::shutdown;
  std::vector<int32_t> prompt;
  /** score only. */
  std::vector<int32_t> continuation;
  /** generate only. */
  int max_new_tokens = 0;
  /** score only. */
  int top_k = 0;
};

/** What validation needs to know of the model. */
struct Limits {
  int64_t vocab_size;
  int64_t max_positions;
};

/** Parses and validates one request line; throws BadRequest. */
Request parse_request(const std::string& line, const Limits& limits);

}  // namespace qb
