#include "vrp/feeds/ws_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "vrp/core/time.hpp"
#include "vrp/feeds/backoff.hpp"

namespace vrp::feeds {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
// The io_context's own executor, not tcp_stream's type-erased any_io_executor: each completion
// through a type-erased executor wraps the handler in a function object that may allocate, and
// the read loop must not allocate per frame.
using tcp_stream = beast::basic_stream<tcp, asio::io_context::executor_type>;
using plain_ws = websocket::stream<tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<tcp_stream>>;

// simdjson reads up to this many bytes past the end of its input.
constexpr std::size_t simdjson_padding = 64;
constexpr const char* user_agent = "vrp-feeds/0.1";

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
  }
  return true;
}

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// One connection attempt and, if it opens, its lifetime. A fresh object per attempt: a TLS
// stream cannot be reused after a failure, and operations of a dropped connection may still be
// pending (they keep this object alive and find it is no longer current).
struct connection {
  enum class phase : std::uint8_t {
    resolving,
    connecting,
    tls_handshake,
    ws_handshake,
    open,
    closing
  };

  explicit connection(asio::io_context& io) : resolver(io) {}

  template <class F>
  void visit(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }
  tcp_stream& tcp() {
    return tls ? beast::get_lowest_layer(*tls) : beast::get_lowest_layer(*plain);
  }

  tcp::resolver resolver;
  std::optional<plain_ws> plain;
  std::optional<tls_ws> tls;
  phase state = phase::resolving;
  bool resolve_timed_out = false;
  bool reading = false;
  bool writing = false;
  steady::time_point connect_deadline{};
  steady::time_point handshake_deadline{};
  steady::time_point opened_at{};
  beast::flat_buffer buffer;
  // Bounded write queue: a ring of strings whose capacity is kept across frames and connections.
  std::vector<std::string> ring;
  std::size_t ring_head = 0;
  std::size_t ring_count = 0;
};

}  // namespace

bool parse_ws_url(std::string_view url, ws_url& out) {
  ws_url result;
  std::string_view rest;
  if (url.size() >= 6 && equals_ci(url.substr(0, 6), "wss://")) {
    result.tls = true;
    rest = url.substr(6);
  } else if (url.size() >= 5 && equals_ci(url.substr(0, 5), "ws://")) {
    result.tls = false;
    rest = url.substr(5);
  } else {
    return false;
  }
  const std::size_t path_pos = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_pos);
  std::string_view target = path_pos == std::string_view::npos ? "" : rest.substr(path_pos);
  if (!target.empty() && target.front() == '#') target = "";
  if (const std::size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

  std::string_view host;
  std::string_view port;
  if (authority.front() == '[') {  // [v6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return false;
    }
  }
  if (host.empty()) return false;
  if (!port.empty()) {
    if (!is_digits(port) || port.size() > 5) return false;
    const int port_number = std::stoi(std::string(port));
    if (port_number < 1 || port_number > 65535) return false;
  }
  result.host = std::string(host);
  result.port = port.empty() ? std::string(result.tls ? "443" : "80") : std::string(port);
  if (target.empty()) {
    result.target = "/";
  } else if (target.front() == '?') {
    result.target = "/" + std::string(target);
  } else {
    result.target = std::string(target);
  }
  out = std::move(result);
  return true;
}

std::string_view close_reason_name(close_reason r) {
  switch (r) {
    case close_reason::none:
      return "none";
    case close_reason::stopped:
      return "stopped";
    case close_reason::resolve_failed:
      return "resolve_failed";
    case close_reason::connect_failed:
      return "connect_failed";
    case close_reason::connect_timeout:
      return "connect_timeout";
    case close_reason::tls_failed:
      return "tls_failed";
    case close_reason::handshake_failed:
      return "handshake_failed";
    case close_reason::read_failed:
      return "read_failed";
    case close_reason::write_failed:
      return "write_failed";
    case close_reason::stale:
      return "stale";
    case close_reason::message_too_big:
      return "message_too_big";
    case close_reason::requested:
      return "requested";
  }
  return "unknown";
}

struct ws_session::impl : std::enable_shared_from_this<impl> {
  using conn_ptr = std::shared_ptr<connection>;
  using phase = connection::phase;

  impl(asio::io_context& io_context, ws_session_config cfg, ws_session& session, ws_handler& h)
      : io(io_context),
        owner(&session),
        handler(&h),
        config(std::move(cfg)),
        ssl_ctx(ssl::context::tls_client),
        backoff_timer(io_context),
        resolve_timer(io_context),
        stale_timer(io_context),
        backoff(config.backoff_initial, config.backoff_max, config.backoff_jitter,
                config.jitter_seed != 0
                    ? config.jitter_seed
                    : static_cast<std::uint64_t>(steady::now().time_since_epoch().count())) {
    if (!parse_ws_url(config.url, url)) {
      throw std::invalid_argument(
          "ws_session: url must be ws://host[:port]/path or wss://..., got '" + config.url + "'");
    }
    if (config.max_queued_writes == 0) config.max_queued_writes = 1;
    if (url.tls) {
      boost::system::error_code ec;
      ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1,
                          ec);
      if (config.ca_file.empty()) {
        ssl_ctx.set_default_verify_paths(ec);
      } else {
        ssl_ctx.load_verify_file(config.ca_file, ec);
        if (ec) {
          throw std::invalid_argument("ws_session: ca_file '" + config.ca_file +
                                      "' cannot be loaded: " + ec.message());
        }
      }
      ssl_ctx.set_verify_mode(ssl::verify_peer);
    }
    if (config.stale_after.count() > 0) {
      stale_after = config.stale_after;
    }
  }

  // --- lifecycle ------------------------------------------------------------------------------

  void start() {
    if (started || stopped) return;
    started = true;
    do_connect();
  }

  void do_stop() {
    if (stopped) return;
    stopped = true;
    cancel_timers();
    if (!started) return;
    const conn_ptr c = conn;
    if (c && c->state == phase::closing) return;
    if (c && c->state == phase::open) {
      // A clean close handshake; its completion (or its timeout) reports on_close(stopped).
      c->state = phase::closing;
      c->visit([&](auto& ws) {
        ws.async_close(websocket::close_code::normal,
                       [self = shared_from_this(), c](const beast::error_code& ec) {
                         self->on_closed(c, ec);
                       });
      });
      return;
    }
    conn = nullptr;
    if (c) teardown(*c);
    stats.last_close = close_reason::stopped;
    if (handler) handler->on_close(*owner, close_reason::stopped, std::error_code{});
  }

  void on_closed(const conn_ptr& c, const beast::error_code& ec) {
    if (c != conn) return;
    conn = nullptr;
    teardown(*c);
    ++stats.disconnects;
    stats.last_close = close_reason::stopped;
    if (handler) handler->on_close(*owner, close_reason::stopped, ec);
  }

  // The owning ws_session is going away: no callback may run after this.
  void detach() {
    handler = nullptr;
    owner = nullptr;
    stopped = true;
    cancel_timers();
    if (conn_ptr c = std::exchange(conn, nullptr)) teardown(*c);
  }

  void cancel_timers() {
    waiting = false;
    ++backoff_gen;
    ++stale_gen;
    backoff_timer.cancel();
    resolve_timer.cancel();
    stale_timer.cancel();
  }

  void teardown(connection& c) {
    c.resolver.cancel();
    c.tcp().close();
    recycle(c);
  }

  // Buffers of a dead connection go back to the session once no operation refers to them, so
  // that a reconnect does not grow fresh ones.
  void recycle(connection& c) {
    if (!c.writing && !c.ring.empty() && spare_ring.empty()) {
      spare_ring = std::move(c.ring);
      c.ring.clear();
    }
    if (!c.reading && c.buffer.capacity() > spare_buffer.capacity()) {
      c.buffer.clear();
      spare_buffer = std::move(c.buffer);
    }
  }

  // Ends the current connection or attempt and schedules the next one.
  void fail(close_reason why, const beast::error_code& ec) {
    const conn_ptr c = std::exchange(conn, nullptr);
    const bool was_open = c && c->state == phase::open;
    if (c) teardown(*c);
    resolve_timer.cancel();
    ++stale_gen;
    stale_timer.cancel();
    if (was_open) {
      ++stats.disconnects;
      if (steady::now() - c->opened_at >= config.healthy_after) backoff.reset();
    } else {
      ++stats.failed_attempts;
    }
    if (why == close_reason::stale) ++stats.stale_reconnects;
    stats.last_close = why;
    if (handler) handler->on_close(*owner, why, ec);
    if (!stopped) schedule_reconnect();
  }

  void schedule_reconnect() {
    waiting = true;
    arm_backoff(steady::now() + backoff.next_delay());
  }

  void arm_backoff(steady::time_point when) {
    backoff_timer.expires_at(when);
    backoff_timer.async_wait(
        [self = shared_from_this(), gen = ++backoff_gen](const beast::error_code& ec) {
          if (ec || gen != self->backoff_gen || !self->waiting || self->stopped) return;
          self->waiting = false;
          self->do_connect();
        });
  }

  void request_backoff_at_least(std::chrono::milliseconds delay) {
    if (waiting) {
      // Already waiting: this wait is the "next" one.
      const auto want = steady::now() + delay;
      if (backoff_timer.expiry() < want) arm_backoff(want);
      return;
    }
    backoff.at_least(delay);
  }

  void request_reconnect(close_reason why) {
    if (!started || stopped || !conn || conn->state == phase::closing) return;
    fail(why, {});
  }

  // --- connect ------------------------------------------------------------------------------

  void do_connect() {
    auto c = std::make_shared<connection>(io);
    if (url.tls) {
      c->tls.emplace(io.get_executor(), ssl_ctx);
    } else {
      c->plain.emplace(io.get_executor());
    }
    c->ring = std::move(spare_ring);
    spare_ring.clear();
    c->ring.resize(config.max_queued_writes);
    c->buffer = std::move(spare_buffer);
    spare_buffer = beast::flat_buffer{};
    c->state = phase::resolving;
    c->connect_deadline = steady::now() + config.connect_timeout;
    conn = c;

    resolve_timer.expires_at(c->connect_deadline);
    resolve_timer.async_wait([self = shared_from_this(), c](const beast::error_code& ec) {
      if (ec || c != self->conn || c->state != phase::resolving) return;
      c->resolve_timed_out = true;
      c->resolver.cancel();
    });
    c->resolver.async_resolve(
        url.host, url.port,
        [self = shared_from_this(), c](const beast::error_code& ec,
                                       const tcp::resolver::results_type& results) {
          self->on_resolve(c, ec, results);
        });
  }

  void on_resolve(const conn_ptr& c, const beast::error_code& ec,
                  const tcp::resolver::results_type& results) {
    if (c != conn) return;
    resolve_timer.cancel();
    if (ec) {
      fail(c->resolve_timed_out ? close_reason::connect_timeout : close_reason::resolve_failed, ec);
      return;
    }
    c->state = phase::connecting;
    c->tcp().expires_at(c->connect_deadline);
    c->tcp().async_connect(results, [self = shared_from_this(), c](
                                        const beast::error_code& connect_ec, const tcp::endpoint&) {
      self->on_connect(c, connect_ec);
    });
  }

  void on_connect(const conn_ptr& c, const beast::error_code& ec) {
    if (c != conn) return;
    if (ec) {
      fail(ec == beast::error::timeout ? close_reason::connect_timeout
                                       : close_reason::connect_failed,
           ec);
      return;
    }
    beast::error_code opt_ec;
    c->tcp().socket().set_option(tcp::no_delay(true), opt_ec);  // small requests, latency matters
    c->handshake_deadline = steady::now() + config.handshake_timeout;
    if (!c->tls) {
      do_ws_handshake(c);
      return;
    }
    auto& tls = c->tls->next_layer();
    beast::error_code ip_ec;
    asio::ip::make_address(url.host, ip_ec);
    // SNI carries host names only (RFC 6066 §3); an IP literal is checked against the IP SAN.
    if (ip_ec && SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str()) != 1) {
      fail(close_reason::tls_failed,
           beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
      return;
    }
    beast::error_code verify_ec;
    tls.set_verify_mode(ssl::verify_peer, verify_ec);
    if (!verify_ec) tls.set_verify_callback(ssl::host_name_verification(url.host), verify_ec);
    if (verify_ec) {
      fail(close_reason::tls_failed, verify_ec);
      return;
    }
    c->state = phase::tls_handshake;
    c->tcp().expires_at(c->handshake_deadline);
    tls.async_handshake(ssl::stream_base::client,
                        [self = shared_from_this(), c](const beast::error_code& hs_ec) {
                          if (c != self->conn) return;
                          if (hs_ec) {
                            self->fail(close_reason::tls_failed, hs_ec);
                            return;
                          }
                          self->do_ws_handshake(c);
                        });
  }

  void do_ws_handshake(const conn_ptr& c) {
    c->state = phase::ws_handshake;
    // From here the websocket stream's own timeouts apply; the tcp_stream's must be off.
    c->tcp().expires_never();
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(c->handshake_deadline -
                                                                           steady::now());
    if (remaining < std::chrono::milliseconds{1}) remaining = std::chrono::milliseconds{1};
    c->visit([&](auto& ws) {
      ws.set_option(
          websocket::stream_base::timeout{remaining, websocket::stream_base::none(), false});
      ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, user_agent);
      }));
      ws.read_message_max(config.max_message_bytes);
      ws.async_handshake(host_header(), url.target,
                         [self = shared_from_this(), c](const beast::error_code& ec) {
                           self->on_ws_handshake(c, ec);
                         });
    });
  }

  std::string host_header() const {
    const bool v6 = url.host.find(':') != std::string::npos;
    return (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
  }

  void on_ws_handshake(const conn_ptr& c, const beast::error_code& ec) {
    if (c != conn) return;
    if (ec) {
      fail(close_reason::handshake_failed, ec);
      return;
    }
    c->state = phase::open;
    c->visit([&](auto& ws) {
      ws.text(true);
      // The handshake timeout now bounds our close handshake; staleness is the watchdog's job.
      ws.set_option(websocket::stream_base::timeout{config.handshake_timeout,
                                                    websocket::stream_base::none(), false});
    });
    ++stats.connects;
    c->opened_at = steady::now();
    last_data = c->opened_at;
    if (stale_after) arm_watchdog(c, c->opened_at + *stale_after);
    if (handler) handler->on_open(*owner);
    if (c == conn && c->state == phase::open) do_read(c);
  }

  // --- watchdog -----------------------------------------------------------------------------

  // The timer is re-armed only when it fires (to the last data frame + stale_after), so data
  // frames cost one clock read, not a timer reset.
  void arm_watchdog(const conn_ptr& c, steady::time_point when) {
    stale_timer.expires_at(when);
    stale_timer.async_wait(
        [self = shared_from_this(), c, gen = ++stale_gen](const beast::error_code& ec) {
          if (ec || gen != self->stale_gen || c != self->conn || c->state != phase::open) return;
          const auto due = self->last_data + *self->stale_after;
          if (steady::now() >= due) {
            self->fail(close_reason::stale, {});
          } else {
            self->arm_watchdog(c, due);
          }
        });
  }

  // --- read ---------------------------------------------------------------------------------

  void do_read(const conn_ptr& c) {
    c->reading = true;
    c->visit([&](auto& ws) {
      ws.async_read(c->buffer,
                    [self = shared_from_this(), c](const beast::error_code& ec, std::size_t bytes) {
                      self->on_read(c, ec, bytes);
                    });
    });
  }

  void on_read(const conn_ptr& c, const beast::error_code& ec, std::size_t bytes) {
    c->reading = false;
    if (c != conn) {
      recycle(*c);
      return;
    }
    if (c->state != phase::open) return;  // closing: the close handler reports
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        ++stats.oversized;
        fail(close_reason::message_too_big, ec);
      } else {
        fail(close_reason::read_failed, ec);
      }
      return;
    }
    const std::int64_t recv_ns = core::wall_clock_ns();
    ++stats.frames_in;
    stats.bytes_in += bytes;
    // Padding after the frame for simdjson; capacity is kept, so this allocates only while the
    // buffer is still growing to the largest frame seen.
    c->buffer.prepare(simdjson_padding);
    const auto readable = c->buffer.data();
    const std::string_view text(static_cast<const char*>(readable.data()), readable.size());
    // The buffer must not be recycled while the handler holds a view into it.
    c->reading = true;
    const bool is_data = handler != nullptr && handler->on_frame(*owner, text, recv_ns);
    c->reading = false;
    if (is_data) last_data = steady::now();
    c->buffer.consume(c->buffer.size());
    if (c != conn || c->state != phase::open) {
      recycle(*c);
      return;
    }
    do_read(c);
  }

  // --- write --------------------------------------------------------------------------------

  bool enqueue(std::string_view text) {
    const conn_ptr& c = conn;
    if (!c || c->state != phase::open) return false;
    if (c->ring_count == c->ring.size()) {
      ++stats.write_queue_drops;
      return false;
    }
    c->ring[(c->ring_head + c->ring_count) % c->ring.size()].assign(text);
    ++c->ring_count;
    if (!c->writing) do_write(c);
    return true;
  }

  void do_write(const conn_ptr& c) {
    c->writing = true;
    const std::string& frame = c->ring[c->ring_head];
    c->visit([&](auto& ws) {
      ws.async_write(asio::buffer(frame),
                     [self = shared_from_this(), c](const beast::error_code& ec, std::size_t) {
                       self->on_write(c, ec);
                     });
    });
  }

  void on_write(const conn_ptr& c, const beast::error_code& ec) {
    c->writing = false;
    if (c != conn) {
      recycle(*c);
      return;
    }
    if (c->state != phase::open) return;
    if (ec) {
      fail(close_reason::write_failed, ec);
      return;
    }
    ++stats.frames_out;
    c->ring_head = (c->ring_head + 1) % c->ring.size();
    --c->ring_count;
    if (c->ring_count > 0) do_write(c);
  }

  asio::io_context& io;
  ws_session* owner;
  ws_handler* handler;
  ws_session_config config;
  ws_url url;
  ssl::context ssl_ctx;
  asio::steady_timer backoff_timer;
  asio::steady_timer resolve_timer;
  asio::steady_timer stale_timer;
  backoff_policy backoff;
  std::optional<std::chrono::milliseconds> stale_after;
  ws_session_stats stats;
  conn_ptr conn;
  bool started = false;
  bool stopped = false;
  bool waiting = false;
  std::uint64_t backoff_gen = 0;
  std::uint64_t stale_gen = 0;
  steady::time_point last_data{};
  beast::flat_buffer spare_buffer;
  std::vector<std::string> spare_ring;
};

ws_session::ws_session(boost::asio::io_context& io, ws_session_config config, ws_handler& handler)
    : impl_(std::make_shared<impl>(io, std::move(config), *this, handler)) {}

ws_session::~ws_session() {
  if (impl_) impl_->detach();
}

void ws_session::start() {
  impl_->start();
}

void ws_session::stop() {
  asio::post(impl_->io, [weak = std::weak_ptr<impl>(impl_)] {
    if (auto self = weak.lock()) self->do_stop();
  });
}

bool ws_session::send(std::string_view text) {
  return impl_->enqueue(text);
}

void ws_session::reconnect(close_reason why) {
  impl_->request_reconnect(why);
}

void ws_session::backoff_at_least(std::chrono::milliseconds delay) {
  impl_->request_backoff_at_least(delay);
}

bool ws_session::connected() const {
  return impl_->conn && impl_->conn->state == connection::phase::open;
}

bool ws_session::input_pending() const {
  const auto& c = impl_->conn;
  if (!c || c->state != connection::phase::open) return false;
  beast::error_code ec;
  const std::size_t n = c->tcp().socket().available(ec);
  return !ec && n > 0;
}

const ws_session_stats& ws_session::stats() const {
  return impl_->stats;
}

const ws_session_config& ws_session::config() const {
  return impl_->config;
}

}  // namespace vrp::feeds
