// The acceptance test: the bundled real recording (Deribit BTC and ETH chains of
// 2025-10-24, index and DVOL frames, 120 days of hourly bars) replayed directly through the
// Deribit codec into the engine.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "demo_recording.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/replay/recording.hpp"
#include "vrp/quant/svi.hpp"
#include "vrp/service/offline_replay.hpp"

namespace {

using namespace vrp;

using test::demo_recording;

struct replay_run {
  std::unique_ptr<core::instrument_table> table = std::make_unique<core::instrument_table>();
  std::unique_ptr<engine::engine> eng;
  std::shared_ptr<const engine::snapshot> snap;
  std::vector<quant::status> warm_up;
  std::size_t published = 0;
};

engine::engine_config replay_config() {
  engine::engine_config c;
  c.forecast.background_refit = false;  // deterministic
  return c;
}

// Warm-up from the chart series, every frame through the codec (publishing every 20 frames, as
// the engine thread would between batches), then flush: the offline replay vrpctl engine uses.
std::unique_ptr<replay_run> run_replay() {
  auto run = std::make_unique<replay_run>();
  run->eng = std::make_unique<engine::engine>(replay_config(), *run->table);
  service::offline_replay_stats stats;
  run->snap = service::replay_into_engine(demo_recording(), *run->eng, *run->table, stats, 20);
  run->warm_up = stats.warm_up;
  run->published = stats.snapshots;
  return run;
}

const replay_run& shared_run() {
  static const std::unique_ptr<replay_run> run = run_replay();
  return *run;
}

// Linear interpolation in strike of the venue's mark IV between the two quoted strikes around F.
double venue_atm_iv(const engine::expiry_view& e) {
  double k1 = 0, v1 = engine::nan, k2 = 0, v2 = engine::nan;
  for (const auto& q : e.quotes) {
    if (!std::isfinite(q.venue_mark_iv)) continue;
    if (q.strike <= e.forward && (std::isnan(v1) || q.strike >= k1)) {
      k1 = q.strike;
      v1 = q.venue_mark_iv;
    }
    if (q.strike > e.forward && (std::isnan(v2) || q.strike < k2)) {
      k2 = q.strike;
      v2 = q.venue_mark_iv;
    }
  }
  if (std::isnan(v1) || std::isnan(v2)) return engine::nan;
  return v1 + (e.forward - k1) / (k2 - k1) * (v2 - v1);
}

TEST(engine_replay, every_expiry_with_enough_quotes_is_fitted) {
  const auto& run = shared_run();
  ASSERT_NE(run.snap, nullptr);
  for (const char* name : {"BTC", "ETH"}) {
    const auto* u = run.snap->find(name);
    ASSERT_NE(u, nullptr);
    EXPECT_GE(u->expiries.size(), 10u) << name;
    int fitted = 0;
    for (const auto& e : u->expiries) {
      if (e->fitted) {
        ++fitted;
        EXPECT_TRUE(quant::svi_is_admissible(e->svi)) << e->label;
        EXPECT_LT(e->rmse_vol, 0.02) << name << " " << e->label;
        EXPECT_EQ(e->mfiv_status, quant::status::ok) << name << " " << e->label;
        continue;
      }
      std::printf(
          "%s %s not fitted: %.*s (%d usable quotes)\n", name, e->label.c_str(),
          static_cast<int>(e->fit_reason.size()), e->fit_reason.data(),
          static_cast<int>(std::count_if(e->quotes.begin(), e->quotes.end(), [](const auto& q) {
            return q.status == engine::quote_status::ok;
          })));
      // Only the limits of the configuration may leave an expiry out.
      EXPECT_TRUE(e->fit_reason == "too_close_to_expiry" || e->fit_reason == "too_few_quotes")
          << name << " " << e->label << " " << e->fit_reason;
    }
    EXPECT_EQ(fitted, static_cast<int>(u->expiries.size())) << name;
    EXPECT_TRUE(u->complete) << name;
    EXPECT_GT(u->quotes_usable, u->quotes_total / 2) << name;
  }
  const auto& st = run.snap->stats;
  EXPECT_EQ(st.quotes, 1'546u);
  EXPECT_EQ(st.quotes_ignored, 0u);
  EXPECT_EQ(st.index_ticks, 2u);
  EXPECT_EQ(st.dvol_ticks, 2u);
  EXPECT_GE(st.smile_fits, 2u * 10u);
  EXPECT_EQ(st.smile_fit_failures, 0u);
}

TEST(engine_replay, forecast_is_ready_from_the_warm_up_and_rows_are_numbers) {
  const auto& run = shared_run();
  for (auto s : run.warm_up) EXPECT_EQ(s, quant::status::ok);
  ASSERT_EQ(run.warm_up.size(), 2u);
  for (const char* name : {"BTC", "ETH"}) {
    const auto* u = run.snap->find(name);
    ASSERT_NE(u->forecast, nullptr);
    EXPECT_TRUE(u->forecast->ready) << name;
    EXPECT_TRUE(std::isfinite(u->index_price));
    EXPECT_TRUE(std::isfinite(u->dvol));
    ASSERT_EQ(u->tenors.size(), 7u);
    for (const auto& row : u->tenors) {
      ASSERT_TRUE(row.available) << name << " " << row.days << " " << row.reason;
      const double values[] = {row.t_years, row.forward,     row.basis_annual, row.atm_iv,
                               row.mfiv,    row.rv_forecast, row.premium_vol,  row.premium_var,
                               row.rr25,    row.bf25};
      for (double v : values) EXPECT_TRUE(std::isfinite(v)) << name << " " << row.days;
      for (const auto& c : row.buckets) {
        EXPECT_TRUE(std::isfinite(c.iv) && std::isfinite(c.premium_vol) &&
                    std::isfinite(c.strike) && std::isfinite(c.width_vol))
            << name << " " << row.days;
        EXPECT_EQ(c.premium_vol, c.iv - row.rv_forecast);
      }
      // The premium identities, exactly (the same doubles).
      EXPECT_EQ(row.premium_vol, row.atm_iv - row.rv_forecast);
      EXPECT_EQ(row.premium_var, row.mfiv * row.mfiv - row.rv_forecast * row.rv_forecast);
      // Carry of the option forwards over the index: a contango of a few percent a year from a
      // week out. Below a week the check is on the level (1 %): the recording's index is the
      // close of the Bybit spot bar before the chain, a stand-in, and a small level gap
      // annualized over one day is a large number.
      if (row.days >= 7) {
        EXPECT_LT(std::fabs(row.basis_annual), 0.25) << name << " " << row.days;
      } else {
        EXPECT_LT(std::fabs(row.basis_annual * row.t_years), 0.01) << name << " " << row.days;
      }
    }
  }
}

// Deribit's marks of this recording behave as if each option had 3 more hours to run
// (docs/VALIDATION.md, "Implied vols vs Deribit's mark_iv": one common clock shift of +180/+178
// min explains the short-expiry bias on both coins). The same price read on the two clocks
// gives the same total variance, so the venue's IV maps to ours as iv sqrt((t + 3 h) / t).
constexpr double venue_clock_offset_years = 3.0 / (24.0 * 365.0);
constexpr double one_day_years = 1.0 / 365.0;
constexpr double seven_days_years = 7.0 / 365.0;

// ATM (k = 0 on the fitted SVI) against the venue's mark IV interpolated at the forward:
// - every expiry at least a day out: within 0.5 vol points once the venue's IV is read on our
//   clock (the offset above);
// - expiries at least 7 days out: also within 0.5 vol points as stamped (the offset then moves
//   the IV by less than 0.3 points);
// - the expiry under a day out (8.7 h: BTC and ETH 25OCT25) is printed and held to 2 vol points on
//   our clock: 3 h is a third of its life, its marks are a few 0.0001-coin ticks (the ATM
//   straddle is ~25 ticks), and only 8 (BTC) strikes have a bid.
TEST(engine_replay, atm_iv_matches_deribit_mark_iv_at_the_forward) {
  const auto& run = shared_run();
  int compared = 0;
  for (const char* name : {"BTC", "ETH"}) {
    const auto* u = run.snap->find(name);
    for (const auto& e : u->expiries) {
      if (!e->fitted) continue;
      const double ours = quant::svi_implied_vol(e->svi, 0.0, e->t_years);
      const double venue = venue_atm_iv(*e);
      ASSERT_TRUE(std::isfinite(venue)) << e->label;
      const double venue_on_our_clock =
          venue * std::sqrt((e->t_years + venue_clock_offset_years) / e->t_years);
      std::printf(
          "%s %-8s t=%7.4f F=%10.2f atm %.4f venue %.4f (on our clock %.4f) diff %+.2f "
          "(%+.2f) vol pts; rmse %.2f pts, %d pts, butterfly %d calendar %d mfiv %.4f\n",
          name, e->label.c_str(), e->t_years, e->forward, ours, venue, venue_on_our_clock,
          100 * (ours - venue), 100 * (ours - venue_on_our_clock), 100 * e->rmse_vol,
          e->points_used, e->butterfly_free, e->calendar_free, e->mfiv);
      if (e->t_years >= one_day_years) {
        EXPECT_NEAR(ours, venue_on_our_clock, 0.005) << name << " " << e->label;
        ++compared;
      } else {
        EXPECT_NEAR(ours, venue_on_our_clock, 0.02) << name << " " << e->label;
      }
      if (e->t_years >= seven_days_years) {
        EXPECT_NEAR(ours, venue, 0.005) << name << " " << e->label;
      }
    }
  }
  EXPECT_GE(compared, 20);
}

TEST(engine_replay, thirty_day_mfiv_is_close_to_the_dvol_frame) {
  // The recording's DVOL frames are the 2025-10-23 daily closes (45.13 BTC, 72.97 ETH), a day
  // before the chains. docs/VALIDATION.md measured our 30-day model-free vol on these chains at
  // +2.5 points over the 2025-10-24 close (Cboe steps on the raw strip keep the far wings that
  // Deribit's filters trim), and DVOL moved 2.3 (BTC) and 3.5 (ETH) points between the two
  // closes; 4 vol points covers the method gap and the day's move, as in VALIDATION.md.
  const auto& run = shared_run();
  for (const char* name : {"BTC", "ETH"}) {
    const auto* u = run.snap->find(name);
    const engine::tenor_row* row30 = nullptr;
    for (const auto& r : u->tenors)
      if (r.days == 30) row30 = &r;
    ASSERT_NE(row30, nullptr);
    std::printf("%s 30d mfiv %.2f DVOL %.2f gap %+.2f vol pts\n", name, 100 * row30->mfiv,
                100 * u->dvol, 100 * (row30->mfiv - u->dvol));
    EXPECT_NEAR(row30->mfiv, u->dvol, 0.04) << name;
  }
}

TEST(engine_replay, grid_at_7_30_90_days) {
  const auto& run = shared_run();
  for (const char* name : {"BTC", "ETH"}) {
    const auto* u = run.snap->find(name);
    std::printf("%s index %.2f dvol %.2f model %s\n", name, u->index_price, 100 * u->dvol,
                u->forecast->model.c_str());
    for (const auto& r : u->tenors) {
      if (r.days != 7 && r.days != 30 && r.days != 90) continue;
      std::printf(
          "  %3dd atm_iv %.4f mfiv %.4f rv_forecast %.4f premium_vol %+.4f premium_var "
          "%+.4f rr25 %+.4f bf25 %+.4f basis %+.4f\n",
          r.days, r.atm_iv, r.mfiv, r.rv_forecast, r.premium_vol, r.premium_var, r.rr25, r.bf25,
          r.basis_annual);
      // Crypto vols of the day: ATM in (0.2, 1.2); the premium is a difference of two of them.
      EXPECT_GT(r.atm_iv, 0.2);
      EXPECT_LT(r.atm_iv, 1.2);
      EXPECT_LT(std::fabs(r.premium_vol), 0.6);
    }
  }
}

// Bit-for-bit comparison of two snapshots (doubles by their bytes, NaN included).
class snapshot_compare {
 public:
  int differences = 0;
  std::string first;

  void value(const char* what, double a, double b) {
    if (std::memcmp(&a, &b, sizeof a) != 0) note(what);
  }
  template <class T>
  void equal(const char* what, const T& a, const T& b) {
    if (!(a == b)) note(what);
  }

  void compare(const engine::snapshot& a, const engine::snapshot& b) {
    equal("seq", a.seq, b.seq);
    equal("ts", a.ts_ns, b.ts_ns);
    equal("underlyings", a.underlyings.size(), b.underlyings.size());
    for (std::size_t i = 0; i < std::min(a.underlyings.size(), b.underlyings.size()); ++i)
      underlying(*a.underlyings[i], *b.underlyings[i]);
    equal("smile_fits", a.stats.smile_fits, b.stats.smile_fits);
    equal("events", a.stats.events, b.stats.events);
    value("last_fit_rmse", a.stats.last_fit_rmse_vol, b.stats.last_fit_rmse_vol);
  }

 private:
  void note(const char* what) {
    if (differences++ == 0) first = what;
  }

  void underlying(const engine::underlying_snapshot& a, const engine::underlying_snapshot& b) {
    equal("name", a.underlying, b.underlying);
    equal("u.seq", a.seq, b.seq);
    equal("u.ts", a.ts_ns, b.ts_ns);
    equal("complete", a.complete, b.complete);
    value("index", a.index_price, b.index_price);
    value("dvol", a.dvol, b.dvol);
    value("funding", a.funding_annual, b.funding_annual);
    value("perp_basis", a.perp_basis, b.perp_basis);
    equal("usable", a.quotes_usable, b.quotes_usable);
    equal("expiries", a.expiries.size(), b.expiries.size());
    for (std::size_t i = 0; i < std::min(a.expiries.size(), b.expiries.size()); ++i)
      expiry(*a.expiries[i], *b.expiries[i]);
    equal("tenors", a.tenors.size(), b.tenors.size());
    for (std::size_t i = 0; i < std::min(a.tenors.size(), b.tenors.size()); ++i) {
      const auto& x = a.tenors[i];
      const auto& y = b.tenors[i];
      equal("available", x.available, y.available);
      for (auto [p, q] : {std::pair{x.forward, y.forward},
                          {x.basis_annual, y.basis_annual},
                          {x.atm_iv, y.atm_iv},
                          {x.mfiv, y.mfiv},
                          {x.rv_forecast, y.rv_forecast},
                          {x.premium_vol, y.premium_vol},
                          {x.premium_var, y.premium_var},
                          {x.rr25, y.rr25},
                          {x.bf25, y.bf25}})
        value("tenor", p, q);
      for (std::size_t j = 0; j < engine::bucket_count; ++j) {
        value("bucket.iv", x.buckets[j].iv, y.buckets[j].iv);
        value("bucket.premium", x.buckets[j].premium_vol, y.buckets[j].premium_vol);
        value("bucket.strike", x.buckets[j].strike, y.buckets[j].strike);
        value("bucket.width", x.buckets[j].width_vol, y.buckets[j].width_vol);
      }
    }
    equal("forecast", a.forecast == nullptr, b.forecast == nullptr);
    if (a.forecast && b.forecast) {
      const auto& x = *a.forecast;
      const auto& y = *b.forecast;
      equal("ready", x.ready, y.ready);
      value("cond_vol", x.conditional_vol, y.conditional_vol);
      value("long_run", x.long_run_vol, y.long_run_vol);
      value("omega", x.params.omega, y.params.omega);
      value("alpha", x.params.alpha, y.params.alpha);
      value("beta", x.params.beta, y.params.beta);
      equal("term", x.term.size(), y.term.size());
      for (std::size_t j = 0; j < std::min(x.term.size(), y.term.size()); ++j)
        value("term.vol", x.term[j].vol, y.term[j].vol);
    }
  }

  void expiry(const engine::expiry_view& a, const engine::expiry_view& b) {
    equal("label", a.label, b.label);
    value("t", a.t_years, b.t_years);
    value("forward", a.forward, b.forward);
    equal("fitted", a.fitted, b.fitted);
    for (auto [p, q] : {std::pair{a.svi.a, b.svi.a},
                        {a.svi.b, b.svi.b},
                        {a.svi.rho, b.svi.rho},
                        {a.svi.m, b.svi.m},
                        {a.svi.sigma, b.svi.sigma},
                        {a.rmse_vol, b.rmse_vol},
                        {a.mfiv, b.mfiv}})
      value("expiry", p, q);
    equal("calendar", a.calendar_free, b.calendar_free);
    equal("quotes", a.quotes.size(), b.quotes.size());
    for (std::size_t i = 0; i < std::min(a.quotes.size(), b.quotes.size()); ++i) {
      const auto& x = a.quotes[i];
      const auto& y = b.quotes[i];
      equal("q.status", x.status, y.status);
      for (auto [p, q] : {std::pair{x.bid_iv, y.bid_iv},
                          {x.ask_iv, y.ask_iv},
                          {x.mark_iv, y.mark_iv},
                          {x.bid_usd, y.bid_usd},
                          {x.mark_usd, y.mark_usd}})
        value("quote", p, q);
    }
  }
};

TEST(engine_replay, two_independent_runs_give_bit_identical_snapshots) {
  const auto& a = shared_run();
  const auto b = run_replay();
  ASSERT_NE(a.snap, nullptr);
  ASSERT_NE(b->snap, nullptr);
  EXPECT_EQ(a.published, b->published);
  snapshot_compare cmp;
  cmp.compare(*a.snap, *b->snap);
  EXPECT_EQ(cmp.differences, 0) << "first difference: " << cmp.first;
}

}  // namespace
