// fetch_chart against the in-process replay exchange (the demo recording's 120 days of real
// hourly bars, read independently here with nlohmann_json), against scripted WebSocket servers
// (errors, heartbeats, malformed answers, chunk bounds) and against servers that never answer.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "history_test_support.hpp"

namespace vrp::feeds::history_test {
namespace {

using deribit::chart_bar;
using deribit::fetch_chart;
using deribit::history_request;
using namespace std::chrono_literals;

constexpr std::int64_t hour_ms = 3'600'000;

const std::string demo_recording = source_dir + "/data/demo/deribit_2025-10-24.recording.jsonl";

const std::map<std::string, expected_series>& demo_charts() {
  static const auto charts = read_chart_lines(demo_recording);
  return charts;
}

replay_exchange& demo_exchange() {
  static replay_exchange exchange(demo_recording);
  return exchange;
}

void expect_same_bars(const std::vector<chart_bar>& got, const std::vector<chart_bar>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].open_ms, want[i].open_ms);
    EXPECT_EQ(got[i].open, want[i].open);
    EXPECT_EQ(got[i].high, want[i].high);
    EXPECT_EQ(got[i].low, want[i].low);
    EXPECT_EQ(got[i].close, want[i].close);
    EXPECT_EQ(got[i].volume, want[i].volume);
  }
}

history_request demo_request(const std::string& instrument) {
  const auto& bars = demo_charts().at(instrument).bars;
  history_request r;
  r.url = demo_exchange().url();
  r.instrument = instrument;
  r.start_ms = bars.front().open_ms;
  r.end_ms = bars.back().open_ms;
  return r;
}

TEST(history_fetch, bars_equal_the_recordings_hourly_series) {
  ASSERT_EQ(demo_charts().size(), 2U);
  for (const std::string instrument : {"BTC-PERPETUAL", "ETH-PERPETUAL"}) {
    SCOPED_TRACE(instrument);
    const auto& want = demo_charts().at(instrument);
    ASSERT_EQ(want.resolution, "60");
    // 120 days of hourly open times; the venue's series has a few missing hours.
    ASSERT_EQ(want.bars.back().open_ms - want.bars.front().open_ms, (120 * 24 - 1) * hour_ms);
    ASSERT_GT(want.bars.size(), 2'800U);

    const auto got = fetch_chart(demo_request(instrument));
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.requests, 1);
    expect_same_bars(got.bars, want.bars);
  }
}

TEST(history_fetch, small_chunks_give_the_same_bars_with_more_requests) {
  const auto& want = demo_charts().at("BTC-PERPETUAL").bars;
  auto r = demo_request("BTC-PERPETUAL");
  r.max_bars_per_request = 100;
  const auto got = fetch_chart(r);
  ASSERT_EQ(got.error, "");
  // 2,880 hourly open times in windows of 100 hours: 29 requests.
  const std::int64_t hours = (want.back().open_ms - want.front().open_ms) / hour_ms + 1;
  EXPECT_EQ(got.requests, static_cast<int>((hours + 99) / 100));
  EXPECT_EQ(got.requests, 29);
  expect_same_bars(got.bars, want);
}

TEST(history_fetch, one_bar_per_request_on_an_unaligned_sub_range) {
  const auto& all = demo_charts().at("ETH-PERPETUAL").bars;
  // From half an hour after bar 10 to half an hour after bar 20: bars 11..20.
  auto r = demo_request("ETH-PERPETUAL");
  r.start_ms = all[10].open_ms + hour_ms / 2;
  r.end_ms = all[20].open_ms + hour_ms / 2;
  r.max_bars_per_request = 1;
  const auto got = fetch_chart(r);
  ASSERT_EQ(got.error, "");
  // Chunks are one hour wide (minus the inclusive end), so 10 h + 1 ms take 11 chunks: ten hold
  // one bar each, the last only the end instant (no_data).
  EXPECT_EQ(got.requests, 11);
  expect_same_bars(got.bars, std::vector<chart_bar>(all.begin() + 11, all.begin() + 21));
}

TEST(history_fetch, range_without_bars_is_an_empty_success) {
  const auto& all = demo_charts().at("BTC-PERPETUAL").bars;
  auto r = demo_request("BTC-PERPETUAL");
  r.start_ms = all.front().open_ms - 48 * hour_ms;
  r.end_ms = all.front().open_ms - 1;
  const auto got = fetch_chart(r);
  EXPECT_EQ(got.error, "");
  EXPECT_TRUE(got.bars.empty());
  EXPECT_EQ(got.requests, 1);
}

TEST(history_fetch, json_rpc_error_of_the_exchange_is_reported_with_message_and_code) {
  auto r = demo_request("BTC-PERPETUAL");
  r.resolution = "7";  // a number of minutes Deribit does not offer
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("Invalid params"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("-32602"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("resolution"), std::string::npos) << got.error;
  EXPECT_TRUE(got.bars.empty());
}

// Deribit's answer to an instrument name it does not know, verbatim from a 2025 capture quoted in
// thrasher-corp/gocryptotrader#2099 (there over HTTP, so without an id). The replay exchange
// answers unknown names with no_data, so a scripted server plays the venue here, once without an
// id (as captured) and once with the request's id.
TEST(history_fetch, unknown_instrument_error_is_reported) {
  for (const bool with_id : {false, true}) {
    SCOPED_TRACE(with_id);
    scripted_server server([with_id](const json& request) -> std::vector<std::string> {
      json error = json::parse(
          R"({"jsonrpc":"2.0","error":{"code":-32602,"data":{"reason":"wrong format","param":"instrument_name"},"message":"Invalid params"},"testnet":false,"usIn":1761890355600251,"usOut":1761890355600325,"usDiff":74})");
      if (with_id) error["id"] = request.at("id");
      return {error.dump()};
    });
    history_request r;
    r.url = server.url();
    r.instrument = "ETH-USDC-FS-28NOV25_PERP";
    r.start_ms = 0;
    r.end_ms = 10 * hour_ms;
    const auto got = fetch_chart(r);
    EXPECT_NE(got.error.find("Invalid params (code -32602)"), std::string::npos) << got.error;
    EXPECT_NE(got.error.find("instrument_name: wrong format"), std::string::npos) << got.error;
    EXPECT_NE(got.error.find("ETH-USDC-FS-28NOV25_PERP"), std::string::npos) << got.error;
    EXPECT_EQ(got.requests, 1);
  }
}

TEST(history_fetch, request_carries_the_documented_params) {
  scripted_server server([](const json& request) -> std::vector<std::string> {
    return {response_frame(request, chart_result_json({}))};
  });
  history_request r;
  r.url = server.url();
  r.instrument = "BTC-PERPETUAL";
  r.resolution = "1D";
  r.start_ms = 1'700'000'000'000;
  r.end_ms = 1'700'100'000'000;
  const auto got = fetch_chart(r);
  ASSERT_EQ(got.error, "");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1U);
  const json& q = requests[0];
  EXPECT_EQ(q.at("jsonrpc"), "2.0");
  EXPECT_TRUE(q.at("id").is_number_integer());
  EXPECT_EQ(q.at("method"), "public/get_tradingview_chart_data");
  EXPECT_EQ(q.at("params").at("instrument_name"), "BTC-PERPETUAL");
  EXPECT_EQ(q.at("params").at("resolution"), "1D");
  EXPECT_EQ(q.at("params").at("start_timestamp"), 1'700'000'000'000);
  EXPECT_EQ(q.at("params").at("end_timestamp"), 1'700'100'000'000);
}

// Chunks are inclusive, contiguous, do not overlap and hold at most max_bars_per_request bar
// open times; bars that come back unsorted and repeated across chunks are sorted and de-duplicated.
TEST(history_fetch, chunks_tile_the_range_and_repeated_bars_are_merged) {
  const std::vector<chart_bar> canned = {{3 * hour_ms, 3, 3.5, 2.5, 3.25, 30},
                                         {1 * hour_ms, 1, 1.5, 0.5, 1.25, 10},
                                         {2 * hour_ms, 2, 2.5, 1.5, 2.25, 20},
                                         {9 * hour_ms, 9, 9.5, 8.5, 9.25, 90}};
  scripted_server server([&](const json& request) -> std::vector<std::string> {
    return {response_frame(request, chart_result_json(canned))};  // same bars whatever the range
  });
  history_request r;
  r.url = server.url();
  r.instrument = "BTC-PERPETUAL";
  r.resolution = "60";
  r.start_ms = 0;
  r.end_ms = 7 * hour_ms;
  r.max_bars_per_request = 3;
  const auto got = fetch_chart(r);
  ASSERT_EQ(got.error, "");

  const auto requests = server.requests();
  ASSERT_EQ(static_cast<int>(requests.size()), got.requests);
  ASSERT_GE(requests.size(), 3U);  // 8 hourly open times, at most 3 per chunk
  std::int64_t expect_start = r.start_ms;
  for (const json& q : requests) {
    const std::int64_t s = q.at("params").at("start_timestamp");
    const std::int64_t e = q.at("params").at("end_timestamp");
    EXPECT_EQ(s, expect_start);
    EXPECT_LE(s, e);
    EXPECT_LT(e - s, 3 * hour_ms);  // a window shorter than 3 bars holds at most 3 open times
    expect_start = e + 1;
  }
  EXPECT_EQ(requests.back().at("params").at("end_timestamp"), r.end_ms);

  // The bar at 9 h is outside the requested range and dropped.
  expect_same_bars(got.bars, {canned[1], canned[2], canned[0]});
}

TEST(history_fetch, heartbeat_test_request_is_answered_before_the_result_arrives) {
  // The server sends a test_request and withholds the result until public/test arrives.
  json pending;
  scripted_server server([&](const json& request) -> std::vector<std::string> {
    const std::string method = request.value("method", "");
    if (method == "public/get_tradingview_chart_data") {
      pending = request;
      return {R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}})",
              R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}})"};
    }
    if (method == "public/test") {
      return {
          json{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", {{"version", "1.2.26"}}}}
              .dump(),
          response_frame(pending, chart_result_json({{hour_ms, 1, 2, 0.5, 1.5, 7}}))};
    }
    return {};
  });
  history_request r;
  r.url = server.url();
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = 2 * hour_ms;
  r.timeout = 5s;
  const auto got = fetch_chart(r);
  ASSERT_EQ(got.error, "");
  expect_same_bars(got.bars, {{hour_ms, 1, 2, 0.5, 1.5, 7}});
  EXPECT_EQ(got.requests, 1);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[1].at("method"), "public/test");
  EXPECT_NE(requests[1].at("id"), requests[0].at("id"));
}

TEST(history_fetch, malformed_results_are_errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"status":"ok","ticks":[0,3600000],"open":[1,2],"high":[1,2],"low":[1],"close":[1,2],"volume":[0,0],"cost":[0,0]})",
       "'low' has 1 values"},
      {R"({"status":"ok","ticks":[0],"open":[1],"high":[1],"low":[1],"close":[1],"volume":[0],"cost":[0,1]})",
       "'cost'"},
      {R"({"status":"ok","ticks":[0],"open":[1],"high":[1],"low":[1],"close":["1"],"volume":[0]})",
       "not a number"},
      {R"({"status":"ok","ticks":[0.5],"open":[1],"high":[1],"low":[1],"close":[1],"volume":[0]})",
       "not an integer"},
      {R"({"status":"ok","ticks":[0],"open":[1],"high":[1],"low":[1],"close":[1]})",
       "'volume' is not an array"},
      {R"({"status":"error"})", "unexpected status"},
      {R"([1,2,3])", "not an object"},
  };
  for (const auto& [result, expected] : cases) {
    SCOPED_TRACE(result);
    // An init-capture: clang 14 cannot capture a structured binding.
    scripted_server server(
        [body = std::string(result)](const json& request) -> std::vector<std::string> {
          return {response_frame(request, json::parse(body))};
        });
    history_request r;
    r.url = server.url();
    r.instrument = "BTC-PERPETUAL";
    r.start_ms = 0;
    r.end_ms = hour_ms;
    const auto got = fetch_chart(r);
    EXPECT_NE(got.error.find("malformed result"), std::string::npos) << got.error;
    EXPECT_NE(got.error.find(expected), std::string::npos) << got.error;
    EXPECT_TRUE(got.bars.empty());
  }
}

TEST(history_fetch, a_frame_that_is_not_json_is_an_error) {
  scripted_server server([](const json&) -> std::vector<std::string> { return {"{\"jsonrpc\":"}; });
  history_request r;
  r.url = server.url();
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = hour_ms;
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("malformed frame"), std::string::npos) << got.error;
}

TEST(history_fetch, connection_refused_is_an_error) {
  unsigned short port = 0;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  history_request r;
  r.url = "ws://127.0.0.1:" + std::to_string(port) + "/ws/api/v2";
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = hour_ms;
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("cannot connect"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("refused"), std::string::npos) << got.error;
  EXPECT_EQ(got.requests, 0);
}

TEST(history_fetch, server_that_never_answers_the_handshake_times_out) {
  // The kernel completes the TCP handshake for the listening socket; nobody ever reads.
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  history_request r;
  r.url = "ws://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/ws/api/v2";
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = hour_ms;
  r.timeout = 200ms;
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("timed out"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("WebSocket handshake"), std::string::npos) << got.error;
  EXPECT_EQ(got.requests, 0);
}

TEST(history_fetch, server_that_never_answers_the_request_times_out) {
  scripted_server server([](const json&) -> std::vector<std::string> { return {}; });
  history_request r;
  r.url = server.url();
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = hour_ms;
  r.timeout = 200ms;
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("timed out after 200 ms waiting for the response"), std::string::npos)
      << got.error;
  EXPECT_EQ(got.requests, 1);
}

TEST(history_fetch, invalid_requests_are_refused_before_connecting) {
  const auto base = [] {
    history_request r;
    r.url = "ws://127.0.0.1:1/ws/api/v2";
    r.instrument = "BTC-PERPETUAL";
    r.start_ms = 0;
    r.end_ms = hour_ms;
    return r;
  };
  std::vector<std::pair<history_request, std::string>> cases;
  cases.emplace_back(base(), "");
  cases.back().first.url = "http://127.0.0.1:1/";
  cases.back().second = "url";
  cases.emplace_back(base(), "resolution");
  cases.back().first.resolution = "1H";
  cases.emplace_back(base(), "instrument");
  cases.back().first.instrument = "";
  cases.emplace_back(base(), "start_ms");
  cases.back().first.start_ms = 2 * hour_ms;
  cases.emplace_back(base(), "max_bars_per_request");
  cases.back().first.max_bars_per_request = 0;
  cases.emplace_back(base(), "timeout");
  cases.back().first.timeout = 0ms;
  for (const auto& [request, word] : cases) {
    SCOPED_TRACE(word);
    const auto got = fetch_chart(request);
    EXPECT_NE(got.error.find(word), std::string::npos) << got.error;
    EXPECT_EQ(got.requests, 0);
  }
}

// wss:// against the replay exchange serving the test CA's certificates (tests/data/tls).
TEST(history_fetch, tls_bars_equal_the_recording_with_the_test_ca) {
  replay_exchange exchange(demo_recording, data_dir + "/tls/localhost.pem",
                           data_dir + "/tls/localhost.key");
  for (const char* host : {"localhost", "127.0.0.1"}) {  // DNS SAN with SNI, then the IP SAN
    SCOPED_TRACE(host);
    auto r = demo_request("ETH-PERPETUAL");
    r.url = exchange.url(host);
    r.ca_file = data_dir + "/tls/ca.pem";
    const auto got = fetch_chart(r);
    ASSERT_EQ(got.error, "");
    expect_same_bars(got.bars, demo_charts().at("ETH-PERPETUAL").bars);
  }
}

TEST(history_fetch, tls_refuses_a_certificate_for_another_host) {
  replay_exchange exchange(demo_recording, data_dir + "/tls/wronghost.pem",
                           data_dir + "/tls/wronghost.key");
  auto r = demo_request("BTC-PERPETUAL");
  r.url = exchange.url("localhost");
  r.ca_file = data_dir + "/tls/ca.pem";  // the chain is trusted; only the name is wrong
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("TLS handshake"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("certificate verify failed"), std::string::npos) << got.error;
  EXPECT_EQ(got.requests, 0);
}

TEST(history_fetch, tls_refuses_an_unknown_ca_with_the_system_store) {
  replay_exchange exchange(demo_recording, data_dir + "/tls/localhost.pem",
                           data_dir + "/tls/localhost.key");
  auto r = demo_request("BTC-PERPETUAL");
  r.url = exchange.url("localhost");
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("certificate verify failed"), std::string::npos) << got.error;
}

TEST(history_fetch, missing_ca_file_is_an_error) {
  history_request r;
  r.url = "wss://127.0.0.1:1/ws/api/v2";
  r.ca_file = data_dir + "/tls/no_such_ca.pem";
  r.instrument = "BTC-PERPETUAL";
  r.start_ms = 0;
  r.end_ms = hour_ms;
  const auto got = fetch_chart(r);
  EXPECT_NE(got.error.find("ca_file"), std::string::npos) << got.error;
}

}  // namespace
}  // namespace vrp::feeds::history_test

namespace vrp::feeds::history_test {
namespace {
using deribit::fetch_server_time;

TEST(history_fetch, server_time_of_a_replay_is_its_recordings_clock) {
  // Before playback the replay's clock reads its first frame: the index frame at the close of the
  // last history bar (2025-10-24T23:00:00Z), so "history up to now" ends where the chain begins.
  const auto got = fetch_server_time(demo_exchange().url(), "", std::chrono::seconds(5));
  ASSERT_EQ(got.error, "");
  const auto& bars = demo_charts().at("BTC-PERPETUAL").bars;
  EXPECT_EQ(got.server_ms, bars.back().open_ms + 3'600'000);
  EXPECT_EQ(got.server_ms, 1'761'346'800'000);
}

TEST(history_fetch, server_time_reports_a_refused_connection) {
  const auto got = fetch_server_time("ws://127.0.0.1:1/ws/api/v2", "", std::chrono::seconds(2));
  EXPECT_NE(got.error, "");
  EXPECT_EQ(got.server_ms, 0);
}

}  // namespace
}  // namespace vrp::feeds::history_test
