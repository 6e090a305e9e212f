// `vrpctl feed`: runs the Deribit feed (session, protocol, codec, ring) against a venue or the
// replay exchange and prints its counters as JSON lines. Operators use it to check connectivity;
// the integration tests and the socket-to-ring benchmark use it to drive the production code path.

#include "vrp/service/feed_cmd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.hpp"
#include "vrp/core/event_ring.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/core/spsc_ring.hpp"
#include "vrp/feeds/deribit/feed.hpp"

namespace vrp::service {
namespace {

namespace po = boost::program_options;
using nlohmann::json;
using steady = std::chrono::steady_clock;

// Events counted by the consumer thread (the stand-in for the engine).
struct consumer_counts {
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> option_quotes{0};
  std::atomic<std::uint64_t> index_ticks{0};
  std::atomic<std::uint64_t> funding_ticks{0};
  std::atomic<std::uint64_t> dvol_ticks{0};
  std::atomic<std::uint64_t> chain_events{0};
  std::atomic<std::uint64_t> feed_up{0};
  std::atomic<std::uint64_t> feed_down{0};
};

void consume(core::spsc_ring<core::event>& ring, core::ring_doorbell& bell, std::atomic<bool>& stop,
             consumer_counts& counts) {
  constexpr std::size_t batch = 256;
  std::vector<core::event> buffer(batch);
  int idle_rounds = 0;
  for (;;) {
    const std::size_t n = ring.pop_batch(buffer.data(), batch);
    if (n == 0) {
      // Stop only once the ring is drained, so the final counts are complete.
      if (stop.load(std::memory_order_acquire)) break;
      // Spin briefly, then park: on two cores a spinning consumer starves the I/O thread.
      if (++idle_rounds < 64) continue;
      bell.park([&] { return ring.size_approx() == 0 && !stop.load(std::memory_order_acquire); });
      idle_rounds = 0;
      continue;
    }
    idle_rounds = 0;
    std::uint64_t quotes = 0, index = 0, funding = 0, dvol = 0, chain = 0, up = 0, down = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const core::event& e = buffer[i];
      switch (e.index()) {
        case 0:
          ++quotes;
          break;
        case 1:
          ++index;
          break;
        case 2:
          ++funding;
          break;
        case 3:
          ++dvol;
          break;
        case 5: {
          ++chain;
          const auto change = std::get<core::chain_event>(e).change;
          up += change == core::chain_change::feed_up;
          down += change == core::chain_change::feed_down;
          break;
        }
        default:
          break;
      }
    }
    counts.events.fetch_add(n, std::memory_order_relaxed);
    counts.option_quotes.fetch_add(quotes, std::memory_order_relaxed);
    counts.index_ticks.fetch_add(index, std::memory_order_relaxed);
    counts.funding_ticks.fetch_add(funding, std::memory_order_relaxed);
    counts.dvol_ticks.fetch_add(dvol, std::memory_order_relaxed);
    counts.chain_events.fetch_add(chain, std::memory_order_relaxed);
    counts.feed_up.fetch_add(up, std::memory_order_relaxed);
    counts.feed_down.fetch_add(down, std::memory_order_relaxed);
  }
}

json stats_json(const feeds::deribit::feed_stats& s, const consumer_counts& c, double elapsed_s) {
  json rejected = json::object();
  for (std::size_t i = 1; i < static_cast<std::size_t>(feeds::deribit::reject_reason::count_);
       ++i) {
    if (s.codec.rejected[i] > 0) {
      rejected[std::string(feeds::deribit::reason_name(
          static_cast<feeds::deribit::reject_reason>(i)))] = s.codec.rejected[i];
    }
  }
  return json{
      {"elapsed_s", elapsed_s},
      {"state", std::string(feeds::deribit::protocol_state_name(s.state))},
      {"oversized_skipped", s.oversized_skipped},
      {"session",
       {{"connects", s.session.connects},
        {"disconnects", s.session.disconnects},
        {"failed_attempts", s.session.failed_attempts},
        {"stale_reconnects", s.session.stale_reconnects},
        {"frames_in", s.session.frames_in},
        {"bytes_in", s.session.bytes_in},
        {"frames_out", s.session.frames_out},
        {"oversized", s.session.oversized},
        {"last_close", std::string(feeds::close_reason_name(s.session.last_close))}}},
      {"channels",
       {{"wanted", s.wanted_channels},
        {"live", s.live_channels},
        {"requested", s.protocol.channels_requested},
        {"confirmed", s.protocol.channels_confirmed},
        {"missing", s.protocol.channels_missing}}},
      {"protocol",
       {{"test_requests_answered", s.protocol.test_requests_answered},
        {"heartbeats", s.protocol.heartbeats},
        {"error_responses", s.protocol.error_responses},
        {"rate_limited", s.protocol.rate_limited},
        {"maintenance", s.protocol.maintenance},
        {"request_timeouts", s.protocol.request_timeouts},
        {"malformed_frames", s.protocol.malformed_frames},
        {"instruments_listed", s.protocol.instruments_listed},
        {"instruments_expired", s.protocol.instruments_expired},
        {"last_error_code", s.protocol.last_error_code}}},
      {"codec",
       {{"frames", s.codec.frames},
        {"events", s.codec.events},
        {"ignored_channel", s.codec.ignored_channel},
        {"rejected", rejected}}},
      {"ring",
       {{"pushed", s.ring.pushed},
        {"enqueued", s.ring.enqueued},
        {"conflated", s.ring.conflated},
        {"dropped", s.ring.dropped},
        {"pending", s.ring.pending},
        {"max_depth", s.ring.max_depth}}},
      {"consumed",
       {{"events", c.events.load()},
        {"option_quotes", c.option_quotes.load()},
        {"index_ticks", c.index_ticks.load()},
        {"funding_ticks", c.funding_ticks.load()},
        {"dvol_ticks", c.dvol_ticks.load()},
        {"chain_events", c.chain_events.load()},
        {"feed_up", c.feed_up.load()},
        {"feed_down", c.feed_down.load()}}},
  };
}

}  // namespace

int run_feed(int argc, const char* const* argv) {
  po::options_description opts("vrpctl feed options");
  std::string url, currencies = "BTC,ETH", interval = "100ms", ca_file;
  double duration_s = 0;
  int stats_every_ms = 1'000, stale_after_ms = 15'000, heartbeat_s = 10, backoff_initial_ms = 250,
      backoff_max_ms = 30'000;
  std::size_t ring_capacity = 65'536, max_channels = 250, max_frame_bytes = 1U << 20;
  bool no_markprice = false, no_dvol = false, no_index = false, no_perpetual = false;
  opts.add_options()("help,h", "this help")(
      "url", po::value(&url), "venue WebSocket URL (default: wss://www.deribit.com/ws/api/v2)")(
      "currencies", po::value(&currencies)->default_value(currencies), "comma-separated")(
      "interval", po::value(&interval)->default_value(interval), "ticker interval")(
      "ca-file", po::value(&ca_file), "PEM CA bundle instead of the system store")(
      "duration", po::value(&duration_s)->default_value(0), "seconds to run (0: until SIGINT)")(
      "stats-every-ms", po::value(&stats_every_ms)->default_value(stats_every_ms),
      "print counters this often (0: only at the end)")(
      "stale-after-ms", po::value(&stale_after_ms)->default_value(stale_after_ms),
      "watchdog: reconnect after this long without data")(
      "heartbeat-s", po::value(&heartbeat_s)->default_value(heartbeat_s),
      "public/set_heartbeat interval (Deribit accepts >= 10)")(
      "backoff-initial-ms", po::value(&backoff_initial_ms)->default_value(backoff_initial_ms), "")(
      "backoff-max-ms", po::value(&backoff_max_ms)->default_value(backoff_max_ms), "")(
      "ring-capacity", po::value(&ring_capacity)->default_value(ring_capacity), "events")(
      "max-channels", po::value(&max_channels)->default_value(max_channels),
      "channels per subscribe request")(
      "max-frame-bytes", po::value(&max_frame_bytes)->default_value(max_frame_bytes),
      "larger frames are skipped and counted")("no-markprice", po::bool_switch(&no_markprice), "")(
      "no-dvol", po::bool_switch(&no_dvol), "")("no-index", po::bool_switch(&no_index), "")(
      "no-perpetual", po::bool_switch(&no_perpetual), "");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrpctl feed: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: vrpctl feed [options]\n" << opts;
    return 0;
  }
  feeds::deribit::feed_config config;
  config.session.url = url;
  if (!url.empty()) {
    feeds::ws_url parsed;
    if (!feeds::parse_ws_url(url, parsed)) {
      std::cerr << "vrpctl feed: --url '" << url << "' is not a ws:// or wss:// URL\n";
      return 2;
    }
  }
  if (stale_after_ms <= 0 || heartbeat_s <= 0 || backoff_initial_ms <= 0 ||
      backoff_max_ms < backoff_initial_ms || ring_capacity < 2 || max_channels == 0) {
    std::cerr << "vrpctl feed: timings must be positive, --backoff-max-ms >= --backoff-initial-ms,"
                 " --ring-capacity >= 2, --max-channels >= 1\n";
    return 2;
  }
  config.session.ca_file = ca_file;
  config.max_frame_bytes = max_frame_bytes;
  config.session.stale_after = std::chrono::milliseconds(stale_after_ms);
  config.session.backoff_initial = std::chrono::milliseconds(backoff_initial_ms);
  config.session.backoff_max = std::chrono::milliseconds(backoff_max_ms);
  config.protocol.currencies = split_csv(currencies);
  config.protocol.ticker_interval = interval;
  config.protocol.heartbeat_interval_s = heartbeat_s;
  config.protocol.max_channels_per_request = max_channels;
  config.protocol.subscribe_markprice = !no_markprice;
  config.protocol.subscribe_dvol = !no_dvol;
  config.protocol.subscribe_price_index = !no_index;
  config.protocol.subscribe_perpetual = !no_perpetual;
  if (config.protocol.currencies.empty()) {
    std::cerr << "vrpctl feed: --currencies is empty\n";
    return 2;
  }

  boost::asio::io_context io(1);
  core::instrument_table instruments;
  core::spsc_ring<core::event> ring(ring_capacity);
  core::ring_doorbell bell;
  consumer_counts counts;
  std::atomic<bool> stop_consumer{false};
  std::thread consumer([&] { consume(ring, bell, stop_consumer, counts); });

  std::unique_ptr<feeds::deribit::feed> feed_ptr;
  try {
    feed_ptr = std::make_unique<feeds::deribit::feed>(io, config, instruments, ring, bell);
  } catch (const std::exception& e) {  // a bad URL or CA file: configuration, not market data
    std::cerr << "vrpctl feed: " << e.what() << "\n";
    stop_consumer.store(true);
    bell.wake();
    consumer.join();
    return 2;
  }
  feeds::deribit::feed& feed = *feed_ptr;
  const auto start = steady::now();
  auto elapsed = [&] { return std::chrono::duration<double>(steady::now() - start).count(); };

  boost::asio::steady_timer stats_timer(io);
  std::function<void()> arm_stats = [&] {
    if (stats_every_ms <= 0) return;
    stats_timer.expires_after(std::chrono::milliseconds(stats_every_ms));
    stats_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      std::cout << stats_json(feed.stats(), counts, elapsed()).dump() << std::endl;
      arm_stats();
    });
  };
  auto finish = [&] {
    stats_timer.cancel();
    feed.stop();
    // Let the close handshake run, then stop the loop.
    auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(200));
    t->async_wait([&io, t](const boost::system::error_code&) { io.stop(); });
  };
  boost::asio::steady_timer duration_timer(io);
  if (duration_s > 0) {
    duration_timer.expires_after(
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(duration_s)));
    duration_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) finish();
    });
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) finish();
  });

  feed.start();
  arm_stats();
  io.run();
  const double run_s = elapsed();

  stop_consumer.store(true, std::memory_order_release);
  bell.wake();
  consumer.join();

  json final_line = stats_json(feed.stats(), counts, run_s);
  final_line["final"] = true;
  const auto frames = final_line["session"]["frames_in"].get<std::uint64_t>();
  final_line["frames_per_s"] = run_s > 0 ? static_cast<double>(frames) / run_s : 0.0;
  std::cout << final_line.dump() << std::endl;
  return 0;
}

}  // namespace vrp::service
