#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "vrp/service/state_store.hpp"

namespace vrp::service::state {

namespace {

// "VRPFC" + format version 1 (bump it when the field list changes).
constexpr char magic[8] = {'V', 'R', 'P', 'F', 'C', 0, 0, 1};

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void flag(bool v) { u64(v ? 1 : 0); }
  void doubles(const std::vector<double>& v) {
    u64(v.size());
    for (double x : v) f64(x);
  }

 private:
  std::string& out_;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  bool u64(std::uint64_t& v, const char* field) {
    if (in_.size() - pos_ < 8) return fail(field);
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    return true;
  }
  bool i64(std::int64_t& v, const char* field) {
    std::uint64_t u = 0;
    if (!u64(u, field)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool f64(double& v, const char* field) {
    std::uint64_t u = 0;
    if (!u64(u, field)) return false;
    v = std::bit_cast<double>(u);
    return true;
  }
  bool flag(bool& v, const char* field) {
    std::uint64_t u = 0;
    if (!u64(u, field)) return false;
    if (u > 1) return fail(field);
    v = u == 1;
    return true;
  }
  template <class T>
  bool small_enum(T& v, std::uint64_t max, const char* field) {
    std::uint64_t u = 0;
    if (!u64(u, field)) return false;
    if (u > max) return fail(field);
    v = static_cast<T>(u);
    return true;
  }
  // A count of elements of `size` bytes each that the remaining bytes can hold.
  bool count(std::size_t& n, std::size_t size, const char* field) {
    std::uint64_t u = 0;
    if (!u64(u, field)) return false;
    if (u > (in_.size() - pos_) / size) return fail(field);
    n = static_cast<std::size_t>(u);
    return true;
  }
  bool doubles(std::vector<double>& v, const char* field) {
    std::size_t n = 0;
    if (!count(n, 8, field)) return false;
    v.resize(n);
    for (double& x : v) f64(x, field);
    return true;
  }
  bool at_end() const { return pos_ == in_.size(); }
  const std::string& error() const { return error_; }

 private:
  bool fail(const char* field) {
    if (error_.empty()) error_ = std::string("field '") + field + "' is truncated or out of range";
    return false;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::string encode_forecaster(const engine::forecaster_state& s) {
  std::string out(magic, sizeof magic);
  out.reserve(sizeof magic + 8 * (64 + s.recent.size() + 2 * s.day_bars.size() + s.rv_daily.size() +
                                  s.garch.returns.size()));
  writer w(out);
  w.i64(s.bar_ns);
  w.u64(static_cast<std::uint64_t>(s.spec.model));
  w.u64(static_cast<std::uint64_t>(s.spec.dist));
  w.u64(static_cast<std::uint64_t>(s.spec.mean));
  w.u64(static_cast<std::uint64_t>(s.use));
  w.flag(s.has_open);
  w.i64(s.open_bar);
  w.f64(s.open_close);
  w.i64(s.open_last_ts_ns);
  w.flag(s.has_closed);
  w.i64(s.closed_bar);
  w.f64(s.closed_close);
  for (std::uint64_t v : {s.bars, s.ignored, s.skipped_history, s.gaps, s.refits}) w.u64(v);
  w.i64(s.last_bar_close_ns);
  w.i64(s.last_refit_ns);
  w.doubles(s.recent);
  w.u64(s.day_bars.size());
  for (const auto& b : s.day_bars) {
    w.i64(b.open_ms);
    w.f64(b.close);
  }
  w.doubles(s.rv_daily);
  w.flag(s.har_ok);
  for (double v : {s.har_beta0, s.har_beta_d, s.har_beta_w, s.har_beta_m, s.har_r2}) w.f64(v);
  w.i64(s.har_observations);
  const quant::garch_live_state& g = s.garch;
  w.u64(static_cast<std::uint64_t>(g.spec.model));
  w.u64(static_cast<std::uint64_t>(g.spec.dist));
  w.u64(static_cast<std::uint64_t>(g.spec.mean));
  w.u64(g.options.window);
  w.u64(g.options.refit_every);
  w.u64(g.options.min_points);
  w.i64(g.options.starts);
  w.flag(g.ready);
  for (double v : {g.params.mu, g.params.omega, g.params.alpha, g.params.gamma, g.params.beta,
                   g.params.nu, g.next_variance}) {
    w.f64(v);
  }
  w.doubles(g.returns);
  w.u64(g.total);
  w.u64(g.since_refit);
  const quant::garch_live_stats& st = g.stats;
  for (std::uint64_t v : {st.updates, st.rejected, st.refits_started, st.refits_adopted,
                          st.refits_failed, st.refits_skipped, st.replayed}) {
    w.u64(v);
  }
  w.f64(st.last_fit_loglik);
  w.u64(static_cast<std::uint64_t>(st.last_fit_status));
  return out;
}

bool decode_forecaster(std::string_view bytes, engine::forecaster_state& out, std::string& error) {
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0) {
    error = "not a forecaster state of format 1 (bad magic)";
    return false;
  }
  reader r(bytes.substr(sizeof magic));
  engine::forecaster_state s;
  std::int64_t har_obs = 0;
  std::int64_t starts = 0;
  quant::garch_live_state& g = s.garch;
  quant::garch_live_stats& st = g.stats;
  std::uint64_t window = 0, refit_every = 0, min_points = 0;
  constexpr std::uint64_t max_status = static_cast<std::uint64_t>(quant::status::degenerate);
  bool ok = r.i64(s.bar_ns, "bar_ns") && r.small_enum(s.spec.model, 2, "spec.model") &&
            r.small_enum(s.spec.dist, 1, "spec.dist") &&
            r.small_enum(s.spec.mean, 1, "spec.mean") && r.small_enum(s.use, 1, "use") &&
            r.flag(s.has_open, "has_open") && r.i64(s.open_bar, "open_bar") &&
            r.f64(s.open_close, "open_close") && r.i64(s.open_last_ts_ns, "open_last_ts_ns") &&
            r.flag(s.has_closed, "has_closed") && r.i64(s.closed_bar, "closed_bar") &&
            r.f64(s.closed_close, "closed_close") && r.u64(s.bars, "bars") &&
            r.u64(s.ignored, "ignored") && r.u64(s.skipped_history, "skipped_history") &&
            r.u64(s.gaps, "gaps") && r.u64(s.refits, "refits") &&
            r.i64(s.last_bar_close_ns, "last_bar_close_ns") &&
            r.i64(s.last_refit_ns, "last_refit_ns") && r.doubles(s.recent, "recent");
  std::size_t n_day = 0;
  ok = ok && r.count(n_day, 16, "day_bars");
  if (ok) {
    s.day_bars.resize(n_day);
    for (auto& b : s.day_bars)
      ok = ok && r.i64(b.open_ms, "day_bars") && r.f64(b.close, "day_bars");
  }
  ok = ok && r.doubles(s.rv_daily, "rv_daily") && r.flag(s.har_ok, "har_ok") &&
       r.f64(s.har_beta0, "har_beta0") && r.f64(s.har_beta_d, "har_beta_d") &&
       r.f64(s.har_beta_w, "har_beta_w") && r.f64(s.har_beta_m, "har_beta_m") &&
       r.f64(s.har_r2, "har_r2") && r.i64(har_obs, "har_observations") &&
       r.small_enum(g.spec.model, 2, "garch.spec.model") &&
       r.small_enum(g.spec.dist, 1, "garch.spec.dist") &&
       r.small_enum(g.spec.mean, 1, "garch.spec.mean") && r.u64(window, "garch.window") &&
       r.u64(refit_every, "garch.refit_every") && r.u64(min_points, "garch.min_points") &&
       r.i64(starts, "garch.starts") && r.flag(g.ready, "garch.ready") &&
       r.f64(g.params.mu, "garch.mu") && r.f64(g.params.omega, "garch.omega") &&
       r.f64(g.params.alpha, "garch.alpha") && r.f64(g.params.gamma, "garch.gamma") &&
       r.f64(g.params.beta, "garch.beta") && r.f64(g.params.nu, "garch.nu") &&
       r.f64(g.next_variance, "garch.next_variance") && r.doubles(g.returns, "garch.returns") &&
       r.u64(g.total, "garch.total") && r.u64(g.since_refit, "garch.since_refit") &&
       r.u64(st.updates, "garch.updates") && r.u64(st.rejected, "garch.rejected") &&
       r.u64(st.refits_started, "garch.refits_started") &&
       r.u64(st.refits_adopted, "garch.refits_adopted") &&
       r.u64(st.refits_failed, "garch.refits_failed") &&
       r.u64(st.refits_skipped, "garch.refits_skipped") && r.u64(st.replayed, "garch.replayed") &&
       r.f64(st.last_fit_loglik, "garch.last_fit_loglik") &&
       r.small_enum(st.last_fit_status, max_status, "garch.last_fit_status");
  if (!ok) {
    error = r.error();
    return false;
  }
  if (!r.at_end()) {
    error = "trailing bytes after the last field";
    return false;
  }
  if (har_obs < 0 || har_obs > 1'000'000 || starts < 1 || starts > 1'000) {
    error = "field 'har_observations' or 'garch.starts' out of range";
    return false;
  }
  s.har_observations = static_cast<int>(har_obs);
  g.options.window = static_cast<std::size_t>(window);
  g.options.refit_every = static_cast<std::size_t>(refit_every);
  g.options.min_points = static_cast<std::size_t>(min_points);
  g.options.starts = static_cast<int>(starts);
  out = std::move(s);
  return true;
}

}  // namespace vrp::service::state
