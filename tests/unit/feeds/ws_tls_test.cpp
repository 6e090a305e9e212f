#include <gtest/gtest.h>

#include "ws_test_support.hpp"

namespace vrp::feeds::test {
namespace {

// OpenSSL's reason string for a failed chain or host-name check.
bool is_verify_failure(const std::error_code& ec) {
  return ec.message().find("certificate verify failed") != std::string::npos;
}

TEST(ws_tls, tls_session_verifies_peer_with_test_ca) {
  for (const char* host : {"localhost", "127.0.0.1"}) {  // DNS SAN with SNI, then IP SAN
    SCOPED_TRACE(host);
    asio::io_context io;
    server_script script;
    script.frames_on_open = {"over tls"};
    test_server server(io, script, tls_file("localhost.pem"), tls_file("localhost.key"));
    recorder rec;
    rec.on_open_action = [](ws_session& s) { s.send("hello from client"); };
    auto cfg = fast_config(server.url(host));
    cfg.ca_file = tls_file("ca.pem");
    ws_session session(io, cfg, rec);
    session.start();

    ASSERT_TRUE(run_until(
        io, [&] { return rec.frames.size() == 1 && server.counters().received.size() == 1; }));
    EXPECT_EQ(rec.frames[0], "over tls");
    EXPECT_EQ(server.counters().received[0], "hello from client");
    EXPECT_EQ(rec.opens, 1);
    EXPECT_TRUE(rec.closes.empty());
    EXPECT_EQ(server.counters().tls_failures, 0);
  }
}

TEST(ws_tls, tls_session_refuses_wrong_host_name) {
  asio::io_context io;
  test_server server(io, server_script{}, tls_file("wronghost.pem"), tls_file("wronghost.key"));
  recorder rec;
  auto cfg = fast_config(server.url("localhost"));
  cfg.ca_file = tls_file("ca.pem");  // the chain is trusted; only the name is wrong
  ws_session session(io, cfg, rec);
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return rec.closes.size() >= 2; }));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rec.closes[i], close_reason::tls_failed);
    EXPECT_TRUE(is_verify_failure(rec.close_errors[i])) << rec.close_errors[i].message();
  }
  EXPECT_EQ(rec.opens, 0);
  EXPECT_EQ(session.stats().connects, 0U);
  EXPECT_GE(session.stats().failed_attempts, 2U);
  EXPECT_EQ(server.counters().handshakes, 0);
}

TEST(ws_tls, tls_session_refuses_unknown_ca) {
  asio::io_context io;
  test_server server(io, server_script{}, tls_file("localhost.pem"), tls_file("localhost.key"));
  recorder rec;
  ws_session session(io, fast_config(server.url("localhost")), rec);  // system CA store only
  session.start();

  ASSERT_TRUE(run_until(io, [&] { return !rec.closes.empty(); }));
  EXPECT_EQ(rec.closes[0], close_reason::tls_failed);
  EXPECT_TRUE(is_verify_failure(rec.close_errors[0])) << rec.close_errors[0].message();
  EXPECT_EQ(rec.opens, 0);
  EXPECT_EQ(server.counters().handshakes, 0);
}

TEST(ws_tls, tls_session_stops_with_close_frame) {
  asio::io_context io;
  test_server server(io, server_script{}, tls_file("localhost.pem"), tls_file("localhost.key"));
  recorder rec;
  auto cfg = fast_config(server.url("localhost"));
  cfg.ca_file = tls_file("ca.pem");
  ws_session session(io, cfg, rec);
  session.start();
  ASSERT_TRUE(run_until(io, [&] { return rec.opens == 1; }));
  session.stop();
  ASSERT_TRUE(run_until(
      io, [&] { return rec.close_count == 1 && server.counters().close_frames_received == 1; }));
  EXPECT_EQ(rec.closes[0], close_reason::stopped);
}

TEST(ws_tls, missing_ca_file_is_a_configuration_error) {
  asio::io_context io;
  recorder rec;
  ws_session_config cfg;
  cfg.url = "wss://localhost:1/";
  cfg.ca_file = tls_file("does-not-exist.pem");
  EXPECT_THROW(ws_session(io, cfg, rec), std::invalid_argument);
}

}  // namespace
}  // namespace vrp::feeds::test
