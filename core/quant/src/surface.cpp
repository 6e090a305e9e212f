#include "vrp/quant/surface.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vrp/quant/black.hpp"

namespace vrp::quant {

namespace {

// Farthest |k| searched for a delta strike: e^10 is far beyond any listed strike.
constexpr double k_search_limit = 10.0;

// Black-76 call forward delta N(d1) with d1 = -k/sqrt(w) + sqrt(w)/2 (Black 1976), taking the
// zero-variance limit (a step at k = 0) when w vanishes.
double call_delta_from_w(double k, double w) {
  if (!(w > 1e-300)) return k < 0.0 ? 1.0 : (k > 0.0 ? 0.0 : 0.5);
  const double sw = std::sqrt(w);
  return norm_cdf(-k / sw + 0.5 * sw);
}

// Solves N(d1(k)) = target for k, where w(k) comes from `w_of_k`: scans outwards from k = 0 in the
// direction the sign of N(d1(0)) - target points to until the sign changes, then closes the
// bracket by the Illinois variant of regula falsi (Dowell & Jarratt 1971). The root stays
// bracketed at every step, so the search cannot diverge.
template <class TotalVariance>
delta_vol solve_delta(const TotalVariance& w_of_k, double t_years, double forward, double delta,
                      option_type type) {
  delta_vol out;
  out.forward = forward;
  const bool call = type == option_type::call;
  const bool valid_delta = call ? (delta > 0.0 && delta < 1.0) : (delta > -1.0 && delta < 0.0);
  if (!std::isfinite(delta) || !valid_delta || !(t_years > 0.0) || !std::isfinite(t_years) ||
      !(forward > 0.0) || !std::isfinite(forward)) {
    out.code = status::invalid_input;
    return out;
  }
  const double target = call ? delta : 1.0 + delta;
  const auto h = [&](double k, double& w) {
    w = w_of_k(k);
    return call_delta_from_w(k, w) - target;
  };
  double w_a = 0;
  double ka = 0.0;
  double ha = h(ka, w_a);
  if (!std::isfinite(ha) || !(w_a >= 0.0)) {
    out.code = status::degenerate;
    return out;
  }
  double kb = ka, hb = ha, w_b = w_a;
  int it = 0;
  if (ha != 0.0) {
    const double dir = ha > 0.0 ? 1.0 : -1.0;
    double step = std::max(0.25 * std::sqrt(w_a), 1e-4);
    bool bracketed = false;
    while (std::abs(kb) < k_search_limit && it < 200) {
      ++it;
      ka = kb;
      ha = hb;
      w_a = w_b;
      kb = std::clamp(ka + dir * step, -k_search_limit, k_search_limit);
      hb = h(kb, w_b);
      if (!std::isfinite(hb)) break;
      if ((hb > 0.0) != (ha > 0.0) || hb == 0.0) {
        bracketed = true;
        break;
      }
      step *= 1.5;
    }
    if (!bracketed) {
      out.code = status::no_convergence;
      out.iterations = it;
      return out;
    }
    // Illinois: halve the stale end's value when the same end is kept twice.
    int side = 0;
    while (hb != 0.0 && std::abs(kb - ka) > 1e-13 * std::max(1.0, std::abs(kb)) && it < 300) {
      ++it;
      const double kc = (ka * hb - kb * ha) / (hb - ha);
      double w_c = 0;
      const double hc = h(kc, w_c);
      if (!std::isfinite(hc)) {
        out.code = status::no_convergence;
        out.iterations = it;
        return out;
      }
      if ((hc > 0.0) == (hb > 0.0)) {
        kb = kc;
        hb = hc;
        w_b = w_c;
        if (side == -1) ha *= 0.5;
        side = -1;
      } else {
        ka = kb;
        ha = hb;
        kb = kc;
        hb = hc;
        w_b = w_c;
        side = +1;
      }
      if (std::abs(hb) <= 1e-15) break;
    }
  }
  const double k = kb;
  const double w = w_b;
  out.log_moneyness = k;
  out.strike = forward * std::exp(k);
  out.vol = std::sqrt(w / t_years);
  const double nd1 = call_delta_from_w(k, w);
  out.delta = call ? nd1 : nd1 - 1.0;
  out.iterations = it;
  if (!std::isfinite(out.vol) || !std::isfinite(out.strike)) out.code = status::degenerate;
  return out;
}

}  // namespace

delta_vol svi_vol_at_delta(const svi_params& p, double t_years, double forward, double delta,
                           option_type type) {
  if (!svi_is_admissible(p)) {
    delta_vol out;
    out.code = status::invalid_input;
    return out;
  }
  return solve_delta([&](double k) { return svi_total_variance(p, k); }, t_years, forward, delta,
                     type);
}

status vol_surface::build(std::span<const surface_slice> slices) {
  slices_.clear();
  for (const auto& s : slices) {
    if (!std::isfinite(s.t_years) || !(s.t_years > 0.0) || !std::isfinite(s.forward) ||
        !(s.forward > 0.0)) {
      return status::invalid_input;
    }
    if (!svi_is_admissible(s.params)) return status::degenerate;
  }
  slices_.assign(slices.begin(), slices.end());
  std::sort(slices_.begin(), slices_.end(),
            [](const surface_slice& l, const surface_slice& r) { return l.t_years < r.t_years; });
  for (std::size_t i = 1; i < slices_.size(); ++i) {
    if (!(slices_[i].t_years > slices_[i - 1].t_years)) {
      slices_.clear();
      return status::invalid_input;
    }
  }
  return slices_.empty() ? status::insufficient_data : status::ok;
}

double vol_surface::t_first() const {
  return slices_.empty() ? 0.0 : slices_.front().t_years;
}

double vol_surface::t_last() const {
  return slices_.empty() ? 0.0 : slices_.back().t_years;
}

calendar_check_result vol_surface::calendar_check(double k_min, double k_max) const {
  // Pairwise over consecutive slices, so nothing is allocated.
  calendar_check_result out;
  for (std::size_t i = 1; i < slices_.size(); ++i) {
    const svi_params pair[2] = {slices_[i - 1].params, slices_[i].params};
    const double ts[2] = {slices_[i - 1].t_years, slices_[i].t_years};
    const calendar_check_result r = svi_calendar_check(pair, ts, k_min, k_max);
    if (r.code != status::ok) return r;
    if (r.worst_violation > out.worst_violation) {
      out = r;
      out.slice_index = static_cast<int>(i);
    }
  }
  return out;
}

double vol_surface::forward(double t_years) const {
  if (slices_.empty() || !(t_years > 0.0) || !std::isfinite(t_years)) return 0.0;
  if (slices_.size() == 1) return slices_.front().forward;
  // Pair used: the one bracketing t, else the nearest pair at either end.
  auto it = std::upper_bound(slices_.begin(), slices_.end(), t_years,
                             [](double t, const surface_slice& s) { return t < s.t_years; });
  std::size_t hi = static_cast<std::size_t>(it - slices_.begin());
  hi = std::clamp<std::size_t>(hi, 1, slices_.size() - 1);
  const surface_slice& l = slices_[hi - 1];
  const surface_slice& r = slices_[hi];
  // Constant carry between expiries: ln F linear in t.
  const double carry = (std::log(r.forward) - std::log(l.forward)) / (r.t_years - l.t_years);
  return l.forward * std::exp(carry * (t_years - l.t_years));
}

surface_vol vol_surface::total_variance(double t_years, double log_moneyness) const {
  surface_vol out;
  if (slices_.empty() || !(t_years > 0.0) || !std::isfinite(t_years) ||
      !std::isfinite(log_moneyness)) {
    out.code = status::invalid_input;
    return out;
  }
  const double k = log_moneyness;
  const surface_slice& first = slices_.front();
  const surface_slice& last = slices_.back();
  double w = 0;
  if (t_years <= first.t_years) {
    // Flat vol at fixed k below the first expiry: w scales with t.
    w = svi_total_variance(first.params, k) * (t_years / first.t_years);
    out.extrapolated = t_years < first.t_years;
  } else if (t_years >= last.t_years) {
    w = svi_total_variance(last.params, k) * (t_years / last.t_years);
    out.extrapolated = t_years > last.t_years;
  } else {
    auto it = std::upper_bound(slices_.begin(), slices_.end(), t_years,
                               [](double t, const surface_slice& s) { return t < s.t_years; });
    const surface_slice& r = *it;
    const surface_slice& l = *(it - 1);
    const double wl = svi_total_variance(l.params, k);
    const double wr = svi_total_variance(r.params, k);
    // Linear in total variance at fixed k between neighbouring expiries.
    w = wl + (t_years - l.t_years) / (r.t_years - l.t_years) * (wr - wl);
  }
  if (!std::isfinite(w) || w < 0.0) {
    out.code = status::degenerate;
    return out;
  }
  out.total_variance = w;
  out.vol = std::sqrt(w / t_years);
  return out;
}

surface_vol vol_surface::implied_vol(double t_years, double log_moneyness) const {
  return total_variance(t_years, log_moneyness);
}

surface_vol vol_surface::implied_vol_at_strike(double t_years, double strike) const {
  const double f = forward(t_years);
  if (!(f > 0.0) || !(strike > 0.0) || !std::isfinite(strike)) {
    surface_vol out;
    out.code = status::invalid_input;
    return out;
  }
  return total_variance(t_years, std::log(strike / f));
}

delta_vol vol_surface::vol_at_delta(double t_years, double delta, option_type type) const {
  const double f = forward(t_years);
  if (slices_.empty() || !(f > 0.0)) {
    delta_vol out;
    out.code = status::invalid_input;
    return out;
  }
  bool extrapolated = false;
  delta_vol out = solve_delta(
      [&](double k) {
        const surface_vol sv = total_variance(t_years, k);
        extrapolated = sv.extrapolated;
        return sv.code == status::ok ? sv.total_variance : std::numeric_limits<double>::quiet_NaN();
      },
      t_years, f, delta, type);
  out.extrapolated = extrapolated;
  return out;
}

delta_vol vol_surface::atm(double t_years) const {
  delta_vol out;
  const double f = forward(t_years);
  const surface_vol sv = total_variance(t_years, 0.0);
  out.code = sv.code;
  if (sv.code != status::ok) return out;
  out.forward = f;
  out.strike = f;
  out.log_moneyness = 0.0;
  out.vol = sv.vol;
  out.delta = call_delta_from_w(0.0, sv.total_variance);
  out.extrapolated = sv.extrapolated;
  return out;
}

delta_smile vol_surface::smile_at(double t_years) const {
  delta_smile out;
  out.t_years = t_years;
  out.forward = forward(t_years);
  out.put10 = vol_at_delta(t_years, -0.10, option_type::put);
  out.put25 = vol_at_delta(t_years, -0.25, option_type::put);
  out.atm = atm(t_years);
  out.call25 = vol_at_delta(t_years, 0.25, option_type::call);
  out.call10 = vol_at_delta(t_years, 0.10, option_type::call);
  for (const delta_vol* d : {&out.put10, &out.put25, &out.atm, &out.call25, &out.call10}) {
    if (d->code != status::ok) {
      out.code = d->code;
      break;
    }
  }
  out.extrapolated = out.atm.extrapolated;
  if (out.code == status::ok) {
    // ARCHITECTURE.md §4: RR = IV(25Δc) - IV(25Δp); BF = (IV(25Δc) + IV(25Δp))/2 - IV(ATM).
    out.rr25 = out.call25.vol - out.put25.vol;
    out.bf25 = 0.5 * (out.call25.vol + out.put25.vol) - out.atm.vol;
  }
  return out;
}

}  // namespace vrp::quant
