#pragma once

// Helpers shared by the codec tests: padded frames (the codec reads required_padding() bytes past
// the end), a sink that records events, and the Deribit reference messages.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace vrp::test::codec {

inline std::string deribit_dir() {
  return std::string(VRP_TEST_DATA_DIR) + "/protocols/deribit/";
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// A frame copied into a buffer with the codec's padding after it. The padding byte is a parameter
// so tests can put adversarial bytes (like '}') right after the frame, as a reused read buffer
// would.
class padded_frame {
 public:
  explicit padded_frame(std::string_view text, char fill = ' ')
      : buf_(text.size() + vrp::feeds::deribit::required_padding(), fill), size_(text.size()) {
    for (std::size_t i = 0; i < text.size(); ++i) buf_[i] = text[i];
  }
  std::string_view view() const { return {buf_.data(), size_}; }

 private:
  std::vector<char> buf_;
  std::size_t size_;
};

class recording_sink : public vrp::core::event_sink {
 public:
  void push(const vrp::core::event& e) override { events.push_back(e); }
  std::vector<vrp::core::event> events;
};

// Decodes `text` (padded) into `sink`.
inline vrp::feeds::deribit::frame_info decode(vrp::feeds::deribit::codec& c, std::string_view text,
                                              vrp::core::event_sink& sink,
                                              std::int64_t recv_ns = 42, char fill = ' ') {
  padded_frame f(text, fill);
  return c.decode(f.view(), recv_ns, sink);
}

// The standard subscription envelope around a docs `data` fragment.
inline std::string wrap(std::string_view channel, std::string_view data_json) {
  std::string s = R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":")";
  s += channel;
  s += R"(","data":)";
  s += data_json;
  s += "}}";
  return s;
}

// Same-or-both-NaN comparison with a relative tolerance (the codec and the test compute the same
// product of two doubles, so they agree to the last bit; 1e-15 leaves room for reassociation).
inline ::testing::AssertionResult same_number(double expected, double actual) {
  if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
  if (std::isnan(expected) != std::isnan(actual) ||
      std::fabs(expected - actual) > 1e-15 * std::fabs(expected)) {
    return ::testing::AssertionFailure() << "expected " << expected << ", got " << actual;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace vrp::test::codec
