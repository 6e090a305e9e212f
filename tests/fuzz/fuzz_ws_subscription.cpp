// libFuzzer target: the client messages of vrpd's /v1/stream (subscribe / unsubscribe / ping),
// one message per input line, through the parser ws_session uses (parse_ws_message), with the
// session's subscription bookkeeping replayed on the result.
//
// Invariants: nothing throws; a valid subscribe/unsubscribe names 1..64 distinct channels that the
// server serves; an invalid message has one of the documented error codes and a bounded message,
// and the error reply the session would send (render_error) is valid JSON, valid UTF-8 included
// (a WebSocket text frame must be UTF-8); the subscription count never exceeds the limit.

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "server/server_state.hpp"
#include "server/ws_message.hpp"
#include "vrp/core/metrics.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace {

using namespace vrp;

constexpr std::size_t max_messages = 64;
constexpr std::size_t max_error_message = 256;  // 64 quoted bytes plus the fixed text

struct fixture {
  boost::asio::io_context io;
  core::metrics_registry metrics;
  service::premium_history history{{"BTC", "ETH", "SOL_USDC"}, {7, 30}, 8, 0};
  std::shared_ptr<service::server_state> state;

  fixture() {
    service::api_server_config cfg;
    cfg.port = 0;
    cfg.underlyings = {"BTC", "ETH", "SOL_USDC"};
    cfg.max_subscriptions_per_client = 4;  // small, so the limit is reached
    state = std::make_shared<service::server_state>(io, cfg, metrics, history);
  }
};

fixture& shared_fixture() {
  static fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)shared_fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const service::server_state& st = *shared_fixture().state;
  const std::size_t limit = st.cfg.max_subscriptions_per_client;
  std::vector<bool> subscribed(st.channel_names.size(), false);
  std::size_t subscriptions = 0;
  for (const std::string_view line : fuzz::split_lines(fuzz::as_text(data, size), max_messages)) {
    const service::ws_request r = service::parse_ws_message(st, line);
    if (r.op == service::ws_op::invalid) {
      VRP_FUZZ_CHECK(r.error_code == "bad_request" || r.error_code == "unknown_op" ||
                     r.error_code == "unknown_channel");
      VRP_FUZZ_CHECK(!r.error_message.empty() && r.error_message.size() <= max_error_message);
      VRP_FUZZ_CHECK(r.channels.empty());
      std::string reply;
      service::render_error(r.error_code, r.error_message, reply);
      const auto doc = nlohmann::json::parse(reply, nullptr, false);
      VRP_FUZZ_CHECK(!doc.is_discarded());
      VRP_FUZZ_CHECK(doc["error"]["code"] == r.error_code);
      continue;
    }
    if (r.op == service::ws_op::ping) {
      VRP_FUZZ_CHECK(r.channels.empty());
      continue;
    }
    VRP_FUZZ_CHECK(!r.channels.empty() && r.channels.size() <= service::max_channels_per_message);
    for (std::size_t i = 0; i < r.channels.size(); ++i) {
      VRP_FUZZ_CHECK(r.channels[i] < st.channel_names.size());
      VRP_FUZZ_CHECK(std::find(r.channels.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                               r.channels.end(), r.channels[i]) == r.channels.end());
    }
    // The session's bookkeeping (ws_session::on_subscribe / on_unsubscribe).
    if (r.op == service::ws_op::subscribe) {
      std::size_t fresh = 0;
      for (const auto i : r.channels) fresh += subscribed[i] ? 0 : 1;
      if (subscriptions + fresh > limit) continue;  // too_many_subscriptions
      for (const auto i : r.channels) subscribed[i] = true;
      subscriptions += fresh;
    } else {
      for (const auto i : r.channels) {
        if (subscribed[i]) --subscriptions;
        subscribed[i] = false;
      }
    }
    VRP_FUZZ_CHECK(subscriptions <= limit);
    VRP_FUZZ_CHECK(static_cast<std::size_t>(
                       std::count(subscribed.begin(), subscribed.end(), true)) == subscriptions);
  }
  return 0;
}
