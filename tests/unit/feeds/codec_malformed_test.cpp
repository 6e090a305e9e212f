// Malformed, truncated and hostile frames: each is rejected with the documented reason, pushes
// nothing, is counted once under that reason, and the next good frame still decodes exactly as on
// a fresh codec (the parser's state is not poisoned).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec_test_support.hpp"

namespace {

using namespace vrp::feeds::deribit;
using vrp::core::option_quote;
using vrp::test::codec::decode;
using vrp::test::codec::deribit_dir;
using vrp::test::codec::read_lines;
using vrp::test::codec::read_text;
using vrp::test::codec::recording_sink;
using vrp::test::codec::wrap;
using json = nlohmann::json;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

const std::string& good_ticker() {
  static const std::string s =
      trimmed(read_text(deribit_dir() + "notif_ticker_option.real_2021.json"));
  return s;
}

// Replaces the first `"key":<value>` with `"key":<replacement>` in raw text.
std::string replace_value(const std::string& text, const std::string& key,
                          const std::string& replacement) {
  const std::string needle = "\"" + key + "\":";
  const std::size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << key;
  const std::size_t from = at + needle.size();
  std::size_t to = from;
  while (to < text.size() && text[to] != ',' && text[to] != '}') ++to;
  return text.substr(0, from) + replacement + text.substr(to);
}

struct fixture : ::testing::Test {
  vrp::core::instrument_table table{4096};
  codec c{table};
  recording_sink sink;

  // The events of good_ticker() on a fresh codec.
  std::vector<vrp::core::event> reference_events() {
    vrp::core::instrument_table t{16};
    codec fresh{t};
    recording_sink s;
    decode(fresh, good_ticker(), s);
    return s.events;
  }

  void expect_good_frame_still_decodes() {
    static const auto expected = reference_events();
    sink.events.clear();
    const auto info = decode(c, good_ticker(), sink);
    ASSERT_EQ(info.kind, frame_kind::subscription);
    ASSERT_EQ(sink.events.size(), 1U);
    const auto& a = std::get<option_quote>(expected[0]);
    const auto& b = std::get<option_quote>(sink.events[0]);
    EXPECT_EQ(a.ts_ns, b.ts_ns);
    EXPECT_EQ(a.bid_price, b.bid_price);
    EXPECT_EQ(a.ask_price, b.ask_price);
    EXPECT_EQ(a.mark_price, b.mark_price);
    EXPECT_EQ(a.venue_mark_iv, b.venue_mark_iv);
    EXPECT_EQ(a.flags, b.flags);
  }

  // `text` must be rejected with `reason` (frame kind `kind`), push nothing and count once.
  void expect_rejected(const std::string& text, reject_reason reason, frame_kind kind,
                       char fill = ' ') {
    SCOPED_TRACE(text.size() > 200 ? text.substr(0, 200) + "..." : text);
    const auto before = c.stats().rejected[static_cast<std::size_t>(reason)];
    sink.events.clear();
    const auto info = decode(c, text, sink, 1, fill);
    EXPECT_EQ(info.kind, kind);
    EXPECT_EQ(info.reject, reason) << reason_name(info.reject);
    EXPECT_EQ(info.events, 0U);
    EXPECT_TRUE(sink.events.empty());
    EXPECT_EQ(c.stats().rejected[static_cast<std::size_t>(reason)], before + 1);
    expect_good_frame_still_decodes();
  }
};

using malformed_test = fixture;

TEST_F(malformed_test, truncated_real_messages_are_not_json_and_push_nothing) {
  std::vector<std::string> messages;
  for (const char* file :
       {"notif_ticker_option.real_2021.json", "notif_ticker_option_expired.real_2020.json",
        "notif_ticker_linear_usdc_option.real_2024.json",
        "notif_ticker_btc_perpetual.real_2019.json", "notif_deribit_price_index.docs.json",
        "notif_deribit_volatility_index.envelope.json", "ws_heartbeat_test_request.json",
        "ws_subscribe_response.real_2021.json", "error_bad_request.docs.json"}) {
    messages.push_back(trimmed(read_text(deribit_dir() + file)));
  }
  messages.push_back(
      wrap("markprice.options.btc_usd",
           json::parse(read_text(deribit_dir() + "notif_markprice_options.data.docs.json"))
               .at("data")
               .dump()));
  messages.push_back(wrap("platform_state", R"({"maintenance":true})"));
  for (const auto& m : messages) {
    // Many cut points, including the last byte alone (an unclosed outer object), with both a
    // blank padding and one that starts with '}' (a reused buffer can hold anything).
    std::vector<std::size_t> cuts;
    for (std::size_t n = 0; n < m.size(); n += 1 + m.size() / 23) cuts.push_back(n);
    cuts.push_back(m.size() - 1);
    cuts.push_back(m.size() - 2);
    for (std::size_t n : cuts) {
      for (char fill : {' ', '}'}) {
        expect_rejected(m.substr(0, n), reject_reason::not_json, frame_kind::malformed, fill);
      }
    }
  }
}

TEST_F(malformed_test, numbers_sent_as_strings_are_wrong_type) {
  for (const char* key :
       {"underlying_price", "open_interest", "mark_price", "mark_iv", "interest_rate",
        "index_price", "bid_iv", "best_bid_price", "best_bid_amount", "best_ask_price",
        "best_ask_amount", "ask_iv", "timestamp"}) {
    SCOPED_TRACE(key);
    json msg = json::parse(good_ticker());
    auto& v = msg["params"]["data"][key];
    v = v.dump();  // 2003.61 -> "2003.61"
    expect_rejected(msg.dump(), reject_reason::wrong_type, frame_kind::subscription);
  }
  const std::string perp =
      trimmed(read_text(deribit_dir() + "notif_ticker_btc_perpetual.real_2019.json"));
  for (const char* key : {"funding_8h", "current_funding", "mark_price", "best_bid_price"}) {
    SCOPED_TRACE(key);
    json msg = json::parse(perp);
    msg["params"]["data"][key] = msg["params"]["data"][key].dump();
    expect_rejected(msg.dump(), reject_reason::wrong_type, frame_kind::subscription);
  }
  expect_rejected(wrap("deribit_price_index.btc_usd",
                       R"({"index_name":"btc_usd","price":"3937.89","timestamp":1550588002899})"),
                  reject_reason::wrong_type, frame_kind::subscription);
  expect_rejected(wrap("deribit_volatility_index.btc_usd",
                       R"({"volatility":[1],"timestamp":1619777946007,"index_name":"btc_usd"})"),
                  reject_reason::wrong_type, frame_kind::subscription);
  expect_rejected(wrap("platform_state", R"({"maintenance":"yes"})"), reject_reason::wrong_type,
                  frame_kind::subscription);
  expect_rejected(wrap("ticker.ETH-30JUL21-2800-C.raw", "[1,2]"), reject_reason::wrong_type,
                  frame_kind::subscription);
  expect_rejected(wrap("markprice.options.btc_usd", "{}"), reject_reason::wrong_type,
                  frame_kind::subscription);
  expect_rejected(R"({"method":"subscription","params":"x"})", reject_reason::wrong_type,
                  frame_kind::malformed);
  expect_rejected(R"({"method":7,"params":{}})", reject_reason::wrong_type, frame_kind::malformed);
}

TEST_F(malformed_test, nan_and_infinite_values_are_non_finite) {
  for (const char* bad : {"NaN", "-NaN", "Infinity", "-Infinity", "inf", "1e999", "-1e999"}) {
    for (const char* key : {"mark_price", "mark_iv", "best_ask_price", "interest_rate"}) {
      SCOPED_TRACE(std::string(key) + "=" + bad);
      expect_rejected(replace_value(good_ticker(), key, bad), reject_reason::non_finite,
                      frame_kind::subscription);
    }
  }
  expect_rejected(wrap("deribit_price_index.btc_usd",
                       R"({"index_name":"btc_usd","price":NaN,"timestamp":1550588002899})"),
                  reject_reason::non_finite, frame_kind::subscription);
}

TEST_F(malformed_test, broken_number_text_is_not_json) {
  for (const char* bad : {"1.2.3", "01x", "--1", "nul", "tru"}) {
    SCOPED_TRACE(bad);
    expect_rejected(replace_value(good_ticker(), "mark_price", bad), reject_reason::not_json,
                    frame_kind::malformed);
  }
}

TEST_F(malformed_test, negative_prices_and_amounts_are_rejected) {
  for (const char* key : {"mark_price", "best_bid_price", "best_ask_price", "best_bid_amount",
                          "best_ask_amount", "underlying_price", "index_price", "open_interest"}) {
    SCOPED_TRACE(key);
    expect_rejected(replace_value(good_ticker(), key, "-0.5"), reject_reason::negative_price,
                    frame_kind::subscription);
  }
  expect_rejected(wrap("deribit_price_index.btc_usd",
                       R"({"index_name":"btc_usd","price":-1,"timestamp":1550588002899})"),
                  reject_reason::negative_price, frame_kind::subscription);
}

TEST_F(malformed_test, unusable_timestamps_are_bad_timestamp) {
  for (const char* bad : {"0", "-1626993723632", "1626993723632.5", "7258118400001",
                          "99999999999999999999999", "null"}) {
    SCOPED_TRACE(bad);
    expect_rejected(replace_value(good_ticker(), "timestamp", bad), reject_reason::bad_timestamp,
                    frame_kind::subscription);
  }
  json msg = json::parse(good_ticker());
  msg["params"]["data"].erase("timestamp");
  expect_rejected(msg.dump(), reject_reason::bad_timestamp, frame_kind::subscription);
  expect_rejected(wrap("deribit_volatility_index.btc_usd", R"({"volatility":42.8})"),
                  reject_reason::bad_timestamp, frame_kind::subscription);
}

TEST_F(malformed_test, missing_required_fields_are_missing_field) {
  json msg = json::parse(good_ticker());
  msg["params"]["data"].erase("mark_price");
  expect_rejected(msg.dump(), reject_reason::missing_field, frame_kind::subscription);
  expect_rejected(wrap("deribit_price_index.btc_usd", R"({"timestamp":1550588002899})"),
                  reject_reason::missing_field, frame_kind::subscription);
  expect_rejected(
      wrap("deribit_price_index.btc_usd", R"({"price":null,"timestamp":1550588002899})"),
      reject_reason::missing_field, frame_kind::subscription);
}

TEST_F(malformed_test, unknown_instrument_names_are_bad_instrument) {
  // Names that do not parse, and valid names of the wrong kind for the channel.
  for (const char* channel : {"ticker.BTC-XYZ.raw", "ticker..raw", "ticker.btc_usd.raw",
                              "deribit_price_index.BTC-PERPETUAL", "deribit_volatility_index.x"}) {
    SCOPED_TRACE(channel);
    json msg = json::parse(good_ticker());
    msg["params"]["channel"] = channel;
    expect_rejected(msg.dump(), reject_reason::bad_instrument, frame_kind::subscription);
  }
  EXPECT_EQ(table.find("BTC-XYZ"), vrp::core::no_instrument);
  EXPECT_EQ(table.find("x"), vrp::core::no_instrument);
}

TEST_F(malformed_test, full_instrument_table_is_table_full) {
  vrp::core::instrument_table small{1};
  codec c1{small};
  recording_sink s;
  EXPECT_EQ(decode(c1, good_ticker(), s).events, 1U);
  json msg = json::parse(good_ticker());
  msg["params"]["channel"] = "ticker.BTC-28NOV25-100000-C.raw";
  const auto info = decode(c1, msg.dump(), s);
  EXPECT_EQ(info.kind, frame_kind::subscription);
  EXPECT_EQ(info.reject, reject_reason::table_full);
  EXPECT_EQ(c1.stats().rejected[static_cast<std::size_t>(reject_reason::table_full)], 1U);
  EXPECT_EQ(s.events.size(), 1U);
  EXPECT_EQ(decode(c1, good_ticker(), s).events, 1U);  // the known one still decodes
}

TEST_F(malformed_test, deeply_nested_and_huge_frames_are_handled) {
  // Deep nesting: unbalanced is not JSON; where a number is read it is the wrong type; in a field
  // the codec skips (stats, greeks, result) it costs a skip and nothing else.
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  expect_rejected(R"({"id":1,"result":)" + std::string(5000, '[') + "}", reject_reason::not_json,
                  frame_kind::malformed);
  expect_rejected(replace_value(good_ticker(), "mark_price", deep), reject_reason::wrong_type,
                  frame_kind::subscription);
  expect_rejected(deep, reject_reason::not_object, frame_kind::malformed);
  sink.events.clear();
  EXPECT_EQ(decode(c, replace_value(good_ticker(), "settlement_price", deep), sink).events, 1U);
  // A valid 3 MB response (larger than the parser's initial capacity) is still a response.
  std::string big = R"({"jsonrpc":"2.0","id":77,"result":[)";
  for (int i = 0; i < 100000; ++i) big += R"("ticker.BTC-28NOV25-100000-C.raw",)";
  big += R"("x"]})";
  const auto info = decode(c, big, sink);
  EXPECT_EQ(info.kind, frame_kind::response);
  EXPECT_EQ(info.rpc_id, 77);
  expect_good_frame_still_decodes();
  // Huge but finite numbers pass; absurd integers in an id do not crash.
  const auto r = decode(c, R"({"id":123456789012345678901234567890,"result":1e308})", sink);
  EXPECT_EQ(r.kind, frame_kind::response);
  EXPECT_EQ(r.rpc_id, -1);
}

TEST_F(malformed_test, empty_and_non_object_frames) {
  expect_rejected("", reject_reason::not_json, frame_kind::malformed);
  expect_rejected("\n", reject_reason::not_json, frame_kind::malformed);
  expect_rejected("[]", reject_reason::not_object, frame_kind::malformed);
  expect_rejected("3.5", reject_reason::not_object, frame_kind::malformed);
  expect_rejected("\x01\x02\xff", reject_reason::not_json, frame_kind::malformed);
  expect_rejected(good_ticker() + good_ticker(), reject_reason::not_json, frame_kind::malformed);
}

TEST_F(malformed_test, garbage_bytes_never_crash_and_never_push) {
  // Deterministic mutations of real frames: flip, delete and duplicate bytes.
  std::vector<std::string> seeds = read_lines(deribit_dir() + "tardis_real_messages.jsonl");
  seeds.push_back(good_ticker());
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::string alphabet = "{}[]\":,0123456789.-eE ntrufalsNI\\\x80";
  std::uint64_t rejected_frames = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string m = seeds[next() % seeds.size()];
    for (int k = 0; k < 1 + static_cast<int>(next() % 3); ++k) {
      const std::size_t at = next() % m.size();
      switch (next() % 3) {
        case 0:
          m[at] = alphabet[next() % alphabet.size()];
          break;
        case 1:
          m.erase(at, 1 + next() % 8);
          break;
        default:
          m.insert(at, m.substr(at, next() % 16));
          break;
      }
      if (m.empty()) m.push_back('{');
    }
    sink.events.clear();
    const auto info = decode(c, m, sink);
    EXPECT_EQ(info.events, sink.events.size());
    if (info.kind == frame_kind::malformed) {
      EXPECT_TRUE(sink.events.empty());
      ++rejected_frames;
    }
  }
  EXPECT_GT(rejected_frames, 100U);
  expect_good_frame_still_decodes();
}

}  // namespace
