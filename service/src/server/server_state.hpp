#pragma once

// Private state of the API server, shared by the acceptor, the HTTP sessions and the WebSocket
// sessions. Everything but the atomics is touched on the io thread only.

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/service/api_server.hpp"
#include "vrp/service/premium_history.hpp"

namespace vrp::service {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

// Endpoints as counted in vrp_http_requests_total{endpoint=...}.
enum class endpoint_id : std::uint8_t {
  healthz,
  readyz,
  metrics,
  premium,
  surface,
  forecast,
  history,
  stream,
  other,
};
inline constexpr std::size_t endpoint_count = 9;
inline constexpr std::size_t code_class_count = 5;  // 1xx .. 5xx

// Channels of one underlying; channel index = underlying index * channel_kinds + kind.
enum class channel_kind : std::uint8_t { premium, surface, forecast };
inline constexpr std::size_t channel_kinds = 3;

// One rendered stream frame, shared by every subscriber of its channel.
struct stream_frame {
  std::string text;
  std::uint64_t seq = 0;
  std::int64_t recv_ns = 0;  // of the snapshot, for tick-to-publish
};

// What the server can close on stop().
class server_connection {
 public:
  virtual ~server_connection() = default;
  virtual void on_server_stop() = 0;
};

// A WebSocket subscriber as the fan-out sees it.
class stream_subscriber {
 public:
  virtual ~stream_subscriber() = default;
  virtual void push_frame(std::size_t channel, const std::shared_ptr<const stream_frame>& f) = 0;
};

struct server_metrics {
  std::array<std::array<core::metric_counter*, code_class_count>, endpoint_count> http{};
  core::metric_gauge* connections_open = nullptr;
  core::metric_gauge* ws_sessions = nullptr;
  core::metric_gauge* ws_subscribers = nullptr;
  core::metric_counter* ws_frames_sent = nullptr;
  core::metric_counter* ws_conflated = nullptr;
  core::metric_counter* ws_slow_disconnects = nullptr;
  core::metric_counter* ws_client_errors = nullptr;
  core::metric_counter* connections_refused = nullptr;
  core::metric_counter* tls_handshake_failures = nullptr;
  core::metric_counter* fanouts = nullptr;
  core::metric_histogram* tick_to_publish = nullptr;
};

struct server_state : std::enable_shared_from_this<server_state> {
  server_state(asio::io_context& io, api_server_config cfg, core::metrics_registry& registry,
               premium_history& history);

  asio::io_context& io;
  const api_server_config cfg;
  core::metrics_registry& registry;
  premium_history& history;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  const steady::time_point started_at;
  server_metrics m;
  std::optional<asio::ssl::context> ssl;  // set by start() when TLS is configured

  // Cross-thread.
  std::atomic<std::shared_ptr<const engine::snapshot>> latest;
  std::atomic<bool> notify_pending{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<bool> ready_flag{false};

  // io thread only.
  bool stopped = false;
  std::vector<std::string> channel_names;                                   // "premium.BTC", ...
  std::vector<std::shared_ptr<const engine::underlying_snapshot>> current;  // per underlying
  std::vector<bool> ever_complete;                                          // per underlying
  std::vector<std::vector<stream_subscriber*>> subscribers;                 // per channel
  std::vector<std::shared_ptr<const stream_frame>> cached;                  // per channel
  std::vector<stream_subscriber*> fanout_scratch;
  std::unordered_set<server_connection*> connections;
  std::size_t open_connections = 0;
  std::unordered_map<std::string, std::size_t> per_address;

  // Index of a configured underlying, or -1.
  int underlying_index(std::string_view name) const;
  // Index of a channel name, or -1.
  int channel_index(std::string_view name) const;

  // Runs the fan-out now when a notification is pending, so that an HTTP answer or a new
  // subscription never sees an older snapshot than one already published.
  void sync();
  void on_notify();
  void fan_out();
  // The frame of `channel` for the current snapshot (cached or rendered now), null before the
  // first snapshot of its underlying.
  std::shared_ptr<const stream_frame> frame_for(std::size_t channel);

  // Readiness: every configured underlying has had a complete snapshot. `waiting` (optional)
  // receives the others.
  bool ready(std::vector<std::string>* waiting = nullptr) const;

  void count_http(endpoint_id e, unsigned status);

  void do_accept();
  void do_stop();
};

// Accounting of one accepted connection (total and per address), released on destruction. Moves
// from the HTTP session to the WebSocket session on upgrade.
class connection_slot {
 public:
  connection_slot() = default;
  connection_slot(std::shared_ptr<server_state> st, std::string address);
  connection_slot(connection_slot&& o) noexcept = default;
  connection_slot& operator=(connection_slot&& o) noexcept;
  ~connection_slot();
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;

 private:
  void release();
  std::shared_ptr<server_state> st_;
  std::string address_;
};

// Starts serving an accepted connection (HTTP first; a WebSocket upgrade moves it on).
void run_http_session(std::shared_ptr<server_state> st, tcp::socket socket, connection_slot slot);

// Writes a 503 and closes: the connection limits were reached.
void refuse_connection(std::shared_ptr<server_state> st, tcp::socket socket);

}  // namespace vrp::service
