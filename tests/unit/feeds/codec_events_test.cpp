// Every Deribit reference message decoded and checked field by field. The expected numbers are
// read from the same file with nlohmann (an independent parser) and the documented unit
// conversions are applied here, in the test:
//   - ticker IVs are percent -> decimal; markprice iv is already a fraction; DVOL percent ->
//   decimal;
//   - inverse (coin-quoted) option prices x underlying_price -> USD; *_USDC options are linear;
//   - a side with price 0 and amount 0 is "no quote": price and IV NaN, amount 0;
//   - a field that is absent or null is NaN; timestamps ms -> ns.

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "codec_test_support.hpp"

namespace {

using namespace vrp::feeds::deribit;
using vrp::core::chain_change;
using vrp::core::chain_event;
using vrp::core::dvol_tick;
using vrp::core::funding_tick;
using vrp::core::index_tick;
using vrp::core::option_quote;
using vrp::test::codec::decode;
using vrp::test::codec::deribit_dir;
using vrp::test::codec::read_lines;
using vrp::test::codec::read_text;
using vrp::test::codec::recording_sink;
using vrp::test::codec::same_number;
using vrp::test::codec::wrap;
using json = nlohmann::json;

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t recv = 1'700'000'000'123'456'789;

double num(const json& o, const char* key) {
  if (!o.contains(key) || o.at(key).is_null()) return nan_v;
  return o.at(key).get<double>();
}

std::string str(const json& o, const char* key) {
  return o.contains(key) && o.at(key).is_string() ? o.at(key).get<std::string>() : std::string();
}

struct fixture : ::testing::Test {
  vrp::core::instrument_table table{4096};
  codec c{table};
  recording_sink sink;

  vrp::core::instrument_id id_of(const std::string& name) const { return table.find(name); }

  // The option_quote the ticker `data` must give, computed from the JSON alone.
  void expect_option_ticker(const json& data, const option_quote& q) const {
    const std::string name = data.at("instrument_name").get<std::string>();
    SCOPED_TRACE(name);
    ASSERT_NE(id_of(name), vrp::core::no_instrument);
    EXPECT_EQ(q.id, id_of(name));
    EXPECT_EQ(table.at(q.id).name_view(), name);
    EXPECT_EQ(q.ts_ns, data.at("timestamp").get<std::int64_t>() * 1'000'000);
    EXPECT_EQ(q.recv_ns, recv);

    const bool linear = name.find("_USDC") != std::string::npos;
    const double u = num(data, "underlying_price");
    const double to_usd = linear ? 1.0 : u;
    const double bid = num(data, "best_bid_price"), bid_amount = num(data, "best_bid_amount");
    const double ask = num(data, "best_ask_price"), ask_amount = num(data, "best_ask_amount");
    const bool no_bid = bid == 0.0 && bid_amount == 0.0;
    const bool no_ask = ask == 0.0 && ask_amount == 0.0;
    EXPECT_TRUE(same_number(no_bid ? nan_v : bid * to_usd, q.bid_price)) << "bid";
    EXPECT_TRUE(same_number(no_ask ? nan_v : ask * to_usd, q.ask_price)) << "ask";
    EXPECT_TRUE(same_number(num(data, "mark_price") * to_usd, q.mark_price)) << "mark";
    EXPECT_TRUE(same_number(bid_amount, q.bid_amount)) << "bid amount";
    EXPECT_TRUE(same_number(ask_amount, q.ask_amount)) << "ask amount";
    EXPECT_TRUE(same_number(u, q.underlying_price)) << "underlying";
    EXPECT_TRUE(same_number(num(data, "index_price"), q.index_price)) << "index";
    EXPECT_TRUE(same_number(no_bid ? nan_v : num(data, "bid_iv") / 100.0, q.venue_bid_iv));
    EXPECT_TRUE(same_number(no_ask ? nan_v : num(data, "ask_iv") / 100.0, q.venue_ask_iv));
    EXPECT_TRUE(same_number(num(data, "mark_iv") / 100.0, q.venue_mark_iv)) << "mark iv";
    EXPECT_TRUE(same_number(num(data, "open_interest"), q.open_interest)) << "oi";
    EXPECT_TRUE(same_number(num(data, "interest_rate"), q.interest_rate)) << "rate";

    std::uint32_t flags = 0;
    const std::string index = str(data, "underlying_index");
    if (index == "index_price") flags |= vrp::core::quote_underlying_is_index;
    if (index.rfind("SYN.", 0) == 0) flags |= vrp::core::quote_underlying_synthetic;
    if (str(data, "state") != "open" || str(data, "estimated_delivery_price") == "expired") {
      flags |= vrp::core::quote_settled;
    }
    EXPECT_EQ(q.flags, flags);
  }

  void expect_funding(const json& data, const funding_tick& t) const {
    const std::string name = data.at("instrument_name").get<std::string>();
    EXPECT_EQ(t.id, id_of(name));
    EXPECT_EQ(table.at(t.id).kind, vrp::core::instrument_kind::perpetual);
    EXPECT_EQ(t.ts_ns, data.at("timestamp").get<std::int64_t>() * 1'000'000);
    EXPECT_EQ(t.recv_ns, recv);
    EXPECT_TRUE(same_number(num(data, "current_funding"), t.current_funding));
    EXPECT_TRUE(same_number(num(data, "funding_8h"), t.funding_8h));
    EXPECT_TRUE(same_number(num(data, "mark_price"), t.mark_price));
    EXPECT_TRUE(same_number(num(data, "index_price"), t.index_price));
    EXPECT_TRUE(same_number(num(data, "best_bid_price"), t.bid_price));
    EXPECT_TRUE(same_number(num(data, "best_ask_price"), t.ask_price));
  }

  // Decodes a full frame and checks it against its own JSON, whatever its channel.
  void check_frame(const std::string& text) {
    SCOPED_TRACE(text.substr(0, 160));
    const json msg = json::parse(text);
    sink.events.clear();
    const auto info = decode(c, text, sink, recv);
    ASSERT_EQ(info.kind, frame_kind::subscription);
    EXPECT_EQ(info.reject, reject_reason::none);
    EXPECT_EQ(info.rejected, 0U);
    const std::string channel = msg.at("params").at("channel").get<std::string>();
    const json& data = msg.at("params").at("data");
    if (channel.rfind("ticker.", 0) != 0) {
      EXPECT_EQ(info.channel, channel_kind::other);
      EXPECT_TRUE(sink.events.empty());
      return;
    }
    EXPECT_EQ(info.channel, channel_kind::ticker);
    const std::string name = data.at("instrument_name").get<std::string>();
    const auto id = id_of(name);
    ASSERT_NE(id, vrp::core::no_instrument);
    switch (table.at(id).kind) {
      case vrp::core::instrument_kind::option:
        ASSERT_EQ(sink.events.size(), 1U);
        ASSERT_TRUE(std::holds_alternative<option_quote>(sink.events[0]));
        expect_option_ticker(data, std::get<option_quote>(sink.events[0]));
        break;
      case vrp::core::instrument_kind::perpetual:
        ASSERT_EQ(sink.events.size(), 1U);
        ASSERT_TRUE(std::holds_alternative<funding_tick>(sink.events[0]));
        expect_funding(data, std::get<funding_tick>(sink.events[0]));
        break;
      default:  // futures and combos: not decoded, counted as ignored
        EXPECT_TRUE(sink.events.empty());
        break;
    }
  }
};

using events_test = fixture;

TEST_F(events_test, option_ticker_real_2021_decodes_field_by_field) {
  check_frame(read_text(deribit_dir() + "notif_ticker_option.real_2021.json"));
  // Spot values typed in from the file, in case both sides shared a mistake.
  const auto& q = std::get<option_quote>(sink.events.at(0));
  EXPECT_DOUBLE_EQ(q.bid_price, 0.0015 * 2003.61);
  EXPECT_DOUBLE_EQ(q.venue_mark_iv, 1.2074);
  EXPECT_EQ(q.ts_ns, 1626993723632'000'000);
  EXPECT_EQ(table.at(q.id).underlying_view(), "ETH");
  EXPECT_TRUE(table.at(q.id).inverse);
}

TEST_F(events_test, option_ticker_on_synthetic_underlying_is_flagged) {
  check_frame(read_text(deribit_dir() + "notif_ticker_option_open.real_2020.json"));
  EXPECT_EQ(std::get<option_quote>(sink.events.at(0)).flags, vrp::core::quote_underlying_synthetic);
}

TEST_F(events_test, expired_option_ticker_with_string_delivery_price_is_settled) {
  check_frame(read_text(deribit_dir() + "notif_ticker_option_expired.real_2020.json"));
  const auto& q = std::get<option_quote>(sink.events.at(0));
  EXPECT_TRUE(q.flags & vrp::core::quote_settled);
  EXPECT_TRUE(std::isnan(q.bid_price));  // both sides empty (0 price, 0 amount)
  EXPECT_TRUE(std::isnan(q.ask_price));
  EXPECT_TRUE(std::isnan(q.venue_ask_iv));  // the 500% ask_iv of an empty side is not kept
  EXPECT_EQ(q.mark_price, 0.0);
}

TEST_F(events_test, option_ticker_with_null_stats_decodes) {
  check_frame(read_text(deribit_dir() + "notif_ticker_option_null_stats.real_2020.json"));
}

TEST_F(events_test, linear_usdc_option_prices_are_not_converted) {
  check_frame(read_text(deribit_dir() + "notif_ticker_linear_usdc_option.real_2024.json"));
  const auto& q = std::get<option_quote>(sink.events.at(0));
  EXPECT_DOUBLE_EQ(q.mark_price, 0.139);  // USDC, as sent
  EXPECT_EQ(q.flags, vrp::core::quote_underlying_is_index);
  EXPECT_EQ(q.interest_rate, 0.0);  // sent as the integer 0
  const auto& info = table.at(q.id);
  EXPECT_FALSE(info.inverse);
  EXPECT_EQ(info.underlying_view(), "MATIC");
  EXPECT_EQ(info.quote_view(), "USDC");
  EXPECT_DOUBLE_EQ(info.strike, 1.02);
}

TEST_F(events_test, perpetual_ticker_gives_funding_tick) {
  check_frame(read_text(deribit_dir() + "notif_ticker_btc_perpetual.real_2019.json"));
  const auto& t = std::get<funding_tick>(sink.events.at(0));
  EXPECT_DOUBLE_EQ(t.funding_8h, 0.00016281);
  EXPECT_EQ(t.current_funding, 0.0);
}

TEST_F(events_test, perpetual_ticker_docs_fragment_gives_funding_tick) {
  const json frag =
      json::parse(read_text(deribit_dir() + "notif_ticker_btc_perpetual.data.docs.json"));
  check_frame(wrap("ticker.BTC-PERPETUAL.100ms", frag.at("data").dump()));
}

TEST_F(events_test, every_tardis_real_message_decodes) {
  const auto lines = read_lines(deribit_dir() + "tardis_real_messages.jsonl");
  ASSERT_EQ(lines.size(), 18U);  // index.json
  for (const auto& line : lines) check_frame(line);
}

TEST_F(events_test, combo_ticker_with_negative_iv_is_ignored_not_rejected) {
  const auto lines = read_lines(deribit_dir() + "tardis_real_messages.jsonl");
  int combos = 0;
  for (const auto& line : lines) {
    const json msg = json::parse(line);
    const std::string channel = msg["params"]["channel"].get<std::string>();
    if (channel.find("-FS-") == std::string::npos && channel.find("-CSR") == std::string::npos &&
        channel.find("-STRD-") == std::string::npos) {
      continue;
    }
    ++combos;
    sink.events.clear();
    const auto before = c.stats().ignored_channel;
    const auto info = decode(c, line, sink, recv);
    EXPECT_EQ(info.kind, frame_kind::subscription);
    EXPECT_EQ(info.channel, channel_kind::ticker);
    EXPECT_EQ(info.reject, reject_reason::none);
    EXPECT_TRUE(sink.events.empty());
    EXPECT_EQ(c.stats().ignored_channel, before + 1);
    const auto id = table.find(msg["params"]["data"]["instrument_name"].get<std::string>());
    ASSERT_NE(id, vrp::core::no_instrument);
    EXPECT_EQ(table.at(id).kind, vrp::core::instrument_kind::combo);
  }
  EXPECT_EQ(combos, 3);
  // The negative-IV combo is among them.
  bool negative_iv = false;
  for (const auto& line : lines) {
    const json d = json::parse(line)["params"]["data"];
    if (d.contains("mark_iv") && d["mark_iv"].is_number() && d["mark_iv"].get<double>() < 0) {
      negative_iv = true;
    }
  }
  EXPECT_TRUE(negative_iv);
}

TEST_F(events_test, every_replay_ticker_frame_decodes_field_by_field) {
  const auto lines =
      read_lines(deribit_dir() + "replay/cryptofeed_2021-07-22_options.frames.jsonl");
  int tickers = 0;
  for (const auto& line : lines) {
    const json msg = json::parse(line);
    if (!msg.contains("params")) continue;  // the subscribe response (see frame kind tests)
    check_frame(line);
    if (msg["params"]["channel"].get<std::string>().rfind("ticker.", 0) == 0) ++tickers;
  }
  EXPECT_EQ(tickers, 89);
}

TEST_F(events_test, price_index_gives_index_tick) {
  for (const std::string& text :
       {read_text(deribit_dir() + "notif_deribit_price_index.docs.json"),
        wrap("deribit_price_index.btc_usd",
             json::parse(read_text(deribit_dir() + "notif_deribit_price_index.data.docs.json"))
                 .at("data")
                 .dump())}) {
    SCOPED_TRACE(text);
    const json data = json::parse(text)["params"]["data"];
    sink.events.clear();
    const auto info = decode(c, text, sink, recv);
    EXPECT_EQ(info.channel, channel_kind::price_index);
    ASSERT_EQ(sink.events.size(), 1U);
    const auto& t = std::get<index_tick>(sink.events[0]);
    EXPECT_EQ(t.id, table.find("btc_usd"));
    EXPECT_EQ(table.at(t.id).kind, vrp::core::instrument_kind::index);
    EXPECT_EQ(t.ts_ns, data["timestamp"].get<std::int64_t>() * 1'000'000);
    EXPECT_EQ(t.recv_ns, recv);
    EXPECT_EQ(t.price, data["price"].get<double>());
  }
}

TEST_F(events_test, volatility_index_gives_dvol_tick_in_decimal) {
  for (const std::string& text :
       {read_text(deribit_dir() + "notif_deribit_volatility_index.envelope.json"),
        wrap("deribit_volatility_index.btc_usd",
             json::parse(read_text(deribit_dir() + "notif_deribit_volatility_index.data.docs.json"))
                 .at("data")
                 .dump())}) {
    const json data = json::parse(text)["params"]["data"];
    sink.events.clear();
    const auto info = decode(c, text, sink, recv);
    EXPECT_EQ(info.channel, channel_kind::volatility_index);
    ASSERT_EQ(sink.events.size(), 1U);
    const auto& t = std::get<dvol_tick>(sink.events[0]);
    EXPECT_EQ(t.id, table.find("btc_usd"));
    EXPECT_EQ(t.ts_ns, data["timestamp"].get<std::int64_t>() * 1'000'000);
    EXPECT_TRUE(same_number(data["volatility"].get<double>() / 100.0, t.vol));
    EXPECT_DOUBLE_EQ(t.vol, 1.2936);
  }
}

TEST_F(events_test, markprice_entries_use_the_last_ticker_underlying_or_nan) {
  const json frag =
      json::parse(read_text(deribit_dir() + "notif_markprice_options.data.docs.json"));
  const std::string text = wrap("markprice.options.btc_usd", frag.at("data").dump());

  // No ticker seen yet: coin marks cannot be converted.
  auto info = decode(c, text, sink, recv);
  EXPECT_EQ(info.channel, channel_kind::markprice);
  ASSERT_EQ(sink.events.size(), frag["data"].size());
  for (std::size_t i = 0; i < sink.events.size(); ++i) {
    const json& e = frag["data"][i];
    const auto& q = std::get<option_quote>(sink.events[i]);
    EXPECT_EQ(q.id, table.find(e["instrument_name"].get<std::string>()));
    EXPECT_EQ(q.flags, vrp::core::quote_mark_only);
    EXPECT_EQ(q.ts_ns, e["timestamp"].get<std::int64_t>() * 1'000'000);
    EXPECT_TRUE(std::isnan(q.mark_price));
    EXPECT_EQ(q.venue_mark_iv, e["iv"].get<double>());  // already a fraction
    EXPECT_TRUE(std::isnan(q.bid_price));
    EXPECT_TRUE(std::isnan(q.ask_price));
  }

  // A ticker for the first instrument (a real ticker re-labelled) sets its forward.
  json ticker = json::parse(read_text(deribit_dir() + "notif_ticker_option_open.real_2020.json"));
  const std::string first = frag["data"][0]["instrument_name"].get<std::string>();
  ticker["params"]["channel"] = "ticker." + first + ".100ms";
  ticker["params"]["data"]["instrument_name"] = first;
  const double forward = ticker["params"]["data"]["underlying_price"].get<double>();
  sink.events.clear();
  decode(c, ticker.dump(), sink, recv);
  ASSERT_EQ(sink.events.size(), 1U);

  sink.events.clear();
  info = decode(c, text, sink, recv);
  EXPECT_EQ(info.events, frag["data"].size());
  const auto& q0 = std::get<option_quote>(sink.events.at(0));
  EXPECT_TRUE(same_number(frag["data"][0]["mark_price"].get<double>() * forward, q0.mark_price));
  EXPECT_TRUE(std::isnan(std::get<option_quote>(sink.events.at(1)).mark_price));
}

TEST_F(events_test, markprice_bad_entry_is_dropped_and_the_rest_decode) {
  const std::string text = wrap(
      "markprice.options.btc_usd",
      R"([{"timestamp":1622470378005,"mark_price":0.0333,"iv":0.9,"instrument_name":"BTC-2JUN21-37000-P"},)"
      R"({"timestamp":1622470378005,"mark_price":"0.1","iv":0.9,"instrument_name":"BTC-4JUN21-40500-P"},)"
      R"({"timestamp":1622470378005,"mark_price":0.01,"iv":0.9,"instrument_name":"NOT-A-NAME"},)"
      R"({"timestamp":1622470378005,"mark_price":0.0177,"iv":0.9,"instrument_name":"BTC-4JUN21-38250-C"}])");
  const auto info = decode(c, text, sink, recv);
  EXPECT_EQ(info.kind, frame_kind::subscription);
  EXPECT_EQ(info.events, 2U);
  EXPECT_EQ(info.rejected, 2U);
  EXPECT_EQ(info.reject, reject_reason::wrong_type);  // the first rejected entry
  EXPECT_EQ(c.stats().rejected[static_cast<std::size_t>(reject_reason::wrong_type)], 1U);
  EXPECT_EQ(c.stats().rejected[static_cast<std::size_t>(reject_reason::bad_instrument)], 1U);
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(std::get<option_quote>(sink.events[1]).id, table.find("BTC-4JUN21-38250-C"));
}

TEST_F(events_test, platform_state_maintenance_pushes_chain_event) {
  const auto info = decode(c, wrap("platform_state", R"({"maintenance":true})"), sink, recv);
  EXPECT_EQ(info.channel, channel_kind::platform_state);
  EXPECT_TRUE(info.maintenance);
  ASSERT_EQ(sink.events.size(), 1U);
  const auto& e = std::get<chain_event>(sink.events[0]);
  EXPECT_EQ(e.change, chain_change::maintenance_begin);
  EXPECT_EQ(e.id, vrp::core::no_instrument);
  EXPECT_EQ(e.recv_ns, recv);
}

TEST_F(events_test, platform_state_maintenance_false_pushes_maintenance_end) {
  const auto info = decode(c, wrap("platform_state", R"({"maintenance":false})"), sink, recv);
  EXPECT_FALSE(info.maintenance);
  ASSERT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(std::get<chain_event>(sink.events[0]).change, chain_change::maintenance_end);
}

TEST_F(events_test, platform_state_locked_index_form_pushes_nothing) {
  const json frag = json::parse(read_text(deribit_dir() + "notif_platform_state.data.docs.json"));
  const auto info = decode(c, wrap("platform_state", frag.at("data").dump()), sink, recv);
  EXPECT_EQ(info.kind, frame_kind::subscription);
  EXPECT_EQ(info.channel, channel_kind::platform_state);
  EXPECT_EQ(info.reject, reject_reason::none);
  EXPECT_FALSE(info.maintenance);
  EXPECT_TRUE(sink.events.empty());
}

TEST_F(events_test, docs_trades_and_perpetual_fragments_are_ignored_channels) {
  const json trades = json::parse(read_text(deribit_dir() + "notif_trades_option.data.docs.json"));
  const json perp = json::parse(read_text(deribit_dir() + "notif_perpetual.data.docs.json"));
  for (const std::string& text : {wrap("trades.option.BTC.100ms", trades.at("data").dump()),
                                  wrap("perpetual.BTC-PERPETUAL.100ms", perp.at("data").dump())}) {
    const auto info = decode(c, text, sink, recv);
    EXPECT_EQ(info.kind, frame_kind::subscription);
    EXPECT_EQ(info.channel, channel_kind::other);
  }
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(c.stats().ignored_channel, 2U);
}

TEST_F(events_test, data_before_channel_still_decodes) {
  const std::string text =
      R"({"params":{"data":{"volatility":42.8,"timestamp":1619777946007,"index_name":"btc_usd"},)"
      R"("channel":"deribit_volatility_index.btc_usd"},"method":"subscription","jsonrpc":"2.0"})";
  const auto info = decode(c, text, sink, recv);
  EXPECT_EQ(info.kind, frame_kind::subscription);
  ASSERT_EQ(sink.events.size(), 1U);
  EXPECT_DOUBLE_EQ(std::get<dvol_tick>(sink.events[0]).vol, 0.428);
}

TEST_F(events_test, stats_count_frames_bytes_and_events) {
  const std::string a = read_text(deribit_dir() + "notif_ticker_option.real_2021.json");
  const std::string b = read_text(deribit_dir() + "ws_heartbeat_heartbeat.json");
  decode(c, a, sink, recv);
  decode(c, b, sink, recv);
  EXPECT_EQ(c.stats().frames, 2U);
  EXPECT_EQ(c.stats().bytes, a.size() + b.size());
  EXPECT_EQ(c.stats().events, 1U);
}

}  // namespace
