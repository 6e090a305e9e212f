// The Deribit protocol driven without I/O (protocol_harness.hpp). Expected requests and channel
// sets are derived from the real listing and the docs, never from the protocol itself.

#include <gtest/gtest.h>

#include "protocol_harness.hpp"

namespace vrp::test {
namespace {

using deribit::protocol_state;
using deribit::session_action;

std::set<std::string> as_set(const json& channels) {
  std::set<std::string> s;
  for (const auto& c : channels) s.insert(c.get<std::string>());
  return s;
}

void expect_ids_increasing(const std::vector<json>& requests) {
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_GT(requests[i].at("id").get<std::int64_t>(),
              requests[i - 1].at("id").get<std::int64_t>())
        << requests[i].dump();
  }
}

TEST(deribit_protocol, open_sends_heartbeat_then_discovery) {
  deribit::protocol_config c;
  c.currencies = {"BTC", "ETH"};
  c.heartbeat_interval_s = 10;
  harness h(c);
  h.open();

  auto r = h.requests();
  ASSERT_EQ(r.size(), 5U);
  for (const auto& q : r) {
    EXPECT_EQ(q.at("jsonrpc"), "2.0");
    EXPECT_TRUE(q.at("id").is_number_integer());
  }
  EXPECT_EQ(r[0].at("method"), "public/set_heartbeat");
  EXPECT_EQ(r[0].at("params"), json::parse(R"({"interval":10})"));
  const char* expected[] = {
      R"({"currency":"BTC","kind":"option","expired":false})",
      R"({"currency":"BTC","kind":"future","expired":false})",
      R"({"currency":"ETH","kind":"option","expired":false})",
      R"({"currency":"ETH","kind":"future","expired":false})",
  };
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r[i + 1].at("method"), "public/get_instruments");
    EXPECT_EQ(r[i + 1].at("params"), json::parse(expected[i]));
  }
  expect_ids_increasing(r);
  EXPECT_EQ(h.proto->state(), protocol_state::discovering);
  EXPECT_EQ(h.proto->stats().requests_sent, 5U);
}

TEST(deribit_protocol, subscribes_every_instrument_in_chunks_of_at_most_250) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();

  auto subs = h.unanswered("public/subscribe");
  const auto want = expected_btc_channels(h.btc_list);
  ASSERT_EQ(want.size(), 390U + 1U + 4U);  // options, the perpetual, index/dvol/markprice/platform
  std::size_t total = 0;
  for (const auto& s : subs) {
    EXPECT_LE(s.at("params").at("channels").size(), 250U);
    EXPECT_GE(s.at("params").at("channels").size(), 1U);
    total += s.at("params").at("channels").size();
  }
  EXPECT_EQ(subs.size(), 2U);
  EXPECT_EQ(total, want.size()) << "a channel was requested twice";
  EXPECT_EQ(h.subscribed_channels(), want);
  EXPECT_EQ(h.proto->wanted_channels(), want.size());
  EXPECT_EQ(h.proto->state(), protocol_state::subscribing);
  expect_ids_increasing(h.requests());

  // Every instrument of the listing is interned with the listing's fields and listed once.
  EXPECT_EQ(h.proto->stats().instruments_listed, h.btc_list.size());
  EXPECT_EQ(h.sink.chain(core::chain_change::listed).size(), h.btc_list.size());
  for (const auto& e : h.btc_list) {
    auto id = h.table.find(e.at("instrument_name").get<std::string>());
    ASSERT_NE(id, core::no_instrument) << e.dump();
    const auto& info = h.table.at(id);
    if (e.at("kind") == "option") {
      EXPECT_EQ(info.kind, core::instrument_kind::option);
      EXPECT_EQ(info.strike, e.at("strike").get<double>());
      EXPECT_EQ(info.right,
                e.at("option_type") == "call" ? core::option_right::call : core::option_right::put);
      EXPECT_EQ(info.expiry_ms, e.at("expiration_timestamp").get<std::int64_t>());
      EXPECT_EQ(info.underlying_view(), "BTC");
      EXPECT_TRUE(info.inverse);  // quoted in BTC
    } else if (e.at("settlement_period") == "perpetual") {
      EXPECT_EQ(info.kind, core::instrument_kind::perpetual);
      EXPECT_EQ(info.expiry_ms, 0);
    } else {
      EXPECT_EQ(info.kind, core::instrument_kind::future);
      EXPECT_EQ(info.expiry_ms, e.at("expiration_timestamp").get<std::int64_t>());
    }
  }
}

TEST(deribit_protocol, chunk_size_follows_config) {
  auto c = harness::btc_only();
  c.max_channels_per_request = 100;
  harness h(c);
  h.open();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  // 395 channels in chunks of 100; the subscribe budget allows all of them at once.
  ASSERT_EQ(subs.size(), 4U);
  for (const auto& s : subs) EXPECT_LE(s.at("params").at("channels").size(), 100U);
  EXPECT_EQ(h.subscribed_channels(), expected_btc_channels(h.btc_list));
}

TEST(deribit_protocol, subscribe_result_missing_channel_is_reported) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_EQ(subs.size(), 2U);

  // The venue leaves out channels it does not accept (ws_subscribe_response.empty_result).
  json first = subs[0].at("params").at("channels");
  std::set<std::string> dropped = {first[0].get<std::string>(), first[7].get<std::string>()};
  json kept = json::array();
  for (const auto& ch : first) {
    if (dropped.count(ch.get<std::string>()) == 0) kept.push_back(ch);
  }
  h.answer_result(subs[0], kept);
  h.answer(subs[1], deribit_json("ws_subscribe_response.empty_result.real.json"));

  const std::size_t second = subs[1].at("params").at("channels").size();
  EXPECT_EQ(h.proto->stats().channels_missing, 2U + second);
  EXPECT_EQ(h.proto->stats().channels_confirmed, first.size() - 2U);
  EXPECT_EQ(h.proto->live_channels(), first.size() - 2U);
  auto missing = h.proto->missing_channels();
  std::set<std::string> missing_set(missing.begin(), missing.end());
  EXPECT_EQ(missing_set.size(), 2U + second);
  for (const auto& d : dropped) EXPECT_EQ(missing_set.count(d), 1U) << d;
  for (const auto& ch : subs[1].at("params").at("channels")) {
    EXPECT_EQ(missing_set.count(ch.get<std::string>()), 1U);
  }
  // Every answer arrived: the feed is up with what the venue gave, and a refused channel is not
  // asked again on this connection.
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_TRUE(h.unanswered("public/subscribe").empty());
}

TEST(deribit_protocol, result_order_does_not_matter) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_FALSE(subs.empty());
  std::size_t n = 0;
  for (const auto& s : subs) {
    // The real 2021 subscribe answer's envelope, with the result in another order (sorted).
    json frame = deribit_json("ws_subscribe_response.real_2021.json");
    auto set = as_set(s.at("params").at("channels"));
    frame["result"] = json(std::vector<std::string>(set.rbegin(), set.rend()));
    h.answer(s, frame);
    n += set.size();
  }
  EXPECT_EQ(h.proto->stats().channels_missing, 0U);
  EXPECT_EQ(h.proto->stats().channels_confirmed, n);
  EXPECT_EQ(h.proto->live_channels(), n);
  EXPECT_EQ(h.proto->state(), protocol_state::live);
}

TEST(deribit_protocol, goes_live_and_emits_feed_up_when_all_chunks_confirmed) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_EQ(subs.size(), 2U);
  h.answer_result(subs[1], subs[1].at("params").at("channels"));
  EXPECT_EQ(h.proto->state(), protocol_state::subscribing);
  EXPECT_TRUE(h.sink.chain(core::chain_change::feed_up).empty());

  h.answer_result(subs[0], subs[0].at("params").at("channels"));
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  auto up = h.sink.chain(core::chain_change::feed_up);
  ASSERT_EQ(up.size(), 1U);
  EXPECT_EQ(up[0].id, core::no_instrument);
  ASSERT_FALSE(h.sink.events.empty());
  EXPECT_TRUE(std::holds_alternative<core::chain_event>(h.sink.events.back()));
  EXPECT_EQ(h.proto->live_channels(), expected_btc_channels(h.btc_list).size());
  EXPECT_EQ(deribit::protocol_state_name(protocol_state::live), "live");
}

TEST(deribit_protocol, answers_every_test_request) {
  harness h;
  h.go_live();
  const std::size_t before = h.out.sent.size();
  const auto test_request = read_text(deribit_path("ws_heartbeat_test_request.json"));
  const auto heartbeat = read_text(deribit_path("ws_heartbeat_heartbeat.json"));
  // Key order on the wire may differ (index.json note); it must not matter.
  const std::string reordered =
      R"({"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"})";
  for (const auto& f : {test_request, heartbeat, test_request, heartbeat, reordered}) {
    auto v = h.feed(f);
    EXPECT_FALSE(v.data);
    EXPECT_EQ(v.action, session_action::none);
  }
  auto r = h.requests();
  ASSERT_EQ(r.size(), before + 3U);
  for (std::size_t i = before; i < r.size(); ++i) {
    EXPECT_EQ(r[i].at("method"), "public/test");
    EXPECT_EQ(r[i].at("jsonrpc"), "2.0");
    EXPECT_EQ(r[i].at("params"), json::object());
  }
  expect_ids_increasing(r);
  EXPECT_EQ(h.proto->stats().test_requests_answered, 3U);
  EXPECT_EQ(h.proto->stats().heartbeats, 2U);
  // The answer to public/test (docs frame) is matched, not counted as unknown.
  h.answer(r.back(), deribit_json("ws_public_test_response.json"));
  EXPECT_EQ(h.proto->stats().unmatched_responses, 0U);
  EXPECT_EQ(h.proto->state(), protocol_state::live);
}

TEST(deribit_protocol, resubscribes_every_channel_after_reconnect) {
  harness h;
  h.go_live();
  ASSERT_EQ(h.proto->state(), protocol_state::live);
  const auto want = expected_btc_channels(h.btc_list);
  ASSERT_EQ(h.subscribed_channels(), want);

  h.now_ns += 2'000'000'000;
  h.proto->on_close(h.now_ns);
  EXPECT_EQ(h.proto->state(), protocol_state::disconnected);
  EXPECT_EQ(h.sink.chain(core::chain_change::feed_down).size(), 1U);
  EXPECT_EQ(h.proto->live_channels(), 0U);
  EXPECT_EQ(h.proto->wanted_channels(), want.size());

  const std::size_t from = h.out.sent.size();
  h.now_ns += 1'000'000'000;
  h.open();
  auto r = h.requests();
  ASSERT_GT(r.size(), from);
  EXPECT_EQ(r[from].at("method"), "public/set_heartbeat");
  h.answer_set_heartbeat();
  h.answer_discovery();  // in case the protocol re-discovers
  EXPECT_EQ(h.subscribed_channels(from), want);
  auto all = h.requests();
  expect_ids_increasing(
      std::vector<json>(all.begin() + static_cast<std::ptrdiff_t>(from), all.end()));
  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.proto->live_channels(), want.size());
  EXPECT_EQ(h.sink.chain(core::chain_change::feed_up).size(), 2U);
  // Listed once per instrument across reconnects.
  EXPECT_EQ(h.sink.chain(core::chain_change::listed).size(), h.btc_list.size());
}

TEST(deribit_protocol, resubscribes_after_reconnect_even_when_discovery_is_due) {
  auto c = harness::btc_only();
  c.rediscover_every = std::chrono::seconds(60);
  harness h(c);
  h.go_live();
  h.proto->on_close(h.now_ns);
  const std::size_t from = h.out.sent.size();
  h.now_ns += 120'000'000'000;  // discovery is stale by now
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  EXPECT_EQ(h.subscribed_channels(from), expected_btc_channels(h.btc_list));
  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.sink.chain(core::chain_change::listed).size(), h.btc_list.size());
  EXPECT_TRUE(h.sink.chain(core::chain_change::expired).empty());
}

TEST(deribit_protocol, rate_limit_error_backs_off) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_FALSE(subs.empty());
  auto v1 = h.answer(subs[0], deribit_json("error_too_many_requests.shape.json"));
  EXPECT_EQ(v1.action, session_action::reconnect_after_delay);
  EXPECT_GE(v1.delay, std::chrono::milliseconds(1'000));
  EXPECT_EQ(h.proto->stats().rate_limited, 1U);
  EXPECT_EQ(h.proto->stats().last_error_code, 10028);
  // Nothing more is sent on a connection the venue is about to terminate, and the timer repeats
  // the verdict until the session closes.
  const std::size_t sent = h.out.sent.size();
  h.answer_result(subs[1], subs[1].at("params").at("channels"));
  auto again_timer = h.timer(1'000'000'000);
  EXPECT_EQ(again_timer.action, session_action::reconnect_after_delay);
  EXPECT_EQ(again_timer.delay, v1.delay);
  EXPECT_EQ(h.out.sent.size(), sent);
  EXPECT_NE(h.proto->state(), protocol_state::live);

  // The venue terminates the session; on a repeat the wait grows.
  h.proto->on_close(h.now_ns);
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto again = h.unanswered("public/subscribe");
  ASSERT_FALSE(again.empty());
  auto v2 = h.answer(again[0], deribit_json("error_too_many_requests.shape.json"));
  EXPECT_EQ(v2.action, session_action::reconnect_after_delay);
  EXPECT_GT(v2.delay, v1.delay);
  EXPECT_EQ(h.proto->stats().rate_limited, 2U);
}

TEST(deribit_protocol, maintenance_announced_then_reconnect_later) {
  harness h;
  h.go_live();
  // platform_state's documented maintenance form, in the standard envelope.
  auto v = h.feed(
      R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"platform_state","data":{"maintenance":true}}})");
  EXPECT_FALSE(v.data);
  EXPECT_EQ(v.action, session_action::reconnect_after_delay);
  EXPECT_GE(v.delay, std::chrono::milliseconds(1'000));
  EXPECT_EQ(h.proto->state(), protocol_state::maintenance);
  EXPECT_EQ(h.proto->stats().maintenance, 1U);
  auto begin = h.sink.chain(core::chain_change::maintenance_begin);
  ASSERT_EQ(begin.size(), 1U);
  EXPECT_EQ(begin[0].id, core::no_instrument);

  // Back after the wait: every channel again, then maintenance_end and feed_up.
  h.proto->on_close(h.now_ns);
  h.now_ns += v.delay.count() * 1'000'000;
  h.go_live();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.sink.chain(core::chain_change::maintenance_end).size(), 1U);
  EXPECT_EQ(h.sink.chain(core::chain_change::feed_up).size(), 2U);
}

TEST(deribit_protocol, system_maintenance_error_enters_maintenance) {
  harness h;
  h.open();
  auto r = h.unanswered("public/get_instruments");
  ASSERT_FALSE(r.empty());
  json err = deribit_json("error_bad_request.docs.json");
  err["error"] = json::parse(R"({"code":11051,"message":"system_maintenance"})");
  auto v = h.answer(r[0], err);
  EXPECT_EQ(v.action, session_action::reconnect_after_delay);
  EXPECT_GE(v.delay, std::chrono::milliseconds(1'000));
  EXPECT_EQ(h.proto->state(), protocol_state::maintenance);
  EXPECT_EQ(h.sink.chain(core::chain_change::maintenance_begin).size(), 1U);
}

TEST(deribit_protocol, request_entity_too_large_splits_the_chunk) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_EQ(subs.size(), 2U);
  const auto big = as_set(subs[0].at("params").at("channels"));
  ASSERT_EQ(big.size(), 250U);
  h.answer(subs[1], [&] {
    json f = deribit_json("ws_subscribe_response.real_2021.json");
    f["result"] = subs[1].at("params").at("channels");
    return f;
  }());

  // The real error carries no id: the protocol must tie it to the oversized chunk itself.
  const std::size_t from = h.out.sent.size();
  auto v = h.feed(read_text(deribit_path("error_request_entity_too_large.real.json")));
  EXPECT_EQ(v.action, session_action::none);
  EXPECT_EQ(h.proto->stats().chunks_split, 1U);
  EXPECT_EQ(h.proto->stats().last_error_code, -32600);
  h.answered.insert(subs[0].at("id").get<std::int64_t>());
  auto retry = h.unanswered("public/subscribe");
  ASSERT_EQ(retry.size(), 2U);
  for (const auto& s : retry) EXPECT_LE(s.at("params").at("channels").size(), 125U);
  EXPECT_EQ(h.subscribed_channels(from), big);

  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.proto->stats().channels_missing, 0U);
  EXPECT_EQ(h.proto->live_channels(), expected_btc_channels(h.btc_list).size());
}

TEST(deribit_protocol, invalid_params_on_subscribe_is_reported) {
  harness h;
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_EQ(subs.size(), 2U);
  auto v = h.answer(subs[1], deribit_json("error_invalid_params.real.json"));
  EXPECT_EQ(v.action, session_action::none);
  EXPECT_EQ(h.proto->stats().error_responses, 1U);
  EXPECT_EQ(h.proto->stats().last_error_code, -32602);
  EXPECT_EQ(h.proto->stats().channels_missing, subs[1].at("params").at("channels").size());
  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.proto->live_channels(), subs[0].at("params").at("channels").size());
}

TEST(deribit_protocol, raw_interval_refused_falls_back_to_100ms) {
  auto c = harness::btc_only();
  c.ticker_interval = "raw";
  harness h(c);
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery();
  auto subs = h.unanswered("public/subscribe");
  ASSERT_EQ(subs.size(), 2U);
  EXPECT_EQ(h.subscribed_channels(), expected_btc_channels(h.btc_list, "raw"));
  json err = deribit_json("error_bad_request.docs.json");
  err["error"] =
      json::parse(R"({"code":13778,"message":"raw_subscriptions_not_available_for_unauthorized"})");
  const std::size_t from = h.out.sent.size();
  for (const auto& s : subs) h.answer(s, err);
  EXPECT_EQ(h.proto->stats().interval_fallbacks, 1U);
  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  EXPECT_EQ(h.subscribed_channels(from), expected_btc_channels(h.btc_list, "100ms"));
  EXPECT_EQ(h.proto->live_channels(), expected_btc_channels(h.btc_list, "100ms").size());
}

TEST(deribit_protocol, rediscovery_lists_new_and_expires_vanished_instruments) {
  auto c = harness::btc_only();
  c.rediscover_every = std::chrono::seconds(600);
  harness h(c);
  // First listing without X; the second has X but lost Y.
  json full = h.btc_list;
  std::string x, y;
  json first = json::array();
  json second = json::array();
  for (const auto& e : full) {
    auto name = e.at("instrument_name").get<std::string>();
    if (e.at("kind") == "option" && x.empty()) {
      x = name;
      second.push_back(e);
    } else if (e.at("kind") == "option" && y.empty()) {
      y = name;
      first.push_back(e);
    } else {
      first.push_back(e);
      second.push_back(e);
    }
  }
  h.open();
  h.answer_set_heartbeat();
  h.answer_discovery(first);
  h.confirm_subscribes();
  ASSERT_EQ(h.proto->state(), protocol_state::live);
  const auto x_id_before = h.table.find(x);
  EXPECT_EQ(x_id_before, core::no_instrument);
  const std::size_t listed_before = h.sink.chain(core::chain_change::listed).size();

  // Nothing before the period is up.
  const std::size_t from = h.out.sent.size();
  EXPECT_EQ(h.timer(300'000'000'000).action, session_action::none);
  EXPECT_TRUE(h.unanswered("public/get_instruments").empty());
  h.timer(301'000'000'000);
  auto again = h.unanswered("public/get_instruments");
  ASSERT_EQ(again.size(), 2U);
  h.answer_discovery(second);

  auto listed = h.sink.chain(core::chain_change::listed);
  ASSERT_EQ(listed.size(), listed_before + 1U);
  EXPECT_EQ(listed.back().id, h.table.find(x));
  auto expired = h.sink.chain(core::chain_change::expired);
  ASSERT_EQ(expired.size(), 1U);
  EXPECT_EQ(expired[0].id, h.table.find(y));
  EXPECT_EQ(h.proto->stats().instruments_expired, 1U);

  EXPECT_EQ(h.subscribed_channels(from), std::set<std::string>{"ticker." + x + ".100ms"});
  std::set<std::string> unsubscribed;
  for (const auto& r : h.requests()) {
    if (r.at("method") == "public/unsubscribe") {
      for (const auto& ch : r.at("params").at("channels"))
        unsubscribed.insert(ch.get<std::string>());
    }
  }
  EXPECT_EQ(unsubscribed, std::set<std::string>{"ticker." + y + ".100ms"});
  EXPECT_EQ(h.proto->wanted_channels(), expected_btc_channels(second).size());
  h.confirm_subscribes();
  EXPECT_EQ(h.proto->state(), protocol_state::live);
}

TEST(deribit_protocol, request_timeout_triggers_reconnect) {
  auto c = harness::btc_only();
  c.request_timeout = std::chrono::seconds(10);
  harness h(c);
  h.open();
  const std::size_t sent = h.out.sent.size();
  EXPECT_EQ(h.timer(9'000'000'000).action, session_action::none);
  EXPECT_EQ(h.proto->stats().request_timeouts, 0U);
  auto v = h.timer(1'000'000'000);
  EXPECT_EQ(v.action, session_action::reconnect);
  EXPECT_EQ(h.proto->stats().request_timeouts, sent);  // none of them was answered
}

TEST(deribit_protocol, answered_requests_do_not_time_out) {
  harness h;
  h.go_live();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(h.timer(1'000'000'000).action, session_action::none);
  EXPECT_EQ(h.proto->stats().request_timeouts, 0U);
}

TEST(deribit_protocol, malformed_frame_is_counted_not_fatal) {
  harness h;
  h.go_live();
  const std::size_t events = h.sink.events.size();
  for (std::string_view bad : {std::string_view(R"({"jsonrpc":"2.0","method":"subscr)"),
                               std::string_view("not json at all"), std::string_view("[1,2,3]")}) {
    auto v = h.feed(bad);
    EXPECT_EQ(v.action, session_action::none);
    EXPECT_FALSE(v.data);
  }
  EXPECT_EQ(h.proto->stats().malformed_frames, 3U);
  EXPECT_EQ(h.sink.events.size(), events);
  EXPECT_EQ(h.proto->state(), protocol_state::live);
  // Still answering the venue.
  h.feed(read_text(deribit_path("ws_heartbeat_test_request.json")));
  EXPECT_EQ(h.proto->stats().test_requests_answered, 1U);
}

TEST(deribit_protocol, unknown_response_id_is_counted) {
  harness h;
  h.go_live();
  auto v = h.feed_json(deribit_json("ws_subscribe_response.docs.json"));  // id 4235, never sent
  EXPECT_EQ(v.action, session_action::none);
  EXPECT_EQ(h.proto->stats().unmatched_responses, 1U);
}

}  // namespace
}  // namespace vrp::test
