#pragma once

#include <string_view>

namespace vrp::quant {

// Outcome of a quant computation on market data. Bad data is data: functions return one of these
// instead of throwing, and callers keep the status next to the quote (STYLE.md "Errors").
enum class status {
  ok,
  invalid_input,    // NaN/Inf, non-positive price, forward, strike or time, unknown type
  below_intrinsic,  // option price below its intrinsic value: no volatility reproduces it
  above_maximum,    // option price at or above its upper bound (forward for calls, strike for puts)
  no_convergence,   // an iterative method did not reach its tolerance
  insufficient_data,  // too few points (strikes, sides, observations) for the requested fit
  degenerate,         // a fit produced parameters outside their admissible domain
};

constexpr std::string_view to_string(status s) {
  switch (s) {
    case status::ok:
      return "ok";
    case status::invalid_input:
      return "invalid_input";
    case status::below_intrinsic:
      return "below_intrinsic";
    case status::above_maximum:
      return "above_maximum";
    case status::no_convergence:
      return "no_convergence";
    case status::insufficient_data:
      return "insufficient_data";
    case status::degenerate:
      return "degenerate";
  }
  return "unknown";
}

enum class option_type { call, put };

// +1 for calls, -1 for puts (Jäckel's theta).
constexpr double sign(option_type type) {
  return type == option_type::call ? 1.0 : -1.0;
}

}  // namespace vrp::quant
