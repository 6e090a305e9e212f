#pragma once

// The replay exchange server (ARCHITECTURE.md §5.3): a WebSocket server that speaks Deribit's
// JSON-RPC API (deribit_api.hpp) and plays a recording (recording.hpp) to each connection, plus
// plain HTTP control on the same port (fault injection and status).
//
// Each connection has its own playback cursor, started by its first successful subscribe; a frame
// is sent only to connections subscribed to its channel, paced by the recorded time deltas
// divided by `speed` (each wait capped by `max_gap`). One write is in flight per connection and
// the queue is bounded: the playback refills it only up to a low-water mark, so a slow reader
// holds the playback back instead of growing a buffer.
//
// Everything runs on one io_context thread; no method may be called from another thread except
// through asio::post.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "vrp/feeds/replay/recording.hpp"

namespace boost::asio {
class io_context;
}

namespace vrp::feeds::replay {

struct server_config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 9101;          // 0: any free port
  double speed = 1.0;                        // 0: as fast as the socket accepts
  std::uint32_t loops = 1;                   // plays of the recording per connection; 0: forever
  std::chrono::milliseconds max_gap{2'000};  // cap of any single wait between frames
  int min_heartbeat_s = 10;                  // public/set_heartbeat floor
  std::string tls_cert_file;                 // both set: serve wss:// (and https control)
  std::string tls_key_file;
  std::size_t max_queued_frames = 4'096;     // per connection; beyond it the client is cut off
  std::size_t playback_low_water = 64;       // the playback keeps at most this many queued
  std::size_t max_request_bytes = 1U << 20;  // client frames and control bodies
  std::size_t max_fault_bytes = 64U << 20;   // largest `oversized` frame accepted
  std::string version = "1.2.26";            // public/test answer
  // Receives one structured line per connection event and fault (never per message); null
  // writes to stderr.
  std::function<void(std::string_view)> log;
};

struct server_state;

class server {
 public:
  server(boost::asio::io_context& ioc, std::shared_ptr<const recording> rec, server_config cfg);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads TLS material, binds and starts accepting. Returns an error message, empty on success.
  std::string start();
  std::string local_address() const;  // "127.0.0.1:PORT" once started
  std::uint16_t local_port() const;

  // Stops accepting and closes every connection (WebSocket close frame).
  void stop();
  std::size_t connection_count() const;  // open WebSocket connections

  // The control operations, also reachable over HTTP on the same port (POST /control/fault,
  // GET /control/status; any other path is a 404 JSON error). Fault bodies:
  //   {"kind":"drop"}                      close every connection, no close frame
  //   {"kind":"stall","ms":N}              send nothing, heartbeats included, for N ms
  //   {"kind":"malformed","count":N}       N bad frames (a real frame cut in half; the same
  //                                        frame with a number turned into a string), N <= 1000
  //   {"kind":"oversized","bytes":N}       one valid notification of exactly N bytes
  //   {"kind":"error","code":C,"message":M,"close":B}  a JSON-RPC error without id, then
  //                                        optionally a close frame (Deribit's 10028)
  //   {"kind":"maintenance","ms":N}        platform_state {"maintenance":true} and a close to
  //                                        every connection; 11051 answers for N ms
  //   {"kind":"shock","scale":X}           a premium spike: every option ticker a connection has
  //                                        played is re-sent at once with best_bid_price,
  //                                        best_ask_price and mark_price times X (the recorded
  //                                        prices, not compounded) and its timestamp raised to
  //                                        the playback head; later option tickers of that
  //                                        connection are scaled too. 0.1 <= X <= 10; X = 1 ends
  //                                        the shock. Connections opened afterwards play unscaled
  // apply_fault returns an error message for a bad body, empty on success. status_json has
  // connections, clients[{subscriptions, frames_sent (recorded frames), playback_done,
  // shock{scale, resent, scaled}, heartbeat{interval, test_requests, answers}}], frames_sent,
  // heartbeat_drops, slow_drops, faults, accepted and recording{frames, instruments, channels,
  // charts, form}.
  std::string apply_fault(std::string_view body_json);
  std::string status_json() const;

 private:
  std::shared_ptr<server_state> state_;
};

}  // namespace vrp::feeds::replay
