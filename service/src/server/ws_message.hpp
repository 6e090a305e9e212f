#pragma once

// The client messages of /v1/stream (ARCHITECTURE.md §5.2), parsed without a connection:
//   {"op":"subscribe"|"unsubscribe","channels":["premium.BTC",...]} and {"op":"ping"}.
// ws_session acts on the result; the fuzz target (tests/fuzz/fuzz_ws_subscription.cpp) checks it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/server_state.hpp"

namespace vrp::service {

inline constexpr std::size_t max_channels_per_message = 64;

enum class ws_op : std::uint8_t { invalid, ping, subscribe, unsubscribe };

struct ws_request {
  ws_op op = ws_op::invalid;
  std::vector<std::size_t> channels;  // subscribe/unsubscribe: distinct channel indexes, in order
  std::string error_code;             // invalid: bad_request, unknown_op or unknown_channel
  std::string error_message;          // invalid: for the client; quotes at most a short prefix
};

// Parses one text message against the channels of `st`. Never throws (a message that does not
// parse is `invalid` with bad_request). The quoted client text is cut by bytes; render_error
// writes a cut UTF-8 sequence as U+FFFD, so the reply stays valid UTF-8.
ws_request parse_ws_message(const server_state& st, std::string_view text);

}  // namespace vrp::service
