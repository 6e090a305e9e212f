// Request handling of the replay exchange as pure functions. Expected shapes and values come from
// the real and docs messages in tests/data/protocols/deribit and from the source files of the
// fixture recording (tests/data/replay/README.md), never from the code under test.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "vrp/feeds/replay/deribit_api.hpp"
#include "vrp/feeds/replay/recording.hpp"

namespace {

namespace replay = vrp::feeds::replay;
using json = nlohmann::json;

const std::string data_dir = VRP_TEST_DATA_DIR;

json read_json(const std::string& rel) {
  std::ifstream in(data_dir + "/" + rel);
  return json::parse(in);
}

const replay::recording& fixture() {
  static const replay::recording rec = [] {
    auto r =
        replay::load_recording_file(data_dir + "/replay/cryptofeed_2021-07-22.recording.jsonl");
    if (!r.ok()) throw std::runtime_error(r.error.message);
    return std::move(*r.value);
  }();
  return rec;
}

const replay::recording& capture() {
  static const replay::recording rec = [] {
    auto r = replay::load_recording_file(
        data_dir + "/protocols/deribit/replay/cryptofeed_2021-07-22_options.capture.jsonl");
    if (!r.ok()) throw std::runtime_error(r.error.message);
    return std::move(*r.value);
  }();
  return rec;
}

struct call_result {
  json reply;
  replay::request_effects fx;
};

call_result call(replay::deribit_endpoint& ep, const json& request, bool maintenance = false) {
  std::string reply;
  auto fx = ep.handle(request.dump(), 1'000, 1'250, maintenance, reply);
  return {json::parse(reply), fx};
}

json request(int id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

std::set<std::string> as_set(const json& arr) {
  std::set<std::string> s;
  for (const auto& v : arr) s.insert(v.get<std::string>());
  return s;
}

TEST(replay_api, subscribe_result_is_the_set_of_valid_channels) {
  replay::deribit_endpoint ep(fixture(), {});
  // The real 2021 request, plus two channels Deribit would leave out.
  auto req = read_json("protocols/deribit/ws_subscribe_request.real_2021.json");
  req["params"]["channels"].push_back("ticker.BTC-PERPETUAL.5ms");
  req["params"]["channels"].push_back("nonsense");
  const auto r = call(ep, req);
  const auto real = read_json("protocols/deribit/ws_subscribe_response.real_2021.json");
  EXPECT_EQ(r.reply["id"], real["id"]);
  EXPECT_EQ(as_set(r.reply["result"]), as_set(real["result"]));
  EXPECT_EQ(r.reply["result"].size(), real["result"].size());
  EXPECT_TRUE(r.fx.subscribed);
  EXPECT_EQ(ep.subscription_count(), 30U);
  // The recording's 20 channels (ticker and book) are now served to this connection.
  for (std::uint32_t id = 0; id < fixture().channels.size(); ++id) EXPECT_TRUE(ep.subscribed(id));
}

TEST(replay_api, subscribe_to_only_invalid_channels_returns_empty_result) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto r = call(ep, request(3997, "public/subscribe",
                                  {{"channels", {"ticker.btc-perpetual.100ms", "book..raw"}}}));
  // Shape of ws_subscribe_response.empty_result.real.json.
  EXPECT_EQ(r.reply["result"], json::array());
  EXPECT_EQ(r.reply["id"], 3997);
  EXPECT_FALSE(r.fx.subscribed);
  EXPECT_EQ(ep.subscription_count(), 0U);
}

TEST(replay_api, unsubscribe_lists_only_channels_that_were_subscribed) {
  replay::deribit_endpoint ep(fixture(), {});
  const std::string a = "ticker.BTC-24SEP21-8000-P.raw";  // in the recording
  const std::string b = "deribit_price_index.btc_usd";    // valid, not recorded
  call(ep, request(1, "public/subscribe", {{"channels", {a, b}}}));
  ASSERT_EQ(ep.subscription_count(), 2U);
  const auto r = call(ep, request(2, "public/unsubscribe",
                                  {{"channels", {a, b, "ticker.ETH-23JUL21-2300-C.raw"}}}));
  EXPECT_EQ(as_set(r.reply["result"]), (std::set<std::string>{a, b}));
  EXPECT_EQ(ep.subscription_count(), 0U);
  EXPECT_FALSE(ep.subscribed(*fixture().find_channel(a)));
}

TEST(replay_api, more_than_250_channels_is_request_entity_too_large_without_id) {
  replay::deribit_endpoint ep(fixture(), {});
  json channels = json::array();
  for (int i = 0; i < 251; ++i) channels.push_back("ticker.BTC-" + std::to_string(i) + ".100ms");
  const auto r = call(ep, request(9, "public/subscribe", {{"channels", channels}}));
  const auto real = read_json("protocols/deribit/error_request_entity_too_large.real.json");
  EXPECT_FALSE(r.reply.contains("id"));
  EXPECT_EQ(r.reply["error"], real["error"]);
  EXPECT_EQ(ep.subscription_count(), 0U);
  // 250 is still accepted.
  channels.erase(channels.begin());
  const auto ok = call(ep, request(10, "public/subscribe", {{"channels", channels}}));
  EXPECT_EQ(ok.reply["result"].size(), 250U);
}

TEST(replay_api, channels_not_a_list_is_invalid_params_like_deribit) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto r =
      call(ep, request(4, "public/subscribe", {{"channels", "ticker.BTC-PERPETUAL.raw"}}));
  const auto real = read_json("protocols/deribit/error_invalid_params.real.json");
  EXPECT_EQ(r.reply["error"], real["error"]);
  EXPECT_EQ(r.reply["id"], 4);
}

TEST(replay_api, responses_carry_the_real_envelope) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto r = call(ep, request(8212, "public/test"));
  const auto docs = read_json("protocols/deribit/ws_public_test_response.json");
  EXPECT_EQ(r.reply["jsonrpc"], "2.0");
  EXPECT_EQ(r.reply["id"], 8212);
  EXPECT_EQ(r.reply["result"], docs["result"]);  // {"version":"1.2.26"}
  EXPECT_EQ(r.reply["usIn"], 1'000);
  EXPECT_EQ(r.reply["usOut"], 1'250);
  EXPECT_EQ(r.reply["usDiff"], 250);
  EXPECT_EQ(r.reply["testnet"], false);
  EXPECT_TRUE(r.fx.test_answer);
  // A string id is echoed as a string.
  auto req = request(0, "public/get_time");
  req["id"] = "abc";
  EXPECT_EQ(call(ep, req).reply["id"], "abc");
}

TEST(replay_api, get_time_reports_the_playback_clock_when_set) {
  replay::deribit_endpoint ep(fixture(), {});
  // Without a playback clock: the wall clock of the reply (usOut in microseconds).
  EXPECT_EQ(call(ep, request(7, "public/get_time")).reply["result"], 1);
  // 2025-10-24T23:00:00Z, the recorded market's time at the playback head.
  ep.set_clock_ms(1'761'346'800'000);
  EXPECT_EQ(call(ep, request(8, "public/get_time")).reply["result"], 1'761'346'800'000);
}

TEST(replay_api, get_instruments_answers_by_currency_and_kind) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto real = read_json("protocols/deribit/rpc_get_instruments_BTC.real_2021-07-22.json");
  const std::set<std::string> capture_btc = {
      "BTC-24SEP21-8000-P",  "BTC-30JUL21-24000-P",  "BTC-31DEC21-34000-P", "BTC-24SEP21-34000-P",
      "BTC-24JUN22-15000-C", "BTC-31DEC21-300000-C", "BTC-25MAR22-30000-C"};
  json options = json::array();
  json futures = json::array();
  for (const auto& i : real["result"]) {
    if (i["kind"] == "future") futures.push_back(i);
    if (i["kind"] == "option" && capture_btc.count(i["instrument_name"].get<std::string>()) != 0) {
      options.push_back(i);
    }
  }
  const auto opt = call(ep, request(1, "public/get_instruments",
                                    {{"currency", "BTC"}, {"kind", "option"}, {"expired", false}}));
  EXPECT_EQ(opt.reply["result"], options);  // the real elements, unchanged
  const auto fut =
      call(ep, request(2, "public/get_instruments", {{"currency", "BTC"}, {"kind", "future"}}));
  EXPECT_EQ(fut.reply["result"], futures);
  const auto all = call(ep, request(3, "public/get_instruments", {{"currency", "BTC"}}));
  EXPECT_EQ(all.reply["result"].size(), 15U);
  const auto any = call(ep, request(4, "public/get_instruments", {{"currency", "any"}}));
  EXPECT_EQ(any.reply["result"].size(), 15U);
  const auto eth = call(ep, request(5, "public/get_instruments", {{"currency", "ETH"}}));
  EXPECT_EQ(eth.reply["result"], json::array());
}

TEST(replay_api, get_instruments_from_a_capture_is_derived_from_its_channels) {
  replay::deribit_endpoint ep(capture(), {});
  const auto eth =
      call(ep, request(1, "public/get_instruments", {{"currency", "ETH"}, {"kind", "option"}}));
  std::set<std::string> names;
  for (const auto& i : eth.reply["result"]) names.insert(i["instrument_name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"ETH-23JUL21-2300-C", "ETH-27AUG21-4000-P",
                                          "ETH-30JUL21-2800-C"}));
  const auto fut =
      call(ep, request(2, "public/get_instruments", {{"currency", "BTC"}, {"kind", "future"}}));
  EXPECT_EQ(fut.reply["result"], json::array());
}

TEST(replay_api, get_instruments_rejects_bad_params) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto none = call(ep, request(1, "public/get_instruments"));
  EXPECT_EQ(none.reply["error"]["code"], -32602);
  EXPECT_EQ(none.reply["error"]["data"]["param"], "currency");
  const auto kind =
      call(ep, request(2, "public/get_instruments", {{"currency", "BTC"}, {"kind", "options"}}));
  EXPECT_EQ(kind.reply["error"]["code"], -32602);
  EXPECT_EQ(kind.reply["error"]["data"]["param"], "kind");
}

TEST(replay_api, chart_data_is_the_slice_between_start_and_end) {
  replay::deribit_endpoint ep(fixture(), {});
  // 2021-07-22 00:00 to 02:00 UTC, both ends inclusive: three hourly bars.
  const auto r = call(ep, request(1, "public/get_tradingview_chart_data",
                                  {{"instrument_name", "BTC-PERPETUAL"},
                                   {"resolution", "60"},
                                   {"start_timestamp", 1'626'912'000'000},
                                   {"end_timestamp", 1'626'919'200'000}}));
  const auto& res = r.reply["result"];
  EXPECT_EQ(res["status"], "ok");
  // Bybit BTCUSDT 1h rows of that day (tests/data/replay/README.md).
  EXPECT_EQ(res["ticks"], json({1'626'912'000'000, 1'626'915'600'000, 1'626'919'200'000}));
  EXPECT_EQ(res["open"], json({32089.0, 32037.5, 31954.5}));
  EXPECT_EQ(res["high"], json({32344.0, 32054.5, 31955.0}));
  EXPECT_EQ(res["low"], json({31853.0, 31881.0, 31761.5}));
  EXPECT_EQ(res["close"], json({32037.5, 31954.5, 31839.0}));
  EXPECT_EQ(res["volume"], json({3548.55, 2295.698, 1650.455}));
  EXPECT_EQ(res["cost"], json({113686670.625, 73357881.741, 52548836.745}));
  // A numeric resolution is accepted too.
  const auto n = call(ep, request(2, "public/get_tradingview_chart_data",
                                  {{"instrument_name", "BTC-PERPETUAL"},
                                   {"resolution", 60},
                                   {"start_timestamp", 1'626'912'000'000},
                                   {"end_timestamp", 1'626'912'000'000}}));
  EXPECT_EQ(n.reply["result"]["ticks"].size(), 1U);
}

TEST(replay_api, chart_data_outside_the_recording_is_no_data) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto before = call(ep, request(1, "public/get_tradingview_chart_data",
                                       {{"instrument_name", "BTC-PERPETUAL"},
                                        {"resolution", "60"},
                                        {"start_timestamp", 0},
                                        {"end_timestamp", 1'000}}));
  EXPECT_EQ(before.reply["result"]["status"], "no_data");
  EXPECT_EQ(before.reply["result"]["ticks"], json::array());
  const auto other = call(ep, request(2, "public/get_tradingview_chart_data",
                                      {{"instrument_name", "ETH-PERPETUAL"},
                                       {"resolution", "60"},
                                       {"start_timestamp", 1'626'912'000'000},
                                       {"end_timestamp", 1'626'919'200'000}}));
  EXPECT_EQ(other.reply["result"]["status"], "no_data");
  const auto bad = call(ep, request(3, "public/get_tradingview_chart_data",
                                    {{"instrument_name", "BTC-PERPETUAL"},
                                     {"resolution", "7"},
                                     {"start_timestamp", 0},
                                     {"end_timestamp", 1}}));
  EXPECT_EQ(bad.reply["error"]["code"], -32602);
  EXPECT_EQ(bad.reply["error"]["data"]["param"], "resolution");
}

TEST(replay_api, set_heartbeat_enforces_the_minimum_interval) {
  replay::deribit_endpoint ep(fixture(), replay::api_options{10, 250, "1.2.26"});
  const auto low = call(ep, request(1, "public/set_heartbeat", {{"interval", 5}}));
  EXPECT_EQ(low.reply["error"]["code"], -32602);
  EXPECT_EQ(low.reply["error"]["message"], "Invalid params");
  EXPECT_EQ(low.reply["error"]["data"]["param"], "interval");
  EXPECT_EQ(ep.heartbeat_interval_s(), 0);
  EXPECT_FALSE(low.fx.heartbeat_changed);
  const auto ok = call(ep, read_json("protocols/deribit/ws_set_heartbeat_request.docs.json"));
  EXPECT_EQ(ok.reply["result"], "ok");  // ws_set_heartbeat_response.docs.json
  EXPECT_EQ(ok.reply["id"], 9098);
  EXPECT_EQ(ep.heartbeat_interval_s(), 30);
  EXPECT_TRUE(ok.fx.heartbeat_changed);
  const auto off = call(ep, read_json("protocols/deribit/ws_disable_heartbeat_request.docs.json"));
  EXPECT_EQ(off.reply["result"], "ok");
  EXPECT_EQ(ep.heartbeat_interval_s(), 0);
}

TEST(replay_api, unknown_method_is_method_not_found) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto r = call(ep, request(7, "public/get_order_book_by_magic"));
  EXPECT_EQ(r.reply["error"], json({{"code", -32601}, {"message", "Method not found"}}));
  EXPECT_EQ(r.reply["id"], 7);
}

TEST(replay_api, non_json_and_missing_id_are_errors_without_id) {
  replay::deribit_endpoint ep(fixture(), {});
  std::string reply;
  ep.handle("{\"jsonrpc\":\"2.0\",\"id\":1,", 1, 2, false, reply);
  auto j = json::parse(reply);
  EXPECT_EQ(j["error"]["code"], -32700);
  EXPECT_FALSE(j.contains("id"));
  ep.handle(R"({"jsonrpc":"2.0","method":"public/test","params":{}})", 1, 2, false, reply);
  j = json::parse(reply);
  EXPECT_EQ(j["error"]["code"], -32600);
  EXPECT_FALSE(j.contains("id"));
  ep.handle(R"([{"jsonrpc":"2.0","id":1,"method":"public/test"}])", 1, 2, false, reply);
  EXPECT_EQ(json::parse(reply)["error"]["code"], -32600);  // no batches
}

TEST(replay_api, maintenance_answers_every_request_with_11051) {
  replay::deribit_endpoint ep(fixture(), {});
  const auto r = call(ep, request(5, "public/get_instruments", {{"currency", "BTC"}}), true);
  EXPECT_EQ(r.reply["error"], json({{"code", 11051}, {"message", "system_maintenance"}}));
  EXPECT_EQ(r.reply["id"], 5);
  const auto s = call(ep, request(6, "public/subscribe", {{"channels", {"platform_state"}}}), true);
  EXPECT_EQ(s.reply["error"]["code"], 11051);
  EXPECT_EQ(ep.subscription_count(), 0U);
}

TEST(replay_api, channel_grammar_accepts_documented_names) {
  // The channel templates of protocols/README.md §1 and the real 2021 subscribe request.
  for (const char* ch :
       {"ticker.BTC-PERPETUAL.100ms", "ticker.BTC-24SEP21-8000-P.raw",
        "ticker.ETH-30JUL21-2800-C.agg2", "ticker.MATIC_USDC-9MAR24-1d02-C.100ms",
        "markprice.options.btc_usd", "deribit_price_index.btc_usd",
        "deribit_volatility_index.eth_usd", "trades.option.BTC.100ms", "trades.BTC-PERPETUAL.raw",
        "book.BTC-24SEP21-8000-P.raw", "book.BTC-PERPETUAL.none.10.100ms",
        "perpetual.BTC-PERPETUAL.100ms", "platform_state", "platform_state.public_methods_state",
        "quote.BTC-PERPETUAL", "chart.trades.BTC-PERPETUAL.60",
        "estimated_expiration_price.btc_usd"}) {
    EXPECT_TRUE(replay::is_valid_channel(ch)) << ch;
  }
}

TEST(replay_api, channel_grammar_rejects_malformed_names) {
  for (const char* ch :
       {"", "nonsense", "ticker", "ticker.BTC-PERPETUAL", "ticker.BTC-PERPETUAL.5ms",
        "ticker.btc-perpetual.100ms", "ticker..raw", "book.BTC-PERPETUAL.none.7.100ms",
        "markprice.options.BTC_USD", "markprice.futures.btc_usd", "trades.options.BTC.100ms",
        "deribit_price_index.btcusd", "user.orders.BTC-PERPETUAL.raw", "platform_state.x",
        "ticker.BTC--PERPETUAL.raw", "chart.trades.BTC-PERPETUAL.7"}) {
    EXPECT_FALSE(replay::is_valid_channel(ch)) << ch;
  }
}

}  // namespace
