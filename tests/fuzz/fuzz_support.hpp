#pragma once

// Shared helpers of the libFuzzer targets: invariant checks that abort with a message (libFuzzer
// then saves the input as a crash), a padded copy of the input for simdjson, and line splitting.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace vrp::fuzz {

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, what);
  std::abort();
}

// Checked in every build type (NDEBUG or not): a violated invariant is a finding.
#define VRP_FUZZ_CHECK(cond)                                               \
  do {                                                                     \
    if (!(cond)) ::vrp::fuzz::invariant_failed(#cond, __FILE__, __LINE__); \
  } while (false)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// NaN (the "not sent" marker of the events) or a finite number.
inline bool finite_or_missing(double x) {
  return std::isnan(x) || std::isfinite(x);
}

// NaN or a finite number >= 0 (prices, amounts).
inline bool non_negative_or_missing(double x) {
  return std::isnan(x) || (std::isfinite(x) && x >= 0.0);
}

// A copy of one frame followed by `padding` readable bytes, reused across frames (the codec's
// contract: the session reads into a buffer with that slack).
class padded_frame {
 public:
  explicit padded_frame(std::size_t padding) : padding_(padding) {}

  std::string_view assign(std::string_view text) {
    buffer_.assign(text.size() + padding_, ' ');
    buffer_.replace(0, text.size(), text);
    return {buffer_.data(), text.size()};
  }

 private:
  std::size_t padding_;
  std::string buffer_;
};

// The input's lines (without '\n'); the last one may be empty.
inline std::vector<std::string_view> split_lines(std::string_view text, std::size_t max_lines) {
  std::vector<std::string_view> out;
  while (out.size() < max_lines) {
    const std::size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace vrp::fuzz
