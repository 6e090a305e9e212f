#include "vrp/engine/forecaster.hpp"

// Decisions this file makes (the header states the contract):
// - Bars: bar k covers [k bar_ns, (k + 1) bar_ns) since the Unix epoch; its close is the last
//   price seen in it, and it closes when the first price of a later bar arrives. A price older
//   than the newest one accepted (an earlier bar, or an earlier time inside the open bar) is
//   ignored and counted, so the close is always the latest price by event time.
// - Gaps: the return of a closed bar is ln(close / previous close) only when the previous closed
//   bar is the bar just before it. Across empty bars the return is dropped and counted, exactly
//   as quant::bar_log_returns and quant::daily_realized_variance do with history, so a state
//   built live equals the state a warm-up on the same bars would give. The next return starts
//   from the close of the bar after the gap.
// - History: every valid bar but the last is closed at warm-up. The last one stays the open bar of
//   the live builder, because the venue's newest chart bar is usually the current, unfinished
//   hour: a live price inside it updates its close, a live price in a later bar closes it (with
//   its history close if no live price came). Its return is therefore absorbed online, not fitted
//   at warm-up.
// - Daily realized variance per UTC day: a day is complete once the open bar lies in a later day,
//   and kept only with full coverage (every bar's return present; a day with missing bars would
//   understate its variance, since daily RV is not rescaled, while a dropped day only shifts
//   HAR's lags by one). HAR-RV is refitted on the last har_max_days daily values whenever a day
//   is added.
// - Returns are plain log returns, unscaled: garch_fit handles hourly magnitudes (VALIDATION.md
//   fits the Bybit hourly returns the same way).
// - refits counts re-estimations adopted after warm-up, GARCH and HAR alike; last_refit_ns is the
//   close time of the bar at which parameters last changed (at warm-up: the last closed history
//   bar's close).

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "vrp/quant/garch_live.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/realized.hpp"

namespace vrp::engine {

namespace {

namespace q = vrp::quant;

constexpr std::int64_t ns_per_ms = 1'000'000;
constexpr std::int64_t ns_per_s = 1'000'000'000;
constexpr std::int64_t ns_per_day = 86'400 * ns_per_s;
constexpr double days_per_year = 365;
// Full coverage: see the file comment.
constexpr double har_min_coverage = 1.0;
// Daily RVs kept for HAR-RV: two years, as the default GARCH window.
constexpr std::size_t har_max_days = 730;
// Forecast horizons beyond ten years are not a premium question.
constexpr double max_forecast_days = 3650;
// EGARCH-t forecasts are simulated (garch_forecast): paths per parameter set.
constexpr int egarch_t_paths = q::garch_egarch_default_paths;
// The EGARCH unit path is computed at least this far (the default tenor grid's longest tenor), so
// a tenor grid costs one computation per parameter set.
constexpr double egarch_min_cache_days = 180;
constexpr std::size_t egarch_max_default_steps = 8760;
// EGARCH-t: the simulated factor of E[h_{n+k}] depends on the shocks j < k with weights beta^j;
// once beta^k is below this (the library's tail weight for the same limit) further steps change
// it by less than the simulation noise, so it is simulated up to there and held constant after.
// This bounds the cost per parameter set by beta instead of by the longest tenor.
constexpr double egarch_t_tail_weight = 1e-10;

std::size_t egarch_t_converged_steps(double beta) {
  const double ab = std::fabs(beta);
  if (ab < egarch_t_tail_weight) return 2;
  return static_cast<std::size_t>(std::ceil(std::log(egarch_t_tail_weight) / std::log(ab))) + 2;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t d = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? d - 1 : d;
}

std::string model_name(const q::garch_spec& spec) {
  return std::string(q::to_string(spec.model)) + "-" + q::to_string(spec.dist);
}

void validate(const forecast_config& c) {
  if (c.bar_ns <= 0 || c.bar_ns % ns_per_s != 0 || ns_per_day % c.bar_ns != 0) {
    throw std::invalid_argument(
        "forecast: bar_ns must be a whole number of seconds that divides a day");
  }
  if (c.window < static_cast<std::size_t>(q::garch_fit_min_points)) {
    throw std::invalid_argument("forecast: window must be at least " +
                                std::to_string(q::garch_fit_min_points) + " returns");
  }
  if (c.refit_every == 0) throw std::invalid_argument("forecast: refit_every must be at least 1");
  if (c.min_points < static_cast<std::size_t>(q::garch_fit_min_points) || c.min_points > c.window) {
    throw std::invalid_argument("forecast: min_points must be in [" +
                                std::to_string(q::garch_fit_min_points) + ", window]");
  }
}

}  // namespace

struct forecaster::impl {
  explicit impl(const forecast_config& c)
      : config(c),
        bars_per_day(ns_per_day / c.bar_ns),
        bars_per_year(days_per_year * static_cast<double>(ns_per_day) /
                      static_cast<double>(c.bar_ns)),
        garch(c.spec,
              q::garch_live_options{
                  .window = c.window, .refit_every = c.refit_every, .min_points = c.min_points}) {
    recent.assign(static_cast<std::size_t>(bars_per_day), 0.0);
    day_open_ms.reserve(static_cast<std::size_t>(bars_per_day) + 1);
    day_close.reserve(static_cast<std::size_t>(bars_per_day) + 1);
    rv_daily.reserve(har_max_days + 1);
  }

  forecast_config config;
  std::int64_t bars_per_day;
  double bars_per_year;
  q::garch_live garch;

  // Bar builder.
  bool has_open = false;
  std::int64_t open_bar = 0;         // index of the bar being built
  double open_close = nan;           // its latest price
  std::int64_t open_last_ts_ns = 0;  // time of that price
  bool has_closed = false;
  std::int64_t closed_bar = 0;  // index of the newest closed bar
  double closed_close = nan;

  std::uint64_t bars = 0;
  std::uint64_t ignored = 0;
  std::uint64_t skipped_history = 0;
  std::uint64_t gaps = 0;
  std::int64_t last_bar_close_ns = 0;
  std::int64_t last_refit_ns = 0;
  std::uint64_t refits = 0;

  // The last bars_per_day absorbed returns (ring), for realized_vol_24h.
  std::vector<double> recent;
  std::size_t recent_head = 0;
  std::size_t recent_count = 0;

  // Closed bars of the open bar's UTC day, after the newest closed bar of an earlier day (which
  // supplies the day's first return). Spans for quant::daily_realized_variance.
  std::vector<std::int64_t> day_open_ms;
  std::vector<double> day_close;
  std::vector<q::daily_rv> day_scratch;

  // HAR-RV.
  std::vector<double> rv_daily;  // complete days, oldest first
  q::har_fit_result har;
  bool har_ok = false;

  // Derived from the GARCH parameters, refreshed when they change.
  std::uint64_t garch_adopted_seen = 0;
  double long_run_variance = nan;
  // EGARCH: the forecast path from a unit next variance. E[h_{n+k}] factors as
  // h_{n+1}^{beta^k} times a term that depends on the parameters only (garch_forecast's
  // recursion), so one computation per parameter set serves every bar until the next refit.
  mutable std::vector<double> egarch_unit;
  mutable bool egarch_cache_ok = false;

  std::int64_t day_of_bar(std::int64_t bar) const { return floor_div(bar, bars_per_day); }
  std::int64_t bar_open_ms(std::int64_t bar) const { return bar * (config.bar_ns / ns_per_ms); }

  void reset_state() {
    has_open = has_closed = false;
    open_bar = closed_bar = 0;
    open_close = closed_close = nan;
    open_last_ts_ns = 0;
    bars = gaps = refits = 0;
    skipped_history = 0;
    last_bar_close_ns = last_refit_ns = 0;
    recent_head = recent_count = 0;
    day_open_ms.clear();
    day_close.clear();
    rv_daily.clear();
    har = {};
    har_ok = false;
  }

  void push_recent(double r) {
    recent[recent_head] = r;
    recent_head = recent_head + 1 == recent.size() ? 0 : recent_head + 1;
    recent_count = std::min(recent_count + 1, recent.size());
  }

  void on_garch_params_changed() {
    garch_adopted_seen = garch.stats().refits_adopted;
    egarch_cache_ok = false;
    long_run_variance = nan;
    if (!garch.ready()) return;
    const q::garch_spec& spec = config.spec;
    // EGARCH-t has no finite mean variance (E[exp(c|z|)] is infinite for t errors): no level.
    if (spec.model == q::garch_model::egarch && spec.dist == q::garch_dist::student_t) return;
    const double v = q::garch_unconditional_variance(spec, garch.params());
    if (std::isfinite(v) && v > 0) long_run_variance = v;
  }

  // After on_return / wait_idle: count adoptions and stamp them with the bar close.
  void note_adoptions(std::int64_t close_ns) {
    const std::uint64_t adopted = garch.stats().refits_adopted;
    if (adopted == garch_adopted_seen) return;
    refits += adopted - garch_adopted_seen;
    last_refit_ns = close_ns;
    on_garch_params_changed();
  }

  void absorb(double r, std::int64_t close_ns) {
    const std::uint64_t started = garch.stats().refits_started;
    garch.on_return(r);
    // Inline mode: the job just started is finished and adopted at this bar, so the sequence of
    // states does not depend on the worker's speed.
    if (!config.background_refit && garch.stats().refits_started != started) garch.wait_idle();
    note_adoptions(close_ns);
    push_recent(r);
  }

  void close_open_bar() {
    const std::int64_t close_ns = (open_bar + 1) * config.bar_ns;
    if (has_closed) {
      if (open_bar == closed_bar + 1) {
        // Same expression as quant::bar_log_returns.
        absorb(std::log(open_close / closed_close), close_ns);
      } else {
        ++gaps;
      }
    }
    day_open_ms.push_back(bar_open_ms(open_bar));
    day_close.push_back(open_close);
    has_closed = true;
    closed_bar = open_bar;
    closed_close = open_close;
    ++bars;
    last_bar_close_ns = close_ns;
  }

  void add_daily(double variance) {
    if (rv_daily.size() == har_max_days) rv_daily.erase(rv_daily.begin());
    rv_daily.push_back(variance);
  }

  bool refit_har() {
    if (rv_daily.size() < static_cast<std::size_t>(q::har_monthly_days + q::har_min_observations))
      return false;
    const q::har_fit_result fit = q::har_fit(rv_daily);
    if (fit.code != q::status::ok) return false;  // keep the previous fit, if any
    har = fit;
    har_ok = true;
    return true;
  }

  // The UTC day `day` is over (the open bar lies in a later day).
  void complete_day(std::int64_t day) {
    if (day_open_ms.size() >= 2) {
      const q::daily_rv_result res = q::daily_realized_variance(
          day_open_ms, day_close, config.bar_ns / ns_per_ms, har_min_coverage, day_scratch);
      if (res.code == q::status::ok) {
        for (const q::daily_rv& d : day_scratch) {
          if (d.day_start_ms != day * q::ms_per_day) continue;
          add_daily(d.variance);
          if (refit_har()) {
            ++refits;
            last_refit_ns = last_bar_close_ns;
          }
        }
      }
    }
    // The day's last closed bar anchors the next day's first return.
    const std::int64_t anchor_ms = day_open_ms.back();
    const double anchor_close = day_close.back();
    day_open_ms.assign(1, anchor_ms);
    day_close.assign(1, anchor_close);
  }

  bool on_price(std::int64_t ts_ns, double price) {
    if (!std::isfinite(price) || !(price > 0)) {
      ++ignored;
      return false;
    }
    const std::int64_t bar = floor_div(ts_ns, config.bar_ns);
    if (!has_open) {
      has_open = true;
      open_bar = bar;
      open_close = price;
      open_last_ts_ns = ts_ns;
      return false;
    }
    if (bar < open_bar || (bar == open_bar && ts_ns < open_last_ts_ns)) {
      ++ignored;
      return false;
    }
    if (bar == open_bar) {
      open_close = price;
      open_last_ts_ns = ts_ns;
      return false;
    }
    const std::int64_t old_day = day_of_bar(open_bar);
    close_open_bar();
    open_bar = bar;
    open_close = price;
    open_last_ts_ns = ts_ns;
    if (day_of_bar(bar) > old_day) complete_day(old_day);
    return true;
  }

  q::status warm_up(std::span<const history_bar> history) {
    garch.wait_idle();
    reset_state();
    const std::int64_t bar_ms = config.bar_ns / ns_per_ms;
    // Bar open times beyond this overflow in nanoseconds.
    constexpr std::int64_t max_abs_ms = std::numeric_limits<std::int64_t>::max() / ns_per_ms - 1;
    std::vector<std::int64_t> open_ms;
    std::vector<double> close;
    open_ms.reserve(history.size());
    close.reserve(history.size());
    for (const history_bar& b : history) {
      const bool usable = std::isfinite(b.close) && b.close > 0 && b.open_ms < max_abs_ms &&
                          b.open_ms > -max_abs_ms && b.open_ms % bar_ms == 0 &&
                          (open_ms.empty() || b.open_ms > open_ms.back());
      if (!usable) {
        ++skipped_history;
        continue;
      }
      open_ms.push_back(b.open_ms);
      close.push_back(b.close);
    }
    q::status garch_status = q::status::insufficient_data;
    if (open_ms.empty()) {
      garch.warm_up({});
      on_garch_params_changed();
      return garch_status;
    }
    // The newest bar stays open (file comment).
    const std::size_t n_closed = open_ms.size() - 1;
    has_open = true;
    open_bar = open_ms.back() / bar_ms;
    open_close = close.back();
    open_last_ts_ns = open_ms.back() * ns_per_ms;
    const std::span<const std::int64_t> closed_ms(open_ms.data(), n_closed);
    const std::span<const double> closed_px(close.data(), n_closed);

    std::vector<double> returns;
    if (n_closed >= 2) {
      std::vector<q::timed_return> timed;
      const q::bar_returns_result res = q::bar_log_returns(closed_ms, closed_px, bar_ms, timed);
      gaps = res.dropped_gaps;
      returns.reserve(timed.size());
      for (const q::timed_return& t : timed) returns.push_back(t.log_return);
    }
    if (returns.size() >= config.min_points) {
      garch_status = garch.warm_up(returns);
    } else {
      // Too few for a fit: buffer them; the live path fits once min_points returns are in.
      garch.warm_up({});
      for (double r : returns) garch.on_return(r);
    }
    on_garch_params_changed();
    for (std::size_t i = returns.size() > recent.size() ? returns.size() - recent.size() : 0;
         i < returns.size(); ++i) {
      push_recent(returns[i]);
    }

    if (n_closed > 0) {
      has_closed = true;
      closed_bar = open_ms[n_closed - 1] / bar_ms;
      closed_close = close[n_closed - 1];
      bars = n_closed;
      last_bar_close_ns = (closed_bar + 1) * config.bar_ns;
      last_refit_ns = last_bar_close_ns;
    }

    // Daily RV of the complete days (before the open bar's day).
    const std::int64_t open_day = day_of_bar(open_bar);
    if (n_closed >= 2) {
      std::vector<q::daily_rv> days;
      q::daily_realized_variance(closed_ms, closed_px, bar_ms, har_min_coverage, days);
      std::size_t first = 0;
      std::size_t end = 0;
      while (end < days.size() && days[end].day_start_ms < open_day * q::ms_per_day) ++end;
      if (end > har_max_days) first = end - har_max_days;
      for (std::size_t i = first; i < end; ++i) rv_daily.push_back(days[i].variance);
      refit_har();
    }
    // The open day's closed bars, after the last closed bar of an earlier day.
    std::size_t start = n_closed;
    while (start > 0 && day_of_bar(open_ms[start - 1] / bar_ms) == open_day) --start;
    if (start > 0) --start;
    for (std::size_t i = start; i < n_closed; ++i) {
      day_open_ms.push_back(open_ms[i]);
      day_close.push_back(close[i]);
    }
    return garch_status;
  }

  bool garch_ready() const { return garch.ready(); }

  // Mean GARCH-family variance per bar over the next `steps` bars.
  double garch_average_variance(int steps) const {
    if (!garch.ready()) return nan;
    if (config.spec.model != q::garch_model::egarch) return garch.average_variance(steps);
    const auto need = static_cast<std::size_t>(steps);
    const bool simulated = config.spec.dist == q::garch_dist::student_t;
    const std::size_t converged = simulated ? egarch_t_converged_steps(garch.params().beta) : 0;
    const bool covered = egarch_cache_ok && (egarch_unit.size() >= need ||
                                             (simulated && egarch_unit.size() == converged));
    if (!covered) {
      std::size_t length =
          std::max(need, std::min(egarch_max_default_steps,
                                  static_cast<std::size_t>(egarch_min_cache_days *
                                                           static_cast<double>(bars_per_day))));
      if (simulated) length = std::min(length, converged);
      try {
        egarch_unit.assign(length, 0.0);
        egarch_cache_ok = q::garch_forecast(config.spec, garch.params(), 1.0, egarch_unit,
                                            egarch_t_paths) == q::status::ok;
      } catch (...) {
        egarch_cache_ok = false;
      }
      if (!egarch_cache_ok) return nan;
    }
    // E[h_{n+k}] = h_{n+1}^{beta^k} unit_k; beyond the simulated steps unit_k has converged.
    const double h1 = garch.next_variance();
    const double log_h1 = std::log(h1);
    const double beta = garch.params().beta;
    const std::size_t last = egarch_unit.size() - 1;
    double pow_b = beta;
    double sum = h1;
    for (std::size_t k = 1; k < need; ++k) {
      sum += std::exp(pow_b * log_h1) * egarch_unit[std::min(k, last)];
      pow_b *= beta;
    }
    return sum / static_cast<double>(steps);
  }

  double garch_vol(double days) const {
    if (!(days >= 0) || days > max_forecast_days) return nan;
    const double steps_d = std::max(1.0, std::round(days * static_cast<double>(bars_per_day)));
    const double v = garch_average_variance(static_cast<int>(steps_d));
    return std::isfinite(v) && v >= 0 ? std::sqrt(v * bars_per_year) : nan;
  }

  bool har_ready() const {
    return har_ok && rv_daily.size() >= static_cast<std::size_t>(q::har_monthly_days);
  }

  double har_vol(double days) const {
    if (!har_ready() || !(days >= 0) || days > max_forecast_days) return nan;
    const int horizon = std::max(1, static_cast<int>(std::lround(days)));
    const q::har_forecast_mean_result m = q::har_forecast_mean(har, rv_daily, horizon);
    if (m.code != q::status::ok || !(m.mean_variance >= 0)) return nan;
    return std::sqrt(days_per_year * m.mean_variance);
  }

  double realized_vol_24h() const {
    if (recent_count < recent.size()) return nan;
    // Oldest first.
    double sum = 0;
    for (std::size_t i = 0; i < recent.size(); ++i) {
      const double r = recent[(recent_head + i) % recent.size()];
      sum += r * r;
    }
    return std::sqrt(bars_per_year * sum / static_cast<double>(recent.size()));
  }
};

forecaster::forecaster(const forecast_config& config) {
  validate(config);
  impl_ = std::make_unique<impl>(config);
}

forecaster::~forecaster() = default;

quant::status forecaster::warm_up(std::span<const history_bar> bars) {
  return impl_->warm_up(bars);
}

bool forecaster::on_price(std::int64_t ts_ns, double price) noexcept {
  return impl_->on_price(ts_ns, price);
}

bool forecaster::ready() const noexcept {
  return impl_->config.use == premium_model::har ? impl_->har_ready() : impl_->garch_ready();
}

double forecaster::rv_forecast(double days) const noexcept {
  return impl_->config.use == premium_model::har ? impl_->har_vol(days) : impl_->garch_vol(days);
}

void forecaster::fill_view(forecast_view& out, std::span<const int> tenor_days) const {
  const impl& m = *impl_;
  const bool garch_ready = m.garch_ready();
  out.ready = ready();
  out.model = m.config.use == premium_model::har ? std::string("har") : model_name(m.config.spec);
  out.spec = m.config.spec;
  out.params = garch_ready ? m.garch.params() : quant::garch_params{};
  out.persistence = garch_ready ? quant::garch_persistence(m.config.spec, m.garch.params()) : nan;
  out.long_run_vol =
      std::isfinite(m.long_run_variance) ? std::sqrt(m.long_run_variance * m.bars_per_year) : nan;
  out.conditional_vol = garch_ready ? std::sqrt(m.garch.next_variance() * m.bars_per_year) : nan;
  out.har_ready = m.har_ready();
  out.har_beta0 = out.har_ready ? m.har.beta0 : nan;
  out.har_beta_d = out.har_ready ? m.har.beta_d : nan;
  out.har_beta_w = out.har_ready ? m.har.beta_w : nan;
  out.har_beta_m = out.har_ready ? m.har.beta_m : nan;
  out.garch_term.resize(tenor_days.size());
  out.har_term.resize(tenor_days.size());
  for (std::size_t i = 0; i < tenor_days.size(); ++i) {
    const int d = tenor_days[i];
    out.garch_term[i] = {d, m.garch_vol(d)};
    out.har_term[i] = {d, m.har_vol(d)};
  }
  out.term = m.config.use == premium_model::har ? out.har_term : out.garch_term;
  out.bar_ns = m.config.bar_ns;
  out.bars = m.bars;
  out.last_bar_close_ns = m.last_bar_close_ns;
  out.last_refit_ns = m.last_refit_ns;
  out.refits = m.refits;
  out.realized_vol_24h = m.realized_vol_24h();
}

std::uint64_t forecaster::bars() const noexcept {
  return impl_->bars;
}
std::uint64_t forecaster::ignored_prices() const noexcept {
  return impl_->ignored;
}
std::uint64_t forecaster::skipped_history_bars() const noexcept {
  return impl_->skipped_history;
}
std::uint64_t forecaster::dropped_gaps() const noexcept {
  return impl_->gaps;
}

void forecaster::wait_idle() {
  impl_->garch.wait_idle();
  impl_->note_adoptions(impl_->last_bar_close_ns);
}

forecaster_state forecaster::export_state() const {
  const impl& m = *impl_;
  forecaster_state s;
  s.bar_ns = m.config.bar_ns;
  s.spec = m.config.spec;
  s.use = m.config.use;
  s.has_open = m.has_open;
  s.open_bar = m.open_bar;
  s.open_close = m.open_close;
  s.open_last_ts_ns = m.open_last_ts_ns;
  s.has_closed = m.has_closed;
  s.closed_bar = m.closed_bar;
  s.closed_close = m.closed_close;
  s.bars = m.bars;
  s.ignored = m.ignored;
  s.skipped_history = m.skipped_history;
  s.gaps = m.gaps;
  s.refits = m.refits;
  s.last_bar_close_ns = m.last_bar_close_ns;
  s.last_refit_ns = m.last_refit_ns;
  s.recent.reserve(m.recent_count);
  for (std::size_t i = m.recent.size() - m.recent_count; i < m.recent.size(); ++i) {
    s.recent.push_back(m.recent[(m.recent_head + i) % m.recent.size()]);
  }
  s.day_bars.reserve(m.day_open_ms.size());
  for (std::size_t i = 0; i < m.day_open_ms.size(); ++i) {
    s.day_bars.push_back({m.day_open_ms[i], m.day_close[i]});
  }
  s.rv_daily = m.rv_daily;
  s.har_ok = m.har_ok;
  s.har_beta0 = m.har.beta0;
  s.har_beta_d = m.har.beta_d;
  s.har_beta_w = m.har.beta_w;
  s.har_beta_m = m.har.beta_m;
  s.har_r2 = m.har.r2;
  s.har_observations = m.har.observations;
  s.garch = m.garch.export_state();
  return s;
}

namespace {

bool positive_price(double p) {
  return std::isfinite(p) && p > 0;
}

}  // namespace

std::string forecaster::restore_state(const forecaster_state& s) {
  impl& m = *impl_;
  const forecast_config& c = m.config;
  if (s.bar_ns != c.bar_ns) {
    return "forecaster state: bar_ns " + std::to_string(s.bar_ns) +
           " differs from the configured " + std::to_string(c.bar_ns);
  }
  if (s.spec.model != c.spec.model || s.spec.dist != c.spec.dist || s.spec.mean != c.spec.mean) {
    return "forecaster state: model " + model_name(s.spec) + " differs from the configured " +
           model_name(c.spec);
  }
  if (s.use != c.use) return "forecaster state: premium model differs from the configured one";
  // Bar indices whose times fit in int64 nanoseconds.
  const std::int64_t max_bar = std::numeric_limits<std::int64_t>::max() / c.bar_ns - 2;
  const std::int64_t bar_ms = c.bar_ns / ns_per_ms;
  if (!s.has_open && s.has_closed) return "forecaster state: a closed bar without an open bar";
  if (s.has_open) {
    if (s.open_bar > max_bar || s.open_bar < -max_bar) {
      return "forecaster state: open_bar out of range";
    }
    if (!positive_price(s.open_close)) return "forecaster state: open_close is not a price > 0";
    if (floor_div(s.open_last_ts_ns, c.bar_ns) != s.open_bar) {
      return "forecaster state: open_last_ts_ns lies outside the open bar";
    }
  }
  if (s.has_closed) {
    if (s.closed_bar >= s.open_bar || s.closed_bar < -max_bar) {
      return "forecaster state: closed_bar is not before the open bar";
    }
    if (!positive_price(s.closed_close)) return "forecaster state: closed_close is not a price > 0";
    if (s.last_bar_close_ns != (s.closed_bar + 1) * c.bar_ns) {
      return "forecaster state: last_bar_close_ns is not the closed bar's close time";
    }
  }
  if (s.recent.size() > m.recent.size()) {
    return "forecaster state: " + std::to_string(s.recent.size()) + " recent returns, at most " +
           std::to_string(m.recent.size());
  }
  for (double r : s.recent) {
    if (!std::isfinite(r)) return "forecaster state: a recent return is not finite";
  }
  if (s.day_bars.size() > static_cast<std::size_t>(m.bars_per_day) + 1) {
    return "forecaster state: more day bars than a day holds";
  }
  for (std::size_t i = 0; i < s.day_bars.size(); ++i) {
    const stored_bar& b = s.day_bars[i];
    if (!positive_price(b.close)) return "forecaster state: a day bar's close is not a price > 0";
    if (b.open_ms % bar_ms != 0) return "forecaster state: a day bar is off the bar grid";
    if (i > 0 && b.open_ms <= s.day_bars[i - 1].open_ms) {
      return "forecaster state: day bars are not in ascending order";
    }
    if (i > 0 && m.day_of_bar(b.open_ms / bar_ms) != m.day_of_bar(s.open_bar)) {
      return "forecaster state: a day bar lies outside the open bar's day";
    }
  }
  if (!s.day_bars.empty() && (!s.has_closed || s.day_bars.back().open_ms != s.closed_bar * bar_ms ||
                              s.day_bars.back().close != s.closed_close)) {
    return "forecaster state: the day bars do not end at the closed bar";
  }
  if (s.rv_daily.size() > har_max_days) {
    return "forecaster state: more than " + std::to_string(har_max_days) + " daily variances";
  }
  for (double v : s.rv_daily) {
    if (!std::isfinite(v) || v < 0) return "forecaster state: a daily variance is not finite >= 0";
  }
  if (s.har_ok && !(std::isfinite(s.har_beta0) && std::isfinite(s.har_beta_d) &&
                    std::isfinite(s.har_beta_w) && std::isfinite(s.har_beta_m))) {
    return "forecaster state: HAR coefficients are not finite";
  }
  // The GARCH part validates itself and is the last step that can fail.
  if (std::string e = m.garch.restore_state(s.garch); !e.empty()) return "forecaster " + e;

  m.has_open = s.has_open;
  m.open_bar = s.open_bar;
  m.open_close = s.open_close;
  m.open_last_ts_ns = s.open_last_ts_ns;
  m.has_closed = s.has_closed;
  m.closed_bar = s.closed_bar;
  m.closed_close = s.closed_close;
  m.bars = s.bars;
  m.ignored = s.ignored;
  m.skipped_history = s.skipped_history;
  m.gaps = s.gaps;
  m.refits = s.refits;
  m.last_bar_close_ns = s.last_bar_close_ns;
  m.last_refit_ns = s.last_refit_ns;
  std::fill(m.recent.begin(), m.recent.end(), 0.0);
  for (std::size_t i = 0; i < s.recent.size(); ++i) m.recent[i] = s.recent[i];
  m.recent_count = s.recent.size();
  m.recent_head = s.recent.size() == m.recent.size() ? 0 : s.recent.size();
  m.day_open_ms.clear();
  m.day_close.clear();
  for (const stored_bar& b : s.day_bars) {
    m.day_open_ms.push_back(b.open_ms);
    m.day_close.push_back(b.close);
  }
  m.rv_daily = s.rv_daily;
  m.har = {};
  m.har_ok = s.har_ok;
  if (s.har_ok) {
    m.har.code = q::status::ok;
    m.har.beta0 = s.har_beta0;
    m.har.beta_d = s.har_beta_d;
    m.har.beta_w = s.har_beta_w;
    m.har.beta_m = s.har_beta_m;
    m.har.r2 = s.har_r2;
    m.har.observations = s.har_observations;
  }
  m.on_garch_params_changed();
  return {};
}

std::size_t forecaster::catch_up(std::span<const history_bar> bars) {
  impl& m = *impl_;
  const std::int64_t bar_ms = m.config.bar_ns / ns_per_ms;
  constexpr std::int64_t max_abs_ms = std::numeric_limits<std::int64_t>::max() / ns_per_ms - 1;
  std::size_t closed = 0;
  for (const history_bar& b : bars) {
    if (!positive_price(b.close) || b.open_ms >= max_abs_ms || b.open_ms <= -max_abs_ms ||
        b.open_ms % bar_ms != 0) {
      ++m.skipped_history;
      continue;
    }
    const std::int64_t bar = b.open_ms / bar_ms;
    if (m.has_open && bar < m.open_bar) continue;  // already in the state
    if (m.has_open && bar == m.open_bar) {
      m.open_close = b.close;  // the venue saw the whole of it (or more of it than we did)
      continue;
    }
    if (m.on_price(b.open_ms * ns_per_ms, b.close)) ++closed;
  }
  return closed;
}

}  // namespace vrp::engine
