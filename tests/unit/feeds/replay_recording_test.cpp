// The recording loader on its three input forms. Expected counts come from the files themselves
// (protocols/README.md: 89 ticker + 46 book notifications on 20 channels of 10 options) and from
// tests/data/replay/README.md; instrument fields from the real 2021-07-22 get_instruments answer.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "vrp/feeds/replay/recording.hpp"

namespace {

using vrp::feeds::replay::derive_instrument;
using vrp::feeds::replay::load_recording_file;
using vrp::feeds::replay::parse_recording;
using vrp::feeds::replay::recording;
using vrp::feeds::replay::recording_form;
using json = nlohmann::json;

const std::string data_dir = VRP_TEST_DATA_DIR;
const std::string capture_path =
    data_dir + "/protocols/deribit/replay/cryptofeed_2021-07-22_options.capture.jsonl";
const std::string frames_path =
    data_dir + "/protocols/deribit/replay/cryptofeed_2021-07-22_options.frames.jsonl";
const std::string recording_path = data_dir + "/replay/cryptofeed_2021-07-22.recording.jsonl";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

recording load(const std::string& path) {
  auto r = load_recording_file(path);
  EXPECT_TRUE(r.ok()) << path << ":" << r.error.line << ": " << r.error.message;
  return r.ok() ? std::move(*r.value) : recording{};
}

TEST(replay_recording, capture_plays_only_subscription_notifications) {
  const auto rec = load(capture_path);
  EXPECT_EQ(rec.form, recording_form::capture);
  EXPECT_TRUE(rec.paced);
  ASSERT_EQ(rec.frames.size(), 135U);
  EXPECT_EQ(rec.channels.size(), 20U);
  // open, the client's subscribe and its response are not played.
  EXPECT_EQ(rec.skipped, 3U);
  // The frames file is the same connection, one exact frame per line after the response line.
  const auto lines = read_lines(frames_path);
  ASSERT_EQ(lines.size(), 136U);
  for (std::size_t i = 0; i < rec.frames.size(); ++i) {
    ASSERT_EQ(rec.frames[i].text, lines[i + 1]) << "frame " << i;
  }
  // First notification received at ts 1626993723.804855 s, last at 1626993754.1655822 s.
  EXPECT_EQ(rec.frames.front().ts_ns, 1'626'993'723'804'855'000);
  EXPECT_EQ(rec.frames.back().ts_ns, 1'626'993'754'165'582'000);
}

TEST(replay_recording, capture_counts_ticker_and_book_frames) {
  const auto rec = load(capture_path);
  std::size_t ticker = 0;
  std::size_t book = 0;
  for (const auto& f : rec.frames) {
    const auto& ch = rec.channels[f.channel_id];
    ticker += ch.rfind("ticker.", 0) == 0 ? 1 : 0;
    book += ch.rfind("book.", 0) == 0 ? 1 : 0;
    // Every frame's channel id names the channel in its own text.
    EXPECT_EQ(json::parse(f.text)["params"]["channel"].get<std::string>(), ch);
  }
  EXPECT_EQ(ticker, 89U);
  EXPECT_EQ(book, 46U);
}

TEST(replay_recording, frames_file_loads_unpaced_in_order) {
  const auto rec = load(frames_path);
  EXPECT_EQ(rec.form, recording_form::frames);
  EXPECT_FALSE(rec.paced);
  ASSERT_EQ(rec.frames.size(), 135U);
  EXPECT_EQ(rec.skipped, 1U);  // the subscribe response
  const auto lines = read_lines(frames_path);
  EXPECT_EQ(rec.frames.front().text, lines[1]);
  EXPECT_EQ(rec.frames.back().text, lines[135]);
  for (const auto& f : rec.frames) EXPECT_EQ(f.ts_ns, 0);
}

TEST(replay_recording, recording_form_loads_rpcs_chart_and_frames) {
  const auto rec = load(recording_path);
  EXPECT_EQ(rec.form, recording_form::recording);
  EXPECT_TRUE(rec.paced);
  EXPECT_EQ(rec.meta.size(), 1U);
  ASSERT_EQ(rec.frames.size(), 135U);
  EXPECT_EQ(rec.channels.size(), 20U);
  ASSERT_EQ(rec.rpcs.size(), 2U);
  EXPECT_FALSE(rec.instruments_derived);
  EXPECT_EQ(rec.instruments.size(), 15U);  // 7 BTC options + 8 BTC futures
  ASSERT_EQ(rec.charts.size(), 1U);
  const auto& c = rec.charts.front();
  EXPECT_EQ(c.instrument_name, "BTC-PERPETUAL");
  EXPECT_EQ(c.resolution, "60");
  ASSERT_EQ(c.ticks_ms.size(), 48U);
  EXPECT_EQ(c.ticks_ms.front(), 1'626'825'600'000);  // 2021-07-21T00:00Z
  EXPECT_EQ(c.close.size(), 48U);
  // Same frames, same times as the capture they were built from.
  const auto cap = load(capture_path);
  for (std::size_t i = 0; i < rec.frames.size(); ++i) {
    ASSERT_EQ(rec.frames[i].text, cap.frames[i].text);
    ASSERT_EQ(rec.frames[i].ts_ns, cap.frames[i].ts_ns);
  }
}

TEST(replay_recording, capture_derives_instruments_from_channel_names) {
  const auto rec = load(capture_path);
  EXPECT_TRUE(rec.instruments_derived);
  const std::vector<std::string> expected = {
      "BTC-24JUN22-15000-C", "BTC-24SEP21-34000-P",  "BTC-24SEP21-8000-P",  "BTC-25MAR22-30000-C",
      "BTC-30JUL21-24000-P", "BTC-31DEC21-300000-C", "BTC-31DEC21-34000-P", "ETH-23JUL21-2300-C",
      "ETH-27AUG21-4000-P",  "ETH-30JUL21-2800-C"};
  EXPECT_EQ(rec.instruments, expected);
}

TEST(replay_recording, derived_option_fields_match_the_real_instrument_list) {
  std::ifstream in(data_dir + "/protocols/deribit/rpc_get_instruments_BTC.real_2021-07-22.json");
  const auto real = json::parse(in)["result"];
  std::size_t checked = 0;
  for (const auto& inst : real) {
    const auto name = inst["instrument_name"].get<std::string>();
    const auto d = derive_instrument(name);
    ASSERT_TRUE(d.has_value()) << name;
    const auto j = json::parse(d->json);
    EXPECT_EQ(j["kind"], inst["kind"]) << name;
    EXPECT_EQ(j["base_currency"], inst["base_currency"]) << name;
    EXPECT_EQ(j["quote_currency"], inst["quote_currency"]) << name;
    if (name != "BTC-PERPETUAL") {
      EXPECT_EQ(j["expiration_timestamp"], inst["expiration_timestamp"]) << name;
    }
    if (inst["kind"] == "option") {
      EXPECT_EQ(j["option_type"], inst["option_type"]) << name;
      EXPECT_DOUBLE_EQ(j["strike"].get<double>(), inst["strike"].get<double>()) << name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 398U);
}

TEST(replay_recording, derives_linear_option_with_decimal_strike) {
  const auto d = derive_instrument("MATIC_USDC-9MAR24-1d02-C");
  ASSERT_TRUE(d.has_value());
  const auto j = json::parse(d->json);
  EXPECT_EQ(d->settlement_currency, "USDC");
  EXPECT_EQ(j["base_currency"], "MATIC");
  EXPECT_DOUBLE_EQ(j["strike"].get<double>(), 1.02);
  EXPECT_EQ(j["expiration_timestamp"], 1'709'971'200'000);  // 2024-03-09T08:00Z
  EXPECT_FALSE(derive_instrument("BTC-PERPETUAL-X").has_value());
  EXPECT_FALSE(derive_instrument("BTC-32JAN21-100-C").has_value());
  EXPECT_FALSE(derive_instrument("btc_usd").has_value());
}

TEST(replay_recording, malformed_line_reports_its_line_number) {
  const auto r =
      parse_recording("{\"meta\":{}}\n\n{\"ts_ns\":1,\"frame\":\"{}\"}\n{\"ts_ns\":2,\"frame\":\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.line, 4U);
  EXPECT_NE(r.error.message.find("JSON"), std::string::npos);
}

TEST(replay_recording, backwards_time_is_an_error_with_line_number) {
  const std::string f =
      R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"platform_state","data":{}}})";
  const auto line = [&](int ts) {
    return "{\"ts_ns\":" + std::to_string(ts) + ",\"frame\":" + json(f).dump() + "}\n";
  };
  const auto r = parse_recording(line(5) + line(7) + line(6));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.line, 3U);
}

TEST(replay_recording, chart_with_short_series_is_an_error) {
  const auto r = parse_recording(
      R"({"chart":{"instrument_name":"BTC-PERPETUAL","resolution":"60","ticks":[1,2],"open":[1.0]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.line, 1U);
}

TEST(replay_recording, unknown_line_form_is_skipped_with_a_warning) {
  const auto r = parse_recording("{\"meta\":{}}\n{\"something\":1}\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value->skipped, 1U);
  ASSERT_EQ(r.value->warnings.size(), 1U);
  EXPECT_NE(r.value->warnings[0].find("line 2"), std::string::npos);
}

TEST(replay_recording, mixing_forms_is_an_error) {
  const auto r = parse_recording(
      "{\"ts\":1.0,\"dir\":\"open\"}\n"
      R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"platform_state","data":{}}})"
      "\n");
  EXPECT_FALSE(r.ok());
}

TEST(replay_recording, missing_file_is_an_error_not_a_crash) {
  const auto r = load_recording_file(data_dir + "/replay/does_not_exist.jsonl");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.line, 0U);
}

}  // namespace
