// The API server with TLS (api.tls_cert_file / api.tls_key_file): HTTPS and WSS on the one port,
// with the test CA's certificates in tests/data/tls (scripts/make_test_certs.sh). The clients
// verify the chain against the test CA and the name "localhost", as a desk's client would.

#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <stdexcept>

#include "server_api_support.hpp"

namespace vrp::service::testing {
namespace {

namespace ssl = asio::ssl;

std::string tls_file(const char* name) {
  return std::string(VRP_TEST_DATA_DIR) + "/tls/" + name;
}

api_server_config tls_config() {
  auto c = default_config();
  c.tls_cert_file = tls_file("localhost.pem");
  c.tls_key_file = tls_file("localhost.key");
  return c;
}

// A client context that trusts only the test CA and checks the server's name.
void trust_test_ca(ssl::context& ctx) {
  ctx.load_verify_file(tls_file("ca.pem"));
  ctx.set_verify_mode(ssl::verify_peer);
}

class tls_client {
 public:
  explicit tls_client(const tcp::endpoint& ep)
      : ctx_(ssl::context::tls_client), stream_(io_, ctx_) {
    trust_test_ca(ctx_);
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(stream_).connect(ep);
    stream_.handshake(ssl::stream_base::client);
  }

  http::response<http::string_body> request(std::string_view target, std::string_view token = {},
                                            bool keep_alive = true) {
    http::request<http::string_body> req(http::verb::get,
                                         beast::string_view(target.data(), target.size()), 11);
    req.set(http::field::host, "localhost");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
    req.keep_alive(keep_alive);
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buf_, res);
    return res;
  }

  // Writes raw bytes inside the TLS session and reads the one response to them.
  http::response<http::string_body> raw(const std::string& bytes) {
    asio::write(stream_, asio::buffer(bytes));
    http::response<http::string_body> res;
    http::read(stream_, buf_, res);
    return res;
  }

 private:
  asio::io_context io_;
  ssl::context ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buf_;
};

class wss_client {
 public:
  wss_client(const tcp::endpoint& ep, std::string_view token)
      : ctx_(ssl::context::tls_client), ws_(io_, ctx_) {
    trust_test_ca(ctx_);
    auto& tls = ws_.next_layer();
    SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
    tls.set_verify_callback(ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(ws_).connect(ep);
    tls.handshake(ssl::stream_base::client);
    ws_.set_option(
        websocket::stream_base::decorator([t = std::string(token)](websocket::request_type& req) {
          if (!t.empty()) req.set(http::field::authorization, "Bearer " + t);
        }));
    ws_.handshake("localhost", "/v1/stream");
  }

  void send(std::string_view text) { ws_.write(asio::buffer(text.data(), text.size())); }

  json read_json() {
    buf_.consume(buf_.size());
    ws_.read(buf_);
    return json::parse(beast::buffers_to_string(buf_.data()));
  }

 private:
  asio::io_context io_;
  ssl::context ctx_;
  websocket::stream<beast::ssl_stream<tcp::socket>> ws_;
  beast::flat_buffer buf_;
};

TEST(server_api_tls, https_serves_the_endpoints_and_checks_the_token) {
  auto cfg = tls_config();
  cfg.token = "tls-token";
  test_server srv(cfg);
  srv.server.publish(make_snapshot(1, {make_underlying({.name = "BTC", .seq = 3})}));

  tls_client c(srv.ep);
  auto res = c.request("/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(parse_body(res)["status"], "ok");
  res = c.request("/v1/premium?underlying=BTC");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(parse_body(res)["error"]["code"], "unauthorized");
  // The same connection stays usable (keep-alive over TLS).
  res = c.request("/v1/premium?underlying=BTC", "tls-token");
  ASSERT_EQ(res.result_int(), 200);
  const auto j = parse_body(res);
  EXPECT_EQ(j["underlying"], "BTC");
  EXPECT_EQ(j["seq"], 3);
  EXPECT_EQ(srv.server.stats().connections_accepted, 1U);
}

TEST(server_api_tls, wss_stream_delivers_ordered_frames) {
  auto cfg = tls_config();
  cfg.token = "tls-token";
  test_server srv(cfg);
  srv.server.publish(make_snapshot(1, {make_underlying({.name = "BTC", .seq = 1})}));

  wss_client ws(srv.ep, "tls-token");
  ws.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  EXPECT_EQ(ws.read_json()["op"], "subscribed");
  EXPECT_EQ(ws.read_json()["seq"], 1);
  for (std::uint64_t seq = 2; seq <= 4; ++seq) {
    srv.server.publish(make_snapshot(seq, {make_underlying({.name = "BTC", .seq = seq})}));
    const auto f = ws.read_json();
    EXPECT_EQ(f["channel"], "premium.BTC");
    EXPECT_EQ(f["seq"], seq);
  }
  EXPECT_THROW(wss_client(srv.ep, "wrong-token"), beast::system_error);
  // A graceful stop closes the TLS WebSocket session and lets the io_context run out.
  EXPECT_TRUE(srv.stop_and_join());
}

TEST(server_api_tls, plain_text_clients_are_refused_and_counted_while_tls_keeps_serving) {
  test_server srv(tls_config());
  // Plain HTTP on the TLS port: the handshake fails and the connection closes without an answer.
  const auto reply = raw_exchange(srv.ep, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.find("HTTP/1.1"), std::string::npos) << reply;
  // A plain WebSocket upgrade fails the same way.
  EXPECT_THROW(ws_client(srv.ep), beast::system_error);
  ASSERT_TRUE(test_server::eventually([&] {
    return srv.metrics.expose().find("vrp_http_tls_handshake_failures_total 2") !=
           std::string::npos;
  }));
  tls_client c(srv.ep);
  EXPECT_EQ(c.request("/healthz").result_int(), 200);
}

TEST(server_api_tls, oversized_and_malformed_requests_get_their_status_over_tls) {
  auto cfg = tls_config();
  cfg.max_header_bytes = 1024;
  test_server srv(cfg);
  {
    tls_client c(srv.ep);
    const auto res =
        c.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4000, 'a') + "\r\n\r\n");
    EXPECT_EQ(res.result_int(), 431);
    EXPECT_EQ(parse_body(res)["error"]["code"], "headers_too_large");
  }
  {
    tls_client c(srv.ep);
    const auto res = c.raw("GARBAGE\r\n\r\n");
    EXPECT_EQ(res.result_int(), 400);
  }
  tls_client other(srv.ep);
  EXPECT_EQ(other.request("/healthz").result_int(), 200);
}

TEST(server_api_tls, connection_limit_answers_503_inside_tls) {
  auto cfg = tls_config();
  cfg.max_connections = 1;
  test_server srv(cfg);
  tls_client first(srv.ep);
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().connections_open == 1; }));
  tls_client second(srv.ep);
  const auto res = second.request("/healthz");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(parse_body(res)["error"]["code"], "overloaded");
  EXPECT_EQ(first.request("/healthz").result_int(), 200);
}

TEST(server_api_tls, start_reports_unusable_certificates_and_keys) {
  const auto start_with = [](const std::string& cert, const std::string& key) -> std::string {
    core::metrics_registry metrics;
    premium_history history({"BTC"}, {30}, 10, 0);
    asio::io_context io;
    auto cfg = default_config();
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    api_server s(io, cfg, metrics, history);
    try {
      s.start();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return {};
  };
  EXPECT_EQ(start_with(tls_file("localhost.pem"), tls_file("localhost.key")), "");
  EXPECT_NE(start_with(tls_file("localhost.pem"), "").find("both a certificate and a key"),
            std::string::npos);
  EXPECT_NE(start_with(tls_file("missing.pem"), tls_file("localhost.key"))
                .find("cannot load TLS certificate"),
            std::string::npos);
  // The key of another certificate.
  EXPECT_NE(start_with(tls_file("localhost.pem"), tls_file("wronghost.key")).find("TLS key"),
            std::string::npos);
  // A certificate file given as the key.
  EXPECT_NE(start_with(tls_file("localhost.pem"), tls_file("localhost.pem")).find("TLS key"),
            std::string::npos);
}

}  // namespace
}  // namespace vrp::service::testing
