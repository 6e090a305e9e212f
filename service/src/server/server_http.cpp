// HTTP side of the API server: one session per connection, keep-alive, request limits, routing
// of the JSON endpoints, and the hand-over of a /v1/stream upgrade to the WebSocket session (the
// Beast advanced server-flex split), over plain TCP or, with api.tls_cert_file, TLS.

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_handler.hpp"
#include "server/server_state.hpp"
#include "server/server_ws.hpp"
#include "vrp/service/json_writer.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrp/service/snapshot_json.hpp"
#include "vrp/web/assets.hpp"

namespace vrp::service {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t history_max_limit = 10'000;
constexpr std::size_t linger_max_bytes = 64 * 1024;
constexpr auto linger_time = std::chrono::seconds(2);
constexpr auto tls_handshake_timeout = std::chrono::seconds(10);

// What a closing connection still reads from its client.
struct linger_drain {
  std::array<char, 2048> buffer{};
  std::size_t drained = 0;
};

// Reads and discards what the client still sends (up to linger_max_bytes, until the stream's
// deadline), then closes: the client reads our error response instead of a connection reset.
// `owner` keeps the connection (and so `stream` and `d`) alive until the last read completes.
void drain_then_close(beast::tcp_stream& stream, linger_drain& d, std::shared_ptr<void> owner) {
  stream.async_read_some(asio::buffer(d.buffer), [&stream, &d, owner = std::move(owner)](
                                                     beast::error_code ec, std::size_t n) mutable {
    d.drained += n;
    if (ec || d.drained > linger_max_bytes) {
      beast::error_code ignored;
      stream.socket().close(ignored);
      return;
    }
    drain_then_close(stream, d, std::move(owner));
  });
}

endpoint_id classify(std::string_view path) {
  if (path == "/healthz") return endpoint_id::healthz;
  if (path == "/readyz") return endpoint_id::readyz;
  if (path == "/metrics") return endpoint_id::metrics;
  if (path == "/v1/premium") return endpoint_id::premium;
  if (path == "/v1/surface") return endpoint_id::surface;
  if (path == "/v1/forecast") return endpoint_id::forecast;
  if (path == "/v1/history") return endpoint_id::history;
  if (path == "/v1/stream") return endpoint_id::stream;
  return endpoint_id::other;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a query component ('+' is a space, RFC 3986 with HTML forms' habit).
bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

enum class param_state { absent, present, bad_encoding };

// The first `name=value` of the query, decoded.
param_state find_param(std::string_view query, std::string_view name, std::string& value) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    if (key != name) continue;
    const auto raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    return url_decode(raw, value) ? param_state::present : param_state::bad_encoding;
  }
  return param_state::absent;
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

bool parse_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date: H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil.
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

bool leap_year(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Unix milliseconds, or ISO-8601 in UTC: YYYY-MM-DD, optionally followed by T (or a space)
// HH:MM[:SS[.fraction]] and Z or +00:00. Other offsets are refused rather than guessed.
bool parse_time_ms(std::string_view s, std::int64_t& ms) {
  if (parse_int64(s, ms)) return true;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!parse_digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !parse_digits(s, 5, 2, mo) ||
      s[7] != '-' || !parse_digits(s, 8, 2, d)) {
    return false;
  }
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12) return false;
  const int dim = month_days[mo - 1] + (mo == 2 && leap_year(y) ? 1 : 0);
  if (d < 1 || d > dim) return false;
  std::size_t pos = 10;
  std::int64_t frac_ms = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return false;
    if (!parse_digits(s, pos + 1, 2, h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !parse_digits(s, pos + 4, 2, mi)) {
      return false;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!parse_digits(s, pos + 1, 2, sec)) return false;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return false;
        for (int i = digits; i < 3; ++i) frac_ms *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    const auto zone = s.substr(pos);
    if (!(zone.empty() || zone == "Z" || zone == "z" || zone == "+00:00" || zone == "+0000" ||
          zone == "-00:00")) {
      return false;
    }
  }
  ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60'000 + std::int64_t{sec} * 1000 +
       frac_ms;
  return true;
}

// A configured name as a JSON string (names are validated at startup; escaping keeps a bad one
// from breaking the body).
void append_json_string(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

bool valid_underlying_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// Constant time in the length of the expected token, whatever the given one looks like.
bool token_matches(std::string_view expected, std::string_view given) {
  unsigned diff = expected.size() == given.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(expected[i] ^ g);
  }
  return diff == 0;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto a = static_cast<unsigned char>(s[i]);
    const auto b = static_cast<unsigned char>(prefix[i]);
    if (std::tolower(a) != std::tolower(b)) return false;
  }
  return true;
}

bool authorized(const server_state& st, const http::request<http::string_body>& req) {
  if (st.cfg.token.empty()) return true;
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view v(it->value().data(), it->value().size());
  if (!iequals_prefix(v, "Bearer ")) return false;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return token_matches(st.cfg.token, v);
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

// Closes the connection gracefully after our last response, without resetting it: a plain one
// shuts down its sending side, then reads and drops what the client still sends (bounded in bytes
// and time) before closing, because closing a socket with unread input makes the kernel send a
// reset, which can destroy the response before the client reads it; a TLS one sends its
// close_notify and waits (bounded) for the client's.
template <class Stream>
void close_after_response(Stream& stream, linger_drain& d, std::shared_ptr<void> owner) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(linger_time);
  if constexpr (is_tls_stream<Stream>) {
    stream.async_shutdown([&tcp_layer, owner = std::move(owner)](beast::error_code) {
      beast::error_code ignored;
      tcp_layer.socket().close(ignored);
    });
  } else {
    beast::error_code sec;
    stream.socket().shutdown(tcp::socket::shutdown_send, sec);
    if (sec) {
      stream.socket().close(sec);
      return;
    }
    drain_then_close(stream, d, std::move(owner));
  }
}

// Runs the server side of the TLS handshake (bounded by `timeout`), then `next`; a failed
// handshake (a plain-text client, a client that does not trust our certificate, a timeout) is
// counted and the connection closed.
template <class Stream, class Next>
void start_connection(const std::shared_ptr<server_state>& st, Stream& stream,
                      std::chrono::seconds timeout, Next next) {
  if constexpr (is_tls_stream<Stream>) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    stream.async_handshake(asio::ssl::stream_base::server,
                           [st, &stream, next = std::move(next)](beast::error_code ec) mutable {
                             if (ec) {
                               // Not counted when our own stop closed the connection.
                               if (!st->stopped) st->m.tls_handshake_failures->inc();
                               beast::error_code ignored;
                               beast::get_lowest_layer(stream).socket().close(ignored);
                               return;
                             }
                             next();
                           });
  } else {
    next();
  }
}

// Writes one response to a connection we will not serve (limits reached), then closes it
// gracefully (close_after_response).
template <class Stream>
class refusal : public std::enable_shared_from_this<refusal<Stream>> {
 public:
  template <class... Args>
  explicit refusal(std::shared_ptr<server_state> st, Args&&... args)
      : st_(std::move(st)), stream_(std::forward<Args>(args)...) {}

  void run() {
    res_.result(http::status::service_unavailable);
    res_.version(11);
    res_.set(http::field::server, "vrpd");
    res_.set(http::field::content_type, "application/json");
    res_.set(http::field::retry_after, "1");
    render_error("overloaded", "connection limit reached", res_.body());
    res_.keep_alive(false);
    res_.prepare_payload();
    start_connection(st_, stream_, linger_time, [self = this->shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(linger_time);
      http::async_write(self->stream_, self->res_, [self](beast::error_code ec, std::size_t) {
        if (ec) return self->close();
        close_after_response(self->stream_, self->drain_, self);
      });
    });
  }

 private:
  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  std::shared_ptr<server_state> st_;
  Stream stream_;
  http::response<http::string_body> res_;
  linger_drain drain_;
};

// Routing and the endpoints of one parsed request, without the connection: http_session writes
// the response to its socket, answer_http_request (http_handler.hpp) returns it.
class request_handler {
 public:
  explicit request_handler(std::shared_ptr<server_state> st) : st_(std::move(st)) {}
  virtual ~request_handler() = default;
  request_handler(const request_handler&) = delete;
  request_handler& operator=(const request_handler&) = delete;

 protected:
  // res_ holds the complete response.
  virtual void respond() = 0;
  // /v1/stream passed its checks: the WebSocket session takes the connection.
  virtual void upgrade(http::request<http::string_body>& req) = 0;

  void handle(http::request<http::string_body>& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const auto qpos = target.find('?');
    const auto path = target.substr(0, qpos);
    const auto query =
        qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);
    endpoint_ = classify(path);
    version_ = req.version();
    keep_alive_ = req.keep_alive() && !stop_requested_;
    if (endpoint_ == endpoint_id::other && on_static(req, path)) return;
    // Browsers cannot set headers on a WebSocket: the upgrade may carry the token as
    // access_token in the query instead (RFC 6750 §2.3).
    if (endpoint_ != endpoint_id::healthz && !authorized(*st_, req) &&
        !(endpoint_ == endpoint_id::stream && query_token_matches(query))) {
      return error(http::status::unauthorized, "unauthorized", "missing or invalid bearer token");
    }
    if (endpoint_ == endpoint_id::other) {
      return error(http::status::not_found, "not_found", "no such endpoint");
    }
    if (req.method() != http::verb::get) {
      return error(http::status::method_not_allowed, "method_not_allowed", "only GET is allowed");
    }
    switch (endpoint_) {
      case endpoint_id::healthz:
        return on_healthz();
      case endpoint_id::readyz:
        return on_readyz();
      case endpoint_id::metrics:
        return on_metrics();
      case endpoint_id::premium:
      case endpoint_id::surface:
      case endpoint_id::forecast:
        return on_snapshot_view(query);
      case endpoint_id::history:
        return on_history(query);
      case endpoint_id::stream:
        return on_stream(req);
      case endpoint_id::other:
        break;
    }
    error(http::status::not_found, "not_found", "no such endpoint");
  }

  bool query_token_matches(std::string_view query) {
    std::string given;
    return find_param(query, "access_token", given) == param_state::present &&
           token_matches(st_->cfg.token, given);
  }

  // The dashboard's files (vrp/web/assets.hpp): exact paths in the embedded table, public (they
  // hold no data; the page asks for the token), so answered before authorization. False when
  // `path` is not one of them.
  bool on_static(const http::request<http::string_body>& req, std::string_view path) {
    const auto method = req.method_string();
    const auto inm = req[http::field::if_none_match];
    const auto r = web::serve_static(web::embedded_assets(), {method.data(), method.size()}, path,
                                     {inm.data(), inm.size()});
    if (r.status == web::static_status::not_static) return false;
    if (r.status == web::static_status::not_built) {
      error(http::status::service_unavailable, "dashboard_not_built",
            std::string(web::not_built_message));
      return true;
    }
    if (r.status == web::static_status::method_not_allowed) {
      error(http::status::method_not_allowed, "method_not_allowed",
            "only GET and HEAD are allowed");
      return true;
    }
    const auto sv = [](std::string_view v) { return beast::string_view(v.data(), v.size()); };
    const bool fresh = r.status == web::static_status::ok;
    const auto status = fresh ? http::status::ok : http::status::not_modified;
    st_->count_http(endpoint_, static_cast<unsigned>(status));
    res_ = http::response<http::string_body>(status, version_ == 10 ? 10 : 11);
    res_.set(http::field::server, "vrpd");
    res_.set(http::field::etag, sv(r.file->etag));
    res_.set(http::field::cache_control, sv(r.file->cache_control));
    res_.set("Content-Security-Policy", sv(web::content_security_policy));
    res_.set("X-Content-Type-Options", "nosniff");
    res_.set("X-Frame-Options", "DENY");
    res_.set("Referrer-Policy", "no-referrer");
    res_.keep_alive(keep_alive_);
    if (fresh) {
      res_.set(http::field::content_type, sv(r.file->content_type));
      if (req.method() == http::verb::head) {
        res_.content_length(r.file->body.size());  // the GET's length, no body
      } else {
        res_.body().assign(r.file->body);
        res_.prepare_payload();
      }
    }
    respond();
    return true;
  }

  void on_healthz() {
    const auto up = std::chrono::duration<double>(steady::now() - st_->started_at).count();
    json_writer w;
    w.begin_object().field("status", "ok").field("uptime_s", up).end_object();
    body_ = w.str();
    send(http::status::ok, "application/json");
  }

  void on_readyz() {
    st_->sync();
    std::vector<std::string> waiting;
    if (st_->ready(&waiting)) {
      body_ = R"({"ready":true})";
      return send(http::status::ok, "application/json");
    }
    body_ = R"({"ready":false,"waiting_for":[)";
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (i > 0) body_ += ',';
      append_json_string(waiting[i], body_);
    }
    body_ += "]}";
    send(http::status::service_unavailable, "application/json");
  }

  void on_metrics() {
    st_->registry.expose(body_);
    send(http::status::ok, "text/plain; version=0.0.4; charset=utf-8");
  }

  // The `underlying` parameter: its index, or -1 after answering the error.
  int underlying_param(std::string_view query) {
    std::string name;
    const auto ps = find_param(query, "underlying", name);
    if (ps == param_state::absent || (ps == param_state::present && name.empty())) {
      error(http::status::bad_request, "missing_parameter", "parameter 'underlying' is required");
      return -1;
    }
    if (ps == param_state::bad_encoding || !valid_underlying_name(name)) {
      error(http::status::bad_request, "invalid_parameter",
            "parameter 'underlying' must be 1 to 32 letters, digits, '_' or '-'");
      return -1;
    }
    const int idx = st_->underlying_index(name);
    if (idx < 0) {
      std::string known;
      for (const auto& u : st_->cfg.underlyings) known += (known.empty() ? "" : ", ") + u;
      error(http::status::not_found, "unknown_underlying",
            "unknown underlying '" + name + "' (served: " + known + ")");
    }
    return idx;
  }

  void on_snapshot_view(std::string_view query) {
    const int idx = underlying_param(query);
    if (idx < 0) return;
    st_->sync();
    const auto& u = st_->current[static_cast<std::size_t>(idx)];
    if (!u) {
      return error(
          http::status::service_unavailable, "not_ready",
          "no snapshot of " + st_->cfg.underlyings[static_cast<std::size_t>(idx)] + " yet");
    }
    if (endpoint_ == endpoint_id::premium) {
      render_premium(*u, body_);
    } else if (endpoint_ == endpoint_id::surface) {
      render_surface(*u, body_);
    } else {
      render_forecast(*u, body_);
    }
    send(http::status::ok, "application/json");
  }

  void on_history(std::string_view query) {
    const int idx = underlying_param(query);
    if (idx < 0) return;
    std::string v;
    std::int64_t tenor = 0;
    auto ps = find_param(query, "tenor", v);
    if (ps == param_state::absent) {
      return error(http::status::bad_request, "missing_parameter", "parameter 'tenor' is required");
    }
    if (ps != param_state::present || !parse_int64(v, tenor) || tenor < 1 || tenor > 36'500) {
      return error(http::status::bad_request, "invalid_parameter",
                   "parameter 'tenor' must be a whole number of days");
    }
    std::int64_t from_ms = std::numeric_limits<std::int64_t>::min();
    std::int64_t to_ms = std::numeric_limits<std::int64_t>::max();
    for (const auto& [name, out] : {std::pair<const char*, std::int64_t*>{"from", &from_ms},
                                    std::pair<const char*, std::int64_t*>{"to", &to_ms}}) {
      ps = find_param(query, name, v);
      if (ps == param_state::absent) continue;
      if (ps != param_state::present || !parse_time_ms(v, *out)) {
        return error(http::status::bad_request, "invalid_parameter",
                     std::string("parameter '") + name +
                         "' must be Unix milliseconds or an ISO-8601 UTC time "
                         "(2025-10-24T23:15:00Z)");
      }
    }
    if (from_ms > to_ms) {
      return error(http::status::bad_request, "invalid_parameter", "'from' is after 'to'");
    }
    std::int64_t limit = static_cast<std::int64_t>(history_max_limit);
    ps = find_param(query, "limit", v);
    if (ps != param_state::absent &&
        (ps != param_state::present || !parse_int64(v, limit) || limit < 1 ||
         limit > static_cast<std::int64_t>(history_max_limit))) {
      return error(http::status::bad_request, "invalid_parameter",
                   "parameter 'limit' must be in [1, " + std::to_string(history_max_limit) + "]");
    }
    const auto& name = st_->cfg.underlyings[static_cast<std::size_t>(idx)];
    st_->sync();  // records the newest snapshot first
    bool known = false;
    const auto points = st_->history.query(name, static_cast<int>(tenor), from_ms, to_ms,
                                           static_cast<std::size_t>(limit), &known);
    if (!known) {
      return error(http::status::not_found, "unknown_tenor",
                   "no history for tenor " + std::to_string(tenor) + " of " + name);
    }
    render_history(name, static_cast<int>(tenor), points, body_);
    send(http::status::ok, "application/json");
  }

  void on_stream(http::request<http::string_body>& req) {
    if (!beast::websocket::is_upgrade(req)) {
      return error(http::status::upgrade_required, "upgrade_required",
                   "/v1/stream is a WebSocket endpoint");
    }
    if (stop_requested_) {
      return error(http::status::service_unavailable, "stopping", "the server is stopping");
    }
    upgrade(req);
  }

  void error(http::status status, std::string_view code, const std::string& message) {
    body_.clear();
    render_error(code, message, body_);
    send(status, "application/json");
  }

  void send(http::status status, std::string_view content_type) {
    st_->count_http(endpoint_, static_cast<unsigned>(status));
    res_ = http::response<http::string_body>(status, version_ == 10 ? 10 : 11);
    res_.set(http::field::server, "vrpd");
    res_.set(http::field::content_type,
             beast::string_view(content_type.data(), content_type.size()));
    res_.set(http::field::cache_control, "no-store");
    if (status == http::status::unauthorized) res_.set(http::field::www_authenticate, "Bearer");
    if (status == http::status::method_not_allowed) {
      // Only the dashboard's files (endpoint "other") take HEAD too.
      res_.set(http::field::allow, endpoint_ == endpoint_id::other ? "GET, HEAD" : "GET");
    }
    res_.keep_alive(keep_alive_);
    res_.body() = std::move(body_);
    res_.prepare_payload();
    respond();
  }

  std::shared_ptr<server_state> st_;
  http::response<http::string_body> res_;
  std::string body_;
  endpoint_id endpoint_ = endpoint_id::other;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool stop_requested_ = false;
};

template <class Stream>
class http_session final : public request_handler,
                           public server_connection,
                           public std::enable_shared_from_this<http_session<Stream>> {
 public:
  template <class... Args>
  http_session(std::shared_ptr<server_state> st, connection_slot slot, Args&&... args)
      : request_handler(std::move(st)),
        stream_(std::forward<Args>(args)...),
        slot_(std::move(slot)),
        buffer_(st_->cfg.max_header_bytes + st_->cfg.max_request_bytes + 4096) {}

  ~http_session() override { st_->connections.erase(this); }

  void run() {
    st_->connections.insert(this);
    start_connection(st_, stream_, tls_handshake_timeout,
                     [self = this->shared_from_this()] { self->on_connected(); });
  }

  void on_server_stop() override {
    stop_requested_ = true;
    if (!writing_) close();  // idle between requests; a response in flight closes after it
  }

 private:
  void on_connected() {
    if (stop_requested_) return close();
    do_read();
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        st_->cfg.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(st_->cfg.max_request_bytes);
    tcp_layer().expires_after(st_->cfg.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated) {
        return close_after_response(stream_, drain_, this->shared_from_this());
      }
      if (stop_requested_ || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
          ec == http::error::partial_message) {
        return close();
      }
      keep_alive_ = false;
      endpoint_ = endpoint_id::other;
      version_ = 11;
      if (ec == http::error::header_limit) {
        return error(http::status::request_header_fields_too_large, "headers_too_large",
                     "request line and headers exceed " +
                         std::to_string(st_->cfg.max_header_bytes) + " bytes");
      }
      if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
        return error(
            http::status::payload_too_large, "payload_too_large",
            "request body exceeds " + std::to_string(st_->cfg.max_request_bytes) + " bytes");
      }
      if (is_http_parse_error(ec)) {
        return error(http::status::bad_request, "bad_request", "malformed HTTP request");
      }
      return close();  // a socket error
    }
    handle(parser_->get());
  }

  void respond() override {
    writing_ = true;
    tcp_layer().expires_after(st_->cfg.idle_timeout);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void upgrade(http::request<http::string_body>&) override {
    // The WebSocket session owns the connection from here on.
    st_->connections.erase(this);
    tcp_layer().expires_never();
    run_ws_session(st_, std::move(stream_), parser_->release(), std::move(slot_));
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    // Keep the body's capacity for the next response on this connection.
    body_ = std::move(res_.body());
    body_.clear();
    if (ec) return close();
    if (!keep_alive_ || stop_requested_) {
      buffer_.consume(buffer_.size());
      return close_after_response(stream_, drain_, this->shared_from_this());
    }
    do_read();
  }

  void close() {
    beast::error_code ec;
    tcp_layer().socket().close(ec);
  }

  Stream stream_;
  connection_slot slot_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  linger_drain drain_;
  bool writing_ = false;
};

// Collects what request_handler answers instead of writing it.
class answer_capture final : public request_handler {
 public:
  answer_capture(std::shared_ptr<server_state> st, bool stopping) : request_handler(std::move(st)) {
    stop_requested_ = stopping;
  }

  http_answer answer(http::request<http::string_body>& req) {
    handle(req);
    answer_.response = std::move(res_);
    return std::move(answer_);
  }

 private:
  void respond() override { ++answer_.answers; }
  void upgrade(http::request<http::string_body>&) override {
    answer_.upgrade = true;
    ++answer_.answers;
  }

  http_answer answer_;
};

}  // namespace

void run_http_session(std::shared_ptr<server_state> st, tcp::socket socket, connection_slot slot) {
  if (st->ssl) {
    auto& ctx = *st->ssl;
    std::make_shared<http_session<tls_stream>>(std::move(st), std::move(slot),
                                               plain_stream(std::move(socket)), ctx)
        ->run();
  } else {
    std::make_shared<http_session<plain_stream>>(std::move(st), std::move(slot), std::move(socket))
        ->run();
  }
}

void refuse_connection(std::shared_ptr<server_state> st, tcp::socket socket) {
  if (st->ssl) {
    auto& ctx = *st->ssl;
    std::make_shared<refusal<tls_stream>>(std::move(st), plain_stream(std::move(socket)), ctx)
        ->run();
  } else {
    std::make_shared<refusal<plain_stream>>(std::move(st), std::move(socket))->run();
  }
}

http_answer answer_http_request(std::shared_ptr<server_state> st,
                                http::request<http::string_body>& req, bool stopping) {
  return answer_capture(std::move(st), stopping).answer(req);
}

}  // namespace vrp::service
