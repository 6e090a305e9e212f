// Constant-maturity surface and forward-delta lookups. Expected values come from the slices'
// own raw SVI formula written out here, and deltas are checked against black76_greeks (an
// independent module) at the solved strike and vol.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "vrp/quant/black.hpp"
#include "vrp/quant/surface.hpp"

namespace vrp::quant {
namespace {

double ref_w(const svi_params& p, double k) {
  return p.a + p.b * (p.rho * (k - p.m) + std::sqrt((k - p.m) * (k - p.m) + p.sigma * p.sigma));
}

// Three calendar-free, put-skewed slices (each later slice dominates the earlier everywhere:
// larger a and b with the same rho, m, sigma).
std::vector<surface_slice> skewed_slices() {
  return {
      {0.05, 100.5, {0.002, 0.05, -0.5, 0.02, 0.08}},
      {0.25, 101.0, {0.010, 0.12, -0.5, 0.02, 0.08}},
      {1.00, 104.0, {0.040, 0.30, -0.5, 0.02, 0.08}},
  };
}

vol_surface make_surface() {
  vol_surface s;
  const auto slices = skewed_slices();
  EXPECT_EQ(s.build(slices), status::ok);
  return s;
}

TEST(surface, build_sorts_and_validates_slices) {
  auto slices = skewed_slices();
  std::swap(slices[0], slices[2]);
  vol_surface s;
  ASSERT_EQ(s.build(slices), status::ok);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s.t_first(), 0.05);
  EXPECT_DOUBLE_EQ(s.t_last(), 1.00);
  auto dup = skewed_slices();
  dup[1].t_years = dup[0].t_years;
  EXPECT_EQ(s.build(dup), status::invalid_input);
  EXPECT_TRUE(s.empty());
  auto bad = skewed_slices();
  bad[1].params.rho = 1.0;
  EXPECT_EQ(s.build(bad), status::degenerate);
  bad = skewed_slices();
  bad[2].forward = 0.0;
  EXPECT_EQ(s.build(bad), status::invalid_input);
  EXPECT_EQ(s.build({}), status::insufficient_data);
  EXPECT_EQ(s.total_variance(0.1, 0.0).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.1, 0.25, option_type::call).code, status::invalid_input);
}

TEST(surface, interpolation_matches_slices_at_their_own_t) {
  const vol_surface s = make_surface();
  for (const auto& sl : skewed_slices()) {
    for (double k = -1.0; k <= 1.0; k += 0.05) {
      const surface_vol v = s.total_variance(sl.t_years, k);
      ASSERT_EQ(v.code, status::ok);
      EXPECT_FALSE(v.extrapolated);
      EXPECT_NEAR(v.total_variance, ref_w(sl.params, k), 1e-15);
      EXPECT_NEAR(v.vol, std::sqrt(ref_w(sl.params, k) / sl.t_years), 1e-14);
    }
    EXPECT_NEAR(s.forward(sl.t_years), sl.forward, 1e-10);
  }
}

TEST(surface, interpolation_is_linear_in_total_variance_at_fixed_k) {
  const vol_surface s = make_surface();
  const auto sl = skewed_slices();
  for (double k = -1.0; k <= 1.0; k += 0.1) {
    const double t = 0.4;
    const double frac = (t - 0.25) / (1.0 - 0.25);
    const double expected = ref_w(sl[1].params, k) * (1 - frac) + ref_w(sl[2].params, k) * frac;
    EXPECT_NEAR(s.total_variance(t, k).total_variance, expected, 1e-15);
  }
}

TEST(surface, total_variance_is_monotone_in_t_for_calendar_free_slices) {
  const vol_surface s = make_surface();
  ASSERT_TRUE(s.calendar_check().calendar_free);
  for (double k = -1.5; k <= 1.5; k += 0.05) {
    double prev = 0.0;
    for (double t = 0.001; t <= 3.0; t += 0.001) {
      const double w = s.total_variance(t, k).total_variance;
      ASSERT_GE(w, prev) << "k=" << k << " t=" << t;
      prev = w;
    }
  }
}

TEST(surface, extrapolates_flat_vol_outside_expiry_range_and_flags_it) {
  const vol_surface s = make_surface();
  const auto sl = skewed_slices();
  for (double k = -0.5; k <= 0.5; k += 0.1) {
    const surface_vol short_end = s.implied_vol(0.01, k);
    EXPECT_TRUE(short_end.extrapolated);
    EXPECT_NEAR(short_end.vol, std::sqrt(ref_w(sl[0].params, k) / 0.05), 1e-14);
    const surface_vol long_end = s.implied_vol(2.0, k);
    EXPECT_TRUE(long_end.extrapolated);
    EXPECT_NEAR(long_end.vol, std::sqrt(ref_w(sl[2].params, k) / 1.0), 1e-14);
    EXPECT_FALSE(s.implied_vol(0.5, k).extrapolated);
  }
  EXPECT_TRUE(s.smile_at(2.0).extrapolated);
  EXPECT_FALSE(s.smile_at(0.5).extrapolated);
}

TEST(surface, forward_is_log_linear_in_t_between_expiries) {
  const vol_surface s = make_surface();
  const double t = 0.5;
  const double expected =
      101.0 * std::exp((std::log(104.0) - std::log(101.0)) * (t - 0.25) / (1.0 - 0.25));
  EXPECT_NEAR(s.forward(t), expected, 1e-10);
  EXPECT_NEAR(s.implied_vol_at_strike(t, expected * std::exp(0.1)).vol, s.implied_vol(t, 0.1).vol,
              1e-14);
}

TEST(surface, delta_strikes_round_trip_through_black76_greeks) {
  const vol_surface s = make_surface();
  const double deltas[] = {-0.10, -0.25, 0.25, 0.10, -0.45, 0.45, 0.02, -0.02};
  for (double t : {1.0 / 365, 7.0 / 365, 30.0 / 365, 0.25, 0.6, 1.0, 1.5}) {
    for (double d : deltas) {
      const option_type type = d > 0 ? option_type::call : option_type::put;
      const delta_vol r = s.vol_at_delta(t, d, type);
      ASSERT_EQ(r.code, status::ok) << t << " " << d;
      // The vol at the solved strike is the surface's own vol there.
      EXPECT_NEAR(r.vol, s.implied_vol_at_strike(t, r.strike).vol, 1e-12);
      const greeks g = black76_greeks(r.forward, r.strike, t, r.vol, type);
      EXPECT_NEAR(g.delta, d, 1e-10) << "t=" << t << " delta=" << d;
      EXPECT_NEAR(r.delta, d, 1e-10);
    }
  }
}

TEST(surface, single_slice_delta_lookup_round_trips) {
  const svi_params p{0.010, 0.12, -0.5, 0.02, 0.08};
  for (double d : {-0.10, -0.25, 0.25, 0.10}) {
    const option_type type = d > 0 ? option_type::call : option_type::put;
    const delta_vol r = svi_vol_at_delta(p, 0.25, 101.0, d, type);
    ASSERT_EQ(r.code, status::ok);
    EXPECT_NEAR(r.vol, std::sqrt(ref_w(p, std::log(r.strike / 101.0)) / 0.25), 1e-12);
    EXPECT_NEAR(black76_greeks(101.0, r.strike, 0.25, r.vol, type).delta, d, 1e-10);
  }
}

TEST(surface, delta_lookup_rejects_deltas_outside_their_range) {
  const vol_surface s = make_surface();
  EXPECT_EQ(s.vol_at_delta(0.25, 0.25, option_type::put).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.25, -0.25, option_type::call).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.25, 1.0, option_type::call).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.25, 0.0, option_type::call).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.0, 0.25, option_type::call).code, status::invalid_input);
  EXPECT_EQ(s.vol_at_delta(0.25, std::nan(""), option_type::call).code, status::invalid_input);
}

TEST(surface, atm_is_forward_atm) {
  const vol_surface s = make_surface();
  for (double t : {0.02, 0.1, 0.5, 1.0}) {
    const delta_vol a = s.atm(t);
    ASSERT_EQ(a.code, status::ok);
    EXPECT_DOUBLE_EQ(a.strike, s.forward(t));
    EXPECT_EQ(a.log_moneyness, 0.0);
    EXPECT_DOUBLE_EQ(a.vol, s.implied_vol(t, 0.0).vol);
    EXPECT_NEAR(a.delta, black76_greeks(a.forward, a.strike, t, a.vol, option_type::call).delta,
                1e-12);
  }
}

TEST(surface, rr_and_bf_signs_follow_the_skew) {
  // Put skew (rho < 0): puts richer than calls, RR25 < 0; a convex smile has BF25 > 0.
  const vol_surface put_skew = make_surface();
  for (double t : {7.0 / 365, 30.0 / 365, 0.5}) {
    const delta_smile sm = put_skew.smile_at(t);
    ASSERT_EQ(sm.code, status::ok);
    EXPECT_LT(sm.rr25, 0.0);
    EXPECT_GT(sm.bf25, 0.0);
    EXPECT_NEAR(sm.rr25, sm.call25.vol - sm.put25.vol, 1e-15);
    EXPECT_NEAR(sm.bf25, 0.5 * (sm.call25.vol + sm.put25.vol) - sm.atm.vol, 1e-15);
    // Strikes ordered 10Δp < 25Δp < F < 25Δc < 10Δc.
    EXPECT_LT(sm.put10.strike, sm.put25.strike);
    EXPECT_LT(sm.put25.strike, sm.atm.strike);
    EXPECT_LT(sm.atm.strike, sm.call25.strike);
    EXPECT_LT(sm.call25.strike, sm.call10.strike);
  }
  // Call skew (rho > 0): RR25 > 0.
  auto slices = skewed_slices();
  for (auto& sl : slices) sl.params.rho = 0.5;
  vol_surface call_skew;
  ASSERT_EQ(call_skew.build(slices), status::ok);
  const delta_smile sm = call_skew.smile_at(0.25);
  ASSERT_EQ(sm.code, status::ok);
  EXPECT_GT(sm.rr25, 0.0);
  EXPECT_GT(sm.bf25, 0.0);
}

TEST(surface, flat_smile_gives_flat_delta_vols_and_zero_rr_bf) {
  // b = 0: w = a at every k, so every delta bucket has vol sqrt(a / t).
  const std::vector<surface_slice> flat{{0.5, 100.0, {0.5 * 0.64, 0.0, 0.0, 0.0, 0.1}}};
  vol_surface s;
  ASSERT_EQ(s.build(flat), status::ok);
  const delta_smile sm = s.smile_at(0.5);
  ASSERT_EQ(sm.code, status::ok);
  for (const delta_vol* d : {&sm.put10, &sm.put25, &sm.atm, &sm.call25, &sm.call10}) {
    EXPECT_NEAR(d->vol, 0.8, 1e-14);
  }
  EXPECT_NEAR(sm.rr25, 0.0, 1e-14);
  EXPECT_NEAR(sm.bf25, 0.0, 1e-14);
  // Closed form with constant vol: k = -N^{-1}(delta) vol sqrt(t) + vol^2 t / 2; checked through
  // the call delta N(d1) at the solved k.
  const double sw = 0.8 * std::sqrt(0.5);
  EXPECT_NEAR(norm_cdf(-sm.call25.log_moneyness / sw + sw / 2), 0.25, 1e-12);
}

TEST(surface, calendar_check_reports_crossing_slices) {
  auto slices = skewed_slices();
  slices[2].params = {0.05, 0.02, -0.5, 0.02, 0.08};  // flatter wings than the 0.25 slice
  vol_surface s;
  ASSERT_EQ(s.build(slices), status::ok);
  const calendar_check_result c = s.calendar_check();
  EXPECT_FALSE(c.calendar_free);
  EXPECT_EQ(c.slice_index, 2);
  EXPECT_GT(c.worst_violation, 0.0);
}

}  // namespace
}  // namespace vrp::quant
