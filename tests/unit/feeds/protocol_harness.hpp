#pragma once

// Drives a deribit::protocol without I/O: a fake outbox records every sent frame, a vector sink
// records every event, and the venue's answers are built from the real/docs frames in
// tests/data/protocols/deribit with their id set to the request's id.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/feeds/deribit/codec.hpp"
#include "vrp/feeds/deribit/protocol.hpp"

namespace vrp::test {

using json = nlohmann::json;
namespace deribit = vrp::feeds::deribit;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string deribit_path(const std::string& name) {
  return std::string(VRP_TEST_DATA_DIR) + "/protocols/deribit/" + name;
}

inline json deribit_json(const std::string& name) {
  return json::parse(read_text(deribit_path(name)));
}

struct fake_outbox final : deribit::outbox {
  std::vector<std::string> sent;
  bool send(std::string_view text) override {
    sent.emplace_back(text);
    return true;
  }
};

struct vector_sink final : core::event_sink {
  std::vector<core::event> events;
  void push(const core::event& e) override { events.push_back(e); }

  std::vector<core::chain_event> chain(core::chain_change change) const {
    std::vector<core::chain_event> out;
    for (const auto& e : events) {
      if (const auto* c = std::get_if<core::chain_event>(&e); c != nullptr && c->change == change) {
        out.push_back(*c);
      }
    }
    return out;
  }
  template <class T>
  std::size_t count() const {
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [](const auto& e) { return std::holds_alternative<T>(e); }));
  }
};

// The real instruments list of 2021-07-22 (BTC options, futures, the perpetual), split by the
// kind a get_instruments request asks for.
inline const json& btc_instruments() {
  static const json all = deribit_json("rpc_get_instruments_BTC.real_2021-07-22.json");
  return all;
}

inline json instruments_of_kind(const json& list, std::string_view kind) {
  json out = json::array();
  for (const auto& e : list) {
    if (e.at("kind").get<std::string>() == kind) out.push_back(e);
  }
  return out;
}

// The channels a BTC-only protocol must want for `list`, built from the listing itself.
inline std::set<std::string> expected_btc_channels(const json& list,
                                                   const std::string& interval = "100ms") {
  std::set<std::string> out;
  for (const auto& e : list) {
    const auto name = e.at("instrument_name").get<std::string>();
    if (e.at("kind") == "option" || e.value("settlement_period", "") == "perpetual") {
      out.insert("ticker." + name + "." + interval);
    }
  }
  out.insert("deribit_price_index.btc_usd");
  out.insert("deribit_volatility_index.btc_usd");
  out.insert("markprice.options.btc_usd");
  out.insert("platform_state");
  return out;
}

struct harness {
  deribit::protocol_config config;
  core::instrument_table table{8192};
  deribit::codec codec{table};
  vector_sink sink;
  fake_outbox out;
  std::unique_ptr<deribit::protocol> proto;
  std::int64_t now_ns = 1'626'993'723'000'000'000;  // the capture's day
  std::set<std::int64_t> answered;                  // ids answered on the current connection
  std::size_t connection_from = 0;  // index in out.sent of the current connection's first request
  json btc_list = btc_instruments().at("result");

  explicit harness(deribit::protocol_config c = btc_only()) : config(std::move(c)) {
    proto = std::make_unique<deribit::protocol>(config, codec, table, sink);
  }

  static deribit::protocol_config btc_only() {
    deribit::protocol_config c;
    c.currencies = {"BTC"};
    return c;
  }

  // Ids restart with every connection: only the current connection's requests are answered.
  void open() {
    connection_from = out.sent.size();
    answered.clear();
    proto->on_open(now_ns, out);
  }

  deribit::frame_verdict feed(std::string_view text) {
    now_ns += 1'000'000;
    std::string padded(text);
    padded.append(deribit::required_padding(), '\0');
    return proto->on_frame(std::string_view(padded.data(), text.size()), now_ns, out);
  }
  deribit::frame_verdict feed_json(const json& j) { return feed(j.dump()); }

  deribit::frame_verdict timer(std::int64_t advance_ns) {
    now_ns += advance_ns;
    return proto->on_timer(now_ns, out);
  }

  // Every sent request, parsed.
  std::vector<json> requests() const {
    std::vector<json> r;
    for (const auto& s : out.sent) r.push_back(json::parse(s));
    return r;
  }
  std::vector<json> unanswered(std::string_view method) const {
    std::vector<json> r;
    auto all = requests();
    for (std::size_t i = connection_from; i < all.size(); ++i) {
      const json& j = all[i];
      if (j.at("method") == method && answered.count(j.at("id").get<std::int64_t>()) == 0) {
        r.push_back(j);
      }
    }
    return r;
  }

  // A real-shaped answer to `request`: `frame` with its id set to the request's id.
  deribit::frame_verdict answer(const json& request, json frame) {
    auto id = request.at("id").get<std::int64_t>();
    answered.insert(id);
    frame["id"] = id;
    return feed_json(frame);
  }
  deribit::frame_verdict answer_result(const json& request, json result) {
    json frame = btc_instruments();  // the real envelope (jsonrpc, usIn/usOut/usDiff, testnet)
    frame["result"] = std::move(result);
    return answer(request, std::move(frame));
  }

  // Answers every pending get_instruments with `list` split by kind.
  void answer_discovery(const json& list) {
    for (const auto& r : unanswered("public/get_instruments")) {
      answer_result(r, instruments_of_kind(list, r.at("params").at("kind").get<std::string>()));
    }
  }
  void answer_discovery() { answer_discovery(btc_list); }

  // Answers every pending subscribe with all of its channels, in reverse order; lets a second
  // pass for chunks held back by the subscribe credit budget.
  void confirm_subscribes() {
    for (int round = 0; round < 64; ++round) {
      auto pending = unanswered("public/subscribe");
      if (pending.empty()) {
        timer(1'000'000'000);
        pending = unanswered("public/subscribe");
        if (pending.empty()) return;
      }
      for (const auto& r : pending) {
        json channels = r.at("params").at("channels");
        std::reverse(channels.begin(), channels.end());
        answer_result(r, channels);
      }
    }
  }

  void answer_set_heartbeat() {
    for (const auto& r : unanswered("public/set_heartbeat")) {
      answer(r, deribit_json("ws_set_heartbeat_response.docs.json"));
    }
  }

  void go_live() {
    open();
    answer_set_heartbeat();
    answer_discovery();
    confirm_subscribes();
  }

  std::set<std::string> subscribed_channels(std::size_t from_request = 0) const {
    std::set<std::string> s;
    auto all = requests();
    for (std::size_t i = from_request; i < all.size(); ++i) {
      if (all[i].at("method") != "public/subscribe") continue;
      for (const auto& ch : all[i].at("params").at("channels")) s.insert(ch.get<std::string>());
    }
    return s;
  }
};

}  // namespace vrp::test
