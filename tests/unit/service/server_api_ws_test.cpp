// WebSocket side of the API server over loopback: the /v1/stream protocol, the fan-out, the
// bounded per-subscriber queues and the graceful stop.

#include <gtest/gtest.h>

#include <future>

#include "server_api_support.hpp"

namespace vrp::service::testing {
namespace {

std::shared_ptr<const engine::snapshot> btc_snapshot(std::uint64_t seq, int tenors = 2) {
  return make_snapshot(seq, {make_underlying({.name = "BTC",
                                              .seq = seq,
                                              .ts_ns = base_ts_ns + static_cast<std::int64_t>(seq),
                                              .tenors = tenors})});
}

TEST(server_api_ws, subscriber_gets_ack_latest_frame_then_increasing_seq) {
  test_server srv;
  srv.server.publish(btc_snapshot(7));
  ws_client c(srv.ep);
  c.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  EXPECT_EQ(c.read_json(), json::parse(R"({"op":"subscribed","channels":["premium.BTC"]})"));
  auto f = c.read_json();  // the latest frame, at once
  EXPECT_EQ(f["channel"], "premium.BTC");
  EXPECT_EQ(f["seq"], 7);
  EXPECT_EQ(f["ts"], (base_ts_ns + 7) / 1'000'000);
  EXPECT_EQ(f["data"]["underlying"], "BTC");
  EXPECT_EQ(f["data"]["tenors"].size(), 2U);

  for (std::uint64_t seq = 8; seq <= 20; ++seq) {
    srv.server.publish(btc_snapshot(seq));
    const auto g = c.read_json();
    EXPECT_EQ(g["channel"], "premium.BTC");
    EXPECT_EQ(g["seq"], seq);
  }
  EXPECT_EQ(srv.server.stats().ws_subscribers, 1U);
  EXPECT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_frames_sent == 14; }));
}

TEST(server_api_ws, fast_publisher_is_coalesced_and_the_subscriber_sees_increasing_seq) {
  test_server srv;
  ws_client c(srv.ep);
  c.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(c.read_json()["op"], "subscribed");
  constexpr std::uint64_t last = 2000;
  std::thread engine([&] {
    for (std::uint64_t seq = 1; seq <= last; ++seq) srv.server.publish(btc_snapshot(seq));
  });
  std::uint64_t prev = 0;
  while (prev < last) {
    const auto f = c.read_json();
    ASSERT_EQ(f["channel"], "premium.BTC");
    const auto seq = f["seq"].get<std::uint64_t>();
    ASSERT_GT(seq, prev);
    prev = seq;
  }
  engine.join();
  const auto st = srv.server.stats();
  EXPECT_EQ(st.published, last);
  EXPECT_LE(st.fanouts, last);
  EXPECT_EQ(prev, last);
}

TEST(server_api_ws, other_channels_carry_their_endpoint_body) {
  test_server srv;
  srv.server.publish(btc_snapshot(3));
  ws_client c(srv.ep);
  c.send(R"({"op":"subscribe","channels":["surface.BTC","forecast.BTC","premium.ETH"]})");
  EXPECT_EQ(c.read_json(),
            json::parse(
                R"({"op":"subscribed","channels":["surface.BTC","forecast.BTC","premium.ETH"]})"));
  // ETH has no snapshot: only the two BTC frames follow.
  const auto a = c.read_json();
  const auto b = c.read_json();
  EXPECT_EQ(a["channel"], "surface.BTC");
  EXPECT_EQ(a["seq"], 3);
  EXPECT_EQ(a["data"]["underlying"], "BTC");
  EXPECT_TRUE(a["data"]["expiries"].is_array());
  EXPECT_EQ(b["channel"], "forecast.BTC");
  EXPECT_EQ(b["seq"], 3);
  EXPECT_TRUE(b["data"].is_object());
  c.send(R"({"op":"ping"})");
  EXPECT_EQ(c.read_json(), json::parse(R"({"op":"pong"})"));
}

TEST(server_api_ws, bad_messages_get_errors_and_the_connection_stays_open) {
  auto cfg = default_config();
  cfg.max_subscriptions_per_client = 2;
  test_server srv(cfg);
  ws_client c(srv.ep);
  struct case_t {
    const char* message;
    const char* code;
  };
  for (const auto& k :
       {case_t{"{not json", "bad_request"}, case_t{"[1,2]", "bad_request"},
        case_t{R"({"op":42})", "bad_request"}, case_t{R"({"op":"dance"})", "unknown_op"},
        case_t{R"({"op":"subscribe"})", "bad_request"},
        case_t{R"({"op":"subscribe","channels":[]})", "bad_request"},
        case_t{R"({"op":"subscribe","channels":[1]})", "bad_request"},
        case_t{R"({"op":"subscribe","channels":["premium.SOL"]})", "unknown_channel"},
        case_t{R"({"op":"subscribe","channels":["premium.BTC","surface.BTC",)"
               R"("forecast.BTC"]})",
               "too_many_subscriptions"}}) {
    c.send(k.message);
    const auto j = c.read_json();
    ASSERT_TRUE(j.contains("error")) << k.message << " -> " << j.dump();
    EXPECT_EQ(j["error"]["code"], k.code) << k.message;
    EXPECT_TRUE(j["error"]["message"].is_string());
  }
  // A refused subscription subscribes nothing; the limit counts distinct channels.
  c.send(R"({"op":"subscribe","channels":["premium.BTC","premium.BTC","surface.BTC"]})");
  EXPECT_EQ(c.read_json()["op"], "subscribed");
  c.send(R"({"op":"subscribe","channels":["forecast.BTC"]})");
  EXPECT_EQ(c.read_json()["error"]["code"], "too_many_subscriptions");
  c.send(R"({"op":"ping"})");
  EXPECT_EQ(c.read_json(), json::parse(R"({"op":"pong"})"));
  EXPECT_EQ(srv.server.stats().ws_client_errors, 10U);
}

TEST(server_api_ws, unsubscribe_stops_the_frames_of_that_channel) {
  test_server srv;
  ws_client c(srv.ep);
  c.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(c.read_json()["op"], "subscribed");
  srv.server.publish(btc_snapshot(1));
  EXPECT_EQ(c.read_json()["seq"], 1);
  c.send(R"({"op":"unsubscribe","channels":["premium.BTC"]})");
  EXPECT_EQ(c.read_json(), json::parse(R"({"op":"unsubscribed","channels":["premium.BTC"]})"));
  EXPECT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_subscribers == 0; }));
  srv.server.publish(btc_snapshot(2));
  // Replies keep their order: had a frame been sent after the ack, it would come before the pong.
  EXPECT_EQ(http_request(srv.ep, "/v1/premium?underlying=BTC").result_int(), 200);
  c.send(R"({"op":"ping"})");
  EXPECT_EQ(c.read_json(), json::parse(R"({"op":"pong"})"));
}

TEST(server_api_ws, message_above_the_limit_closes_only_that_session) {
  auto cfg = default_config();
  cfg.ws_max_message_bytes = 1024;
  test_server srv(cfg);
  ws_client healthy(srv.ep);
  healthy.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(healthy.read_json()["op"], "subscribed");

  ws_client big(srv.ep);
  const std::string message = R"({"op":"ping","pad":")" + std::string(4096, 'x') + "\"}";
  beast::error_code ec;
  // The server may fail the connection before the whole message is written (a broken pipe
  // here): either way the session ends, with close code 1009 when the close frame gets through.
  big.stream().write(asio::buffer(message), ec);
  beast::flat_buffer buf;
  if (!ec) big.stream().read(buf, ec);
  EXPECT_TRUE(ec);
  if (ec == websocket::error::closed) {
    EXPECT_EQ(big.stream().reason().code, websocket::close_code::too_big);
  }
  EXPECT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_sessions == 1; }));

  srv.server.publish(btc_snapshot(1));
  EXPECT_EQ(healthy.read_json()["seq"], 1);
  EXPECT_EQ(http_request(srv.ep, "/healthz").result_int(), 200);
}

TEST(server_api_ws, stalled_subscriber_is_conflated_then_cut_while_the_healthy_one_gets_all) {
  auto cfg = default_config();
  cfg.subscriber_queue = 2;
  cfg.slow_consumer_timeout = std::chrono::milliseconds(2000);
  cfg.ws_send_buffer_bytes = 4096;
  test_server srv(cfg);

  ws_client stalled(srv.ep, {}, 4096);
  stalled.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(stalled.read_json()["op"], "subscribed");
  ws_client healthy(srv.ep);
  healthy.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(healthy.read_json()["op"], "subscribed");

  // About 200 kB per frame: far more than both socket buffers of the stalled client.
  constexpr int tenors = 300;
  std::uint64_t seq = 0;
  for (int i = 0; i < 12; ++i) {
    srv.server.publish(btc_snapshot(++seq, tenors));
    const auto f = healthy.read_json();
    ASSERT_EQ(f["seq"], seq);  // every update, in order
  }
  EXPECT_GE(srv.server.stats().ws_conflated, 1U);
  // The stalled one is cut once its oldest unsent frame is older than the timeout, without a
  // further publish (the session's own timer).
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_slow_disconnects == 1; }));
  for (int i = 0; i < 5; ++i) {
    srv.server.publish(btc_snapshot(++seq, tenors));
    ASSERT_EQ(healthy.read_json()["seq"], seq);
  }
  EXPECT_EQ(seq, 17U);
  EXPECT_EQ(srv.server.stats().ws_slow_disconnects, 1U);
  EXPECT_EQ(srv.server.stats().ws_subscribers, 1U);

  // What the stalled client got before the cut is in order, then the connection ends.
  std::uint64_t prev = 0;
  std::size_t frames = 0;
  beast::error_code ec;
  for (;;) {
    beast::flat_buffer buf;
    stalled.stream().read(buf, ec);
    if (ec) break;
    const auto j = json::parse(beast::buffers_to_string(buf.data()));
    const auto s = j["seq"].get<std::uint64_t>();
    EXPECT_GT(s, prev);
    prev = s;
    ++frames;
  }
  EXPECT_LT(frames, 12U);

  const auto metrics = http_request(srv.ep, "/metrics").body();
  EXPECT_NE(metrics.find("vrp_ws_slow_consumer_disconnects_total 1\n"), std::string::npos);
}

TEST(server_api_ws, frame_writes_feed_the_tick_to_publish_histogram) {
  test_server srv;
  ws_client c(srv.ep);
  c.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(c.read_json()["op"], "subscribed");
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    srv.server.publish(btc_snapshot(seq));
    ASSERT_EQ(c.read_json()["seq"], seq);
  }
  ASSERT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_frames_sent == 3; }));
  const auto body = http_request(srv.ep, "/metrics").body();
  EXPECT_NE(body.find("vrp_tick_to_publish_seconds_count 3\n"), std::string::npos) << body;
  EXPECT_NE(body.find("vrp_ws_frames_sent_total 3\n"), std::string::npos);
}

TEST(server_api_ws, stop_sends_close_frames_and_the_io_context_runs_out) {
  auto srv = std::make_unique<test_server>();
  ws_client c(srv->ep);
  c.send(R"({"op":"subscribe","channels":["premium.BTC"]})");
  ASSERT_EQ(c.read_json()["op"], "subscribed");
  asio::io_context io;
  tcp::socket idle(io);
  idle.connect(srv->ep);
  ASSERT_TRUE(test_server::eventually([&] { return srv->server.stats().connections_open == 2; }));

  // stop() from this thread while the reader waits; the stop itself runs on the io thread.
  auto stopped = std::async(std::launch::async, [&] { return srv->stop_and_join(); });
  beast::error_code ec;
  beast::flat_buffer buf;
  c.stream().read(buf, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.stream().reason().code, websocket::close_code::going_away);
  std::array<char, 16> b{};
  idle.read_some(asio::buffer(b), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_TRUE(stopped.get());

  // Nothing listens any more.
  tcp::socket late(io);
  late.connect(srv->ep, ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace vrp::service::testing
