// Real data frames through the protocol: the cryptofeed capture of 2021-07-22 and a real expired
// option ticker.

#include <gtest/gtest.h>

#include "protocol_harness.hpp"

namespace vrp::test {
namespace {

using deribit::protocol_state;
using deribit::session_action;

std::vector<std::string> read_lines(const std::string& path) {
  std::istringstream in(read_text(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(deribit_protocol_replay, cryptofeed_data_frames_produce_events_through_the_protocol) {
  deribit::protocol_config c;
  c.currencies = {"BTC", "ETH"};
  c.ticker_interval = "raw";
  harness h(c);
  h.open();

  const auto lines = read_lines(deribit_path("replay/cryptofeed_2021-07-22_options.frames.jsonl"));
  ASSERT_EQ(lines.size(), 136U);  // index.json: 1 subscribe result + 89 ticker + 46 book frames
  std::size_t tickers = 0;
  std::size_t subscriptions = 0;
  std::set<std::string> ticker_names;
  std::size_t data_verdicts = 0;
  for (const auto& line : lines) {
    const json j = json::parse(line);
    if (j.value("method", "") == "subscription") {
      ++subscriptions;
      const auto channel = j.at("params").at("channel").get<std::string>();
      if (channel.rfind("ticker.", 0) == 0) {
        ++tickers;
        ticker_names.insert(j.at("params").at("data").at("instrument_name").get<std::string>());
      }
    }
    auto v = h.feed(line);
    EXPECT_EQ(v.action, session_action::none) << line.substr(0, 120);
    if (v.data) ++data_verdicts;
  }
  EXPECT_EQ(tickers, 89U);
  EXPECT_EQ(subscriptions, 135U);
  // Every notification is market data for the watchdog, books included.
  EXPECT_EQ(data_verdicts, subscriptions);
  // One option quote per ticker frame, for exactly the capture's instruments.
  EXPECT_EQ(h.sink.count<core::option_quote>(), tickers);
  std::set<std::string> quoted;
  for (const auto& e : h.sink.events) {
    if (const auto* q = std::get_if<core::option_quote>(&e)) {
      quoted.insert(std::string(h.table.at(q->id).name_view()));
      EXPECT_GT(q->recv_ns, 0);
    }
  }
  EXPECT_EQ(quoted, ticker_names);
  EXPECT_EQ(ticker_names.size(), 10U);
  // The capture's subscribe answer has id 0, which this connection never sent.
  EXPECT_EQ(h.proto->stats().unmatched_responses, 1U);
  EXPECT_EQ(h.proto->stats().malformed_frames, 0U);
  EXPECT_EQ(h.proto->state(), protocol_state::discovering);
}

TEST(deribit_protocol_replay, settled_ticker_expires_the_instrument_and_unsubscribes) {
  harness h;
  // The real expired ticker of BTC-8JUN20-8750-P; list it with the fields of a real put entry.
  const json frame = deribit_json("notif_ticker_option_expired.real_2020.json");
  const auto name = frame.at("params").at("data").at("instrument_name").get<std::string>();
  json entry;
  for (const auto& e : h.btc_list) {
    if (e.at("kind") == "option" && e.at("option_type") == "put") {
      entry = e;
      break;
    }
  }
  ASSERT_FALSE(entry.is_null());
  entry["instrument_name"] = name;
  entry["strike"] = 8750.0;
  entry["expiration_timestamp"] = 1591603200000;  // 8 Jun 2020 08:00 UTC
  h.btc_list.push_back(entry);
  h.go_live();
  ASSERT_EQ(h.proto->state(), protocol_state::live);
  const std::string channel = "ticker." + name + ".100ms";
  ASSERT_EQ(h.subscribed_channels().count(channel), 1U);
  const std::size_t wanted = h.proto->wanted_channels();
  const std::size_t from = h.out.sent.size();

  auto v = h.feed(frame.dump());
  EXPECT_TRUE(v.data);
  const auto id = h.table.find(name);
  auto expired = h.sink.chain(core::chain_change::expired);
  ASSERT_EQ(expired.size(), 1U);
  EXPECT_EQ(expired[0].id, id);
  EXPECT_EQ(h.proto->wanted_channels(), wanted - 1U);
  auto r = h.requests();
  ASSERT_EQ(r.size(), from + 1U);
  EXPECT_EQ(r[from].at("method"), "public/unsubscribe");
  EXPECT_EQ(r[from].at("params").at("channels"), json::array({channel}));

  // Seen again: no second expiry, no second unsubscribe.
  h.feed(frame.dump());
  EXPECT_EQ(h.sink.chain(core::chain_change::expired).size(), 1U);
  EXPECT_EQ(h.out.sent.size(), from + 1U);
  json unsub = deribit_json("ws_unsubscribe_response.docs.json");
  unsub["result"] = json::array({channel});
  h.answer(r[from], unsub);
  // A later listing that still shows it does not revive it.
  EXPECT_EQ(h.timer(601'000'000'000).action, session_action::none);
  ASSERT_EQ(h.unanswered("public/get_instruments").size(), 2U);
  h.answer_discovery();
  EXPECT_EQ(h.sink.chain(core::chain_change::listed).size(), h.btc_list.size());
  EXPECT_EQ(h.subscribed_channels(from).count(channel), 0U);
}

}  // namespace
}  // namespace vrp::test
