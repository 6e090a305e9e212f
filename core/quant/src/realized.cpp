#include "vrp/quant/realized.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>

namespace vrp::quant {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

// Neumaier's improved Kahan summation: the running sums add and remove every value once, so the
// compensation keeps the rolling sums within a few ulps of a fresh two-pass sum.
struct compensated_sum {
  double sum = 0.0;
  double carry = 0.0;

  void add(double x) {
    const double t = sum + x;
    if (std::fabs(sum) >= std::fabs(x)) {
      carry += (sum - t) + x;
    } else {
      carry += (x - t) + sum;
    }
    sum = t;
  }
  double value() const { return sum + carry; }
  void reset() {
    sum = 0.0;
    carry = 0.0;
  }
};

bool uses_previous_close(rv_estimator e) {
  return e == rv_estimator::close_to_close || e == rv_estimator::yang_zhang;
}

int min_window(rv_estimator e) {
  return uses_previous_close(e) ? 2 : 1;
}

// Per-bar ingredients of every estimator; "first" is the first bar index that has them (1 when
// the previous close is needed).
struct bar_terms {
  double a = 0.0;  // variance-type series (close_to_close: r; yang_zhang: overnight o)
  double b = 0.0;  // variance-type series (yang_zhang: open-to-close c)
  double m = 0.0;  // mean-type series (range estimators, yang_zhang's Rogers-Satchell term)
};

double rogers_satchell_term(const ohlc_bar& bar) {
  const double hc = std::log(bar.high / bar.close);
  const double ho = std::log(bar.high / bar.open);
  const double lc = std::log(bar.low / bar.close);
  const double lo = std::log(bar.low / bar.open);
  // Rogers & Satchell (1991): per-bar variance (h - c)(h - o) + (l - c)(l - o).
  return hc * ho + lc * lo;
}

bar_terms terms_of(rv_estimator e, std::span<const ohlc_bar> bars, std::size_t i) {
  const ohlc_bar& bar = bars[i];
  bar_terms t;
  switch (e) {
    case rv_estimator::close_to_close:
      t.a = std::log(bar.close / bars[i - 1].close);
      break;
    case rv_estimator::parkinson: {
      const double hl = std::log(bar.high / bar.low);
      // Parkinson (1980): E[(ln H/L)^2] = 4 ln 2 sigma^2 per bar.
      t.m = hl * hl / (4.0 * std::numbers::ln2);
      break;
    }
    case rv_estimator::garman_klass: {
      const double hl = std::log(bar.high / bar.low);
      const double co = std::log(bar.close / bar.open);
      // Garman & Klass (1980): 0.5 (ln H/L)^2 - (2 ln 2 - 1) (ln C/O)^2.
      t.m = 0.5 * hl * hl - (2.0 * std::numbers::ln2 - 1.0) * co * co;
      break;
    }
    case rv_estimator::rogers_satchell:
      t.m = rogers_satchell_term(bar);
      break;
    case rv_estimator::yang_zhang:
      t.a = std::log(bar.open / bars[i - 1].close);
      t.b = std::log(bar.close / bar.open);
      t.m = rogers_satchell_term(bar);
      break;
  }
  return t;
}

// Yang & Zhang (2000): k = 0.34 / (1.34 + (n + 1) / (n - 1)) minimises the estimator's variance.
double yang_zhang_k(double n) {
  return 0.34 / (1.34 + (n + 1.0) / (n - 1.0));
}

// Combines the window statistics into one per-bar variance.
double combine(rv_estimator e, double n, double var_a, double var_b, double mean_m) {
  switch (e) {
    case rv_estimator::close_to_close:
      return var_a;
    case rv_estimator::parkinson:
    case rv_estimator::garman_klass:
    case rv_estimator::rogers_satchell:
      return mean_m;
    case rv_estimator::yang_zhang: {
      const double k = yang_zhang_k(n);
      // Yang & Zhang (2000): V = V_O + k V_C + (1 - k) V_RS.
      return var_a + k * var_b + (1.0 - k) * mean_m;
    }
  }
  return nan_value;
}

double annualize(double variance_per_bar, double periods_per_year) {
  return std::sqrt(std::max(variance_per_bar, 0.0) * periods_per_year);
}

status validate(rv_estimator e, std::span<const ohlc_bar> bars, int window,
                double periods_per_year) {
  if (window < min_window(e) || !std::isfinite(periods_per_year) || periods_per_year <= 0.0) {
    return status::invalid_input;
  }
  for (const ohlc_bar& bar : bars) {
    if (!valid_bar(bar)) return status::invalid_input;
  }
  if (bars.size() < static_cast<std::size_t>(bars_needed(e, window))) {
    return status::insufficient_data;
  }
  return status::ok;
}

// Window statistics over shifted values: the shift (a fixed, typical value) keeps
// sum x^2 - (sum x)^2 / n from cancelling when the mean is large against the spread.
struct window_sums {
  compensated_sum a1, a2, b1, b2, m1;
  double shift_a = 0.0, shift_b = 0.0;

  void add(const bar_terms& t) {
    const double da = t.a - shift_a;
    const double db = t.b - shift_b;
    a1.add(da);
    a2.add(da * da);
    b1.add(db);
    b2.add(db * db);
    m1.add(t.m);
  }
  void remove(const bar_terms& t) {
    const double da = t.a - shift_a;
    const double db = t.b - shift_b;
    a1.add(-da);
    a2.add(-da * da);
    b1.add(-db);
    b2.add(-db * db);
    m1.add(-t.m);
  }
  void reset() {
    a1.reset();
    a2.reset();
    b1.reset();
    b2.reset();
    m1.reset();
  }
  double variance(double n) const { return sample_variance(a1.value(), a2.value(), n); }
  double variance_b(double n) const { return sample_variance(b1.value(), b2.value(), n); }
  static double sample_variance(double s1, double s2, double n) {
    if (n < 2.0) return 0.0;
    return std::max((s2 - s1 * s1 / n) / (n - 1.0), 0.0);
  }
};

}  // namespace

const char* to_string(rv_estimator e) {
  switch (e) {
    case rv_estimator::close_to_close:
      return "close_to_close";
    case rv_estimator::parkinson:
      return "parkinson";
    case rv_estimator::garman_klass:
      return "garman_klass";
    case rv_estimator::rogers_satchell:
      return "rogers_satchell";
    case rv_estimator::yang_zhang:
      return "yang_zhang";
  }
  return "unknown";
}

bool parse_rv_estimator(std::string_view s, rv_estimator& out) {
  constexpr std::array<rv_estimator, 5> all = {
      rv_estimator::close_to_close, rv_estimator::parkinson, rv_estimator::garman_klass,
      rv_estimator::rogers_satchell, rv_estimator::yang_zhang};
  for (rv_estimator e : all) {
    if (s == to_string(e)) {
      out = e;
      return true;
    }
  }
  return false;
}

bool valid_bar(const ohlc_bar& bar) {
  const bool finite_positive = std::isfinite(bar.open) && std::isfinite(bar.high) &&
                               std::isfinite(bar.low) && std::isfinite(bar.close) &&
                               bar.open > 0.0 && bar.high > 0.0 && bar.low > 0.0 && bar.close > 0.0;
  if (!finite_positive) return false;
  return bar.high >= std::max(bar.open, bar.close) && bar.low <= std::min(bar.open, bar.close);
}

int bars_needed(rv_estimator e, int window) {
  return uses_previous_close(e) ? window + 1 : window;
}

status rolling_realized_vol(rv_estimator e, std::span<const ohlc_bar> bars, int window,
                            double periods_per_year, std::span<double> vol_out) {
  if (vol_out.size() != bars.size()) return status::invalid_input;
  std::fill(vol_out.begin(), vol_out.end(), nan_value);
  const status check = validate(e, bars, window, periods_per_year);
  if (check != status::ok) return check;

  const std::size_t first = uses_previous_close(e) ? 1 : 0;
  const auto n = static_cast<std::size_t>(window);
  const auto n_d = static_cast<double>(window);
  const std::size_t size = bars.size();

  window_sums sums;
  // Shift = mean of the first window: close to every later window's mean for return-like series.
  {
    compensated_sum sa, sb;
    for (std::size_t j = first; j < first + n; ++j) {
      const bar_terms t = terms_of(e, bars, j);
      sa.add(t.a);
      sb.add(t.b);
    }
    sums.shift_a = sa.value() / n_d;
    sums.shift_b = sb.value() / n_d;
  }

  const std::size_t recompute_every = std::max<std::size_t>(n, 1024);
  std::size_t since_recompute = 0;
  for (std::size_t i = first; i < size; ++i) {
    sums.add(terms_of(e, bars, i));
    if (i >= first + n) sums.remove(terms_of(e, bars, i - n));
    if (i + 1 < first + n) continue;  // window not full yet

    if (++since_recompute >= recompute_every) {
      // Fresh sums over the current window bound the drift of the add/remove updates.
      sums.reset();
      for (std::size_t j = i + 1 - n; j <= i; ++j) sums.add(terms_of(e, bars, j));
      since_recompute = 0;
    }
    const double variance =
        combine(e, n_d, sums.variance(n_d), sums.variance_b(n_d), sums.m1.value() / n_d);
    vol_out[i] = annualize(variance, periods_per_year);
  }
  return status::ok;
}

status realized_vol(rv_estimator e, std::span<const ohlc_bar> bars, double periods_per_year,
                    double& vol_out) {
  const std::size_t first = uses_previous_close(e) ? 1 : 0;
  if (bars.size() <= first) {
    // Still report invalid parameters before a lack of data.
    if (!std::isfinite(periods_per_year) || periods_per_year <= 0.0) return status::invalid_input;
    for (const ohlc_bar& bar : bars) {
      if (!valid_bar(bar)) return status::invalid_input;
    }
    return status::insufficient_data;
  }
  const int window = static_cast<int>(bars.size() - first);
  const status check = validate(e, bars, std::max(window, min_window(e)), periods_per_year);
  if (check != status::ok) return check;

  const auto n = static_cast<double>(window);
  compensated_sum sa, sb, sm;
  for (std::size_t j = first; j < bars.size(); ++j) {
    const bar_terms t = terms_of(e, bars, j);
    sa.add(t.a);
    sb.add(t.b);
    sm.add(t.m);
  }
  const double mean_a = sa.value() / n;
  const double mean_b = sb.value() / n;
  compensated_sum da2, db2;
  for (std::size_t j = first; j < bars.size(); ++j) {
    const bar_terms t = terms_of(e, bars, j);
    da2.add((t.a - mean_a) * (t.a - mean_a));
    db2.add((t.b - mean_b) * (t.b - mean_b));
  }
  const double var_a = da2.value() / (n - 1.0);
  const double var_b = db2.value() / (n - 1.0);
  vol_out = annualize(combine(e, n, var_a, var_b, sm.value() / n), periods_per_year);
  return status::ok;
}

// ---- Intraday-return measures ----

namespace {

bool all_finite(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
}

double rv_sum(std::span<const double> r) {
  compensated_sum s;
  for (double v : r) s.add(v * v);
  return s.value();
}

double bv_sum(std::span<const double> r) {
  const auto m = static_cast<double>(r.size());
  compensated_sum s;
  for (std::size_t j = 1; j < r.size(); ++j) s.add(std::fabs(r[j]) * std::fabs(r[j - 1]));
  // Barndorff-Nielsen & Shephard (2004): mu_1^{-2} = pi / 2; Huang & Tauchen (2005): M / (M - 1).
  return (std::numbers::pi / 2.0) * (m / (m - 1.0)) * s.value();
}

double tq_sum(std::span<const double> r) {
  const auto m = static_cast<double>(r.size());
  compensated_sum s;
  for (std::size_t j = 2; j < r.size(); ++j) {
    s.add(std::pow(std::fabs(r[j]) * std::fabs(r[j - 1]) * std::fabs(r[j - 2]), 4.0 / 3.0));
  }
  // mu_p = E|Z|^p = 2^{p/2} Gamma((p + 1) / 2) / Gamma(1/2); for p = 4/3.
  const double mu43 = std::pow(2.0, 2.0 / 3.0) * std::tgamma(7.0 / 6.0) / std::tgamma(0.5);
  // Huang & Tauchen (2005): TQ = M mu_{4/3}^{-3} (M / (M - 2)) sum |r_j r_{j-1} r_{j-2}|^{4/3}.
  return m * (m / (m - 2.0)) * s.value() / (mu43 * mu43 * mu43);
}

}  // namespace

double realized_variance(std::span<const double> returns) {
  if (returns.empty() || !all_finite(returns)) return nan_value;
  return rv_sum(returns);
}

double bipower_variation(std::span<const double> returns) {
  if (returns.size() < 2 || !all_finite(returns)) return nan_value;
  return bv_sum(returns);
}

double tripower_quarticity(std::span<const double> returns) {
  if (returns.size() < 3 || !all_finite(returns)) return nan_value;
  return tq_sum(returns);
}

realized_measures_result realized_measures(std::span<const double> returns) {
  realized_measures_result out;
  out.n = returns.size();
  if (!all_finite(returns)) {
    out.code = status::invalid_input;
    return out;
  }
  if (returns.size() < 3) {
    out.code = status::insufficient_data;
    return out;
  }
  out.rv = rv_sum(returns);
  out.bv = bv_sum(returns);
  out.tq = tq_sum(returns);
  out.code = status::ok;
  return out;
}

jump_test_result bns_jump_test(std::span<const double> returns, double alpha) {
  jump_test_result out;
  if (!(alpha > 0.0 && alpha < 1.0)) {
    out.code = status::invalid_input;
    return out;
  }
  const realized_measures_result m = realized_measures(returns);
  if (m.code != status::ok) {
    out.code = m.code;
    return out;
  }
  out.rv = m.rv;
  out.bv = m.bv;
  out.tq = m.tq;
  if (!(m.rv > 0.0) || !(m.bv > 0.0)) {
    out.code = status::degenerate;
    return out;
  }
  const auto big_m = static_cast<double>(m.n);
  const double theta = std::pow(std::numbers::pi / 2.0, 2) + std::numbers::pi - 5.0;
  // Huang & Tauchen (2005), z_{TP,rm,t}: relative jump ((RV - BV) / RV) over its asymptotic sd.
  const double z =
      ((m.rv - m.bv) / m.rv) / std::sqrt(theta / big_m * std::max(1.0, m.tq / (m.bv * m.bv)));
  out.z = z;
  out.p_value = 0.5 * std::erfc(z / std::numbers::sqrt2);
  out.jump = out.p_value < alpha;
  out.code = status::ok;
  return out;
}

// ---- Gap-aware returns ----

namespace {

status validate_series(std::span<const std::int64_t> open_ms, std::span<const double> close,
                       std::int64_t bar_ms) {
  if (open_ms.size() != close.size() || bar_ms <= 0) return status::invalid_input;
  for (std::size_t i = 0; i < close.size(); ++i) {
    if (!std::isfinite(close[i]) || close[i] <= 0.0) return status::invalid_input;
    if (i > 0 && open_ms[i] <= open_ms[i - 1]) return status::invalid_input;
  }
  if (close.size() < 2) return status::insufficient_data;
  return status::ok;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

bar_returns_result bar_log_returns(std::span<const std::int64_t> open_ms,
                                   std::span<const double> close, std::int64_t bar_ms,
                                   std::vector<timed_return>& out) {
  out.clear();
  bar_returns_result result;
  result.code = validate_series(open_ms, close, bar_ms);
  if (result.code != status::ok) return result;
  out.reserve(close.size() - 1);
  for (std::size_t i = 1; i < close.size(); ++i) {
    if (open_ms[i] - open_ms[i - 1] != bar_ms) {
      ++result.dropped_gaps;
      continue;
    }
    out.push_back({open_ms[i], std::log(close[i] / close[i - 1])});
  }
  result.returns = out.size();
  return result;
}

daily_rv_result daily_realized_variance(std::span<const std::int64_t> open_ms,
                                        std::span<const double> close, std::int64_t bar_ms,
                                        double min_coverage, std::vector<daily_rv>& out) {
  out.clear();
  daily_rv_result result;
  if (bar_ms <= 0 || ms_per_day % bar_ms != 0 || !(min_coverage > 0.0 && min_coverage <= 1.0)) {
    result.code = status::invalid_input;
    return result;
  }
  result.code = validate_series(open_ms, close, bar_ms);
  if (result.code != status::ok) return result;

  const auto bars_per_day = static_cast<double>(ms_per_day) / static_cast<double>(bar_ms);
  std::int64_t day = floor_div(open_ms[0], ms_per_day);
  compensated_sum day_sum;
  int day_returns = 0;
  auto close_day = [&]() {
    if (static_cast<double>(day_returns) / bars_per_day >= min_coverage) {
      out.push_back({day * ms_per_day, day_sum.value(), day_returns});
      ++result.days_kept;
    } else {
      ++result.days_dropped;
    }
  };
  for (std::size_t i = 1; i < close.size(); ++i) {
    const std::int64_t bar_day = floor_div(open_ms[i], ms_per_day);
    if (bar_day != day) {
      close_day();
      day = bar_day;
      day_sum.reset();
      day_returns = 0;
    }
    if (open_ms[i] - open_ms[i - 1] != bar_ms) {
      ++result.dropped_gaps;
      continue;
    }
    const double r = std::log(close[i] / close[i - 1]);
    day_sum.add(r * r);
    ++day_returns;
    ++result.returns;
  }
  close_day();
  if (result.days_kept == 0) result.code = status::insufficient_data;
  return result;
}

}  // namespace vrp::quant
