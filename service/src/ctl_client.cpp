// `vrpctl get premium|surface|forecast` and `vrpctl watch`: small clients of the vrpd HTTP and
// WebSocket API (ARCHITECTURE.md §5.2) for operators. One request (or one stream) per run, on a
// private io_context; every network step is bounded by --timeout except the wait for stream
// updates, which ends with --count or SIGINT. https:// and wss:// URLs speak TLS 1.2+ with the
// peer's certificate always verified (chain and host name), against --ca-file or the system store.

#include "ctl_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
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
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using nlohmann::json;

constexpr const char* user_agent = "vrpctl/0.1";
constexpr const char* default_url = "http://127.0.0.1:8080";
constexpr std::size_t max_body_bytes = 256U << 20;
constexpr const char* url_help =
    "vrpd address: http://, https://, ws:// or wss://host[:port][/prefix]; https and wss use TLS "
    "(default port 443, else 80)";
constexpr const char* ca_file_help =
    "trust the CA certificates of this PEM file for https/wss instead of the system store (the "
    "server's certificate and host name are always verified)";

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
  bool tls = false;    // https:// or wss://
};

// http[s]://host[:port][/prefix]; ws[s]:// is accepted as well, so that either form of vrpd's
// address works for get and watch alike (one port serves both).
std::optional<api_url> parse_api_url(std::string_view url, std::string& error) {
  struct scheme_info {
    std::string_view prefix;
    bool tls;
  };
  std::string_view rest;
  bool tls = false;
  for (const scheme_info scheme : {scheme_info{"http://", false}, scheme_info{"https://", true},
                                   scheme_info{"ws://", false}, scheme_info{"wss://", true}}) {
    if (url.substr(0, scheme.prefix.size()) == scheme.prefix) {
      rest = url.substr(scheme.prefix.size());
      tls = scheme.tls;
    }
  }
  if (rest.empty()) {
    error = "--url must be http://, https://, ws:// or wss://host[:port][/path], got '" +
            std::string(url) + "'";
    return std::nullopt;
  }
  api_url out;
  out.tls = tls;
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
  if (out.port.empty()) out.port = tls ? "443" : "80";
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

// --- TLS -----------------------------------------------------------------------------------------

// The client context of https:// and wss://: TLS 1.2 or newer, peers verified against the CA
// certificates of `ca_file` (PEM) or, without it, the system trust store. nullopt and a message
// naming the file when it cannot be used.
std::optional<ssl::context> make_tls_context(const std::optional<std::string>& ca_file,
                                             std::string& error) {
  ssl::context ctx(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    error = "cannot restrict TLS to version 1.2 or newer";
    return std::nullopt;
  }
  beast::error_code ec;
  if (!ca_file) {
    ctx.set_default_verify_paths(ec);
    if (ec) {
      error = "cannot load the system's CA certificates: " + ec.message();
      return std::nullopt;
    }
  } else {
    // OpenSSL's own message for a missing file is vague ("system lib"); say what is wrong first.
    if (!std::ifstream(*ca_file).good()) {
      error = "cannot read --ca-file '" + *ca_file + "': " + std::strerror(errno);
      return std::nullopt;
    }
    ctx.load_verify_file(*ca_file, ec);
    if (ec) {
      error = "--ca-file '" + *ca_file + "' holds no usable PEM CA certificate: " + ec.message();
      return std::nullopt;
    }
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

// --ca-file as given on the command line; an empty value given explicitly stays an error rather
// than silently meaning the system store.
std::optional<std::string> ca_flag(const po::variables_map& vm, const std::string& ca_file) {
  if (vm.count("ca-file") == 0U) return std::nullopt;
  return ca_file;
}

// The TLS context for an https:// or wss:// `url` into `tls` (left empty for http:// and ws://).
// False after printing "vrpctl <command>: <why>" when --ca-file comes with a plain URL or
// cannot be used: both are mistakes in the command line (exit code 2), found before any I/O.
bool setup_tls(const char* command, const api_url& url, std::string_view url_text,
               const std::optional<std::string>& ca_file, std::optional<ssl::context>& tls) {
  if (!url.tls) {
    if (!ca_file) return true;
    std::cerr << "vrpctl " << command
              << ": --ca-file applies to https:// and wss:// URLs only, but --url is '" << url_text
              << "'\n";
    return false;
  }
  std::string error;
  tls = make_tls_context(ca_file, error);
  if (!tls) std::cerr << "vrpctl " << command << ": " << error << "\n";
  return tls.has_value();
}

// The certificate check of one connection: OpenSSL's chain verdict, then the leaf's names against
// the host of --url (DNS name or IP address). It keeps the reason of a rejection, because the
// handshake's own error only says "certificate verify failed".
class peer_verifier {
 public:
  peer_verifier(const std::string& host, std::shared_ptr<std::string> why)
      : check_(host), host_(host), why_(std::move(why)) {}

  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    if (!preverified) {
      const int err = X509_STORE_CTX_get_error(ctx.native_handle());
      *why_ = X509_verify_cert_error_string(err);
      return false;
    }
    if (check_(preverified, ctx)) return true;
    *why_ = "the certificate is not issued for '" + host_ + "'";
    return false;
  }

 private:
  ssl::host_name_verification check_;
  std::string host_;
  std::shared_ptr<std::string> why_;  // shared: OpenSSL keeps the callback after the handshake
};

// Plain TCP: nothing to set up after connecting.
std::string start_tls(asio::io_context&, beast::tcp_stream&, const api_url&,
                      std::chrono::milliseconds) {
  return {};
}

// The TLS handshake on a connected stream, bounded by `timeout`: SNI for host names (not for IP
// literals, which RFC 6066 forbids there), peer verification, and an error message that names
// the host and the reason.
std::string start_tls(asio::io_context& io, tls_stream& stream, const api_url& url,
                      std::chrono::milliseconds timeout) {
  const std::string failed = "TLS handshake with " + host_header(url) + " failed: ";
  beast::error_code ec;
  asio::ip::make_address(url.host, ec);
  const bool ip_literal = !ec;
  if (!ip_literal && SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
    return failed + "cannot set the server name (SNI) '" + url.host + "'";
  }
  auto why = std::make_shared<std::string>();
  ec = {};
  stream.set_verify_mode(ssl::verify_peer, ec);
  if (!ec) stream.set_verify_callback(peer_verifier(url.host, why), ec);
  if (ec) return failed + "cannot set up certificate verification: " + ec.message();
  beast::get_lowest_layer(stream).expires_after(timeout);
  ec = run_step(io,
                [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
  if (ec) {
    std::string reason = why->empty() ? describe(ec) : describe(ec) + ": " + *why;
    // A plain-text server answers the client hello with something that is not a TLS record.
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER) {
      reason += " (the server does not seem to speak TLS: http:// or ws:// instead?)";
    }
    return failed + reason;
  }
  return {};
}

// Ends a connection whose answer has been read completely.
void say_goodbye(asio::io_context&, beast::tcp_stream& stream, std::chrono::milliseconds) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// TLS: send close_notify so that the server sees an orderly end, and wait at most `timeout` for
// its own. Errors are moot here (the answer is complete), and many servers just close.
void say_goodbye(asio::io_context& io, tls_stream& stream, std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  run_step(io, [&](auto handler) { stream.async_shutdown(handler); });
  beast::get_lowest_layer(stream).close();
}

// --- get -----------------------------------------------------------------------------------------

struct http_answer {
  unsigned status = 0;
  std::string body;
};

// One GET on `stream` (beast::tcp_stream or tls_stream), each step bounded by `timeout`; an error
// message on failure.
template <class Stream>
std::string http_get(asio::io_context& io, Stream& stream, const api_url& url,
                     const std::string& target, const std::string& token,
                     std::chrono::milliseconds timeout, http_answer& answer) {
  if (std::string err = connect(io, beast::get_lowest_layer(stream), url, timeout); !err.empty()) {
    return err;
  }
  if (std::string err = start_tls(io, stream, url, timeout); !err.empty()) return err;

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_header(url));
  req.set(http::field::user_agent, user_agent);
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  beast::get_lowest_layer(stream).expires_after(timeout);
  beast::error_code ec =
      run_step(io, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return "sending the request to " + host_header(url) + " failed: " + describe(ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  beast::get_lowest_layer(stream).expires_after(timeout);
  ec = run_step(io, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec) return "reading the answer of " + host_header(url) + " failed: " + describe(ec);
  answer.status = parser.get().result_int();
  answer.body = std::move(parser.get().body());
  say_goodbye(io, stream, timeout);
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

// One `watch` run over NextLayer: beast::tcp_stream for ws://, tls_stream for wss:// (then
// `layer_args` is the ssl::context, which must outlive the watcher).
template <class NextLayer>
class watcher {
 public:
  template <class... LayerArgs>
  watcher(api_url url, std::vector<std::string> channels, std::string token, long count,
          std::chrono::milliseconds timeout, LayerArgs&... layer_args)
      : url_(std::move(url)),
        channels_(std::move(channels)),
        token_(std::move(token)),
        count_(count),
        timeout_(timeout),
        ws_(io_, layer_args...),
        signals_(io_, SIGINT, SIGTERM),
        close_deadline_(io_) {}

  int run() {
    if (std::string err = connect(io_, beast::get_lowest_layer(ws_), url_, timeout_);
        !err.empty()) {
      return fail(err);
    }
    if (std::string err = start_tls(io_, ws_.next_layer(), url_, timeout_); !err.empty()) {
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
    // The close waits for the server's close frame and then, over TLS, for its close_notify.
    // The socket's expiry cannot bound that (it does not reach the read already pending in
    // do_read), so a timer closes the socket if the whole close outlasts --timeout.
    close_deadline_.expires_after(timeout_);
    close_deadline_.async_wait([this](const beast::error_code& e) {
      if (!e) beast::get_lowest_layer(ws_).close();
    });
    ws_.async_close(websocket::close_code::normal, [this](const beast::error_code&) { finish(); });
  }

  void finish() {
    beast::error_code ignored;
    signals_.cancel(ignored);
    close_deadline_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  api_url url_;
  std::vector<std::string> channels_;
  std::string token_;
  long count_ = 0;
  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  websocket::stream<NextLayer> ws_;
  asio::signal_set signals_;
  asio::steady_timer close_deadline_;
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
  std::string ca_file;
  double timeout_s = 10;
  bool raw = false;
  po::options_description opts(
      "usage: vrpctl get premium|surface|forecast --underlying BTC [options]");
  opts.add_options()("help,h", "this help")("what", po::value(&what),
                                            "premium, surface or forecast")(
      "underlying", po::value(&underlying), "e.g. BTC (required)")(
      "url", po::value(&url)->default_value(url), url_help)(
      "ca-file", po::value(&ca_file)->value_name("PEM"), ca_file_help)(
      "raw", po::bool_switch(&raw), "print the JSON body as received")(
      "token", po::value(&token), "bearer token, when vrpd requires one")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s),
      "seconds per network step (connect, TLS handshake, request, answer)");
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
  std::optional<ssl::context> tls;
  if (!setup_tls("get", *api, url, ca_flag(vm, ca_file), tls)) return 2;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0));
  const std::string target = api->prefix + "/v1/" + what + "?underlying=" + url_encode(underlying);
  http_answer answer;
  asio::io_context io;
  std::string err;
  if (tls) {
    tls_stream stream(io, *tls);
    err = http_get(io, stream, *api, target, token, timeout, answer);
  } else {
    beast::tcp_stream stream(io);
    err = http_get(io, stream, *api, target, token, timeout, answer);
  }
  if (!err.empty()) {
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
  std::string ca_file;
  long count = 0;
  double timeout_s = 10;
  po::options_description opts(
      "usage: vrpctl watch [options]  (stops after --count updates or on "
      "SIGINT)");
  opts.add_options()("help,h", "this help")("url", po::value(&url)->default_value(url), url_help)(
      "ca-file", po::value(&ca_file)->value_name("PEM"), ca_file_help)(
      "channels", po::value(&channels)->default_value(channels), "comma-separated channels")(
      "count", po::value(&count)->default_value(0), "stop after this many updates (0: never)")(
      "token", po::value(&token), "bearer token, when vrpd requires one")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s),
      "seconds for connecting, the TLS and WebSocket handshakes and the close");
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
  std::optional<ssl::context> tls;
  if (!setup_tls("watch", *api, url, ca_flag(vm, ca_file), tls)) return 2;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0));
  if (tls) {
    watcher<tls_stream> w(std::move(*api), list, token, count, timeout, *tls);
    return w.run();
  }
  watcher<beast::tcp_stream> w(std::move(*api), list, token, count, timeout);
  return w.run();
}

}  // namespace vrp::service
