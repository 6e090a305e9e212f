// libFuzzer target: one line of `vrpctl calc` (service::calc_line), the JSON-lines calculator.
//
// Invariants (ARCHITECTURE.md §5.1): calc_line never throws; the reply is one line of valid JSON
// (valid UTF-8 included) holding an object with a boolean "ok"; a failure carries
// error{code, message} with a snake_case code; a success names the op it answered; an "id" in the
// request comes back unchanged.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_support.hpp"
#include "vrp/service/calc.hpp"

namespace {

bool snake_case(const std::string& s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = vrp::fuzz::as_text(data, size);
  const std::string reply = vrp::service::calc_line(line);
  VRP_FUZZ_CHECK(reply.find('\n') == std::string::npos);
  const auto doc = nlohmann::json::parse(reply, nullptr, false);
  VRP_FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
  VRP_FUZZ_CHECK(doc.contains("ok") && doc["ok"].is_boolean());
  if (!doc["ok"].get<bool>()) {
    VRP_FUZZ_CHECK(doc.contains("error") && doc["error"].is_object());
    const auto& err = doc["error"];
    VRP_FUZZ_CHECK(err.contains("code") && err["code"].is_string());
    VRP_FUZZ_CHECK(snake_case(err["code"].get<std::string>()));
    VRP_FUZZ_CHECK(err.contains("message") && err["message"].is_string());
    return 0;
  }
  VRP_FUZZ_CHECK(doc.contains("op") && doc["op"].is_string());
  const auto request = nlohmann::json::parse(line, nullptr, false);
  VRP_FUZZ_CHECK(!request.is_discarded() && request.is_object());
  VRP_FUZZ_CHECK(request["op"] == doc["op"]);
  if (request.contains("id")) VRP_FUZZ_CHECK(doc.contains("id") && doc["id"] == request["id"]);
  return 0;
}
