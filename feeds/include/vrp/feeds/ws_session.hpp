#pragma once

// One client WebSocket connection to a venue, kept alive forever: resolve, TCP connect, TLS
// handshake (SNI, peer verification against the system CA store or a given CA file), WebSocket
// handshake, read loop, bounded write queue. On any failure it waits (exponential backoff with
// jitter and a cap, reset after a healthy period) and connects again. A staleness watchdog
// reconnects when no *data* frame (as reported by the handler) has arrived for `stale_after`.
// Plain ws:// is accepted for loopback tests. All methods and callbacks run on the io_context's
// thread; stop() may be called from any thread (it posts).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace boost::asio {
class io_context;
}

namespace vrp::feeds {

struct ws_url {
  bool tls = false;
  std::string host;
  std::string port;    // "443" / "80" when the URL has none
  std::string target;  // path and query, "/" when empty
};
// Parses ws://host[:port]/path and wss://...; false for anything else.
bool parse_ws_url(std::string_view url, ws_url& out);

struct ws_session_config {
  std::string url;                                     // ws:// or wss://
  std::string ca_file;                                 // empty: the system CA store
  std::chrono::milliseconds connect_timeout{5'000};    // resolve + TCP connect
  std::chrono::milliseconds handshake_timeout{5'000};  // TLS + WebSocket handshakes
  std::chrono::milliseconds stale_after{15'000};       // no data frame for this long: reconnect
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30'000};
  double backoff_jitter = 0.2;                      // +- this fraction of the delay
  std::chrono::milliseconds healthy_after{60'000};  // connected this long: backoff resets
  std::size_t max_message_bytes = 16U << 20;        // larger frames are an error (counted)
  std::size_t max_queued_writes = 1'024;            // bounded write queue
  std::uint64_t jitter_seed = 0;                    // 0: seeded from the clock
};

enum class close_reason : std::uint8_t {
  none,
  stopped,  // stop() was called
  resolve_failed,
  connect_failed,
  connect_timeout,
  tls_failed,        // includes certificate verification and host-name mismatch
  handshake_failed,  // WebSocket upgrade refused or timed out
  read_failed,       // peer closed or the connection broke
  write_failed,
  stale,  // watchdog: no data frame for stale_after
  message_too_big,
  requested,  // the handler asked for a reconnect
};
std::string_view close_reason_name(close_reason r);

struct ws_session_stats {
  std::uint64_t connects = 0;         // successful WebSocket handshakes
  std::uint64_t disconnects = 0;      // connections lost after a successful handshake
  std::uint64_t failed_attempts = 0;  // attempts that never reached the handshake
  std::uint64_t stale_reconnects = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t write_queue_drops = 0;
  std::uint64_t oversized = 0;
  close_reason last_close = close_reason::none;
};

class ws_session;

class ws_handler {
 public:
  virtual ~ws_handler() = default;
  // The WebSocket handshake completed; the handler sends its requests (subscribe etc.) now.
  virtual void on_open(ws_session& session) = 0;
  // One text frame. `text.data()` is readable for text.size() + 64 bytes (simdjson padding) and
  // valid only during the call. Return true when the frame was market data (feeds the watchdog).
  virtual bool on_frame(ws_session& session, std::string_view text, std::int64_t recv_ns) = 0;
  // The connection ended (also when it never opened); a reconnect follows unless stopped.
  virtual void on_close(ws_session& session, close_reason why, const std::error_code& ec) = 0;
};

class ws_session {
 public:
  ws_session(boost::asio::io_context& io, ws_session_config config, ws_handler& handler);
  ~ws_session();
  ws_session(const ws_session&) = delete;
  ws_session& operator=(const ws_session&) = delete;

  void start();
  void stop();  // any thread; closes the connection cleanly and cancels timers
  // Queues a text frame; false when not connected or the write queue is full (counted).
  bool send(std::string_view text);
  // Drops the connection and reconnects after the backoff delay.
  void reconnect(close_reason why = close_reason::requested);
  // Asks for a longer delay before the next attempt (e.g. after a rate-limit error).
  void backoff_at_least(std::chrono::milliseconds delay);

  bool connected() const;
  // True when the socket has received bytes not yet read (one FIONREAD). A frame handler that
  // batches work uses it to tell the end of a burst: bytes already inside the TLS or WebSocket
  // layer's buffers are not counted, so a burst may end one read early, never late.
  bool input_pending() const;
  const ws_session_stats& stats() const;
  const ws_session_config& config() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace vrp::feeds
