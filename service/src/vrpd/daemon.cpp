#include "vrpd/daemon.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vrp/core/event_ring.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/core/metrics.hpp"
#include "vrp/core/spsc_ring.hpp"
#include "vrp/core/time.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/deribit/feed.hpp"
#include "vrp/feeds/deribit/history.hpp"
#include "vrp/service/api_server.hpp"
#include "vrp/service/engine_setup.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrpd/metrics_wiring.hpp"

namespace vrp::service {

namespace {

namespace asio = boost::asio;
namespace deribit = feeds::deribit;
using steady = std::chrono::steady_clock;

deribit::feed_config make_feed_config(const config::config& c) {
  deribit::feed_config f;
  const auto& d = c.deribit;
  f.session.url = d.url;
  f.session.ca_file = d.ca_file;
  f.session.connect_timeout = d.connect_timeout_ms;
  f.session.handshake_timeout = d.connect_timeout_ms;
  f.session.stale_after = d.stale_after_ms;
  f.session.backoff_initial = d.backoff_initial_ms;
  f.session.backoff_max = d.backoff_max_ms;
  f.protocol.currencies = d.currencies;
  f.protocol.ticker_interval = std::string(config::to_string(d.ticker_interval));
  f.protocol.heartbeat_interval_s = static_cast<int>(d.heartbeat_s.count());
  f.protocol.max_channels_per_request = d.subscribe_chunk;
  f.max_frame_bytes = d.max_frame_bytes;
  return f;
}

api_server_config make_api_config(const config::config& c) {
  api_server_config a;
  const auto& s = c.api;
  // "localhost" is a name; bind the loopback address it stands for.
  a.host = s.listen_host == "localhost" ? "127.0.0.1" : s.listen_host;
  a.port = s.listen_port;
  a.underlyings = c.engine.underlyings;
  a.max_connections = s.max_connections;
  a.max_connections_per_address = s.max_connections_per_address;
  a.max_subscriptions_per_client = s.max_subscriptions_per_client;
  a.subscriber_queue = s.subscriber_queue;
  a.slow_consumer_timeout = s.slow_consumer_timeout_ms;
  a.max_request_bytes = s.max_request_bytes;
  a.max_header_bytes = s.max_header_bytes;
  a.ws_max_message_bytes = s.ws_max_message_bytes;
  a.idle_timeout = s.idle_timeout_s;
  a.token = s.token;
  return a;
}

// Deribit's chart resolution for a bar length (public/get_tradingview_chart_data accepts 1, 3, 5,
// 10, 15, 30, 60, 120, 180, 360, 720 minutes and 1D); empty when the bar has none.
std::string chart_resolution(std::chrono::seconds bar) {
  if (bar.count() == 86'400) return "1D";
  for (int m : {1, 3, 5, 10, 15, 30, 60, 120, 180, 360, 720}) {
    if (bar.count() == m * 60) return std::to_string(m);
  }
  return {};
}

// Warm-up of every forecaster from the venue's history (the replay's in the demo). History ends at
// the venue's clock (public/get_time), so a replay serves the bars that precede its data. A
// failure leaves that forecaster cold: its premium stays unavailable until enough live bars close.
constexpr int warm_up_attempts = 30;  // one a second

// Until the signal handlers are installed (after warm-up), SIGINT/SIGTERM end the process at once.
void warm_up(engine::engine& eng, const config::config& c) {
  const auto& d = c.deribit;
  const std::string resolution = chart_resolution(c.forecast.bar);
  if (resolution.empty()) {
    spdlog::warn(
        "event=warm_up_skipped reason=\"forecast.bar of {} s has no Deribit chart "
        "resolution; the forecasters start cold\"",
        c.forecast.bar.count());
    return;
  }
  // The venue may still be starting (or briefly unreachable): retry for a while, then start cold
  // rather than never.
  deribit::server_time_result now;
  for (int attempt = 1;; ++attempt) {
    now = deribit::fetch_server_time(d.url, d.ca_file, d.connect_timeout_ms * 2);
    if (now.error.empty()) break;
    if (attempt >= warm_up_attempts) {
      spdlog::warn("event=warm_up_failed attempts={} reason=\"get_time: {}\"", attempt, now.error);
      return;
    }
    if (attempt == 1) spdlog::info("event=warm_up_retry reason=\"get_time: {}\"", now.error);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (const auto& u : c.engine.underlyings) {
    deribit::history_request r;
    r.url = d.url;
    r.ca_file = d.ca_file;
    r.instrument = u + "-PERPETUAL";
    r.resolution = resolution;
    r.end_ms = now.server_ms;
    r.start_ms =
        now.server_ms - static_cast<std::int64_t>(c.forecast.history_days) * core::ms_per_day;
    const auto got = deribit::fetch_chart(r);
    if (!got.error.empty()) {
      spdlog::warn("event=warm_up_failed underlying={} reason=\"{}\"", u, got.error);
      continue;
    }
    std::vector<engine::history_bar> bars;
    bars.reserve(got.bars.size());
    for (const auto& b : got.bars) bars.push_back({b.open_ms, b.open, b.high, b.low, b.close});
    const auto st = eng.warm_up(u, bars);
    spdlog::info("event=warm_up underlying={} instrument={} bars={} requests={} fit={}", u,
                 r.instrument, bars.size(), got.requests, quant::to_string(st));
  }
}

// The engine thread: drains the ring in batches, publishes a snapshot after each batch that
// changed something, and fits what is still pending once the feed has been quiet for a refit
// interval (the I/O thread's tick wakes it). Parks when idle so two cores are never burned.
class engine_loop {
 public:
  engine_loop(engine::engine& eng, core::spsc_ring<core::event>& ring, core::ring_doorbell& bell,
              api_server& server, engine_metrics& metrics, const config::config& c)
      : eng_(eng),
        ring_(ring),
        bell_(bell),
        server_(server),
        metrics_(metrics),
        wait_(c.engine.wait),
        spin_(c.engine.spin_us),
        quiet_(std::chrono::duration_cast<steady::duration>(c.engine.refit_interval_ms)) {}

  void run() {
    std::vector<core::event> batch(1'024);
    auto last_event = steady::now();
    bool flush_pending = false;
    while (true) {
      const std::size_t n = ring_.pop_batch(batch.data(), batch.size());
      if (n > 0) {
        for (std::size_t i = 0; i < n; ++i) eng_.on_event(batch[i]);
        publish(eng_.publish());
        flush_pending = true;
        last_event = steady::now();
        continue;
      }
      if (stop_.load(std::memory_order_acquire)) break;
      if (flush_pending && steady::now() - last_event >= quiet_) {
        publish(eng_.flush());
        flush_pending = false;
        continue;
      }
      if (wait_ != config::wait_strategy::park && spin_until_data()) continue;
      if (wait_ == config::wait_strategy::spin) continue;
      tick_.store(false, std::memory_order_relaxed);
      bell_.park([&] {
        return ring_.size_approx() == 0 && !stop_.load(std::memory_order_acquire) &&
               !tick_.load(std::memory_order_relaxed);
      });
    }
    publish(eng_.flush());
  }

  // I/O thread, every tick: lets a parked engine check for pending fits.
  void tick() {
    tick_.store(true, std::memory_order_relaxed);
    bell_.wake();
  }

  void stop() {
    stop_.store(true, std::memory_order_release);
    bell_.wake();
  }

 private:
  bool spin_until_data() {
    const auto until = steady::now() + spin_;
    while (steady::now() < until) {
      if (ring_.size_approx() > 0 || stop_.load(std::memory_order_acquire)) return true;
    }
    return false;
  }

  void publish(std::shared_ptr<const engine::snapshot> s) {
    if (!s) return;
    metrics_.update(*s);
    server_.publish(std::move(s));
  }

  engine::engine& eng_;
  core::spsc_ring<core::event>& ring_;
  core::ring_doorbell& bell_;
  api_server& server_;
  engine_metrics& metrics_;
  config::wait_strategy wait_;
  std::chrono::microseconds spin_;
  steady::duration quiet_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> tick_{false};
};

}  // namespace

int run_daemon(const config::config& c) {
  // stdout carries only the {"listening":...} line that scripts read; the log goes to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("vrpd"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(static_cast<spdlog::level::level_enum>(c.service.log_level));
  spdlog::info("event=start {}", config::describe(c));

  std::error_code fs_ec;
  std::filesystem::create_directories(c.service.state_dir, fs_ec);
  if (fs_ec) {
    spdlog::warn("event=state_dir_unavailable path=\"{}\" reason=\"{}\"", c.service.state_dir,
                 fs_ec.message());
  }

  core::metrics_registry registry;
  const auto started = std::chrono::system_clock::now();
  registry.gauge("vrp_build_info", "vrpd build (always 1)", {{"version", "0.1.0"}}).set(1.0);
  registry.gauge("vrp_start_time_seconds", "Unix time vrpd started")
      .set(std::chrono::duration<double>(started.time_since_epoch()).count());

  core::instrument_table instruments;
  core::spsc_ring<core::event> ring(c.engine.ring_capacity);
  core::ring_doorbell bell;
  registry.gauge_callback("vrp_ring_depth", "Events waiting in the engine ring", {},
                          [&ring] { return static_cast<double>(ring.size_approx()); });

  premium_history history(c.engine.underlyings, c.engine.tenors_days, c.api.history_points,
                          c.api.history_interval_ms.count());
  asio::io_context api_io(1);
  api_server server(api_io, make_api_config(c), registry, history);
  asio::ip::tcp::endpoint bound;
  try {
    bound = server.start();
  } catch (const std::exception& e) {
    spdlog::error("event=listen_failed address={} reason=\"{}\"", c.api.listen, e.what());
    return 1;
  }
  // Scripts and tests read the bound address from this line (port 0 picks a free one).
  std::printf("{\"listening\":\"%s:%u\"}\n", bound.address().to_string().c_str(),
              static_cast<unsigned>(bound.port()));
  std::fflush(stdout);
  spdlog::info("event=listening address={}:{}", bound.address().to_string(), bound.port());

  engine::engine eng(make_engine_config(c), instruments);
  engine_metrics eng_metrics(registry, c.engine.underlyings, c.engine.tenors_days);
  std::thread api_thread([&] { api_io.run(); });

  asio::io_context feed_io(1);
  auto work = asio::make_work_guard(feed_io);
  std::unique_ptr<deribit::feed> feed;
  std::unique_ptr<feed_metrics> fmetrics;
  if (c.deribit.enabled) {
    warm_up(eng, c);  // before the engine thread starts: the engine is single-threaded
    feed = std::make_unique<deribit::feed>(feed_io, make_feed_config(c), instruments, ring, bell);
    fmetrics = std::make_unique<feed_metrics>(registry, "deribit");
  }

  engine_loop loop(eng, ring, bell, server, eng_metrics, c);
  std::thread engine_thread([&] { loop.run(); });

  // Once a second on the I/O thread: copy the feed's counters into the registry (their single
  // writer) and let the engine fit what a quiet feed left pending.
  asio::steady_timer ticker(feed_io);
  const auto tick_period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(100),
      std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1'000),
                                          c.engine.refit_interval_ms));
  int ticks = 0;
  std::function<void()> arm = [&] {
    ticker.expires_after(tick_period);
    ticker.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      loop.tick();
      if (feed && (++ticks * tick_period.count()) % 1'000 < tick_period.count()) {
        fmetrics->update(feed->stats());
      }
      arm();
    });
  };
  arm();
  if (feed) feed->start();

  // SIGINT/SIGTERM: stop the feed, drain the engine, close the API gracefully.
  asio::signal_set signals(feed_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("event=shutdown signal={}", sig);
    ticker.cancel();
    if (feed) feed->stop();
    work.reset();
  });
  std::signal(SIGPIPE, SIG_IGN);

  feed_io.run();
  loop.stop();
  engine_thread.join();
  eng.wait_idle();
  server.stop();
  api_thread.join();
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace vrp::service
