#include <gtest/gtest.h>

#include "vrp/feeds/ws_session.hpp"

namespace vrp::feeds {
namespace {

TEST(ws_url, parses_deribit_production_url_with_default_port) {
  ws_url u;
  ASSERT_TRUE(parse_ws_url("wss://www.deribit.com/ws/api/v2", u));
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "www.deribit.com");
  EXPECT_EQ(u.port, "443");
  EXPECT_EQ(u.target, "/ws/api/v2");
}

TEST(ws_url, parses_plain_url_with_port_and_query) {
  ws_url u;
  ASSERT_TRUE(parse_ws_url("ws://127.0.0.1:9001/stream?x=1&y=2", u));
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "9001");
  EXPECT_EQ(u.target, "/stream?x=1&y=2");
}

TEST(ws_url, empty_path_becomes_root_and_plain_default_port_is_80) {
  ws_url u;
  ASSERT_TRUE(parse_ws_url("ws://localhost", u));
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.target, "/");
  ASSERT_TRUE(parse_ws_url("WSS://localhost:8443?a=b", u));
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.target, "/?a=b");
}

TEST(ws_url, parses_bracketed_ipv6_host) {
  ws_url u;
  ASSERT_TRUE(parse_ws_url("ws://[::1]:8080/x", u));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/x");
}

TEST(ws_url, rejects_other_schemes_and_malformed_authorities) {
  ws_url u;
  for (const char* bad : {"http://example.com/", "wss//example.com", "", "ws://", "ws://:80/",
                          "ws://host:/", "ws://host:0/", "ws://host:65536/", "ws://host:12a/",
                          "ws://user@host/", "ws://[::1/", "ws://[::1]x/"}) {
    EXPECT_FALSE(parse_ws_url(bad, u)) << bad;
  }
}

TEST(ws_url, close_reason_names_are_snake_case) {
  EXPECT_EQ(close_reason_name(close_reason::none), "none");
  EXPECT_EQ(close_reason_name(close_reason::stopped), "stopped");
  EXPECT_EQ(close_reason_name(close_reason::resolve_failed), "resolve_failed");
  EXPECT_EQ(close_reason_name(close_reason::connect_failed), "connect_failed");
  EXPECT_EQ(close_reason_name(close_reason::connect_timeout), "connect_timeout");
  EXPECT_EQ(close_reason_name(close_reason::tls_failed), "tls_failed");
  EXPECT_EQ(close_reason_name(close_reason::handshake_failed), "handshake_failed");
  EXPECT_EQ(close_reason_name(close_reason::read_failed), "read_failed");
  EXPECT_EQ(close_reason_name(close_reason::write_failed), "write_failed");
  EXPECT_EQ(close_reason_name(close_reason::stale), "stale");
  EXPECT_EQ(close_reason_name(close_reason::message_too_big), "message_too_big");
  EXPECT_EQ(close_reason_name(close_reason::requested), "requested");
}

}  // namespace
}  // namespace vrp::feeds
