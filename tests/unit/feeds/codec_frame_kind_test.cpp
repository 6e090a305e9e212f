// Frame classification: what kind of JSON-RPC frame, its id, error code and channel family.
// Expected ids and codes are read from the reference messages with nlohmann (independent parser).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "codec_test_support.hpp"

namespace {

using namespace vrp::feeds::deribit;
using vrp::test::codec::decode;
using vrp::test::codec::deribit_dir;
using vrp::test::codec::read_lines;
using vrp::test::codec::read_text;
using vrp::test::codec::recording_sink;
using vrp::test::codec::wrap;

struct fixture : ::testing::Test {
  vrp::core::instrument_table table{1024};
  codec c{table};
  recording_sink sink;
};

using frame_kind_test = fixture;

TEST_F(frame_kind_test, heartbeat_is_classified_as_heartbeat) {
  const auto info = decode(c, read_text(deribit_dir() + "ws_heartbeat_heartbeat.json"), sink);
  EXPECT_EQ(info.kind, frame_kind::heartbeat);
  EXPECT_EQ(info.reject, reject_reason::none);
  EXPECT_EQ(info.rpc_id, -1);
  EXPECT_TRUE(sink.events.empty());
}

TEST_F(frame_kind_test, test_request_is_classified_as_test_request) {
  const auto info = decode(c, read_text(deribit_dir() + "ws_heartbeat_test_request.json"), sink);
  EXPECT_EQ(info.kind, frame_kind::test_request);
  EXPECT_EQ(info.reject, reject_reason::none);
}

TEST_F(frame_kind_test, test_request_is_recognised_whatever_the_key_order) {
  // The order one implementer reports seeing on the wire (index.json note).
  const auto info =
      decode(c, R"({"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"})", sink);
  EXPECT_EQ(info.kind, frame_kind::test_request);
}

TEST_F(frame_kind_test, responses_carry_their_request_id) {
  for (const char* file :
       {"ws_public_test_response.json", "ws_set_heartbeat_response.docs.json",
        "ws_subscribe_response.docs.json", "ws_subscribe_response.empty_result.real.json",
        "ws_subscribe_response.real_2021.json", "ws_unsubscribe_response.docs.json",
        "rpc_get_instruments_response.docs.json", "rpc_get_instruments_BTC.real_2021-07-22.json",
        "rpc_get_book_summary_by_currency_response.docs.json"}) {
    SCOPED_TRACE(file);
    const std::string text = read_text(deribit_dir() + file);
    const auto expected = nlohmann::json::parse(text);
    const auto info = decode(c, text, sink);
    EXPECT_EQ(info.kind, frame_kind::response);
    EXPECT_EQ(info.reject, reject_reason::none);
    // The real get_instruments capture was made over HTTP without an id.
    EXPECT_EQ(info.rpc_id, expected.contains("id") ? expected.at("id").get<std::int64_t>() : -1);
  }
  EXPECT_TRUE(sink.events.empty());
}

TEST_F(frame_kind_test, error_responses_carry_code_and_id_when_present) {
  for (const char* file :
       {"error_bad_request.docs.json", "error_invalid_token.docs.json",
        "error_invalid_params.real.json", "error_request_entity_too_large.real.json",
        "error_too_many_requests.shape.json"}) {
    SCOPED_TRACE(file);
    const std::string text = read_text(deribit_dir() + file);
    const auto expected = nlohmann::json::parse(text);
    const auto info = decode(c, text, sink);
    EXPECT_EQ(info.kind, frame_kind::error_response);
    EXPECT_EQ(info.error_code, expected.at("error").at("code").get<std::int64_t>());
    EXPECT_EQ(info.rpc_id, expected.contains("id") ? expected.at("id").get<std::int64_t>() : -1);
  }
}

TEST_F(frame_kind_test, error_without_code_is_an_error_response_flagged_missing_field) {
  const auto info = decode(c, R"({"jsonrpc":"2.0","id":5,"error":{"message":"x"}})", sink);
  EXPECT_EQ(info.kind, frame_kind::error_response);
  EXPECT_EQ(info.rpc_id, 5);
  EXPECT_EQ(info.reject, reject_reason::missing_field);
}

TEST_F(frame_kind_test, subscription_channels_are_classified_by_family) {
  struct row {
    std::string text;
    channel_kind expected;
  };
  const std::vector<row> rows = {
      {read_text(deribit_dir() + "notif_ticker_option.real_2021.json"), channel_kind::ticker},
      {read_text(deribit_dir() + "notif_ticker_btc_perpetual.real_2019.json"),
       channel_kind::ticker},
      {read_text(deribit_dir() + "notif_deribit_price_index.docs.json"), channel_kind::price_index},
      {read_text(deribit_dir() + "notif_deribit_volatility_index.envelope.json"),
       channel_kind::volatility_index},
      {wrap("markprice.options.btc_usd", R"([{"timestamp":1622470378005,"mark_price":0.0333,)"
                                         R"("iv":0.9,"instrument_name":"BTC-2JUN21-37000-P"}])"),
       channel_kind::markprice},
      {wrap("platform_state", R"({"maintenance":true})"), channel_kind::platform_state},
      {read_text(deribit_dir() + "notif_book_option.real_2021.json"), channel_kind::other},
      {read_text(deribit_dir() + "notif_trades_perpetual.real_2019.json"), channel_kind::other},
      {read_text(deribit_dir() + "notif_quote.real_2019.json"), channel_kind::other},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text.substr(0, 120));
    const auto info = decode(c, r.text, sink);
    EXPECT_EQ(info.kind, frame_kind::subscription);
    EXPECT_EQ(info.channel, r.expected);
    EXPECT_EQ(info.reject, reject_reason::none);
    EXPECT_EQ(info.rpc_id, -1);
  }
  EXPECT_EQ(c.stats().ignored_channel, 3U);
}

TEST_F(frame_kind_test, replay_capture_frames_are_classified) {
  const auto lines =
      read_lines(deribit_dir() + "replay/cryptofeed_2021-07-22_options.frames.jsonl");
  ASSERT_EQ(lines.size(), 136U);  // index.json: 1 subscribe result + 89 ticker + 46 book
  int responses = 0, tickers = 0, books = 0;
  for (const auto& line : lines) {
    const auto expected = nlohmann::json::parse(line);
    const auto info = decode(c, line, sink);
    if (expected.contains("result")) {
      ++responses;
      EXPECT_EQ(info.kind, frame_kind::response);
      EXPECT_EQ(info.rpc_id, expected.at("id").get<std::int64_t>());
      continue;
    }
    EXPECT_EQ(info.kind, frame_kind::subscription);
    const auto channel = expected.at("params").at("channel").get<std::string>();
    if (channel.rfind("ticker.", 0) == 0) {
      ++tickers;
      EXPECT_EQ(info.channel, channel_kind::ticker);
      EXPECT_EQ(info.events, 1U) << line;
    } else {
      ++books;
      EXPECT_EQ(info.channel, channel_kind::other);
      EXPECT_EQ(info.events, 0U);
    }
  }
  EXPECT_EQ(responses, 1);
  EXPECT_EQ(tickers, 89);
  EXPECT_EQ(books, 46);
  EXPECT_EQ(c.stats().frames, 136U);
  EXPECT_EQ(c.stats().events, 89U);
  EXPECT_EQ(c.stats().ignored_channel, 46U);
}

TEST_F(frame_kind_test, unknown_method_is_malformed) {
  const auto info = decode(c, R"({"jsonrpc":"2.0","method":"public/test","params":{}})", sink);
  EXPECT_EQ(info.kind, frame_kind::malformed);
  EXPECT_EQ(info.reject, reject_reason::unknown_method);
}

TEST_F(frame_kind_test, object_without_method_or_result_is_missing_field) {
  const auto info = decode(c, R"({"jsonrpc":"2.0"})", sink);
  EXPECT_EQ(info.kind, frame_kind::malformed);
  EXPECT_EQ(info.reject, reject_reason::missing_field);
}

TEST_F(frame_kind_test, subscription_without_channel_or_data_is_missing_field) {
  for (const char* text : {R"({"method":"subscription","params":{"data":{}}})",
                           R"({"method":"subscription","params":{"channel":"platform_state"}})",
                           R"({"method":"subscription"})"}) {
    SCOPED_TRACE(text);
    const auto info = decode(c, text, sink);
    EXPECT_EQ(info.kind, frame_kind::malformed);
    EXPECT_EQ(info.reject, reject_reason::missing_field);
  }
}

TEST_F(frame_kind_test, non_json_and_non_object_frames_are_malformed_with_reason) {
  struct row {
    const char* text;
    reject_reason reason;
  };
  for (const row& r :
       std::vector<row>{{"", reject_reason::not_json},
                        {"   ", reject_reason::not_json},
                        {"garbage", reject_reason::not_json},
                        {"{", reject_reason::not_json},
                        {R"({"id":1,"result":)", reject_reason::not_json},
                        {R"({"id":1,"result":true} trailing)", reject_reason::not_json},
                        {"[1,2,3]", reject_reason::not_object},
                        {"42", reject_reason::not_object},
                        {R"("text")", reject_reason::not_object},
                        {"null", reject_reason::not_object}}) {
    SCOPED_TRACE(r.text);
    const auto info = decode(c, r.text, sink);
    EXPECT_EQ(info.kind, frame_kind::malformed);
    EXPECT_EQ(info.reject, r.reason);
  }
  EXPECT_TRUE(sink.events.empty());
}

TEST(reason_names, every_reason_has_a_distinct_snake_case_name) {
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < static_cast<std::size_t>(reject_reason::count_); ++i) {
    const std::string name(reason_name(static_cast<reject_reason>(i)));
    EXPECT_FALSE(name.empty());
    for (char ch : name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_') << name;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), name), 0) << name;
    seen.push_back(name);
  }
  EXPECT_EQ(reason_name(reject_reason::not_json), "not_json");
  EXPECT_EQ(reason_name(reject_reason::bad_timestamp), "bad_timestamp");
}

}  // namespace

namespace {

TEST_F(frame_kind_test, frames_and_bytes_are_counted_per_channel_kind) {
  const std::string heartbeat = read_text(deribit_dir() + "ws_heartbeat_heartbeat.json");
  const std::string garbage = "{\"jsonrpc\":";
  const std::string index =
      R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"deribit_price_index.btc_usd",)"
      R"("data":{"timestamp":1761346800000,"price":110613.5,"index_name":"btc_usd"}}})";
  decode(c, heartbeat, sink);
  decode(c, garbage, sink);
  decode(c, index, sink);
  decode(c, index, sink);
  const auto& s = c.stats();
  const auto at = [](channel_kind k) { return static_cast<std::size_t>(k); };
  // Heartbeats and malformed frames are control traffic; both index frames are price_index.
  EXPECT_EQ(s.frames_by_channel[at(channel_kind::none)], 2U);
  EXPECT_EQ(s.bytes_by_channel[at(channel_kind::none)], heartbeat.size() + garbage.size());
  EXPECT_EQ(s.frames_by_channel[at(channel_kind::price_index)], 2U);
  EXPECT_EQ(s.bytes_by_channel[at(channel_kind::price_index)], 2 * index.size());
  EXPECT_EQ(s.frames_by_channel[at(channel_kind::ticker)], 0U);
  EXPECT_EQ(channel_kind_name(channel_kind::none), "control");
  EXPECT_EQ(channel_kind_name(channel_kind::price_index), "price_index");
}

}  // namespace
