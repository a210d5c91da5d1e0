// qwen3-bench's llama.cpp runner: runners/PROTOCOL.md over stdin/stdout (JSON Lines), the model in
// llama.cpp (engine.cpp), requests validated by protocol.cpp. Nothing but protocol lines reaches the
// real stdout: fd 1 is pointed at stderr before llama.cpp can print anything.
#include <cstdio>
#include <iostream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "args.h"
#include "engine.h"
#include "host.h"
#include "protocol.h"

using nlohmann::json;

namespace {

const int64_t PROCESS_START_NS = qb::now_ns();

/** The protocol stream: a copy of the original stdout, line-buffered by explicit flushes. */
FILE* protocol_out = nullptr;

void send(const json& message) {
  const std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  fwrite(line.data(), 1, line.size(), protocol_out);
  fflush(protocol_out);
}

json error_reply(const json& id, const char* kind, const std::string& message) {
  return {{"id", id}, {"ok", false}, {"error", {{"kind", kind}, {"message", message}}}};
}

json build_info() {
  json build = {{"profile", "release"}, {"built_at", QB_BUILT_AT}, {"dirty", QB_DIRTY != 0}};
  if (std::string(QB_COMMIT).size()) build["commit"] = QB_COMMIT;
  json features = json::array();
  std::string csv = QB_BUILD_FEATURES;
  for (size_t start = 0; start < csv.size();) {
    size_t end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    if (end > start) features.push_back(csv.substr(start, end - start));
    start = end + 1;
  }
  build["features"] = features;
  return build;
}

json ready_line(const qb::LoadedModel& m, const qb::Options& o) {
  return {{"op", "ready"},
          {"protocol_version", 1},
          {"framework", "llama-cpp"},
          {"framework_version", QB_LLAMA_CPP_VERSION},
          {"backend", m.backend},
          {"device", m.device},
          {"dtype", o.dtype},
          {"parameter_count", m.parameter_count},
          {"load_time_ms", static_cast<double>(qb::now_ns() - PROCESS_START_NS) / 1e6},
          {"fusion", nullptr},
          {"autotune", nullptr},
          {"notes", m.notes},
          {"build", build_info()}};
}

json serve(qb::Engine& engine, const qb::Request& r, int64_t t0) {
  if (r.op == qb::Op::generate) {
    qb::Generated g = engine.generate(r.prompt, r.max_new_tokens, t0);
    return {{"id", r.id},
            {"ok", true},
            {"op", "generate"},
            {"token_ids", g.token_ids},
            {"token_times_ns", g.token_times_ns},
            {"peak_rss_bytes", qb::peak_rss_bytes()},
            {"peak_device_bytes", nullptr},
            {"total_time_ns", qb::now_ns() - t0}};
  }
  qb::Scored s = engine.score(r.prompt, r.continuation, r.top_k);
  json top_k = json::array();
  for (const auto& row : s.top_k) {
    json pairs = json::array();
    for (const auto& [id, logit] : row) pairs.push_back({id, logit});
    top_k.push_back(pairs);
  }
  return {{"id", r.id}, {"ok", true}, {"op", "score"}, {"argmax_ids", s.argmax_ids}, {"top_k", top_k}};
}

}  // namespace

int main(int argc, char** argv) {
  protocol_out = fdopen(dup(STDOUT_FILENO), "w");
  dup2(STDERR_FILENO, STDOUT_FILENO);

  qb::Options options;
  try {
    options = qb::parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "usage: qwen3-bench-llama-cpp --model DIR --dtype f16|bf16|f32 --gguf FILE [--type T] [--device auto|cpu|gpu] [--threads N] [--sampling backend|host]\n";
    send({{"op", "fatal"}, {"error", {{"kind", "model"}, {"message", e.what()}}}});
    return 2;
  }
  std::unique_ptr<qb::Engine> engine;
  try {
    engine = std::make_unique<qb::Engine>(options);
  } catch (const std::exception& e) {
    send({{"op", "fatal"}, {"error", {{"kind", "model"}, {"message", e.what()}}}});
    return 1;
  }
  const qb::LoadedModel& model = engine->loaded();
  send(ready_line(model, options));
  const qb::Limits limits{model.vocab_size, model.max_positions};

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const int64_t t0 = qb::now_ns();
    json id = nullptr;
    try {
      const qb::Request request = qb::parse_request(line, limits);
      id = request.id;
      if (request.op == qb::Op::shutdown) {
        send({{"id", request.id}, {"ok", true}, {"op", "shutdown"}});
        return 0;
      }
      send(serve(*engine, request, t0));
    } catch (const qb::BadRequest& e) {
      send(error_reply(e.id ? json(*e.id) : json(nullptr), "bad_request", e.what()));
    } catch (const std::exception& e) {
      send(error_reply(id, "internal", e.what()));
    }
  }
  return 0;
}
