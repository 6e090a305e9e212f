// libFuzzer target: the Deribit protocol layer (feeds/.../deribit/protocol.hpp), which parses RPC
// replies (get_instruments listings, subscribe results, errors) separately from the codec. One
// input is one connection: on_open, then one frame per line; a line "#t" advances the clock by a
// second and runs on_timer, "#c" closes and reopens the connection.
//
// Request ids are deterministic (1 set_heartbeat, 2..5 get_instruments BTC/ETH option/future,
// then subscribes), so seeds answer them by id.
//
// Invariants: nothing throws; every request sent is a JSON-RPC 2.0 object with a fresh integer id
// (increasing within a connection), a method and object params, and a subscribe carries at most
// max_channels_per_request channels; a verdict that asks for a delayed reconnect has a positive
// delay; chain events name instruments of the table (listed/expired) or none (venue-wide).

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "vrp/feeds/deribit/codec.hpp"
#include "vrp/feeds/deribit/protocol.hpp"

namespace {

using namespace vrp;
namespace deribit = vrp::feeds::deribit;

constexpr std::int64_t start_ns = 1'761'347'700'000'000'000;  // 2025-10-24T23:15Z
constexpr std::int64_t second_ns = 1'000'000'000;
constexpr std::size_t max_lines = 48;
constexpr std::size_t table_capacity = 2048;

struct checking_outbox final : deribit::outbox {
  std::size_t max_channels = 0;
  std::int64_t last_id = 0;
  bool send(std::string_view text) override {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    VRP_FUZZ_CHECK(doc.is_object());
    VRP_FUZZ_CHECK(doc["jsonrpc"] == "2.0");
    VRP_FUZZ_CHECK(doc["id"].is_number_integer());
    const auto id = doc["id"].get<std::int64_t>();
    VRP_FUZZ_CHECK(id > last_id);
    last_id = id;
    VRP_FUZZ_CHECK(doc["method"].is_string());
    VRP_FUZZ_CHECK(doc["params"].is_object());
    const auto& method = doc["method"].get_ref<const std::string&>();
    if (method == "public/subscribe" || method == "public/unsubscribe") {
      const auto& ch = doc["params"]["channels"];
      VRP_FUZZ_CHECK(ch.is_array() && !ch.empty() && ch.size() <= max_channels);
    }
    return true;
  }
};

struct checking_sink final : core::event_sink {
  const core::instrument_table* table = nullptr;
  void push(const core::event& e) override {
    if (const auto* c = std::get_if<core::chain_event>(&e)) {
      if (c->change == core::chain_change::listed || c->change == core::chain_change::expired) {
        VRP_FUZZ_CHECK(table->contains(c->id));
      } else {
        VRP_FUZZ_CHECK(c->id == core::no_instrument);
      }
      return;
    }
    VRP_FUZZ_CHECK(table->contains(core::event_instrument(e)));
  }
};

void check_verdict(const deribit::frame_verdict& v) {
  if (v.action == deribit::session_action::reconnect_after_delay) {
    VRP_FUZZ_CHECK(v.delay.count() > 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::instrument_table table(table_capacity);
  deribit::codec codec(table);
  checking_sink sink;
  sink.table = &table;
  deribit::protocol_config cfg;  // BTC and ETH, every channel family
  cfg.max_channels_per_request = 50;
  checking_outbox out;
  out.max_channels = cfg.max_channels_per_request;
  deribit::protocol proto(cfg, codec, table, sink);
  fuzz::padded_frame frame(deribit::required_padding());

  std::int64_t now = start_ns;
  proto.on_open(now, out);
  for (const std::string_view line : fuzz::split_lines(fuzz::as_text(data, size), max_lines)) {
    now += 1000;
    if (line == "#t") {
      now += second_ns;
      check_verdict(proto.on_timer(now, out));
      continue;
    }
    if (line == "#c") {
      proto.on_close(now);
      out.last_id = 0;  // ids start again on a new connection
      now += second_ns;
      proto.on_open(now, out);
      continue;
    }
    check_verdict(proto.on_frame(frame.assign(line), now, out));
    VRP_FUZZ_CHECK(proto.live_channels() <= proto.stats().channels_requested);
  }
  proto.on_close(now);
  VRP_FUZZ_CHECK(proto.state() == deribit::protocol_state::disconnected);
  return 0;
}
