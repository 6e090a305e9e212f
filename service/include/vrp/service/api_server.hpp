#pragma once

// The vrpd API server (ARCHITECTURE.md §5.2): HTTP and WebSocket on one port, plus the publisher
// that fans engine snapshots out to WebSocket subscribers.
//
// Threads (ARCHITECTURE.md §3): everything runs on the io_context given to the constructor (one
// thread), except publish(), stop() and stats(), which any thread may call. publish() only stores
// the snapshot and posts at most one pending notification, so a fast engine never floods the
// server: the fan-out sees the newest snapshot and skips any it never saw (the seq gap tells
// subscribers).
//
// Lifetime: the metrics registry and the history must outlive the io_context's last handler
// (destroy or finish running the io_context first).

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/service/premium_history.hpp"

namespace boost::asio {
class io_context;
}

namespace vrp::service {

struct api_server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;             // 0: any free port
  std::vector<std::string> underlyings;  // served, and required by /readyz
  std::size_t max_connections = 256;     // HTTP and WebSocket together
  std::size_t max_connections_per_address = 64;
  std::size_t max_subscriptions_per_client = 16;
  // Frames waiting per subscriber (the frame being written not included). When full, a new frame
  // replaces the newest waiting frame of its channel; a channel with nothing waiting still gets
  // its slot, so the hard bound is subscriber_queue + subscriptions.
  std::size_t subscriber_queue = 64;
  // A subscriber whose oldest unsent message waited this long is disconnected.
  std::chrono::milliseconds slow_consumer_timeout{5000};
  std::size_t max_request_bytes = 16384;     // HTTP body (413 above)
  std::size_t max_header_bytes = 8192;       // HTTP request line and headers (431 above)
  std::size_t ws_max_message_bytes = 65536;  // client WebSocket messages (close 1009 above)
  std::chrono::seconds idle_timeout{60};     // HTTP keep-alive and WebSocket (with pings)
  // Empty: no authentication. Otherwise every HTTP request but /healthz, and the WebSocket
  // upgrade, need `Authorization: Bearer <token>`.
  std::string token;
  // Both set: the port speaks TLS only (HTTPS and WSS), with this PEM certificate chain (leaf
  // first) and its unencrypted PEM key; both empty: plain HTTP and WebSocket.
  std::string tls_cert_file;
  std::string tls_key_file;
  int ws_send_buffer_bytes = 0;  // SO_SNDBUF of WebSocket sockets; 0: the OS default
};

// Counters for tests and logs (relaxed reads of values written on the io thread).
struct server_stats {
  std::uint64_t published = 0;  // publish() calls
  std::uint64_t fanouts = 0;    // underlying updates fanned out (one per changed seq)
  std::uint64_t http_requests = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t connections_open = 0;  // HTTP and WebSocket
  std::uint64_t ws_sessions = 0;       // open WebSocket sessions
  std::uint64_t ws_subscribers = 0;    // sessions with at least one subscription
  std::uint64_t ws_frames_sent = 0;
  std::uint64_t ws_conflated = 0;
  std::uint64_t ws_slow_disconnects = 0;
  std::uint64_t ws_client_errors = 0;  // error replies to client messages
  bool ready = false;
};

struct server_state;

class api_server {
 public:
  // Registers the server's metrics in `metrics`.
  api_server(boost::asio::io_context& io, api_server_config cfg, core::metrics_registry& metrics,
             premium_history& history);
  ~api_server();  // stop()
  api_server(const api_server&) = delete;
  api_server& operator=(const api_server&) = delete;

  // Binds and listens; returns the bound endpoint. Throws std::system_error when the address is
  // invalid or cannot be bound, std::runtime_error when the TLS certificate or key cannot be
  // loaded (startup errors). Call once, before the io thread runs handlers.
  boost::asio::ip::tcp::endpoint start();

  // Graceful stop, from any thread: closes the acceptor, sends WebSocket close frames (going
  // away), closes HTTP connections after their current response. Idempotent.
  void stop();

  // From any thread (the engine's): keeps `s` as the latest snapshot and wakes the io thread.
  // Called on the io thread itself (the engine sharing it), the fan-out runs before it returns.
  void publish(std::shared_ptr<const engine::snapshot> s);

  server_stats stats() const;

 private:
  std::shared_ptr<server_state> state_;
};

}  // namespace vrp::service
