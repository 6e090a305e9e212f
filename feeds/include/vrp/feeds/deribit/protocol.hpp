#pragma once

// The Deribit market-data protocol without I/O: what to send on connect, how to answer each frame,
// when to re-discover instruments. The transport (ws_session) calls it; tests drive it directly
// with recorded frames. JSON-RPC 2.0 over WebSocket as in shared/protocols/README.md §1:
//   on open: public/set_heartbeat, then public/get_instruments per currency and kind;
//   on instruments: intern them, subscribe in chunks of <= max_channels_per_request to
//     ticker.{option}.{interval}, ticker.{perpetual}.{interval}, deribit_price_index.{index},
//     deribit_volatility_index.{index}, markprice.options.{index}; check each result (a channel
//     left out of `result` is reported);
//   heartbeat test_request -> public/test; error codes mapped to actions (rate limit -> back off,
//     maintenance -> chain_event and wait, bad request -> report);
//   periodic re-discovery: new instruments subscribed, vanished ones reported as expired.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace vrp::feeds::deribit {

struct protocol_config {
  std::vector<std::string> currencies{"BTC", "ETH"};
  std::string ticker_interval = "100ms";
  int heartbeat_interval_s = 10;               // Deribit's minimum is 10 (shorter: tests)
  std::size_t max_channels_per_request = 250;  // Deribit rejects much larger subscribes
  bool subscribe_options = true;
  bool subscribe_perpetual = true;
  bool subscribe_price_index = true;
  bool subscribe_dvol = true;
  bool subscribe_markprice = true;
  bool subscribe_platform_state = true;  // where Deribit announces maintenance
  std::chrono::seconds rediscover_every{600};
  std::chrono::seconds request_timeout{10};           // an unanswered request: reconnect
  std::chrono::milliseconds rate_limit_delay{5'000};  // first wait after 10028, doubled on repeats
  std::chrono::milliseconds max_rate_limit_delay{300'000};
  std::chrono::milliseconds maintenance_delay{30'000};  // wait after a maintenance notice
};

// Where the protocol writes requests (the session).
class outbox {
 public:
  virtual ~outbox() = default;
  virtual bool send(std::string_view text) = 0;
};

enum class session_action : std::uint8_t {
  none,
  reconnect,              // drop and reconnect with the normal backoff
  reconnect_after_delay,  // drop and reconnect, waiting at least `delay` (rate limit, maintenance)
};

struct frame_verdict {
  bool data = false;  // market data (feeds the watchdog)
  session_action action = session_action::none;
  std::chrono::milliseconds delay{0};
};

enum class protocol_state : std::uint8_t {
  disconnected,
  discovering,  // waiting for get_instruments answers
  subscribing,  // subscribe requests in flight
  live,         // every channel subscribed
  maintenance,  // the venue announced maintenance
};
std::string_view protocol_state_name(protocol_state s);

struct protocol_stats {
  std::uint64_t requests_sent = 0;
  std::uint64_t subscribe_requests = 0;
  std::uint64_t channels_requested = 0;
  std::uint64_t channels_confirmed = 0;
  std::uint64_t channels_missing = 0;  // requested but left out of a subscribe result
  std::uint64_t test_requests_answered = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t error_responses = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t maintenance = 0;
  std::uint64_t request_timeouts = 0;
  std::uint64_t instruments_listed = 0;
  std::uint64_t instruments_expired = 0;
  std::uint64_t malformed_frames = 0;
  std::int64_t last_error_code = 0;
  std::uint64_t unsubscribe_requests = 0;
  std::uint64_t unmatched_responses = 0;   // a response whose id matches no pending request
  std::uint64_t chunks_split = 0;          // subscribe chunks retried in halves (too large)
  std::uint64_t interval_fallbacks = 0;    // 13778: ticker interval fell back to 100ms
  std::uint64_t instruments_rejected = 0;  // get_instruments entries that could not be interned
};

class protocol {
 public:
  // `sink` receives the decoded market events and the chain events (listed/expired/maintenance/
  // feed_down/feed_up). The codec is owned by the caller (one per session).
  protocol(protocol_config config, codec& codec, core::instrument_table& instruments,
           core::event_sink& sink);
  ~protocol();
  protocol(const protocol&) = delete;
  protocol& operator=(const protocol&) = delete;

  void on_open(std::int64_t now_ns, outbox& out);
  // `text` carries the codec's padding (see codec::decode).
  frame_verdict on_frame(std::string_view text, std::int64_t recv_ns, outbox& out);
  // Call about once a second: request timeouts, periodic re-discovery.
  frame_verdict on_timer(std::int64_t now_ns, outbox& out);
  void on_close(std::int64_t now_ns);

  protocol_state state() const;
  const protocol_stats& stats() const;
  // The channels subscribed on the current connection (confirmed by the venue).
  std::size_t live_channels() const;
  // The channels the protocol wants on every connection (after discovery).
  std::size_t wanted_channels() const;
  // Channels left out of a subscribe result (or refused) on the current connection.
  const std::vector<std::string>& missing_channels() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vrp::feeds::deribit
