// HTTP side of the API server over loopback: endpoints, errors, limits, authentication.

#include <gtest/gtest.h>

#include "server_api_support.hpp"

namespace vrp::service::testing {
namespace {

TEST(server_api_http, healthz_answers_ok_with_uptime) {
  test_server srv;
  const auto res = http_request(srv.ep, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const auto j = parse_body(res);
  EXPECT_EQ(j["status"], "ok");
  ASSERT_TRUE(j["uptime_s"].is_number());
  EXPECT_GE(j["uptime_s"].get<double>(), 0.0);
}

TEST(server_api_http, readyz_waits_for_a_complete_snapshot_of_every_underlying) {
  test_server srv;
  auto res = http_request(srv.ep, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  auto j = parse_body(res);
  EXPECT_EQ(j["ready"], false);
  EXPECT_EQ(j["waiting_for"], json::array({"BTC", "ETH"}));
  EXPECT_FALSE(srv.server.stats().ready);

  // BTC complete, ETH present but incomplete: still waiting for ETH only.
  srv.server.publish(
      make_snapshot(1, {make_underlying({.name = "BTC", .seq = 1}),
                        make_underlying({.name = "ETH", .seq = 1, .complete = false})}));
  res = http_request(srv.ep, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  j = parse_body(res);
  EXPECT_EQ(j["waiting_for"], json::array({"ETH"}));

  srv.server.publish(make_snapshot(
      2, {make_underlying({.name = "BTC", .seq = 1}), make_underlying({.name = "ETH", .seq = 2})}));
  res = http_request(srv.ep, "/readyz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(parse_body(res), json::parse(R"({"ready":true})"));
  EXPECT_TRUE(srv.server.stats().ready);
}

TEST(server_api_http, premium_surface_forecast_serve_the_latest_snapshot) {
  test_server srv;
  for (const char* path : {"/v1/premium", "/v1/surface", "/v1/forecast"}) {
    const auto res = http_request(srv.ep, std::string(path) + "?underlying=BTC");
    EXPECT_EQ(res.result_int(), 503) << path;
    EXPECT_EQ(parse_body(res)["error"]["code"], "not_ready") << path;
  }
  srv.server.publish(make_snapshot(
      1, {make_underlying({.name = "BTC", .seq = 4, .atm_iv = 0.5, .rv_forecast = 0.4})}));
  srv.server.publish(make_snapshot(
      2, {make_underlying({.name = "BTC", .seq = 5, .atm_iv = 0.55, .rv_forecast = 0.41})}));

  auto res = http_request(srv.ep, "/v1/premium?underlying=BTC");
  ASSERT_EQ(res.result_int(), 200);
  auto j = parse_body(res);
  EXPECT_EQ(j["underlying"], "BTC");
  EXPECT_EQ(j["seq"], 5);
  EXPECT_EQ(j["ts"], base_ts_ns / 1'000'000);
  ASSERT_EQ(j["tenors"].size(), 2U);
  EXPECT_EQ(j["tenors"][1]["days"], 30);
  EXPECT_DOUBLE_EQ(j["tenors"][1]["atm_iv"].get<double>(), 0.55);
  EXPECT_DOUBLE_EQ(j["tenors"][1]["premium_vol"].get<double>(), 0.55 - 0.41);

  res = http_request(srv.ep, "/v1/surface?underlying=BTC");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(parse_body(res)["underlying"], "BTC");
  res = http_request(srv.ep, "/v1/forecast?underlying=BTC");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(parse_body(res).is_object());
  // ETH is configured but has no snapshot yet.
  res = http_request(srv.ep, "/v1/premium?underlying=ETH");
  EXPECT_EQ(res.result_int(), 503);
}

TEST(server_api_http, snapshot_endpoints_validate_the_underlying) {
  test_server srv;
  srv.server.publish(make_snapshot(1, {make_underlying({.name = "BTC"})}));
  struct case_t {
    const char* target;
    unsigned status;
    const char* code;
  };
  for (const auto& c : {case_t{"/v1/premium", 400, "missing_parameter"},
                        case_t{"/v1/premium?underlying=", 400, "missing_parameter"},
                        case_t{"/v1/surface?underlying=BT%ZZ", 400, "invalid_parameter"},
                        case_t{"/v1/forecast?underlying=B%22C", 400, "invalid_parameter"},
                        case_t{"/v1/premium?underlying=SOL", 404, "unknown_underlying"},
                        case_t{"/v1/premium?other=1&underlying=BTC", 200, nullptr}}) {
    const auto res = http_request(srv.ep, c.target);
    EXPECT_EQ(res.result_int(), c.status) << c.target;
    if (c.code != nullptr) {
      EXPECT_EQ(parse_body(res)["error"]["code"], c.code) << c.target;
    }
  }
}

TEST(server_api_http, history_returns_recorded_points_by_time_range) {
  test_server srv;
  // One snapshot per minute of event time, with a distinct ATM vol each.
  for (int i = 0; i < 5; ++i) {
    srv.server.publish(
        make_snapshot(i + 1, {make_underlying({.name = "BTC",
                                               .seq = static_cast<std::uint64_t>(i + 1),
                                               .ts_ns = base_ts_ns + i * 60'000'000'000LL,
                                               .atm_iv = 0.40 + 0.01 * i})}));
    // A request that reads the snapshot makes the server fan this one out before the next
    // publish (notifications are coalesced otherwise).
    ASSERT_EQ(http_request(srv.ep, "/readyz").result_int(), 503);
  }
  const std::int64_t t0_ms = base_ts_ns / 1'000'000;
  auto res = http_request(srv.ep, "/v1/history?underlying=BTC&tenor=30");
  ASSERT_EQ(res.result_int(), 200) << res.body();
  auto j = parse_body(res);
  EXPECT_EQ(j["underlying"], "BTC");
  EXPECT_EQ(j["tenor"], 30);
  ASSERT_EQ(j["points"].size(), 5U);
  EXPECT_EQ(j["points"][0]["ts"], t0_ms);
  EXPECT_DOUBLE_EQ(j["points"][4]["atm_iv"].get<double>(), 0.44);

  // 2025-10-24T23:16:00Z .. 23:18:00Z in ISO-8601 (URL-encoded colons) and in ms.
  res =
      http_request(srv.ep, "/v1/history?underlying=BTC&tenor=7&from=2025-10-24T23%3A16%3A00Z&to=" +
                               std::to_string(t0_ms + 180'000));
  ASSERT_EQ(res.result_int(), 200) << res.body();
  j = parse_body(res);
  ASSERT_EQ(j["points"].size(), 3U);
  EXPECT_EQ(j["points"][0]["ts"], t0_ms + 60'000);
  EXPECT_EQ(j["points"][2]["ts"], t0_ms + 180'000);

  // limit keeps the newest points.
  res = http_request(srv.ep, "/v1/history?underlying=BTC&tenor=30&limit=2");
  j = parse_body(res);
  ASSERT_EQ(j["points"].size(), 2U);
  EXPECT_EQ(j["points"][1]["ts"], t0_ms + 240'000);

  // A date without a time is midnight UTC: everything recorded is after 2025-10-24.
  res = http_request(srv.ep, "/v1/history?underlying=BTC&tenor=30&from=2025-10-24&to=2025-10-25");
  EXPECT_EQ(parse_body(res)["points"].size(), 5U);

  struct case_t {
    const char* target;
    unsigned status;
    const char* code;
  };
  for (const auto& c :
       {case_t{"/v1/history?underlying=BTC", 400, "missing_parameter"},
        case_t{"/v1/history?tenor=30", 400, "missing_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=thirty", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&from=yesterday", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&from=2025-13-01", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&from=2025-10-24T10:00:00%2B02:00", 400,
               "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&from=20&to=10", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&limit=0", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=30&limit=10001", 400, "invalid_parameter"},
        case_t{"/v1/history?underlying=BTC&tenor=45", 404, "unknown_tenor"},
        case_t{"/v1/history?underlying=DOGE&tenor=30", 404, "unknown_underlying"}}) {
    res = http_request(srv.ep, c.target);
    EXPECT_EQ(res.result_int(), c.status) << c.target;
    EXPECT_EQ(parse_body(res)["error"]["code"], c.code) << c.target;
  }
}

TEST(server_api_http, unknown_path_is_404_and_wrong_method_405_as_json_errors) {
  test_server srv;
  auto res = http_request(srv.ep, "/v2/premium");
  EXPECT_EQ(res.result_int(), 404);
  auto j = parse_body(res);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_TRUE(j["error"]["message"].is_string());

  res = http_request(srv.ep, "/v1/premium?underlying=BTC", {}, http::verb::post);
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET");
  EXPECT_EQ(parse_body(res)["error"]["code"], "method_not_allowed");

  res = http_request(srv.ep, "/v1/stream");  // not an upgrade
  EXPECT_EQ(res.result_int(), 426);
  EXPECT_EQ(parse_body(res)["error"]["code"], "upgrade_required");
}

TEST(server_api_http, metrics_exposes_the_server_counters_as_prometheus_text) {
  test_server srv;
  ASSERT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
  ASSERT_EQ(http_request(srv.ep, "/nope").result_int(), 404);
  const auto res = http_request(srv.ep, "/metrics");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const auto& body = res.body();
  EXPECT_NE(body.find("vrp_http_requests_total{endpoint=\"healthz\",code=\"2xx\"} 1\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("vrp_http_requests_total{endpoint=\"other\",code=\"4xx\"} 1\n"),
            std::string::npos);
  for (const char* name :
       {"# TYPE vrp_ws_subscribers gauge", "# TYPE vrp_ws_frames_sent_total counter",
        "# TYPE vrp_ws_conflated_total counter",
        "# TYPE vrp_ws_slow_consumer_disconnects_total counter",
        "# TYPE vrp_http_connections_refused_total counter",
        "# TYPE vrp_tick_to_publish_seconds histogram",
        "vrp_tick_to_publish_seconds_bucket{le=\"5e-06\"} 0"}) {
    EXPECT_NE(body.find(name), std::string::npos) << name;
  }
}

TEST(server_api_http, keep_alive_serves_several_requests_on_one_connection) {
  test_server srv;
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(srv.ep);
  beast::flat_buffer buf;
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req(http::verb::get, "/healthz", 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buf, res);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(srv.server.stats().connections_accepted, 1U);
}

TEST(server_api_http, oversized_headers_get_431_and_oversized_body_413) {
  auto cfg = default_config();
  cfg.max_header_bytes = 1024;
  cfg.max_request_bytes = 256;
  test_server srv(cfg);
  const std::string big_header =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4000, 'a') + "\r\n\r\n";
  auto reply = raw_exchange(srv.ep, big_header);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0U) << reply;
  EXPECT_NE(reply.find("headers_too_large"), std::string::npos);

  const std::string big_body =
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b');
  reply = raw_exchange(srv.ep, big_body);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0U) << reply;
  EXPECT_NE(reply.find("payload_too_large"), std::string::npos);

  // The server is still serving.
  EXPECT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
}

TEST(server_api_http, malformed_requests_get_400_and_the_server_keeps_serving) {
  test_server srv;
  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /a b HTTP/1.1\r\n\r\n"),
        std::string("GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello", 22)}) {
    const auto reply = raw_exchange(srv.ep, garbage);
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0U) << reply;
  }
  // A client that connects and leaves mid-request.
  {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(srv.ep);
    asio::write(s, asio::buffer(std::string_view("GET /heal")));
  }
  EXPECT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
}

TEST(server_api_http, idle_connection_is_closed_after_the_idle_timeout) {
  auto cfg = default_config();
  cfg.idle_timeout = std::chrono::seconds(1);
  test_server srv(cfg);
  asio::io_context io;
  tcp::socket s(io);
  s.connect(srv.ep);
  std::array<char, 16> b{};
  beast::error_code ec;
  const auto n = s.read_some(asio::buffer(b), ec);  // blocks until the server closes
  EXPECT_EQ(n, 0U);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(server_api_http, token_is_required_except_for_healthz) {
  auto cfg = default_config();
  cfg.token = "s3cret-token";
  test_server srv(cfg);
  EXPECT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
  auto res = http_request(srv.ep, "/readyz");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res[http::field::www_authenticate], "Bearer");
  EXPECT_EQ(parse_body(res)["error"]["code"], "unauthorized");
  EXPECT_EQ(http_request(srv.ep, "/metrics", "s3cret-tokem").result_int(), 401);
  EXPECT_EQ(http_request(srv.ep, "/metrics", "s3cret-token-longer").result_int(), 401);
  EXPECT_EQ(http_request(srv.ep, "/metrics", "s3cret").result_int(), 401);
  EXPECT_EQ(http_request(srv.ep, "/metrics", "s3cret-token").result_int(), 200);
  EXPECT_EQ(http_request(srv.ep, "/readyz", "s3cret-token").result_int(), 503);

  // The WebSocket upgrade too.
  try {
    ws_client c(srv.ep);
    ADD_FAILURE() << "upgrade without a token succeeded";
  } catch (const beast::system_error& e) {
    EXPECT_EQ(e.code(), websocket::error::upgrade_declined);
  }
  ws_client ok(srv.ep, "s3cret-token");
  ok.send(R"({"op":"ping"})");
  EXPECT_EQ(ok.read_json(), json::parse(R"({"op":"pong"})"));
}

TEST(server_api_http, connections_above_the_limit_get_503_and_are_closed) {
  auto cfg = default_config();
  cfg.max_connections = 2;
  test_server srv(cfg);
  asio::io_context io;
  tcp::socket a(io), b(io);
  a.connect(srv.ep);
  b.connect(srv.ep);
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().connections_open == 2; }));
  const auto reply = raw_exchange(srv.ep, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0U) << reply;
  EXPECT_NE(reply.find("overloaded"), std::string::npos);
  EXPECT_EQ(srv.server.stats().connections_refused, 1U);

  a.close();
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().connections_open == 1; }));
  EXPECT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
}

TEST(server_api_http, connections_per_address_are_limited) {
  auto cfg = default_config();
  cfg.max_connections_per_address = 1;
  test_server srv(cfg);
  asio::io_context io;
  tcp::socket a(io);
  a.connect(srv.ep);
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().connections_open == 1; }));
  const auto reply = raw_exchange(srv.ep, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0U) << reply;
}

TEST(server_api_http, start_throws_when_the_port_is_taken) {
  test_server srv;
  core::metrics_registry metrics;
  premium_history history({"BTC"}, {30}, 10, 0);
  asio::io_context io;
  auto cfg = default_config();
  cfg.port = srv.ep.port();
  api_server second(io, cfg, metrics, history);
  EXPECT_THROW(second.start(), std::system_error);
}

}  // namespace
}  // namespace vrp::service::testing
