// libFuzzer target: vrpd's HTTP request handling without sockets. The input is the byte stream a
// client sends on one connection (pipelined requests allowed): Beast's request parser with the
// server's limits, then the server's handler (answer_http_request, the code http_session runs),
// then the response serialized as it would be written.
//
// Invariants: nothing throws; the parser either yields a request or fails with an HTTP parse
// error (a limit, a syntax error, or a short read); every request gets exactly one answer; a
// request without the configured bearer token gets 401 (except /healthz) and is never upgraded;
// an upgrade is a GET of /v1/stream; JSON bodies parse (valid UTF-8 included), and an error
// status carries {"error":{"code","message"}}; Content-Length matches the body.

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "server/http_handler.hpp"
#include "server/server_state.hpp"
#include "vrp/core/metrics.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrp/web/assets.hpp"

namespace {

using namespace vrp;
namespace beast = boost::beast;
namespace http = beast::http;
using request = http::request<http::string_body>;

constexpr std::string_view token = "fuzz-token-0123456789";
constexpr std::int64_t ts_ns = 1'761'347'700'000'000'000;  // 2025-10-24T23:15Z
constexpr int max_requests = 8;

std::shared_ptr<const engine::underlying_snapshot> make_btc() {
  auto u = std::make_shared<engine::underlying_snapshot>();
  u->underlying = "BTC";
  u->seq = 3;
  u->ts_ns = ts_ns;
  u->recv_ns = ts_ns;
  u->complete = true;
  u->index_price = 110'000.0;
  u->index_ts_ns = ts_ns;
  auto e = std::make_shared<engine::expiry_view>();
  e->label = "28NOV25";
  e->expiry_ms = 1'764'316'800'000;
  e->t_years = 0.094;
  e->forward = 110'500.0;
  e->fitted = true;
  e->fit_reason = "";
  e->svi = {0.004, 0.03, -0.3, 0.01, 0.1};
  e->rmse_vol = 0.002;
  e->butterfly_free = true;
  e->calendar_free = true;
  for (int k = 0; k < 3; ++k) {
    engine::quote_view q;
    q.strike = 100'000.0 + 10'000.0 * k;
    q.right = core::option_right::call;
    q.bid_iv = 0.44;
    q.ask_iv = 0.46;
    q.mark_iv = 0.45;
    q.status = k == 2 ? engine::quote_status::zero_bid : engine::quote_status::ok;
    e->quotes.push_back(q);
  }
  u->expiries.push_back(e);
  for (const int days : {7, 30}) {
    engine::tenor_row r;
    r.days = days;
    r.t_years = days / 365.0;
    r.available = days == 7;
    r.reason = days == 7 ? "" : "no_surface";
    r.atm_iv = 0.45;
    r.mfiv = 0.47;
    r.rv_forecast = 0.38;
    r.premium_vol = r.atm_iv - r.rv_forecast;
    r.premium_var = r.mfiv * r.mfiv - r.rv_forecast * r.rv_forecast;
    u->tenors.push_back(r);
  }
  auto f = std::make_shared<engine::forecast_view>();
  f->ready = true;
  f->model = "gjr-normal";
  f->term = {{7, 0.38}, {30, 0.40}};
  u->forecast = f;
  return u;
}

// One server state for the whole run: io thread never started, BTC published, ETH not yet.
struct fixture {
  boost::asio::io_context io;
  core::metrics_registry metrics;
  service::premium_history history{{"BTC", "ETH"}, {7, 30}, 64, 0};
  std::shared_ptr<service::server_state> state;

  fixture() {
    service::api_server_config cfg;
    cfg.port = 0;
    cfg.underlyings = {"BTC", "ETH"};
    cfg.token = std::string(token);
    state = std::make_shared<service::server_state>(io, cfg, metrics, history);
    auto s = std::make_shared<engine::snapshot>();
    s->seq = 1;
    s->ts_ns = ts_ns;
    s->underlyings = {make_btc()};
    state->latest.store(std::move(s));
    state->notify_pending.store(true);
    state->sync();  // the fan-out records history and makes BTC current before any request
  }
};

fixture& shared_fixture() {
  static fixture f;
  return f;
}

bool iequals_prefix(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto a = static_cast<unsigned char>(s[i]);
    const auto b = static_cast<unsigned char>(p[i]);
    if ((a | 0x20) != (b | 0x20)) return false;
  }
  return true;
}

// The harness's own reading of "carries the bearer token": scheme case-insensitive, spaces
// around the credentials ignored.
bool has_token(const request& req) {
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view v(it->value().data(), it->value().size());
  if (!iequals_prefix(v, "bearer ")) return false;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v == token;
}

// The dashboard's files are public (they hold no data).
bool is_static_path(std::string_view path) {
  return web::serve_static(web::embedded_assets(), "GET", path, "").status !=
         web::static_status::not_static;
}

void check_answer(const request& req, service::http_answer& a) {
  VRP_FUZZ_CHECK(a.answers == 1);
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const bool authorized = has_token(req);
  const bool is_public = path == "/healthz" || is_static_path(path);
  if (a.upgrade) {
    VRP_FUZZ_CHECK(path == "/v1/stream");
    VRP_FUZZ_CHECK(authorized);
    VRP_FUZZ_CHECK(req.method() == http::verb::get);
    VRP_FUZZ_CHECK(beast::websocket::is_upgrade(req));
    return;
  }
  auto& res = a.response;
  const unsigned status = res.result_int();
  VRP_FUZZ_CHECK(status >= 200 && status <= 599);
  if (!is_public) VRP_FUZZ_CHECK((status == 401) == !authorized);
  if (is_public) VRP_FUZZ_CHECK(status != 401);
  if (status == 304) return;  // a cached dashboard file: no body
  if (status == 401) {
    VRP_FUZZ_CHECK(res.find(http::field::www_authenticate) != res.end());
  }
  VRP_FUZZ_CHECK(res.version() == (req.version() == 10 ? 10U : 11U));
  const auto cl = res.find(http::field::content_length);
  VRP_FUZZ_CHECK(cl != res.end());
  if (req.method() != http::verb::head) {
    VRP_FUZZ_CHECK(std::string_view(cl->value().data(), cl->value().size()) ==
                   std::to_string(res.body().size()));
  }
  const auto ct = res.find(http::field::content_type);
  VRP_FUZZ_CHECK(ct != res.end());
  if (std::string_view(ct->value().data(), ct->value().size()) == "application/json") {
    const auto body = nlohmann::json::parse(res.body(), nullptr, false);
    VRP_FUZZ_CHECK(!body.is_discarded());
    // Errors are {"error":{...}}; /readyz answers 503 with its own body while not ready.
    if (status >= 400 && !(path == "/readyz" && status == 503)) {
      VRP_FUZZ_CHECK(body.is_object() && body.contains("error"));
      const auto& err = body["error"];
      VRP_FUZZ_CHECK(err.is_object());
      VRP_FUZZ_CHECK(err.contains("code") && err["code"].is_string());
      VRP_FUZZ_CHECK(err.contains("message") && err["message"].is_string());
    }
  }
  // The response as http_session writes it.
  std::ostringstream wire;
  wire << res;
  VRP_FUZZ_CHECK(wire.str().size() > res.body().size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)shared_fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fixture& fx = shared_fixture();
  const auto& cfg = fx.state->cfg;
  // http_session reads into a flat_buffer of this size: a request that does not fit fails with
  // buffer_overflow before the parser sees the rest.
  const std::size_t buffer_limit = cfg.max_header_bytes + cfg.max_request_bytes + 4096;
  std::string_view rest = vrp::fuzz::as_text(data, size);
  for (int n = 0; n < max_requests && !rest.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
    parser.body_limit(cfg.max_request_bytes);
    parser.eager(true);
    beast::error_code ec;
    std::size_t used = 0;
    const std::string_view window = rest.substr(0, buffer_limit);
    while (!parser.is_done() && used < window.size()) {
      const std::size_t k =
          parser.put(boost::asio::buffer(window.data() + used, window.size() - used), ec);
      used += k;
      if (ec == http::error::need_more) {
        ec = {};
        if (k == 0) break;  // the parser wants more than the window holds
        continue;
      }
      if (ec) break;
    }
    if (!ec && !parser.is_done()) {
      if (window.size() < rest.size()) {
        ec = http::error::buffer_overflow;  // the session's buffer is full
      } else {
        parser.put_eof(ec);  // the client closed its side
        if (!ec && !parser.is_done()) ec = http::error::partial_message;
      }
    }
    if (ec) {
      // A limit (431/413), a syntax error (400) or a short read (the session just closes).
      VRP_FUZZ_CHECK(ec.category() == beast::error_code(http::error::bad_target).category());
      return 0;
    }
    rest.remove_prefix(used);
    request& req = parser.get();
    VRP_FUZZ_CHECK(req.body().size() <= cfg.max_request_bytes);
    service::http_answer a = service::answer_http_request(fx.state, req);
    check_answer(req, a);
    if (a.upgrade || !a.response.keep_alive()) return 0;
  }
  return 0;
}
