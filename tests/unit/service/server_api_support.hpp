#pragma once

// Test harness of the API server: a server on 127.0.0.1, port 0, with its own io thread, hand-built
// snapshots, and synchronous Beast clients (HTTP, raw TCP and WebSocket).

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/service/api_server.hpp"
#include "vrp/service/premium_history.hpp"

namespace vrp::service::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

inline std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 2025-10-24T23:15:00Z, the time of the bundled demo recording.
inline constexpr std::int64_t base_ts_ns = 1'761'347'700'000'000'000;

struct underlying_spec {
  std::string name = "BTC";
  std::uint64_t seq = 1;
  std::int64_t ts_ns = base_ts_ns;
  bool complete = true;
  double atm_iv = 0.45;
  double rv_forecast = 0.38;
  int tenors = 2;  // days 7 and 30, then 31, 32, ... (big frames)
};

inline std::shared_ptr<const engine::underlying_snapshot> make_underlying(
    const underlying_spec& s) {
  auto u = std::make_shared<engine::underlying_snapshot>();
  u->underlying = s.name;
  u->seq = s.seq;
  u->ts_ns = s.ts_ns;
  u->recv_ns = realtime_ns();
  u->complete = s.complete;
  u->index_price = 110'000.0;
  u->index_ts_ns = s.ts_ns;
  for (int i = 0; i < s.tenors; ++i) {
    engine::tenor_row r;
    r.days = i == 0 ? 7 : 30 + (i - 1);
    r.t_years = r.days / 365.0;
    r.available = true;
    r.atm_iv = s.atm_iv;
    r.mfiv = s.atm_iv + 0.02;
    r.rv_forecast = s.rv_forecast;
    r.premium_vol = r.atm_iv - r.rv_forecast;
    r.premium_var = r.mfiv * r.mfiv - r.rv_forecast * r.rv_forecast;
    r.rr25 = -0.01;
    r.bf25 = 0.005;
    for (auto& b : r.buckets) {
      b.iv = s.atm_iv;
      b.premium_vol = s.atm_iv - s.rv_forecast;
    }
    u->tenors.push_back(r);
  }
  return u;
}

inline std::shared_ptr<const engine::snapshot> make_snapshot(
    std::uint64_t seq, std::vector<std::shared_ptr<const engine::underlying_snapshot>> us) {
  auto s = std::make_shared<engine::snapshot>();
  s->seq = seq;
  for (const auto& u : us) s->ts_ns = std::max(s->ts_ns, u->ts_ns);
  s->underlyings = std::move(us);
  return s;
}

inline api_server_config default_config() {
  api_server_config c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.underlyings = {"BTC", "ETH"};
  return c;
}

// A started server with its io thread. Members are declared so that the io_context goes before
// the history and the metrics it refers to.
class test_server {
 public:
  explicit test_server(api_server_config cfg = default_config())
      : history({"BTC", "ETH"}, {7, 30}, 1000, 0), server(io, std::move(cfg), metrics, history) {
    ep = server.start();
    thread_ = std::thread([this] {
      io.run();
      std::lock_guard lock(mutex_);
      done_ = true;
      cv_.notify_all();
    });
  }

  ~test_server() { stop_and_join(); }

  // Stops the server and waits for the io_context to run out of work. False when it did not
  // within 10 s (something kept it busy); the io_context is then stopped by force.
  bool stop_and_join() {
    if (!thread_.joinable()) return true;
    server.stop();
    bool ran_out = false;
    {
      std::unique_lock lock(mutex_);
      ran_out = cv_.wait_for(lock, std::chrono::seconds(10), [this] { return done_; });
    }
    if (!ran_out) io.stop();
    thread_.join();
    return ran_out;
  }

  // Polls `pred` every 5 ms for at most 10 s (a bounded wait, not a timing assertion).
  static bool eventually(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  core::metrics_registry metrics;
  premium_history history;
  asio::io_context io;
  api_server server;
  tcp::endpoint ep;

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

// One HTTP request on a fresh connection.
inline http::response<http::string_body> http_request(const tcp::endpoint& ep,
                                                      std::string_view target,
                                                      std::string_view token = {},
                                                      http::verb method = http::verb::get) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(ep);
  http::request<http::string_body> req(method, beast::string_view(target.data(), target.size()),
                                       11);
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
  req.keep_alive(false);
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(socket, buf, res);
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  return res;
}

// Sends raw bytes and returns everything the server sends back until it closes.
inline std::string raw_exchange(const tcp::endpoint& ep, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(ep);
  asio::write(socket, asio::buffer(bytes));
  std::string out;
  beast::error_code ec;
  std::array<char, 4096> chunk{};
  for (;;) {
    const std::size_t n = socket.read_some(asio::buffer(chunk), ec);
    out.append(chunk.data(), n);
    if (ec) break;
  }
  return out;
}

inline json parse_body(const http::response<http::string_body>& res) {
  return json::parse(res.body());
}

// A synchronous WebSocket client of /v1/stream.
class ws_client {
 public:
  explicit ws_client(const tcp::endpoint& ep, std::string_view token = {}, int receive_buffer = 0)
      : ws_(io_) {
    auto& s = ws_.next_layer();
    s.open(ep.protocol());
    // Set before connecting, so the kernel does not auto-tune the window above it.
    if (receive_buffer > 0) s.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    s.connect(ep);
    if (!token.empty()) {
      ws_.set_option(
          websocket::stream_base::decorator([t = std::string(token)](websocket::request_type& req) {
            req.set(http::field::authorization, "Bearer " + t);
          }));
    }
    ws_.handshake("127.0.0.1", "/v1/stream");
  }

  void send(std::string_view text) { ws_.write(asio::buffer(text.data(), text.size())); }

  std::string read() {
    buf_.consume(buf_.size());
    ws_.read(buf_);
    return beast::buffers_to_string(buf_.data());
  }

  json read_json() { return json::parse(read()); }

  // Skips other messages until a stream frame of `channel` arrives.
  json read_frame(std::string_view channel) {
    for (;;) {
      auto j = read_json();
      if (j.contains("channel") && j["channel"] == channel) return j;
    }
  }

  websocket::stream<tcp::socket>& stream() { return ws_; }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
};

}  // namespace vrp::service::testing
