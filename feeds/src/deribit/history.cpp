#include "vrp/feeds/deribit/history.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "vrp/feeds/ws_session.hpp"

namespace vrp::feeds::deribit {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::string_view chart_method = "public/get_tradingview_chart_data";
constexpr const char* user_agent = "vrp-feeds/0.1";
// A 5,000-bar answer is about 0.5 MB; leave room for far larger chunks.
constexpr std::size_t max_frame_bytes = 64U << 20;

using endpoint_url = ws_url;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The session's URL rules (vrp/feeds/ws_session.hpp): ws://host[:port]/path or wss://...
std::optional<endpoint_url> parse_endpoint(std::string_view url) {
  endpoint_url out;
  if (!parse_ws_url(url, out)) return std::nullopt;
  return out;
}

// Bar length in ms for Deribit's resolutions (minutes, or "1D"); nullopt for anything else.
std::optional<std::int64_t> bar_ms_of(std::string_view resolution) {
  if (resolution == "1D") return std::int64_t{86'400'000};
  if (!all_digits(resolution) || resolution.size() > 6) return std::nullopt;
  const std::int64_t minutes = std::stoll(std::string(resolution));
  if (minutes <= 0) return std::nullopt;
  return minutes * 60'000;
}

std::string rpc_error_text(const json& error) {
  std::string out = "JSON-RPC error";
  if (const auto m = error.find("message"); m != error.end() && m->is_string()) {
    out += ": " + m->get<std::string>();
  }
  if (const auto c = error.find("code"); c != error.end() && c->is_number_integer()) {
    out += " (code " + std::to_string(c->get<std::int64_t>()) + ")";
  }
  if (const auto d = error.find("data"); d != error.end() && d->is_object()) {
    const auto param = d->find("param");
    const auto reason = d->find("reason");
    if (param != d->end() && param->is_string()) out += "; " + param->get<std::string>();
    if (reason != d->end() && reason->is_string()) {
      out += (param != d->end() && param->is_string() ? ": " : "; ") + reason->get<std::string>();
    }
  }
  return out;
}

// Appends the bars of one get_tradingview_chart_data result; an error message on a bad shape.
std::string parse_chart_result(const json& result, std::vector<chart_bar>& bars) {
  if (!result.is_object()) return "malformed result: not an object";
  const auto status = result.find("status");
  if (status == result.end() || !status->is_string()) return "malformed result: no status";
  const auto& status_text = status->get_ref<const std::string&>();
  if (status_text == "no_data") return {};
  if (status_text != "ok") return "malformed result: unexpected status '" + status_text + "'";

  static constexpr const char* keys[] = {"ticks", "open", "high", "low", "close", "volume"};
  const json* arrays[6] = {};
  for (std::size_t k = 0; k < 6; ++k) {
    const auto it = result.find(keys[k]);
    if (it == result.end() || !it->is_array()) {
      return std::string("malformed result: '") + keys[k] + "' is not an array";
    }
    arrays[k] = &*it;
  }
  const std::size_t n = arrays[0]->size();
  for (std::size_t k = 1; k < 6; ++k) {
    if (arrays[k]->size() != n) {
      return std::string("malformed result: '") + keys[k] + "' has " +
             std::to_string(arrays[k]->size()) + " values, 'ticks' has " + std::to_string(n);
    }
  }
  if (const auto cost = result.find("cost"); cost != result.end()) {
    if (!cost->is_array() || cost->size() != n) {
      return "malformed result: 'cost' does not match 'ticks'";
    }
  }
  bars.reserve(bars.size() + n);
  for (std::size_t i = 0; i < n; ++i) {
    const json& tick = (*arrays[0])[i];
    if (!tick.is_number_integer()) {
      return "malformed result: tick " + std::to_string(i) + " is not an integer";
    }
    chart_bar bar;
    bar.open_ms = tick.get<std::int64_t>();
    double* fields[5] = {&bar.open, &bar.high, &bar.low, &bar.close, &bar.volume};
    for (std::size_t k = 1; k < 6; ++k) {
      const json& v = (*arrays[k])[i];
      if (!v.is_number()) {
        return std::string("malformed result: '") + keys[k] + "' value " + std::to_string(i) +
               " is not a number";
      }
      *fields[k - 1] = v.get<double>();
    }
    bars.push_back(bar);
  }
  return {};
}

// One WebSocket connection driven synchronously: each asynchronous step runs on the private
// io_context until it completes or its deadline passes, so a silent server cannot hang us.
class rpc_client {
 public:
  rpc_client(endpoint_url url, std::string ca_file, std::chrono::milliseconds timeout)
      : url_(std::move(url)),
        ca_file_(std::move(ca_file)),
        timeout_(timeout),
        resolver_(io_),
        ssl_ctx_(ssl::context::tls_client) {}

  std::string connect() {
    if (url_.tls) {
      if (std::string err = setup_tls(); !err.empty()) return err;
      tls_.emplace(io_, ssl_ctx_);
    } else {
      plain_.emplace(io_);
    }
    const std::string where = url_.host + ":" + url_.port;
    const auto connect_deadline = steady::now() + timeout_;
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    if (!run_bounded(
            [&](auto handler) {
              resolver_.async_resolve(url_.host, url_.port,
                                      [&endpoints, handler](const beast::error_code& e,
                                                            tcp::resolver::results_type r) mutable {
                                        endpoints = std::move(r);
                                        handler(e);
                                      });
            },
            connect_deadline, ec)) {
      return "timed out resolving " + where;
    }
    if (ec) return "cannot resolve " + where + ": " + ec.message();
    if (!run_bounded(
            [&](auto handler) {
              lowest().async_connect(
                  endpoints, [handler](const beast::error_code& e, const tcp::endpoint&) mutable {
                    handler(e);
                  });
            },
            connect_deadline, ec)) {
      return "timed out connecting to " + where;
    }
    if (ec) return "cannot connect to " + where + ": " + ec.message();
    beast::error_code ignored;
    lowest().socket().set_option(tcp::no_delay(true), ignored);

    const auto handshake_deadline = steady::now() + timeout_;
    if (tls_) {
      auto& stream = tls_->next_layer();
      beast::error_code ip_ec;
      asio::ip::make_address(url_.host, ip_ec);
      // SNI carries host names only (RFC 6066 §3); an IP literal is checked against the IP SAN.
      if (ip_ec && SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str()) != 1) {
        return "TLS setup failed for " + where + ": cannot set SNI";
      }
      stream.set_verify_mode(ssl::verify_peer, ec);
      if (!ec) stream.set_verify_callback(ssl::host_name_verification(url_.host), ec);
      if (ec) return "TLS setup failed for " + where + ": " + ec.message();
      if (!run_bounded(
              [&](auto handler) {
                stream.async_handshake(
                    ssl::stream_base::client,
                    [handler](const beast::error_code& e) mutable { handler(e); });
              },
              handshake_deadline, ec)) {
        return "timed out in the TLS handshake with " + where;
      }
      if (ec) return "TLS handshake with " + where + " failed: " + ec.message();
    }
    const bool v6 = url_.host.find(':') != std::string::npos;
    const std::string host_header = (v6 ? "[" + url_.host + "]" : url_.host) + ":" + url_.port;
    bool in_time = true;
    visit([&](auto& ws) {
      ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, user_agent);
      }));
      ws.read_message_max(max_frame_bytes);
      in_time = run_bounded(
          [&](auto handler) {
            ws.async_handshake(host_header, url_.target,
                               [handler](const beast::error_code& e) mutable { handler(e); });
          },
          handshake_deadline, ec);
      ws.text(true);
    });
    if (!in_time) return "timed out in the WebSocket handshake with " + where;
    if (ec) return "WebSocket handshake with " + where + " failed: " + ec.message();
    open_ = true;
    return {};
  }

  // Sends one request and waits for the answer with `id`. Answers heartbeat test requests on the
  // way; an error without an id is taken as this request's (Deribit omits the id when it cannot
  // read it: error_invalid_params.real.json).
  std::string call(const std::string& request, std::int64_t id, json& result) {
    const auto deadline = steady::now() + timeout_;
    if (std::string err = write(request, deadline); !err.empty()) return err;
    for (;;) {
      std::string frame;
      if (std::string err = read(frame, deadline); !err.empty()) return err;
      json msg = json::parse(frame, nullptr, /*allow_exceptions=*/false);
      if (msg.is_discarded() || !msg.is_object()) {
        return "malformed frame from the server: " + frame.substr(0, 200);
      }
      if (const auto method = msg.find("method"); method != msg.end()) {
        if (*method == "heartbeat") {
          const auto params = msg.find("params");
          if (params != msg.end() && params->is_object() &&
              params->value("type", "") == "test_request") {
            const std::string answer = R"({"jsonrpc":"2.0","id":)" + std::to_string(next_id_++) +
                                       R"(,"method":"public/test","params":{}})";
            if (std::string err = write(answer, deadline); !err.empty()) return err;
          }
        }
        continue;  // notifications are not ours to handle
      }
      const auto msg_id = msg.find("id");
      const bool has_id = msg_id != msg.end() && !msg_id->is_null();
      if (has_id && !(msg_id->is_number_integer() && msg_id->get<std::int64_t>() == id)) {
        continue;  // e.g. the public/test answer
      }
      if (const auto error = msg.find("error"); error != msg.end()) {
        return error->is_object() ? rpc_error_text(*error) : "JSON-RPC error (malformed)";
      }
      if (!has_id) continue;
      const auto res = msg.find("result");
      if (res == msg.end()) return "malformed response: no result";
      result = std::move(*res);
      return {};
    }
  }

  std::int64_t take_id() { return next_id_++; }

  // A polite close handshake, bounded; failures do not matter any more.
  void close() {
    if (!open_) return;
    open_ = false;
    beast::error_code ec;
    const auto deadline = steady::now() + std::min(timeout_, std::chrono::milliseconds{2'000});
    visit([&](auto& ws) {
      run_bounded(
          [&](auto handler) {
            ws.async_close(websocket::close_code::normal,
                           [handler](const beast::error_code& e) mutable { handler(e); });
          },
          deadline, ec);
    });
  }

 private:
  std::string setup_tls() {
    beast::error_code ec;
    ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1,
                         ec);
    if (ca_file_.empty()) {
      ssl_ctx_.set_default_verify_paths(ec);
      if (ec) return "cannot load the system CA store: " + ec.message();
    } else {
      ssl_ctx_.load_verify_file(ca_file_, ec);
      if (ec) return "cannot load ca_file '" + ca_file_ + "': " + ec.message();
    }
    ssl_ctx_.set_verify_mode(ssl::verify_peer);
    return {};
  }

  beast::tcp_stream& lowest() {
    return tls_ ? beast::get_lowest_layer(*tls_) : beast::get_lowest_layer(*plain_);
  }

  template <class F>
  void visit(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  std::string write(const std::string& text, steady::time_point deadline) {
    beast::error_code ec;
    bool in_time = true;
    visit([&](auto& ws) {
      in_time = run_bounded(
          [&](auto handler) {
            ws.async_write(asio::buffer(text), [handler](const beast::error_code& e,
                                                         std::size_t) mutable { handler(e); });
          },
          deadline, ec);
    });
    if (!in_time) return timeout_text("sending a request");
    if (ec) return "sending a request failed: " + ec.message();
    return {};
  }

  std::string read(std::string& frame, steady::time_point deadline) {
    beast::error_code ec;
    bool in_time = true;
    buffer_.clear();
    visit([&](auto& ws) {
      in_time = run_bounded(
          [&](auto handler) {
            ws.async_read(buffer_, [handler](const beast::error_code& e, std::size_t) mutable {
              handler(e);
            });
          },
          deadline, ec);
    });
    if (!in_time) return timeout_text("waiting for the response");
    if (ec) return "reading the response failed: " + ec.message();
    frame = beast::buffers_to_string(buffer_.data());
    return {};
  }

  std::string timeout_text(std::string_view what) const {
    return "timed out after " + std::to_string(timeout_.count()) + " ms " + std::string(what);
  }

  // Runs one asynchronous operation until it completes or `deadline` passes. On the deadline the
  // socket is closed (and the resolver cancelled), which completes the operation; the connection
  // is then unusable. Returns false on timeout. The handler writes only to this frame's locals,
  // which stay alive because the operation always completes before we return.
  template <class Start>
  bool run_bounded(Start&& start, steady::time_point deadline, beast::error_code& ec) {
    bool done = false;
    start([&done, &ec](const beast::error_code& e) {
      ec = e;
      done = true;
    });
    io_.restart();
    while (!done) {
      if (io_.run_one_until(deadline) == 0) {
        if (steady::now() >= deadline || io_.stopped()) break;
      }
    }
    if (done) return true;
    open_ = false;
    resolver_.cancel();
    beast::error_code ignored;
    if (plain_ || tls_) lowest().socket().close(ignored);
    io_.restart();
    while (!done && io_.run_one() > 0) {
    }
    return false;
  }

  endpoint_url url_;
  std::string ca_file_;
  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  tcp::resolver resolver_;
  ssl::context ssl_ctx_;
  std::optional<websocket::stream<beast::tcp_stream>> plain_;
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> tls_;
  beast::flat_buffer buffer_;
  std::int64_t next_id_ = 1;
  bool open_ = false;
};

std::string chart_request(std::int64_t id, const history_request& r, std::int64_t start_ms,
                          std::int64_t end_ms) {
  const json request = {{"jsonrpc", "2.0"},
                        {"id", id},
                        {"method", chart_method},
                        {"params",
                         {{"instrument_name", r.instrument},
                          {"start_timestamp", start_ms},
                          {"end_timestamp", end_ms},
                          {"resolution", r.resolution}}}};
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

void fetch(const history_request& r, history_result& out) {
  const auto url = parse_endpoint(r.url);
  if (!url) {
    out.error = "url must be ws://host[:port]/path or wss://..., got '" + r.url + "'";
    return;
  }
  const auto bar_ms = bar_ms_of(r.resolution);
  if (!bar_ms) {
    out.error = "resolution must be a number of minutes or 1D, got '" + r.resolution + "'";
    return;
  }
  if (r.instrument.empty()) {
    out.error = "instrument is empty";
    return;
  }
  if (r.start_ms > r.end_ms) {
    out.error = "start_ms is after end_ms";
    return;
  }
  if (r.max_bars_per_request == 0) {
    out.error = "max_bars_per_request must be at least 1";
    return;
  }
  if (r.timeout.count() <= 0) {
    out.error = "timeout must be positive";
    return;
  }

  rpc_client client(*url, r.ca_file, r.timeout);
  if (std::string err = client.connect(); !err.empty()) {
    out.error = std::move(err);
    return;
  }
  // Inclusive chunks [s, s + n * bar - 1]: a window of n bar lengths holds at most n aligned
  // open times, wherever it starts.
  constexpr std::int64_t max_i64 = std::numeric_limits<std::int64_t>::max();
  const std::int64_t bars_per_chunk =
      static_cast<std::int64_t>(std::min<std::size_t>(r.max_bars_per_request, max_i64 / 2));
  const std::int64_t span_ms =
      bars_per_chunk > max_i64 / *bar_ms ? max_i64 : bars_per_chunk * *bar_ms - 1;
  std::vector<chart_bar> bars;
  for (std::int64_t chunk_start = r.start_ms;;) {
    // The distance in unsigned arithmetic cannot overflow (end >= start).
    const auto to_end =
        static_cast<std::uint64_t>(r.end_ms) - static_cast<std::uint64_t>(chunk_start);
    const std::int64_t chunk_end =
        to_end <= static_cast<std::uint64_t>(span_ms) ? r.end_ms : chunk_start + span_ms;
    const std::int64_t id = client.take_id();
    json result;
    ++out.requests;
    if (std::string err = client.call(chart_request(id, r, chunk_start, chunk_end), id, result);
        !err.empty()) {
      out.error = std::string(chart_method) + " " + r.instrument + ": " + err;
      return;
    }
    if (std::string err = parse_chart_result(result, bars); !err.empty()) {
      out.error = std::string(chart_method) + " " + r.instrument + ": " + err;
      return;
    }
    if (chunk_end >= r.end_ms) break;
    chunk_start = chunk_end + 1;
  }
  client.close();

  std::erase_if(bars,
                [&](const chart_bar& b) { return b.open_ms < r.start_ms || b.open_ms > r.end_ms; });
  std::stable_sort(bars.begin(), bars.end(),
                   [](const chart_bar& a, const chart_bar& b) { return a.open_ms < b.open_ms; });
  bars.erase(
      std::unique(bars.begin(), bars.end(),
                  [](const chart_bar& a, const chart_bar& b) { return a.open_ms == b.open_ms; }),
      bars.end());
  out.bars = std::move(bars);
}

void fetch_time(const std::string& url_text, const std::string& ca_file,
                std::chrono::milliseconds timeout, server_time_result& out) {
  const auto url = parse_endpoint(url_text);
  if (!url) {
    out.error = "invalid URL '" + url_text + "' (expected ws://host[:port]/path or wss://...)";
    return;
  }
  if (timeout.count() <= 0) {
    out.error = "timeout must be positive";
    return;
  }
  rpc_client client(*url, ca_file, timeout);
  if (std::string err = client.connect(); !err.empty()) {
    out.error = std::move(err);
    return;
  }
  const std::int64_t id = client.take_id();
  json result;
  const std::string request = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                              R"(,"method":"public/get_time","params":{}})";
  if (std::string err = client.call(request, id, result); !err.empty()) {
    out.error = "public/get_time: " + err;
    return;
  }
  client.close();
  if (!result.is_number_integer() || result.get<std::int64_t>() <= 0) {
    out.error = "public/get_time: the result is not a positive integer of milliseconds";
    return;
  }
  out.server_ms = result.get<std::int64_t>();
}

}  // namespace

server_time_result fetch_server_time(const std::string& url, const std::string& ca_file,
                                     std::chrono::milliseconds timeout) {
  server_time_result out;
  try {
    fetch_time(url, ca_file, timeout, out);
  } catch (const std::exception& e) {
    out.error = std::string("public/get_time failed: ") + e.what();
  }
  if (!out.error.empty()) out.server_ms = 0;
  return out;
}

history_result fetch_chart(const history_request& r) {
  history_result out;
  try {
    fetch(r, out);
  } catch (const std::exception& e) {
    out.bars.clear();
    out.error = std::string("history download failed: ") + e.what();
  } catch (...) {
    out.bars.clear();
    out.error = "history download failed";
  }
  if (!out.error.empty()) out.bars.clear();
  return out;
}

}  // namespace vrp::feeds::deribit
