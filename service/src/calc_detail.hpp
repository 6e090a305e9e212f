#pragma once

// Private helpers shared by the calculator's op files: request field access with the error codes
// of ARCHITECTURE.md §5.1. A failure throws calc_error, which calc_line turns into `ok:false`.

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vrp/quant/status.hpp"
#include "vrp/service/json_writer.hpp"

namespace vrp::service::detail {

using nlohmann::json;

// A request that cannot be answered; caught at the line boundary and turned into `ok:false`.
struct calc_error {
  std::string code;
  std::string message;
};

[[noreturn]] inline void fail(std::string code, std::string message) {
  throw calc_error{std::move(code), std::move(message)};
}

[[noreturn]] inline void fail(quant::status s, const std::string& what) {
  fail(std::string(quant::to_string(s)), what);
}

inline const json& field(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) fail("invalid_input", std::string("missing field '") + key + "'");
  return *it;
}

inline double as_number(const json& v, const std::string& name) {
  if (!v.is_number()) fail("invalid_input", "field '" + name + "' must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) fail("invalid_input", "field '" + name + "' must be finite");
  return x;
}

inline double number(const json& obj, const char* key) {
  return as_number(field(obj, key), key);
}

inline double number_or(const json& obj, const char* key, double fallback) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? fallback : as_number(*it, key);
}

inline std::optional<double> optional_number(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  return as_number(*it, key);
}

inline quant::option_type option_type_of(const json& obj, const char* key = "type") {
  const json& v = field(obj, key);
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "call") return quant::option_type::call;
    if (s == "put") return quant::option_type::put;
  }
  fail("invalid_input", std::string("field '") + key + "' must be \"call\" or \"put\"");
}

inline std::vector<double> number_array(const json& obj, const char* key, bool required = true) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) fail("invalid_input", std::string("missing field '") + key + "'");
    return {};
  }
  if (!it->is_array()) fail("invalid_input", std::string("field '") + key + "' must be an array");
  std::vector<double> out;
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    out.push_back(as_number((*it)[i], std::string(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

using op_fn = void (*)(const json&, json_writer&);

// Forecasting ops (calc_forecast.cpp).
void op_realized_vol(const json& in, json_writer& out);
void op_garch_fit(const json& in, json_writer& out);
void op_garch_forecast(const json& in, json_writer& out);
void op_har_fit(const json& in, json_writer& out);

}  // namespace vrp::service::detail
