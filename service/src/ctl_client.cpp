// `vrpctl get premium|surface|forecast` and `vrpctl watch`: small clients of the vrpd HTTP and
// WebSocket API (ARCHITECTURE.md §5.2) for operators. One request (or one stream) per run, on a
// private io_context; every network step is bounded by --timeout except the wait for stream
// updates, which ends with --count or SIGINT.

#include "ctl_client.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

#include "cli_util.hpp"

namespace vrp::service {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr const char* user_agent = "vrpctl/0.1";
constexpr const char* default_url = "http://127.0.0.1:8080";
constexpr std::size_t max_body_bytes = 256U << 20;

// --- formatting helpers ------------------------------------------------------------------------

std::string printf_string(const char* format, auto... args) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf, format, args...);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buf)
    return std::string(buf, static_cast<std::size_t>(n));
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The number at `key` of an object; nullopt when absent, null or not a number.
std::optional<double> num(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// The integer at `key` (days, seq, ms timestamps); nullopt unless a whole number that a double
// holds exactly, so that casts below are defined whatever the server sends.
std::optional<std::int64_t> whole(const json& obj, std::string_view key) {
  const auto v = num(obj, key);
  if (!v || *v != std::floor(*v) || std::fabs(*v) > 9.0e15) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

std::string str(const json& obj, std::string_view key, std::string_view fallback = "-") {
  if (obj.is_object()) {
    const auto it = obj.find(key);
    if (it != obj.end() && it->is_string()) return it->get<std::string>();
  }
  return std::string(fallback);
}

bool flag(const json& obj, std::string_view key) {
  if (!obj.is_object()) return false;
  const auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

// A decimal vol as percent with two decimals, right-aligned in `width`; "-" when missing.
std::string pct(std::optional<double> v, int width = 5, bool sign = false) {
  if (!v) return printf_string("%*s", width, "-");
  return printf_string(sign ? "%+*.2f" : "%*.2f", width, *v * 100.0);
}

std::string fixed(std::optional<double> v, int decimals, int width = 0, bool sign = false) {
  if (!v) return printf_string("%*s", width, "-");
  return printf_string(sign ? "%+*.*f" : "%*.*f", width, decimals, *v);
}

std::string general(std::optional<double> v) {
  return v ? printf_string("%.6g", *v) : std::string("-");
}

// Unix ms as "YYYY-MM-DD HH:MM:SS.mmm" (UTC); with date=false only the time of day.
std::string utc_time(std::optional<std::int64_t> ms_value, bool date = true) {
  if (!ms_value) return "-";
  const std::int64_t ms = *ms_value;
  std::int64_t secs = ms / 1000;
  std::int64_t milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "-";
  char buf[32];
  const std::size_t n =
      std::strftime(buf, sizeof buf, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
  return std::string(buf, n) + printf_string(".%03d", static_cast<int>(milli));
}

const json& member(const json& obj, std::string_view key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  const auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

// The tenor row of `days`, or null.
const json& tenor_row(const json& premium, int days) {
  static const json null_value;
  const json& tenors = member(premium, "tenors");
  if (!tenors.is_array()) return null_value;
  for (const json& row : tenors) {
    if (whole(row, "days") == days) return row;
  }
  return null_value;
}

// --- URLs ----------------------------------------------------------------------------------------

struct api_url {
  std::string host;
  std::string port;
  std::string prefix;  // path before /v1/..., without a trailing slash
};

// http://host[:port][/prefix]; ws:// is accepted as well (watch).
std::optional<api_url> parse_api_url(std::string_view url, std::string& error) {
  std::string_view rest;
  for (std::string_view scheme : {"http://", "ws://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty()) {
    error = "--url must be http://host[:port][/path], got '" + std::string(url) + "'";
    return std::nullopt;
  }
  api_url out;
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.size() > 2 && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "--url has a bad IPv6 address";
      return std::nullopt;
    }
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') out.port = std::string(authority.substr(1));
  } else {
    const std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.port.empty()) out.port = "80";
  if (out.host.empty() || out.port.find_first_not_of("0123456789") != std::string::npos ||
      out.port.size() > 5) {
    error = "--url has no valid host and port: '" + std::string(url) + "'";
    return std::nullopt;
  }
  out.prefix = std::string(path);
  return out;
}

std::string host_header(const api_url& u) {
  const bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += printf_string("%%%02X", static_cast<unsigned>(c));
    }
  }
  return out;
}

// --- running asynchronous steps ----------------------------------------------------------------

// Runs the io_context until the operation started by `start` completes. Timeouts come from the
// tcp_stream's expiry, which completes the operation with beast::error::timeout.
template <class Start>
beast::error_code run_step(asio::io_context& io, Start&& start) {
  beast::error_code result;
  bool done = false;
  start([&](const beast::error_code& ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  while (!done && io.run_one() > 0) {
  }
  return result;
}

std::string describe(const beast::error_code& ec) {
  return ec == beast::error::timeout ? std::string("timed out") : ec.message();
}

// Connects `stream` to the API host; an error message on failure.
std::string connect(asio::io_context& io, beast::tcp_stream& stream, const api_url& url,
                    std::chrono::milliseconds timeout) {
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  beast::error_code ec = run_step(io, [&](auto handler) {
    resolver.async_resolve(
        url.host, url.port,
        [&endpoints, handler](const beast::error_code& e, tcp::resolver::results_type r) mutable {
          endpoints = std::move(r);
          handler(e);
        });
  });
  if (ec) return "cannot resolve " + host_header(url) + ": " + ec.message();
  stream.expires_after(timeout);
  ec = run_step(io, [&](auto handler) { stream.async_connect(endpoints, handler); });
  if (ec) return "cannot connect to " + host_header(url) + ": " + describe(ec);
  return {};
}

// --- get -----------------------------------------------------------------------------------------

struct http_answer {
  unsigned status = 0;
  std::string body;
};

std::string http_get(const api_url& url, const std::string& target, const std::string& token,
                     std::chrono::milliseconds timeout, http_answer& answer) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  if (std::string err = connect(io, stream, url, timeout); !err.empty()) return err;

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_header(url));
  req.set(http::field::user_agent, user_agent);
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  stream.expires_after(timeout);
  beast::error_code ec =
      run_step(io, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return "sending the request to " + host_header(url) + " failed: " + describe(ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  stream.expires_after(timeout);
  ec = run_step(io, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec) return "reading the answer of " + host_header(url) + " failed: " + describe(ec);
  answer.status = parser.get().result_int();
  answer.body = std::move(parser.get().body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return {};
}

// "HTTP 404 unknown_underlying: ..." from an error body {"error":{"code","message"}}.
std::string http_error_text(const http_answer& a) {
  std::string out = "HTTP " + std::to_string(a.status);
  const json body = json::parse(a.body, nullptr, false);
  const json& err = member(body, "error");
  if (err.is_object()) {
    const std::string code = str(err, "code", "");
    const std::string message = str(err, "message", "");
    if (!code.empty()) out += " " + code;
    if (!message.empty()) out += ": " + message;
    return out;
  }
  std::string text = a.body.substr(0, 200);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!text.empty()) out += ": " + text;
  return out;
}

// --- watch ---------------------------------------------------------------------------------------

class watcher {
 public:
  watcher(api_url url, std::vector<std::string> channels, std::string token, long count,
          std::chrono::milliseconds timeout)
      : url_(std::move(url)),
        channels_(std::move(channels)),
        token_(std::move(token)),
        count_(count),
        timeout_(timeout),
        ws_(io_),
        signals_(io_, SIGINT, SIGTERM) {}

  int run() {
    if (std::string err = connect(io_, beast::get_lowest_layer(ws_), url_, timeout_);
        !err.empty()) {
      return fail(err);
    }
    ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, user_agent);
      if (!token_.empty()) req.set(beast::http::field::authorization, "Bearer " + token_);
    }));
    ws_.read_message_max(max_body_bytes);
    beast::get_lowest_layer(ws_).expires_after(timeout_);
    websocket::response_type res;
    beast::error_code ec = run_step(io_, [&](auto handler) {
      ws_.async_handshake(res, host_header(url_), url_.prefix + "/v1/stream", handler);
    });
    if (ec) {
      std::string why = describe(ec);
      if (res.result_int() != 0 && res.result_int() != 101) {
        http_answer a{res.result_int(), res.body()};
        why = http_error_text(a);
      }
      return fail("WebSocket handshake with " + host_header(url_) + " failed: " + why);
    }
    // Updates may be minutes apart: no read deadline; the close handshake stays bounded.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(
        websocket::stream_base::timeout{timeout_, websocket::stream_base::none(), false});
    ws_.text(true);

    json subscribe = {{"op", "subscribe"}, {"channels", channels_}};
    const std::string request = subscribe.dump();
    ec = run_step(io_, [&](auto handler) { ws_.async_write(asio::buffer(request), handler); });
    if (ec) return fail("sending the subscription failed: " + describe(ec));

    signals_.async_wait([this](const beast::error_code& e, int) {
      if (e) return;
      stopping_ = true;
      do_close();
    });
    do_read();
    io_.restart();
    io_.run();
    return exit_code_;
  }

 private:
  int fail(const std::string& message) {
    std::cerr << "vrpctl watch: " << message << "\n";
    return 1;
  }

  void do_read() {
    buffer_.clear();
    ws_.async_read(buffer_, [this](const beast::error_code& ec, std::size_t) { on_read(ec); });
  }

  void on_read(const beast::error_code& ec) {
    if (ec) {
      if (!stopping_) exit_code_ = fail("connection lost: " + ec.message());
      finish();
      return;
    }
    const json frame = json::parse(beast::buffers_to_string(buffer_.data()), nullptr, false);
    if (frame.is_object() && frame.contains("error")) {
      const json& err = member(frame, "error");
      exit_code_ = fail("server error " + str(err, "code", "?") + ": " + str(err, "message", ""));
      stopping_ = true;
      do_close();
      return;
    }
    if (frame.is_object() && frame.contains("channel") && frame.contains("data")) {
      const std::string channel = str(frame, "channel");
      std::optional<std::int64_t> previous;
      if (const auto it = last_seq_.find(channel); it != last_seq_.end()) previous = it->second;
      if (!header_printed_) {
        std::cout << format_watch_header() << "\n";
        header_printed_ = true;
      }
      std::cout << format_watch_row(frame, previous) << std::endl;  // one flush per update
      if (const auto seq = whole(frame, "seq")) last_seq_[channel] = *seq;
      if (count_ > 0 && ++updates_ >= count_) {
        stopping_ = true;
        do_close();
        return;
      }
    } else if (frame.is_object() && frame.contains("op")) {
      std::cerr << "vrpctl watch: " << frame.dump() << "\n";  // acks, out of the table
    }
    do_read();
  }

  void do_close() {
    if (closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_code::normal, [this](const beast::error_code&) { finish(); });
  }

  void finish() {
    beast::error_code ignored;
    signals_.cancel(ignored);
    beast::get_lowest_layer(ws_).close();
  }

  api_url url_;
  std::vector<std::string> channels_;
  std::string token_;
  long count_ = 0;
  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::signal_set signals_;
  beast::flat_buffer buffer_;
  std::map<std::string, std::int64_t> last_seq_;
  long updates_ = 0;
  bool header_printed_ = false;
  bool stopping_ = false;
  bool closing_ = false;
  int exit_code_ = 0;
};

constexpr int watch_tenors[] = {7, 30, 90};

}  // namespace

// --- formatters ----------------------------------------------------------------------------------

std::string format_premium(const json& p) {
  std::string out = str(p, "underlying", "?") + " premium";
  if (const auto seq = num(p, "seq")) out += printf_string("  seq %.0f", *seq);
  out += "  " + utc_time(whole(p, "ts")) + " UTC";
  out += "  index " + fixed(num(p, "index_price"), 2);
  out += "  model " + str(p, "model");
  out += "  funding " + pct(num(p, "funding_annual"), 0, true) + "%";
  if (num(p, "perp_basis")) out += "  basis " + pct(num(p, "perp_basis"), 0, true) + "%";
  if (num(p, "dvol")) out += "  dvol " + pct(num(p, "dvol"), 0);
  if (p.is_object() && p.contains("complete") && !flag(p, "complete")) out += "  (incomplete)";
  out += "\n";

  const json& tenors = member(p, "tenors");
  if (!tenors.is_array() || tenors.empty()) return out + "(no tenors)\n";
  for (const json& row : tenors) {
    const auto days = num(row, "days");
    out += days ? printf_string("%3.0fd", *days) : std::string("   ?");
    out += "  atm " + pct(num(row, "atm_iv"));
    out += "  mfiv " + pct(num(row, "mfiv"));
    out += "  rv " + pct(num(row, "rv_forecast"));
    out += "  prem " + pct(num(row, "premium_vol"), 5, true);
    out += "  var " + fixed(num(row, "premium_var"), 4, 7, true);
    out += "  rr25 " + pct(num(row, "rr25"), 5, true);
    out += "  bf25 " + pct(num(row, "bf25"), 5, true);
    if (row.is_object() && row.contains("available") && !flag(row, "available")) {
      out += "  unavailable";
      if (const std::string reason = str(row, "reason", ""); !reason.empty()) {
        out += ": " + reason;
      }
    } else if (flag(row, "extrapolated")) {
      out += "  extrapolated";
    }
    out += "\n";
  }
  // Delta buckets, iv / premium, for the rows that have them.
  bool bucket_header = false;
  for (const json& row : tenors) {
    const json& buckets = member(row, "buckets");
    if (!buckets.is_object()) continue;
    const bool any = std::any_of(buckets.begin(), buckets.end(), [](const json& cell) {
      return num(cell, "iv").has_value() || num(cell, "premium_vol").has_value();
    });
    if (!any) continue;
    if (!bucket_header) {
      out += "delta buckets (iv / premium):\n";
      bucket_header = true;
    }
    const auto days = num(row, "days");
    out += days ? printf_string("%3.0fd", *days) : std::string("   ?");
    for (const char* b : {"10p", "25p", "atm", "25c", "10c"}) {
      const json& cell = member(buckets, b);
      out += printf_string("  %s ", b) + pct(num(cell, "iv")) + "/" +
             pct(num(cell, "premium_vol"), 5, true);
    }
    out += "\n";
  }
  return out;
}

std::string format_surface(const json& s) {
  const json& expiries = member(s, "expiries");
  std::string out = str(s, "underlying", "?") + " surface  " + utc_time(whole(s, "ts")) + " UTC  " +
                    std::to_string(expiries.is_array() ? expiries.size() : 0) + " expiries\n";
  if (!expiries.is_array()) return out;
  for (const json& e : expiries) {
    const auto t = num(e, "t");
    const json& svi = member(e, "svi");
    const auto a = num(svi, "a"), b = num(svi, "b"), rho = num(svi, "rho"), m = num(svi, "m"),
               sigma = num(svi, "sigma");
    // At-the-money-forward vol of the fitted slice: total variance at k = 0 (Gatheral's raw SVI,
    // w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))), divided by t.
    std::optional<double> atm;
    if (a && b && rho && m && sigma && t && *t > 0) {
      const double w = *a + *b * (*rho * -*m + std::sqrt(*m * *m + *sigma * *sigma));
      if (w > 0) atm = std::sqrt(w / *t);
    }
    int used = 0;
    int total = 0;
    if (const json& quotes = member(e, "quotes"); quotes.is_array()) {
      for (const json& q : quotes) {
        ++total;
        used += str(q, "status", "") == "ok" ? 1 : 0;
      }
    }
    out += printf_string("%-8s", str(e, "expiry").c_str());
    out += "  days " + fixed(t ? std::optional<double>(*t * 365.0) : std::nullopt, 2, 7);
    out += "  fwd " + fixed(num(e, "forward"), 2, 10);
    out += "  atm " + pct(atm);
    out += "  mfiv " + pct(num(e, "mfiv"));
    out += "  rmse " + pct(num(e, "rmse_vol"), 5);
    if (flag(e, "fitted") || (svi.is_object() && a)) {
      out += "  svi a=" + general(a) + " b=" + general(b) + " rho=" + general(rho) +
             " m=" + general(m) + " sigma=" + general(sigma);
      out += std::string("  butterfly ") + (flag(e, "butterfly_free") ? "ok" : "ARB");
      out += std::string("  calendar ") + (flag(e, "calendar_free") ? "ok" : "ARB");
    } else {
      out += "  not fitted (" + str(e, "fit_status") + ")";
    }
    out += printf_string("  quotes %d/%d", used, total);
    out += "\n";
  }
  return out;
}

std::string format_forecast(const json& f) {
  std::string out = str(f, "underlying", "?") + " forecast  " + utc_time(whole(f, "ts")) + " UTC";
  out += "  model " + str(f, "model");
  out += std::string("  ready ") + (flag(f, "ready") ? "yes" : "no") + "\n";
  const json& spec = member(f, "spec");
  const json& params = member(f, "params");
  if (spec.is_object() || params.is_object()) {
    out += "spec " + str(spec, "model") + "/" + str(spec, "dist") + "/" + str(spec, "mean");
    out += "  mu=" + general(num(params, "mu")) + " omega=" + general(num(params, "omega")) +
           " alpha=" + general(num(params, "alpha")) + " gamma=" + general(num(params, "gamma")) +
           " beta=" + general(num(params, "beta")) + " nu=" + general(num(params, "nu")) + "\n";
  }
  out += "persistence " + fixed(num(f, "persistence"), 4);
  out += "  long-run vol " + pct(num(f, "long_run_vol"), 0);
  out += "  conditional vol " + pct(num(f, "conditional_vol"), 0);
  out += "  rv 24h " + pct(num(f, "realized_vol_24h"), 0) + "\n";
  const json& har = member(f, "har");
  if (har.is_object()) {
    out += std::string("har ready ") + (flag(har, "ready") ? "yes" : "no");
    out += "  beta0=" + general(num(har, "beta0")) + " beta_d=" + general(num(har, "beta_d")) +
           " beta_w=" + general(num(har, "beta_w")) + " beta_m=" + general(num(har, "beta_m")) +
           "\n";
  }
  out += "bars " + fixed(num(f, "bars"), 0);
  if (const auto bar_s = num(f, "bar_seconds")) out += printf_string(" of %.0f s", *bar_s);
  out += "  last bar close " + utc_time(whole(f, "last_bar_close"));
  out += "  last refit " + utc_time(whole(f, "last_refit"));
  out += "  refits " + fixed(num(f, "refits"), 0) + "\n";

  // Term structures by tenor: the model the premium uses, GARCH family, HAR.
  std::map<std::int64_t, std::array<std::optional<double>, 3>> term;
  const char* names[] = {"term", "garch_term", "har_term"};
  for (std::size_t k = 0; k < 3; ++k) {
    const json& points = member(f, names[k]);
    if (!points.is_array()) continue;
    for (const json& p : points) {
      if (const auto days = whole(p, "days")) term[*days][k] = num(p, "vol");
    }
  }
  if (!term.empty()) {
    out += "tenor  model  garch    har\n";
    for (const auto& [days, vols] : term) {
      out += printf_string("%4lldd", static_cast<long long>(days)) + "  " + pct(vols[0]) + "  " +
             pct(vols[1]) + "  " + pct(vols[2]) + "\n";
    }
  }
  return out;
}

namespace {
constexpr const char* watch_lead_format = "%-12s  %-14s %8s  %-8s";
}  // namespace

std::string format_watch_header() {
  std::string out = printf_string(watch_lead_format, "time (UTC)", "channel", "seq", "gap");
  for (const int days : watch_tenors) {
    out += " |" + printf_string("%4dd atm", days) + printf_string("%6s%7s", "rv", "prem");
  }
  return out;
}

std::string format_watch_row(const json& frame, std::optional<std::int64_t> previous_seq) {
  const auto seq = whole(frame, "seq");
  std::string gap;
  if (seq && previous_seq) {
    if (*seq > *previous_seq + 1) {
      gap = "gap+" + std::to_string(*seq - *previous_seq - 1);  // updates conflated by the server
    } else if (*seq <= *previous_seq) {
      gap = "reset";  // e.g. vrpd restarted
    }
  }
  const std::string seq_text = seq ? std::to_string(*seq) : std::string("-");
  std::string out = printf_string(watch_lead_format, utc_time(whole(frame, "ts"), false).c_str(),
                                  str(frame, "channel").c_str(), seq_text.c_str(), gap.c_str());
  const json& data = member(frame, "data");
  for (const int days : watch_tenors) {
    const json& row = tenor_row(data, days);
    out += " |" + pct(num(row, "atm_iv"), 9) + pct(num(row, "rv_forecast"), 6) +
           pct(num(row, "premium_vol"), 7, true);
  }
  return out;
}

// --- commands ------------------------------------------------------------------------------------

int run_get(int argc, const char* const* argv) {
  std::string what;
  std::string underlying;
  std::string url = default_url;
  std::string token;
  double timeout_s = 10;
  bool raw = false;
  po::options_description opts(
      "usage: vrpctl get premium|surface|forecast --underlying BTC [options]");
  opts.add_options()("help,h", "this help")("what", po::value(&what),
                                            "premium, surface or forecast")(
      "underlying", po::value(&underlying), "e.g. BTC (required)")(
      "url", po::value(&url)->default_value(url), "vrpd address")(
      "raw", po::bool_switch(&raw), "print the JSON body as received")(
      "token", po::value(&token), "bearer token, when vrpd requires one")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s), "seconds per network step");
  po::positional_options_description positional;
  positional.add("what", 1);
  po::variables_map vm;
  try {
    // argv[0] is the subcommand, which the parser skips like a program name.
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrpctl get: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help") != 0U) {
    std::cout << opts;
    return 0;
  }
  if (what != "premium" && what != "surface" && what != "forecast") {
    std::cerr << "vrpctl get: say what to get: premium, surface or forecast\n" << opts;
    return 2;
  }
  if (underlying.empty()) {
    std::cerr << "vrpctl get: --underlying is required\n" << opts;
    return 2;
  }
  if (!(timeout_s > 0 && timeout_s <= 86'400)) {
    std::cerr << "vrpctl get: --timeout must be in (0, 86400] seconds\n";
    return 2;
  }
  std::string error;
  const auto api = parse_api_url(url, error);
  if (!api) {
    std::cerr << "vrpctl get: " << error << "\n";
    return 2;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0));
  const std::string target = api->prefix + "/v1/" + what + "?underlying=" + url_encode(underlying);
  http_answer answer;
  if (std::string err = http_get(*api, target, token, timeout, answer); !err.empty()) {
    std::cerr << "vrpctl get: " << err << "\n";
    return 1;
  }
  if (answer.status / 100 != 2) {
    std::cerr << "vrpctl get: " << http_error_text(answer) << "\n";
    return 1;
  }
  if (raw) {
    std::cout << answer.body;
    if (answer.body.empty() || answer.body.back() != '\n') std::cout << "\n";
    return 0;
  }
  const json body = json::parse(answer.body, nullptr, false);
  if (body.is_discarded()) {
    std::cerr << "vrpctl get: the answer is not JSON: " << answer.body.substr(0, 200) << "\n";
    return 1;
  }
  if (what == "premium") {
    std::cout << format_premium(body);
  } else if (what == "surface") {
    std::cout << format_surface(body);
  } else {
    std::cout << format_forecast(body);
  }
  return 0;
}

int run_watch(int argc, const char* const* argv) {
  std::string url = default_url;
  std::string channels = "premium.BTC";
  std::string token;
  long count = 0;
  double timeout_s = 10;
  po::options_description opts(
      "usage: vrpctl watch [options]  (stops after --count updates or on "
      "SIGINT)");
  opts.add_options()("help,h", "this help")("url", po::value(&url)->default_value(url),
                                            "vrpd address")(
      "channels", po::value(&channels)->default_value(channels), "comma-separated channels")(
      "count", po::value(&count)->default_value(0), "stop after this many updates (0: never)")(
      "token", po::value(&token), "bearer token, when vrpd requires one")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s),
      "seconds for connecting and the handshake");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrpctl watch: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help") != 0U) {
    std::cout << opts;
    return 0;
  }
  const auto list = split_csv(channels);
  if (list.empty() || count < 0 || !(timeout_s > 0 && timeout_s <= 86'400)) {
    std::cerr
        << "vrpctl watch: need at least one channel, --count >= 0 and --timeout in (0, 86400]\n"
        << opts;
    return 2;
  }
  std::string error;
  auto api = parse_api_url(url, error);
  if (!api) {
    std::cerr << "vrpctl watch: " << error << "\n";
    return 2;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0));
  watcher w(std::move(*api), list, token, count, timeout);
  return w.run();
}

}  // namespace vrp::service
