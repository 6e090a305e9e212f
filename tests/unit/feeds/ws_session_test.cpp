#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "ws_test_support.hpp"

namespace vrp::feeds::test {
namespace {

TEST(ws_session, session_connects_and_receives_frames) {
  asio::io_context io;
  server_script script;
  script.frames_on_open = {R"({"jsonrpc":"2.0","id":1,"result":"a"})", "b", std::string(3000, 'c')};
  test_server server(io, script);
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  EXPECT_FALSE(session.connected());
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.frames.size() == 3; }));
  EXPECT_EQ(rec.frames[0], script.frames_on_open[0]);
  EXPECT_EQ(rec.frames[1], script.frames_on_open[1]);
  EXPECT_EQ(rec.frames[2], script.frames_on_open[2]);
  EXPECT_TRUE(session.connected());
  EXPECT_EQ(rec.opens, 1);
  EXPECT_TRUE(rec.closes.empty());
  const auto& st = session.stats();
  EXPECT_EQ(st.connects, 1U);
  EXPECT_EQ(st.frames_in, 3U);
  EXPECT_EQ(st.bytes_in, script.frames_on_open[0].size() + 1 + 3000);
  EXPECT_EQ(st.failed_attempts, 0U);
  // The upgrade request carried the URL's path and our user agent.
  EXPECT_EQ(server.counters().target, "/ws/api/v2");
  EXPECT_EQ(server.counters().user_agent.rfind("vrp", 0), 0U) << server.counters().user_agent;
  // recv_ns is wall-clock nanoseconds: after 2020-01-01 (1.5778e18 ns).
  EXPECT_GT(rec.last_recv_ns, 1'577'836'800'000'000'000LL);
}

TEST(ws_session, session_sends_queued_frames) {
  asio::io_context io;
  test_server server(io, server_script{});
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  EXPECT_FALSE(session.send("before start"));  // not connected: refused
  rec.on_open_action = [](ws_session& s) {
    EXPECT_TRUE(s.send(R"({"method":"public/subscribe","id":1})"));
    EXPECT_TRUE(s.send(R"({"method":"public/test","id":2})"));
  };
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return server.counters().received.size() == 2; }));
  EXPECT_EQ(server.counters().received[0], R"({"method":"public/subscribe","id":1})");
  EXPECT_EQ(server.counters().received[1], R"({"method":"public/test","id":2})");
  ASSERT_TRUE(run_until(io, [&] { return session.stats().frames_out == 2; }));
  EXPECT_EQ(session.stats().write_queue_drops, 0U);
}

TEST(ws_session, send_drops_and_counts_when_write_queue_is_full) {
  asio::io_context io;
  test_server server(io, server_script{});
  recorder rec;
  auto cfg = fast_config(server.url());
  cfg.max_queued_writes = 2;
  ws_session session(io, cfg, rec);
  std::vector<bool> accepted;
  rec.on_open_action = [&](ws_session& s) {
    // All five are queued before any write can complete: only two slots.
    for (int i = 0; i < 5; ++i) accepted.push_back(s.send("frame-" + std::to_string(i)));
  };
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return session.stats().frames_out == 2; }));
  EXPECT_EQ(accepted, (std::vector<bool>{true, true, false, false, false}));
  EXPECT_EQ(session.stats().write_queue_drops, 3U);
  ASSERT_TRUE(run_until(io, [&] { return server.counters().received.size() == 2; }));
  EXPECT_EQ(server.counters().received, (std::vector<std::string>{"frame-0", "frame-1"}));
  // The ring is free again: later sends go through.
  EXPECT_TRUE(session.send("frame-after"));
  ASSERT_TRUE(run_until(io, [&] { return server.counters().received.size() == 3; }));
  EXPECT_EQ(server.counters().received[2], "frame-after");
}

TEST(ws_session, session_reconnects_after_server_closes) {
  asio::io_context io;
  server_script script;
  script.frames_on_open = {"hello"};
  script.close_after_frames = true;
  test_server server(io, script);
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 2; }));
  EXPECT_EQ(session.stats().connects, 2U);
  EXPECT_GE(session.stats().disconnects, 1U);
  ASSERT_FALSE(rec.closes.empty());
  EXPECT_EQ(rec.closes[0], close_reason::read_failed);
  EXPECT_EQ(rec.frames[0], "hello");
  EXPECT_EQ(server.counters().handshakes, 2);
}

TEST(ws_session, handler_requested_reconnect_opens_a_new_connection) {
  asio::io_context io;
  server_script script;
  script.frames_on_open = {"one", "two"};
  test_server server(io, script);
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  rec.on_frame_action = [&](ws_session& s, std::string_view text) {
    if (text == "one" && rec.opens == 1) s.reconnect();
  };
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 2 && rec.frames.size() == 3; }));
  ASSERT_EQ(rec.closes.size(), 1U);
  EXPECT_EQ(rec.closes[0], close_reason::requested);
  EXPECT_EQ(session.stats().last_close, close_reason::requested);
  // The frame after the one that asked for the reconnect was not delivered on the old link.
  EXPECT_EQ(rec.frames, (std::vector<std::string>{"one", "one", "two"}));
}

TEST(ws_session, watchdog_reconnects_when_no_data_frames) {
  asio::io_context io;
  server_script script;
  script.periodic_frame = R"({"method":"heartbeat","params":{"type":"heartbeat"}})";
  script.period = 20ms;
  test_server server(io, script);
  recorder rec;
  rec.classify = [](std::string_view) { return false; };  // heartbeats are not market data
  auto cfg = fast_config(server.url());
  cfg.stale_after = 200ms;
  ws_session session(io, cfg, rec);
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 2; }));
  ASSERT_FALSE(rec.closes.empty());
  EXPECT_EQ(rec.closes[0], close_reason::stale);
  EXPECT_GE(session.stats().stale_reconnects, 1U);
  EXPECT_GT(session.stats().frames_in, 0U);  // frames flowed; only data frames feed the watchdog
}

TEST(ws_session, watchdog_does_not_fire_while_data_flows) {
  asio::io_context io;
  server_script script;
  script.periodic_frame = R"({"params":{"channel":"ticker.BTC-PERPETUAL.100ms"}})";
  script.period = 20ms;
  test_server server(io, script);
  recorder rec;
  auto cfg = fast_config(server.url());
  cfg.stale_after = 400ms;
  ws_session session(io, cfg, rec);
  session.start();

  // 60 frames at 20 ms span well over stale_after.
  ASSERT_TRUE(run_until(io, [&] { return rec.frames.size() >= 60; }));
  EXPECT_EQ(session.stats().stale_reconnects, 0U);
  EXPECT_TRUE(rec.closes.empty());
  EXPECT_EQ(rec.opens, 1);
}

TEST(ws_session, oversized_frame_is_counted_and_reconnects) {
  asio::io_context io;
  server_script script;
  script.frames_on_open = {"small", std::string(4096, 'x')};
  test_server server(io, script);
  recorder rec;
  auto cfg = fast_config(server.url());
  cfg.max_message_bytes = 1024;
  ws_session session(io, cfg, rec);
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 2; }));
  ASSERT_FALSE(rec.closes.empty());
  EXPECT_EQ(rec.closes[0], close_reason::message_too_big);
  EXPECT_GE(session.stats().oversized, 1U);
  EXPECT_EQ(rec.frames[0], "small");
  for (const auto& f : rec.frames) EXPECT_LE(f.size(), 1024U);
}

// A loopback port that refuses connections: bound once to learn a free port, then closed.
unsigned short closed_loopback_port(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = a.local_endpoint().port();
  a.close();
  return port;
}

TEST(ws_session, connect_refused_counts_failed_attempts_and_backs_off) {
  asio::io_context io;
  const auto port = closed_loopback_port(io);
  recorder rec;
  auto cfg = fast_config("ws://127.0.0.1:" + std::to_string(port) + "/");
  cfg.backoff_initial = 20ms;
  cfg.backoff_max = 1'000ms;
  ws_session session(io, cfg, rec);
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.closes.size() >= 4; }));
  EXPECT_EQ(rec.opens, 0);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rec.closes[i], close_reason::connect_failed) << i;
    EXPECT_EQ(rec.close_errors[i], std::errc::connection_refused) << rec.close_errors[i].message();
  }
  EXPECT_GE(session.stats().failed_attempts, 4U);
  EXPECT_EQ(session.stats().connects, 0U);
  // Without jitter the waits are 20, 40, 80 ms; a timer never fires early, so the gaps between
  // failures are at least that long (an upper bound would be a timing assertion).
  const std::chrono::milliseconds waits[] = {20ms, 40ms, 80ms};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_GE(rec.close_times[i + 1] - rec.close_times[i], waits[i]) << i;
  }
}

TEST(ws_session, backoff_at_least_delays_the_next_attempt) {
  asio::io_context io;
  const auto port = closed_loopback_port(io);
  recorder rec;
  auto cfg = fast_config("ws://127.0.0.1:" + std::to_string(port) + "/");
  ws_session session(io, cfg, rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return rec.closes.size() >= 1; }));
  session.backoff_at_least(300ms);  // while waiting (10 ms planned): extends the current wait
  ASSERT_TRUE(run_until(io, [&] { return rec.closes.size() >= 2; }));
  EXPECT_GE(rec.close_times[1] - rec.close_times[0], 300ms);
}

TEST(ws_session, connect_times_out_when_loopback_listener_never_accepts) {
  asio::io_context io;
  // A listener with a full accept queue drops further SYNs, so connect() hangs on loopback.
  tcp::acceptor listener(io);
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  listener.open(ep.protocol());
  listener.bind(ep);
  listener.listen(0);
  const auto port = listener.local_endpoint().port();
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.push_back(std::make_unique<tcp::socket>(io));
    fillers.back()->async_connect(tcp::endpoint(ep.address(), port), [](beast::error_code) {});
  }
  io.run_for(50ms);

  recorder rec;
  auto cfg = fast_config("ws://127.0.0.1:" + std::to_string(port) + "/");
  cfg.connect_timeout = 200ms;
  ws_session session(io, cfg, rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return !rec.closes.empty(); }));
  EXPECT_EQ(rec.closes[0], close_reason::connect_timeout) << rec.close_errors[0].message();
  EXPECT_EQ(rec.opens, 0);
  EXPECT_GE(session.stats().failed_attempts, 1U);
}

TEST(ws_session, handshake_times_out_when_server_never_answers) {
  asio::io_context io;
  // Accepts TCP and then stays silent.
  tcp::acceptor listener(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::vector<tcp::socket> held;
  listener.async_accept([&](beast::error_code ec, tcp::socket s) {
    if (!ec) held.push_back(std::move(s));
  });
  recorder rec;
  auto cfg =
      fast_config("ws://127.0.0.1:" + std::to_string(listener.local_endpoint().port()) + "/");
  cfg.handshake_timeout = 200ms;
  ws_session session(io, cfg, rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return !rec.closes.empty(); }));
  EXPECT_EQ(rec.closes[0], close_reason::handshake_failed);
  EXPECT_EQ(rec.opens, 0);
  EXPECT_EQ(held.size(), 1U);
}

TEST(ws_session, stop_closes_cleanly_and_does_not_reconnect) {
  asio::io_context io;
  test_server server(io, server_script{});
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 1; }));

  session.stop();
  ASSERT_TRUE(run_until(io, [&] { return rec.close_count == 1; }));
  EXPECT_EQ(rec.closes[0], close_reason::stopped);
  EXPECT_FALSE(session.connected());
  EXPECT_FALSE(session.send("after stop"));
  // The server saw a WebSocket close frame, not a dropped TCP connection.
  ASSERT_TRUE(run_until(io, [&] { return server.counters().close_frames_received == 1; }));

  // With the server gone, a stopped session holds no timer and no operation: the io_context
  // runs out of work. A pending reconnect would keep it busy (and fail to connect, again).
  server.close();
  io.restart();
  io.run_for(5s);
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(rec.close_count, 1);
  EXPECT_EQ(rec.opens, 1);
  EXPECT_EQ(server.counters().accepted, 1);
  EXPECT_EQ(session.stats().last_close, close_reason::stopped);
}

TEST(ws_session, stop_while_waiting_to_reconnect_reports_stopped_once) {
  asio::io_context io;
  const auto port = closed_loopback_port(io);
  recorder rec;
  auto cfg = fast_config("ws://127.0.0.1:" + std::to_string(port) + "/");
  cfg.backoff_initial = 10'000ms;
  cfg.backoff_max = 10'000ms;
  ws_session session(io, cfg, rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return rec.closes.size() == 1; }));
  session.stop();
  io.restart();
  io.run_for(5s);
  EXPECT_TRUE(io.stopped());  // the 10 s backoff timer was cancelled
  ASSERT_EQ(rec.closes.size(), 2U);
  EXPECT_EQ(rec.closes[1], close_reason::stopped);
}

TEST(ws_session, stop_from_another_thread_is_safe) {
  asio::io_context io;
  server_script script;
  script.periodic_frame = "tick";
  script.period = 5ms;
  test_server server(io, script);
  recorder rec;
  ws_session session(io, fast_config(server.url()), rec);
  session.start();
  std::thread io_thread([&] { io.run(); });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rec.opens.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  session.stop();
  while (rec.close_count.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  asio::post(io, [&] { server.close(); });
  io_thread.join();  // returns once nothing is left to do
  ASSERT_EQ(rec.opens.load(), 1);
  ASSERT_EQ(rec.closes.size(), 1U);
  EXPECT_EQ(rec.closes[0], close_reason::stopped);
}

TEST(ws_session, destroying_session_right_after_stop_is_safe) {
  asio::io_context io;
  server_script script;
  script.periodic_frame = "tick";
  script.period = 5ms;
  test_server server(io, script);
  recorder rec;
  {
    ws_session session(io, fast_config(server.url()), rec);
    session.start();
    ASSERT_TRUE(run_until(io, [&] { return rec.frames.size() >= 3; }));
    session.stop();
    session.send("queued while the stop is in flight");
  }  // destroyed before the posted stop ran
  const int closes_before = rec.close_count;
  server.close();
  io.restart();
  io.run_for(5s);  // late handlers must find the session detached
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(rec.close_count, closes_before);  // no callback after destruction
}

TEST(ws_session, invalid_url_is_a_configuration_error) {
  asio::io_context io;
  recorder rec;
  ws_session_config cfg;
  cfg.url = "https://www.deribit.com/ws/api/v2";
  EXPECT_THROW(ws_session(io, cfg, rec), std::invalid_argument);
}

}  // namespace
}  // namespace vrp::feeds::test
