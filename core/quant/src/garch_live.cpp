#include "vrp/quant/garch_live.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace vrp::quant {

garch_live::garch_live(const garch_spec& spec, const garch_live_options& options)
    : spec_(spec), options_(options) {
  if (options.window < static_cast<std::size_t>(garch_fit_min_points)) {
    throw std::invalid_argument("garch_live: window must be at least " +
                                std::to_string(garch_fit_min_points) + " returns");
  }
  if (options.refit_every == 0) {
    throw std::invalid_argument("garch_live: refit_every must be at least 1");
  }
  if (options.min_points > options.window ||
      options.min_points < static_cast<std::size_t>(garch_fit_min_points)) {
    throw std::invalid_argument("garch_live: min_points must be in [" +
                                std::to_string(garch_fit_min_points) + ", window]");
  }
  if (options.starts < 1) throw std::invalid_argument("garch_live: starts must be at least 1");
  ring_.assign(options.window, 0.0);
  job_returns_.assign(options.window, 0.0);
  worker_ = std::thread([this] { worker_loop(); });
}

garch_live::~garch_live() {
  int s = state_.load(std::memory_order_acquire);
  while (s == queued) {
    state_.wait(s, std::memory_order_acquire);
    s = state_.load(std::memory_order_acquire);
  }
  state_.store(stopping, std::memory_order_release);
  state_.notify_all();
  worker_.join();
}

status garch_live::warm_up(std::span<const double> history) {
  wait_idle();
  ring_head_ = 0;
  ring_total_ = 0;
  since_refit_ = 0;
  ready_ = false;
  for (double r : history) {
    if (std::isfinite(r)) push_ring(r);
  }
  const std::size_t n = std::min<std::size_t>(ring_total_, ring_.size());
  std::vector<double> window(n);
  for (std::size_t i = 0; i < n; ++i) {
    window[i] = ring_[(ring_head_ + ring_.size() - n + i) % ring_.size()];
  }
  garch_fit_options fit_options;
  fit_options.starts = std::max(options_.starts, 3);
  const garch_fit_result fit = garch_fit(spec_, window, fit_options);
  stats_.last_fit_status = fit.code;
  stats_.last_fit_loglik = fit.loglik;
  if (fit.code != status::ok && fit.code != status::no_convergence) return fit.code;
  online_ = garch_online(spec_, fit.params, fit.next_variance);
  ready_ = true;
  return fit.code;
}

void garch_live::push_ring(double r) noexcept {
  ring_[ring_head_] = r;
  ring_head_ = ring_head_ + 1 == ring_.size() ? 0 : ring_head_ + 1;
  ++ring_total_;
}

void garch_live::on_return(double r) noexcept {
  if (!std::isfinite(r)) {
    ++stats_.rejected;
    return;
  }
  push_ring(r);
  ++stats_.updates;
  ++since_refit_;
  if (ready_) online_.update(r);
  maybe_adopt();
  maybe_start_job();
}

void garch_live::maybe_adopt() noexcept {
  if (state_.load(std::memory_order_acquire) != done) return;
  const garch_fit_result& fit = job_result_;
  stats_.last_fit_status = fit.code;
  stats_.last_fit_loglik = fit.loglik;
  const std::uint64_t behind = ring_total_ - job_end_total_;
  const bool usable = (fit.code == status::ok || fit.code == status::no_convergence) &&
                      garch_params_valid(spec_, fit.params) && behind < ring_.size();
  if (usable) {
    online_ = garch_online(spec_, fit.params, fit.next_variance);
    // Returns that arrived after the snapshot, oldest first, re-filtered under the new params.
    for (std::uint64_t k = behind; k > 0; --k) {
      online_.update(ring_[(ring_head_ + ring_.size() - k) % ring_.size()]);
    }
    stats_.replayed += behind;
    ++stats_.refits_adopted;
    ready_ = true;
  } else {
    ++stats_.refits_failed;
  }
  state_.store(idle, std::memory_order_release);
}

void garch_live::maybe_start_job() noexcept {
  if (since_refit_ < options_.refit_every) return;
  const std::size_t n = std::min<std::size_t>(ring_total_, ring_.size());
  if (n < options_.min_points) return;
  if (state_.load(std::memory_order_acquire) != idle) {
    ++stats_.refits_skipped;
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    job_returns_[i] = ring_[(ring_head_ + ring_.size() - n + i) % ring_.size()];
  }
  job_size_ = n;
  job_end_total_ = ring_total_;
  job_has_warm_start_ = ready_;
  if (ready_) job_warm_start_ = online_.params();
  since_refit_ = 0;
  ++stats_.refits_started;
  state_.store(queued, std::memory_order_release);
  state_.notify_one();
}

void garch_live::worker_loop() {
  for (;;) {
    int s = state_.load(std::memory_order_acquire);
    while (s == idle || s == done) {
      state_.wait(s, std::memory_order_acquire);
      s = state_.load(std::memory_order_acquire);
    }
    if (s == stopping) return;
    garch_fit_options fit_options;
    fit_options.starts = options_.starts;
    fit_options.std_errors = false;  // the live path needs the estimates only
    fit_options.warm_start = job_has_warm_start_ ? &job_warm_start_ : nullptr;
    job_result_ =
        garch_fit(spec_, std::span<const double>(job_returns_.data(), job_size_), fit_options);
    state_.store(done, std::memory_order_release);
    state_.notify_all();
  }
}

void garch_live::wait_idle() {
  int s = state_.load(std::memory_order_acquire);
  while (s == queued) {
    state_.wait(s, std::memory_order_acquire);
    s = state_.load(std::memory_order_acquire);
  }
  maybe_adopt();
}

garch_live_state garch_live::export_state() const {
  garch_live_state s;
  s.spec = spec_;
  s.options = options_;
  s.ready = ready_;
  s.params = online_.params();
  s.next_variance = online_.next_variance();
  const std::size_t n = std::min<std::size_t>(ring_total_, ring_.size());
  s.returns.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.returns[i] = ring_[(ring_head_ + ring_.size() - n + i) % ring_.size()];
  }
  s.total = ring_total_;
  s.since_refit = since_refit_;
  // A job in flight (or finished, not yet adopted) is redone by the restored instance.
  if (state_.load(std::memory_order_acquire) != idle) {
    s.since_refit = std::max<std::uint64_t>(since_refit_, options_.refit_every);
  }
  s.stats = stats_;
  return s;
}

namespace {

bool same_spec(const garch_spec& a, const garch_spec& b) {
  return a.model == b.model && a.dist == b.dist && a.mean == b.mean;
}

}  // namespace

std::string garch_live::restore_state(const garch_live_state& s) {
  if (!same_spec(s.spec, spec_)) {
    return std::string("garch state: spec ") + to_string(s.spec.model) + "-" +
           to_string(s.spec.dist) + "-" + to_string(s.spec.mean) + " differs from the configured " +
           to_string(spec_.model) + "-" + to_string(spec_.dist) + "-" + to_string(spec_.mean);
  }
  if (s.options.window != options_.window || s.options.refit_every != options_.refit_every ||
      s.options.min_points != options_.min_points) {
    return "garch state: window/refit_every/min_points " + std::to_string(s.options.window) + "/" +
           std::to_string(s.options.refit_every) + "/" + std::to_string(s.options.min_points) +
           " differ from the configured " + std::to_string(options_.window) + "/" +
           std::to_string(options_.refit_every) + "/" + std::to_string(options_.min_points);
  }
  const std::size_t expected = std::min<std::uint64_t>(s.total, options_.window);
  if (s.returns.size() != expected) {
    return "garch state: " + std::to_string(s.returns.size()) + " returns for a total of " +
           std::to_string(s.total) + " (expected " + std::to_string(expected) + ")";
  }
  for (std::size_t i = 0; i < s.returns.size(); ++i) {
    if (!std::isfinite(s.returns[i])) {
      return "garch state: return " + std::to_string(i) + " is not finite";
    }
  }
  if (s.ready) {
    if (!garch_params_valid(spec_, s.params)) {
      return "garch state: parameters outside the model's admissible region";
    }
    if (!std::isfinite(s.next_variance) || !(s.next_variance > 0)) {
      return "garch state: next_variance is not finite and > 0";
    }
  }
  wait_idle();  // a job of the replaced state: its result is dropped below
  for (std::size_t i = 0; i < s.returns.size(); ++i) ring_[i] = s.returns[i];
  std::fill(ring_.begin() + static_cast<std::ptrdiff_t>(s.returns.size()), ring_.end(), 0.0);
  ring_head_ = s.returns.size() == ring_.size() ? 0 : s.returns.size();
  ring_total_ = s.total;
  since_refit_ = s.since_refit;
  ready_ = s.ready;
  online_ = s.ready ? garch_online(spec_, s.params, s.next_variance) : garch_online{};
  stats_ = s.stats;
  return {};
}

double garch_live::average_variance(int steps) const {
  if (!ready_) return std::nan("");
  return garch_average_variance(spec_, online_.params(), online_.next_variance(), steps);
}

}  // namespace vrp::quant
