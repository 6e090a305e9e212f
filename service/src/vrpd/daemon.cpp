#include "vrpd/daemon.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
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
#include "vrpd/state_wiring.hpp"

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
  a.tls_cert_file = s.tls_cert_file;
  a.tls_key_file = s.tls_key_file;
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

// Runs on its own thread before the feed starts (nothing else touches the engine until then), so
// the API answers /healthz and /readyz meanwhile; `cancel` (a shutdown signal) ends the retries.
void warm_up(engine::engine& eng, const config::config& c, const std::atomic<bool>& cancel) {
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
    if (attempt >= warm_up_attempts || cancel.load(std::memory_order_relaxed)) {
      spdlog::warn("event=warm_up_failed attempts={} reason=\"get_time: {}\"", attempt, now.error);
      return;
    }
    if (attempt == 1) spdlog::info("event=warm_up_retry reason=\"get_time: {}\"", now.error);
    for (int i = 0; i < 10 && !cancel.load(std::memory_order_relaxed); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (const auto& u : c.engine.underlyings) {
    if (cancel.load(std::memory_order_relaxed)) return;
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

// The engine loop. With engine.thread = "own" it runs on its own thread: drains the ring in
// batches, publishes a snapshot after each batch that changed something, and fits what is still
// pending once the feed has been quiet for a refit interval (the I/O thread's tick wakes it); it
// parks when idle so two cores are never burned. With engine.thread = "io" there is no engine
// thread: the feed calls drain() on the I/O thread at the end of each burst of frames (one batch,
// one snapshot) and the tick calls on_tick(), so an update reaches the publisher without a
// thread hand-off.
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
        quiet_(std::chrono::duration_cast<steady::duration>(c.engine.refit_interval_ms)),
        batch_(1'024) {}

  // engine.thread = "own": the engine thread's body, until stop().
  void run() {
    while (true) {
      if (apply_batch()) {
        publish(eng_.publish());
        continue;
      }
      if (stop_.load(std::memory_order_acquire)) break;
      if (flush_due()) continue;
      if (tick_.exchange(false, std::memory_order_relaxed)) {
        clock();
        continue;
      }
      if (wait_ != config::wait_strategy::park && spin_until_data()) continue;
      if (wait_ == config::wait_strategy::spin) continue;
      bell_.park([&] {
        return ring_.size_approx() == 0 && !stop_.load(std::memory_order_acquire) &&
               !tick_.load(std::memory_order_relaxed);
      });
    }
    finish();
  }

  // engine.thread = "io", on the I/O thread: everything waiting becomes one batch.
  void drain() {
    bool any = false;
    while (apply_batch()) any = true;
    if (any) publish(eng_.publish());
  }

  // I/O thread, every tick.
  void on_tick() {
    if (inline_) {
      drain();
      if (!flush_due()) clock();
    } else {
      // Lets a parked engine thread check for pending fits.
      tick_.store(true, std::memory_order_relaxed);
      bell_.wake();
    }
  }

  // Selects engine.thread = "io" (before the feed starts).
  void run_inline() { inline_ = true; }

  void stop() {
    stop_.store(true, std::memory_order_release);
    bell_.wake();
  }

  // The warm-up thread owns the engine until this (on the I/O thread, before the feed starts);
  // until then the ticks and the shutdown leave the engine alone. Release/acquire: an engine
  // thread that sees it also sees everything the warm-up wrote.
  void start() { started_.store(true, std::memory_order_release); }
  bool started() const { return started_.load(std::memory_order_acquire); }

  // The last batch and the fits still pending, on whichever thread ran the engine.
  void finish() {
    if (!started()) return;
    while (apply_batch()) {
    }
    publish(eng_.flush());
  }

 private:
  // Applies up to one buffer of events; false when the ring was empty.
  bool apply_batch() {
    const std::size_t n = ring_.pop_batch(batch_.data(), batch_.size());
    if (n == 0) return false;
    for (std::size_t i = 0; i < n; ++i) eng_.on_event(batch_[i]);
    flush_pending_ = true;
    last_event_ = steady::now();
    return true;
  }

  // The wall clock for the engine's data timeout; publishes when an underlying went stale or
  // came back.
  void clock() {
    if (!started()) return;
    eng_.on_clock(core::wall_clock_ns());
    publish(eng_.publish());
  }

  // Fits what a quiet feed left pending, once it has been quiet for the refit interval.
  bool flush_due() {
    if (!flush_pending_ || steady::now() - last_event_ < quiet_) return false;
    publish(eng_.flush());
    flush_pending_ = false;
    return true;
  }

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
    if (state_ != nullptr) state_->on_publish(eng_, *s);  // checkpoints, handed to its writer
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
  std::vector<core::event> batch_;
  steady::time_point last_event_ = steady::now();
  bool flush_pending_ = false;
  bool inline_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> tick_{false};
  std::atomic<bool> started_{false};

 public:
  void attach_state(state_wiring* state) { state_ = state; }  // before the engine runs

 private:
  state_wiring* state_ = nullptr;
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
  state_wiring state(c, registry, history);  // <state_dir>/vrpd.sqlite: the stored history
  // The feed I/O thread is this one (feed_io.run() below). The API shares it unless api.thread =
  // "own"; the engine runs on it unless engine.thread = "own" (ARCHITECTURE.md §3).
  asio::io_context feed_io(1);
  auto work = asio::make_work_guard(feed_io);
  const bool api_own_thread = c.api.thread == config::thread_placement::own;
  const bool engine_inline = c.engine.thread == config::thread_placement::io;
  std::optional<asio::io_context> api_own_io;
  asio::io_context& api_io = api_own_thread ? api_own_io.emplace(1) : feed_io;
  api_server server(api_io, make_api_config(c), registry, history);
  asio::ip::tcp::endpoint bound;
  try {
    bound = server.start();
  } catch (const std::exception& e) {
    spdlog::error("event=listen_failed address={} reason=\"{}\"", c.api.listen, e.what());
    return 1;
  }
  // Scripts and tests read the bound address from this line (port 0 picks a free one).
  const bool tls = !c.api.tls_cert_file.empty();
  std::printf("{\"listening\":\"%s:%u\",\"tls\":%s}\n", bound.address().to_string().c_str(),
              static_cast<unsigned>(bound.port()), tls ? "true" : "false");
  std::fflush(stdout);
  spdlog::info("event=listening address={}:{} tls={} api_thread={} engine_thread={}",
               bound.address().to_string(), bound.port(), tls ? "on" : "off",
               config::to_string(c.api.thread), config::to_string(c.engine.thread));

  engine::engine eng(make_engine_config(c), instruments);
  engine_metrics eng_metrics(registry, c.engine.underlyings, c.engine.tenors_days);
  std::thread api_thread;
  if (api_own_thread) api_thread = std::thread([&] { api_io.run(); });

  engine_loop loop(eng, ring, bell, server, eng_metrics, c);
  loop.attach_state(&state);
  std::thread engine_thread;
  if (engine_inline) {
    loop.run_inline();
  } else {
    engine_thread = std::thread([&] { loop.run(); });
  }

  // The feed starts once the warm-up is over; the warm-up runs on its own thread meanwhile.
  std::unique_ptr<deribit::feed> feed;
  std::unique_ptr<feed_metrics> fmetrics;
  std::atomic<bool> shutting_down{false};
  std::thread warm_up_thread;
  if (c.deribit.enabled) {
    fmetrics = std::make_unique<feed_metrics>(registry, "deribit");
    warm_up_thread = std::thread([&] {
      state.resume(eng, shutting_down);  // forecasters from their checkpoints, then the gap
      if (state.any_cold()) warm_up(eng, state.cold_config(c), shutting_down);
      asio::post(feed_io, [&] {
        if (shutting_down.load(std::memory_order_relaxed)) return;
        loop.start();
        auto fc = make_feed_config(c);
        if (engine_inline) fc.on_burst_end = [&loop] { loop.drain(); };
        feed = std::make_unique<deribit::feed>(feed_io, std::move(fc), instruments, ring, bell);
        feed->start();
      });
    });
  } else {
    loop.start();
  }

  // Every tick on the I/O thread: copy the feed's counters into the registry (their single writer,
  // once a second) and let the engine fit what a quiet feed left pending.
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
      loop.on_tick();
      if (feed && (++ticks * tick_period.count()) % 1'000 < tick_period.count()) {
        fmetrics->update(feed->stats());
      }
      arm();
    });
  };
  arm();

  // SIGINT/SIGTERM: stop the feed, drain the engine (its last snapshot reaches the subscribers),
  // then close the API gracefully.
  asio::signal_set signals(feed_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("event=shutdown signal={}", sig);
    shutting_down.store(true, std::memory_order_relaxed);
    ticker.cancel();
    if (feed) feed->stop();
    if (engine_inline) {
      loop.finish();
    } else {
      loop.stop();
      engine_thread.join();
    }
    server.stop();
    work.reset();
  });
  std::signal(SIGPIPE, SIG_IGN);

  feed_io.run();
  if (warm_up_thread.joinable()) warm_up_thread.join();
  if (engine_thread.joinable()) {  // feed_io ended without a signal
    loop.stop();
    engine_thread.join();
  }
  eng.wait_idle();
  server.stop();
  if (api_thread.joinable()) api_thread.join();
  state.shutdown(eng);  // last checkpoints; everything queued is committed
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace vrp::service
