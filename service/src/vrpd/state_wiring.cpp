#include "vrpd/state_wiring.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "vrp/core/time.hpp"
#include "vrp/feeds/deribit/history.hpp"

namespace vrp::service {

namespace {

namespace deribit = feeds::deribit;
using steady = std::chrono::steady_clock;

// A forecaster checkpoint at least this often while data flows (besides every forecast change),
// so the open bar's latest price survives a restart; the last premium snapshot as often.
constexpr auto checkpoint_period = std::chrono::seconds(60);
constexpr auto snapshot_period = std::chrono::seconds(10);
constexpr int venue_time_attempts = 30;  // one a second, as the warm-up

// Deribit's chart resolution for a bar length (as the warm-up in daemon.cpp); empty when none.
std::string chart_resolution(std::chrono::seconds bar) {
  if (bar.count() == 86'400) return "1D";
  for (int m : {1, 3, 5, 10, 15, 30, 60, 120, 180, 360, 720}) {
    if (bar.count() == m * 60) return std::to_string(m);
  }
  return {};
}

}  // namespace

state_wiring::state_wiring(const config::config& c, core::metrics_registry& registry,
                           premium_history& history)
    : config_(c), history_(history), underlyings_(c.engine.underlyings) {
  state_store_options o;
  o.dir = c.service.state_dir;
  o.history_keep = c.api.history_points;
  store_ = std::make_unique<state_store>(std::move(o), registry);
  cold_.assign(underlyings_.size(), true);
  last_forecast_.resize(underlyings_.size());
  for (const auto& u : underlyings_) {
    restored_.push_back(&registry.gauge(
        "vrp_state_restored",
        "1 when the underlying's forecaster resumed from the state store (no full warm-up)",
        {{"underlying", u}}));
  }
  std::size_t points = 0;
  for (const auto& u : underlyings_) {
    for (const int days : c.engine.tenors_days) {
      const auto stored = store_->load_history(u, days, c.api.history_points);
      points += history.load(u, days, stored);
    }
    // Kept for diagnostics only: a restarted vrpd publishes nothing before its feed is back
    // (docs/RELIABILITY.md "State and restarts").
    if (const auto snap = store_->load_snapshot(u)) {
      spdlog::info("event=state_snapshot_found underlying={} seq={} ts_ms={} saved_unix_ms={}", u,
                   snap->seq, snap->ts_ns / 1'000'000, snap->saved_unix_ms);
    }
  }
  registry
      .gauge("vrp_state_restored_history_points",
             "Premium history points loaded from the state store at startup")
      .set(static_cast<double>(points));
  if (store_->enabled()) {
    spdlog::info("event=state_opened path=\"{}\" history_points={}", store_->path().string(),
                 points);
    history.set_sink([st = store_.get()](std::string_view u, int days, const history_point& p) {
      st->append_history(u, days, p);
    });
  }
}

state_wiring::~state_wiring() {
  history_.set_sink(nullptr);
  store_.reset();  // commits what is still queued
}

void state_wiring::resume(engine::engine& eng, const std::atomic<bool>& cancel) {
  if (!store_->enabled()) return;
  std::vector<std::optional<engine::forecaster_state>> states(underlyings_.size());
  bool any = false;
  for (std::size_t i = 0; i < underlyings_.size(); ++i) {
    engine::forecaster_state s;
    std::string error;
    if (store_->load_forecaster(underlyings_[i], s, error)) {
      states[i] = std::move(s);
      any = true;
    } else if (!error.empty()) {
      spdlog::error("event=state_rejected path=\"{}\" underlying={} reason=\"{}\" action=warm_up",
                    store_->path().string(), underlyings_[i], error);
      store_->count_error("invalid_forecaster_state");
    }
  }
  if (!any) return;

  // The venue's clock: the gap to fetch ends there, and a checkpoint older than the warm-up's
  // history window is not worth resuming from.
  const auto& d = config_.deribit;
  std::int64_t venue_ms = 0;
  if (d.enabled) {
    for (int attempt = 1; attempt <= venue_time_attempts && !cancel.load(); ++attempt) {
      const auto now = deribit::fetch_server_time(d.url, d.ca_file, d.connect_timeout_ms * 2);
      if (now.error.empty()) {
        venue_ms = now.server_ms;
        break;
      }
      if (attempt == venue_time_attempts) {
        spdlog::warn("event=state_catch_up_skipped reason=\"get_time: {}\"", now.error);
      }
      for (int k = 0; k < 10 && !cancel.load(); ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  const std::int64_t bar_ms = std::chrono::milliseconds(config_.forecast.bar).count();
  const std::int64_t max_age_ms =
      static_cast<std::int64_t>(config_.forecast.history_days) * core::ms_per_day;
  const std::string resolution = chart_resolution(config_.forecast.bar);
  for (std::size_t i = 0; i < underlyings_.size(); ++i) {
    if (!states[i] || cancel.load()) continue;
    const engine::forecaster_state& s = *states[i];
    const std::string& u = underlyings_[i];
    const std::int64_t open_ms = s.has_open ? s.open_bar * bar_ms : 0;
    if (venue_ms > 0 && s.has_open && venue_ms - open_ms > max_age_ms) {
      spdlog::warn("event=state_too_old underlying={} open_bar_ms={} venue_ms={} action=warm_up", u,
                   open_ms, venue_ms);
      continue;
    }
    if (std::string error = eng.restore_forecaster_state(u, s); !error.empty()) {
      spdlog::error("event=state_rejected path=\"{}\" underlying={} reason=\"{}\" action=warm_up",
                    store_->path().string(), u, error);
      store_->count_error("invalid_forecaster_state");
      continue;
    }
    cold_[i] = false;
    restored_[i]->set(1.0);
    std::size_t gap_bars = 0, closed = 0;
    int requests = 0;
    if (venue_ms > 0 && s.has_open && venue_ms >= open_ms && !resolution.empty()) {
      deribit::history_request r;
      r.url = d.url;
      r.ca_file = d.ca_file;
      r.instrument = u + "-PERPETUAL";
      r.resolution = resolution;
      r.start_ms = open_ms;
      r.end_ms = venue_ms;
      const auto got = deribit::fetch_chart(r);
      requests = got.requests;
      if (!got.error.empty()) {
        spdlog::warn("event=state_catch_up_failed underlying={} reason=\"{}\"", u, got.error);
      } else {
        std::vector<engine::history_bar> bars;
        bars.reserve(got.bars.size());
        for (const auto& b : got.bars) bars.push_back({b.open_ms, b.open, b.high, b.low, b.close});
        gap_bars = bars.size();
        closed = eng.catch_up(u, bars);
      }
    }
    spdlog::info(
        "event=state_restored underlying={} bars={} last_bar_close_ms={} garch_ready={} "
        "gap_from_ms={} gap_bars={} gap_requests={} bars_closed={}",
        u, s.bars, s.last_bar_close_ns / 1'000'000, s.garch.ready, open_ms, gap_bars, requests,
        closed);
  }
}

bool state_wiring::any_cold() const {
  for (const bool c : cold_) {
    if (c) return true;
  }
  return false;
}

config::config state_wiring::cold_config(const config::config& c) const {
  config::config out = c;
  out.engine.underlyings.clear();
  for (std::size_t i = 0; i < underlyings_.size(); ++i) {
    if (cold_[i]) out.engine.underlyings.push_back(underlyings_[i]);
  }
  return out;
}

void state_wiring::checkpoint(engine::engine& eng, std::size_t i) {
  auto s = std::make_unique<engine::forecaster_state>();
  if (eng.export_forecaster_state(underlyings_[i], *s)) {
    store_->save_forecaster(underlyings_[i], std::move(s));
  }
}

void state_wiring::on_publish(engine::engine& eng, const engine::snapshot& s) {
  if (!store_->enabled()) return;
  const auto now = steady::now();
  const bool periodic = now >= next_checkpoint_;
  if (periodic) next_checkpoint_ = now + checkpoint_period;
  const bool snapshot_due = now >= next_snapshot_;
  if (snapshot_due) next_snapshot_ = now + snapshot_period;
  const std::size_t n = std::min(s.underlyings.size(), underlyings_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& u = s.underlyings[i];
    if (!u || u->underlying != underlyings_[i]) continue;
    if (u->forecast && (u->forecast != last_forecast_[i] || periodic)) {
      last_forecast_[i] = u->forecast;
      checkpoint(eng, i);
    }
    if (snapshot_due) store_->save_snapshot(u);
  }
}

void state_wiring::shutdown(engine::engine& eng) {
  if (!store_->enabled()) return;
  for (std::size_t i = 0; i < underlyings_.size(); ++i) checkpoint(eng, i);
  if (const auto snap = eng.latest()) {
    for (const auto& u : snap->underlyings) store_->save_snapshot(u);
  }
  store_->flush();
  const auto st = store_->stats();
  spdlog::info(
      "event=state_flushed path=\"{}\" history_points={} checkpoints={} snapshots={} "
      "write_errors={} queue_dropped={}",
      store_->path().string(), st.writes_history, st.writes_forecaster, st.writes_snapshot,
      st.write_errors, st.queue_dropped);
}

}  // namespace vrp::service
