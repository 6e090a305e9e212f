#pragma once

// The Deribit JSON-RPC API as the replay exchange serves it, without I/O: one deribit_endpoint per
// connection turns a client text frame into exactly one reply frame and keeps that connection's
// subscriptions and heartbeat setting. Shapes follow the real and docs messages in
// shared/protocols/deribit: responses carry jsonrpc, id, result, usIn, usOut, usDiff and
// testnet:false; errors carry error:{code,message[,data]} and no id when the request had none.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "vrp/feeds/replay/recording.hpp"

namespace vrp::feeds::replay {

// Deribit error codes the replay sends (shared/protocols/deribit/error_codes.json).
namespace rpc_code {
inline constexpr int too_many_requests = 10028;
inline constexpr int system_maintenance = 11051;
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;  // also "request entity too large"
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
}  // namespace rpc_code

// True for a syntactically valid public Deribit channel name (ticker.X.100ms, book.X.raw,
// book.X.none.10.100ms, trades.option.BTC.raw, markprice.options.btc_usd, platform_state, ...).
bool is_valid_channel(std::string_view channel);

// Frame builders. `id_json` is the request's id as JSON text; empty means "no id".
std::string rpc_result_frame(std::string_view id_json, std::string_view result_json,
                             std::int64_t us_in, std::int64_t us_out);
std::string rpc_error_frame(std::string_view id_json, int code, std::string_view message,
                            std::string_view data_json, std::int64_t us_in, std::int64_t us_out);

// The JSON array answering public/get_instruments for `currency` ("any" or empty: all) and
// `kind` (empty: all), from the recording's canned or derived answers.
std::string instruments_result(const recording& rec, std::string_view currency,
                               std::string_view kind);

// The get_tradingview_chart_data result for [start_ms, end_ms] (both inclusive); status
// "no_data" with empty arrays when the recording has no bar in range.
std::string chart_result(const recording& rec, std::string_view instrument,
                         std::string_view resolution, std::int64_t start_ms, std::int64_t end_ms);

struct api_options {
  int min_heartbeat_s = 10;                    // public/set_heartbeat floor
  std::size_t max_channels_per_request = 250;  // more: -32600 "request entity too large"
  std::string version = "1.2.26";              // public/test answer
};

// What a request changed, for the server to act on.
struct request_effects {
  bool subscribed = false;         // at least one channel was (re)subscribed
  bool heartbeat_changed = false;  // set_heartbeat or disable_heartbeat succeeded
  bool test_answer = false;        // a public/test request arrived
};

class deribit_endpoint {
 public:
  deribit_endpoint(const recording& rec, api_options opt);

  // Handles one client text frame and writes the reply frame into `reply` (replaced). While
  // `maintenance` is set every request is answered with 11051 system_maintenance.
  request_effects handle(std::string_view request, std::int64_t us_in, std::int64_t us_out,
                         bool maintenance, std::string& reply);

  bool subscribed(std::uint32_t channel_id) const {
    return channel_id < recorded_.size() && recorded_[channel_id];
  }
  std::size_t subscription_count() const { return recorded_count_ + other_.size(); }
  std::vector<std::string> subscriptions() const;                     // sorted
  int heartbeat_interval_s() const { return heartbeat_interval_s_; }  // 0: off

  // The exchange clock public/get_time reports: the recording time at the session's playback head
  // (a replay lives in the recorded market's time, so a client that asks for history "up to now"
  // gets the history that precedes the replayed data). 0: the wall clock.
  void set_clock_ms(std::int64_t ms) { clock_ms_ = ms; }

 private:
  // The channels actually (un)subscribed, in request order without repeats, as a JSON array.
  std::string apply_subscription(const std::vector<std::string>& channels, bool subscribe,
                                 request_effects& fx);

  const recording* rec_;
  api_options opt_;
  std::vector<bool> recorded_;  // by channel_id of the recording
  std::size_t recorded_count_ = 0;
  std::unordered_set<std::string> other_;  // valid channels the recording has no frame for
  int heartbeat_interval_s_ = 0;
  std::int64_t clock_ms_ = 0;
};

}  // namespace vrp::feeds::replay
