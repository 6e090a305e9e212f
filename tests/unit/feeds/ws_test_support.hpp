#pragma once

// Loopback WebSocket servers (plain and TLS) and a recording handler for the ws_session tests.
// Everything runs on the test's io_context and thread, so no locks are needed.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vrp/feeds/ws_session.hpp"

namespace vrp::feeds::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

inline std::string tls_file(const char* name) {
  return std::string(VRP_TEST_DATA_DIR) + "/tls/" + name;
}

// Runs the io_context one handler at a time until `pred` holds or `limit` passes.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(20ms);
  }
  return true;
}

// What each accepted connection does.
struct server_script {
  std::vector<std::string> frames_on_open;  // sent right after the WebSocket handshake
  bool close_after_frames = false;          // then a clean close from the server
  std::string periodic_frame;               // sent every `period` while open, if not empty
  std::chrono::milliseconds period{20};
};

struct server_counters {
  int accepted = 0;               // TCP connections
  int handshakes = 0;             // WebSocket upgrades completed
  int tls_failures = 0;           // server-side TLS handshake failures
  int close_frames_received = 0;  // clean closes initiated by the client
  std::vector<std::string> received;
  std::string user_agent;  // of the last upgrade request
  std::string target;
};

template <class Ws>
class server_session : public std::enable_shared_from_this<server_session<Ws>> {
 public:
  template <class... Args>
  server_session(server_script script, server_counters& counters, Args&&... args)
      : ws_(std::forward<Args>(args)...),
        timer_(ws_.get_executor()),
        script_(std::move(script)),
        counters_(counters) {}

  void start() {
    if constexpr (!std::is_same_v<typename Ws::next_layer_type, beast::tcp_stream>) {
      ws_.next_layer().async_handshake(ssl::stream_base::server,
                                       [self = this->shared_from_this()](beast::error_code ec) {
                                         if (ec) {
                                           ++self->counters_.tls_failures;
                                           return;
                                         }
                                         self->do_accept();
                                       });
    } else {
      do_accept();
    }
  }

  void close() {
    closed_ = true;
    timer_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

 private:
  void do_accept() {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(64U << 20);
    // Read the upgrade request ourselves to record what the client sent.
    beast::http::async_read(
        ws_.next_layer(), buffer_, request_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec || self->closed_) return;
          self->counters_.user_agent = std::string(self->request_[beast::http::field::user_agent]);
          self->counters_.target = std::string(self->request_.target());
          self->ws_.async_accept(
              self->request_, [self](beast::error_code accept_ec) { self->on_accept(accept_ec); });
        });
  }

  void on_accept(beast::error_code ec) {
    if (ec || closed_) return;
    ++counters_.handshakes;
    ws_.text(true);
    for (const auto& f : script_.frames_on_open) queue(f);
    if (script_.close_after_frames) {
      close_when_flushed_ = true;
      maybe_close();
    }
    if (!script_.periodic_frame.empty()) do_tick();
    do_read();
  }

  void do_tick() {
    timer_.expires_after(script_.period);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->closing_) return;
      self->queue(self->script_.periodic_frame);
      self->do_tick();
    });
  }

  void do_read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == websocket::error::closed && !self->closing_) {
          ++self->counters_.close_frames_received;
        }
        self->timer_.cancel();
        return;
      }
      self->counters_.received.push_back(beast::buffers_to_string(self->buffer_.data()));
      self->buffer_.consume(self->buffer_.size());
      self->do_read();
    });
  }

  void queue(std::string frame) {
    if (closed_ || closing_) return;
    queue_.push_back(std::move(frame));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) return;
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) {
                        self->do_write();
                      } else {
                        self->maybe_close();
                      }
                    });
  }

  void maybe_close() {
    if (!close_when_flushed_ || writing_ || !queue_.empty() || closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) {});
  }

  Ws ws_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  beast::http::request<beast::http::empty_body> request_;
  std::deque<std::string> queue_;
  server_script script_;
  server_counters& counters_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool close_when_flushed_ = false;
};

// A WebSocket server on 127.0.0.1:<free port>; TLS when given a certificate and key.
class test_server {
 public:
  test_server(asio::io_context& io, server_script script, const std::string& cert_file = "",
              const std::string& key_file = "")
      : io_(io), acceptor_(io), script_(std::move(script)) {
    if (!cert_file.empty()) {
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain_file(cert_file);
      tls_->use_private_key_file(key_file, ssl::context::pem);
    }
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    do_accept();
  }
  ~test_server() { close(); }

  unsigned short port() const { return port_; }
  std::string url(std::string_view host = "127.0.0.1") const {
    return std::string(tls_ ? "wss://" : "ws://") + std::string(host) + ":" +
           std::to_string(port_) + "/ws/api/v2";
  }
  server_counters& counters() { return counters_; }

  void close() {
    beast::error_code ec;
    acceptor_.close(ec);
    for (auto& close_session : closers_) close_session();
    closers_.clear();
  }

 private:
  void do_accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++counters_.accepted;
      if (tls_) {
        using ws_t = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
        auto s = std::make_shared<server_session<ws_t>>(
            script_, counters_, beast::tcp_stream(std::move(socket)), *tls_);
        closers_.push_back([w = std::weak_ptr(s)] {
          if (auto p = w.lock()) p->close();
        });
        s->start();
      } else {
        using ws_t = websocket::stream<beast::tcp_stream>;
        auto s = std::make_shared<server_session<ws_t>>(script_, counters_, std::move(socket));
        closers_.push_back([w = std::weak_ptr(s)] {
          if (auto p = w.lock()) p->close();
        });
        s->start();
      }
      do_accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;
  server_script script_;
  server_counters counters_;
  std::vector<std::function<void()>> closers_;
  unsigned short port_ = 0;
};

// Records every callback. `classify` says which frames are market data.
struct recorder : ws_handler {
  std::function<bool(std::string_view)> classify = [](std::string_view) { return true; };
  std::function<void(ws_session&)> on_open_action;
  std::function<void(ws_session&, std::string_view)> on_frame_action;

  std::atomic<int> opens{0};
  std::atomic<int> close_count{0};
  std::vector<std::string> frames;
  std::vector<close_reason> closes;
  std::vector<std::error_code> close_errors;
  std::vector<std::chrono::steady_clock::time_point> close_times;
  std::int64_t last_recv_ns = 0;

  void on_open(ws_session& s) override {
    ++opens;
    if (on_open_action) on_open_action(s);
  }
  bool on_frame(ws_session& s, std::string_view text, std::int64_t recv_ns) override {
    // The session promises 64 readable bytes after the frame (simdjson padding); under ASan an
    // out-of-bounds read here fails the test.
    volatile char sink = text.data()[text.size() + 63];
    (void)sink;
    frames.emplace_back(text);
    last_recv_ns = recv_ns;
    if (on_frame_action) on_frame_action(s, text);
    return classify(text);
  }
  void on_close(ws_session&, close_reason why, const std::error_code& ec) override {
    closes.push_back(why);
    close_errors.push_back(ec);
    close_times.push_back(std::chrono::steady_clock::now());
    ++close_count;
  }
};

inline ws_session_config fast_config(std::string url) {
  ws_session_config c;
  c.url = std::move(url);
  c.connect_timeout = 2'000ms;
  c.handshake_timeout = 2'000ms;
  c.backoff_initial = 10ms;
  c.backoff_max = 100ms;
  c.backoff_jitter = 0.0;
  c.jitter_seed = 1;
  return c;
}

}  // namespace vrp::feeds::test
