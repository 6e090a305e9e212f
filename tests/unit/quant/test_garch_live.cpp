// Live forecaster: background re-estimation swapped in without blocking, with the returns that
// arrived during the fit replayed. Data: Bybit BTCUSDT hourly percent log returns.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <vector>

#include "bybit_bars.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/garch_live.hpp"

namespace {

using namespace vrp::quant;

const std::vector<double>& btc() {
  static const std::vector<double> r = vrp::test::bybit_hourly_returns("BTCUSDT", 100.0);
  return r;
}

constexpr garch_spec gjr_t{garch_model::gjr, garch_dist::student_t, garch_mean::constant};

TEST(garch_live, rejects_bad_configuration_at_startup) {
  EXPECT_THROW(garch_live(gjr_t, {.window = 10}), std::invalid_argument);
  EXPECT_THROW(garch_live(gjr_t, {.window = 1000, .refit_every = 0}), std::invalid_argument);
  EXPECT_THROW(garch_live(gjr_t, {.window = 1000, .min_points = 2000}), std::invalid_argument);
}

TEST(garch_live, warm_up_equals_a_batch_fit_and_filter) {
  garch_live live(gjr_t, {.window = 1500, .refit_every = 1'000'000, .min_points = 1000});
  const std::span<const double> history(btc().data(), 2000);
  ASSERT_EQ(live.warm_up(history), status::ok);
  ASSERT_TRUE(live.ready());
  // The warm-up fits the last `window` returns of the history.
  garch_fit_options options;
  options.starts = 3;
  const garch_fit_result batch = garch_fit(gjr_t, history.subspan(500), options);
  ASSERT_EQ(batch.code, status::ok);
  EXPECT_EQ(live.params().omega, batch.params.omega);
  EXPECT_EQ(live.params().nu, batch.params.nu);
  EXPECT_EQ(live.next_variance(), batch.next_variance);
  // Without a refit due, updates are the plain online filter.
  garch_online online(gjr_t, batch.params, batch.next_variance);
  for (std::size_t i = 2000; i < 2100; ++i) {
    live.on_return(btc()[i]);
    online.update(btc()[i]);
  }
  EXPECT_EQ(live.next_variance(), online.next_variance());
  EXPECT_EQ(live.stats().refits_started, 0u);
}

// A refit is started at the 100th return after warm-up; 30 more returns arrive (whether the
// worker finishes before or after them); the final state must equal filtering the snapshot window
// under the adopted parameters and then absorbing the 30 returns.
TEST(garch_live, refit_is_swapped_in_and_later_returns_replayed) {
  constexpr std::size_t window = 1500;
  garch_live live(gjr_t, {.window = window, .refit_every = 100, .min_points = 1000});
  ASSERT_EQ(live.warm_up(std::span<const double>(btc().data(), 2000)), status::ok);
  const garch_params before = live.params();
  for (std::size_t i = 2000; i < 2130; ++i) live.on_return(btc()[i]);
  live.wait_idle();
  const garch_live_stats& st = live.stats();
  EXPECT_EQ(st.refits_started, 1u);
  ASSERT_EQ(st.refits_adopted, 1u);
  EXPECT_EQ(st.refits_failed, 0u);
  EXPECT_LE(st.replayed, 30u);
  EXPECT_NE(live.params().omega, before.omega);  // new data, new estimate

  const std::span<const double> snapshot(btc().data() + 2100 - window, window);
  double h = 0;
  ASSERT_EQ(garch_filter(gjr_t, live.params(), snapshot, {}, nullptr, &h), status::ok);
  garch_online expected(gjr_t, live.params(), h);
  for (std::size_t i = 2100; i < 2130; ++i) expected.update(btc()[i]);
  EXPECT_EQ(live.next_variance(), expected.next_variance());
  // The adopted fit is a proper fit of the snapshot (not an artefact of the warm start).
  const garch_fit_result cold = garch_fit(gjr_t, snapshot);
  ASSERT_EQ(cold.code, status::ok);
  double ll = 0;
  ASSERT_EQ(garch_filter(gjr_t, live.params(), snapshot, {}, &ll, nullptr), status::ok);
  EXPECT_NEAR(ll, cold.loglik, 1e-6 * std::abs(cold.loglik));
}

TEST(garch_live, failed_refit_keeps_the_old_parameters) {
  garch_live live(gjr_t, {.window = 60, .refit_every = 60, .min_points = 60});
  live.warm_up(std::span<const double>(btc().data(), 500));  // 60-point fit: may hit the budget
  ASSERT_TRUE(live.ready());
  const garch_params before = live.params();
  for (int i = 0; i < 60; ++i) live.on_return(0.0);  // a flat window cannot be fitted
  live.wait_idle();
  EXPECT_EQ(live.stats().refits_started, 1u);
  EXPECT_EQ(live.stats().refits_failed, 1u);
  EXPECT_EQ(live.stats().refits_adopted, 0u);
  EXPECT_EQ(live.stats().last_fit_status, status::insufficient_data);
  EXPECT_EQ(live.params().omega, before.omega);
  EXPECT_TRUE(std::isfinite(live.next_variance()));
  EXPECT_GT(live.next_variance(), 0.0);
}

TEST(garch_live, non_finite_returns_are_counted_not_absorbed) {
  garch_live live(gjr_t, {.window = 1000, .refit_every = 1'000'000, .min_points = 1000});
  ASSERT_EQ(live.warm_up(std::span<const double>(btc().data(), 1200)), status::ok);
  const double h = live.next_variance();
  live.on_return(std::nan(""));
  live.on_return(INFINITY);
  EXPECT_EQ(live.next_variance(), h);
  EXPECT_EQ(live.stats().rejected, 2u);
  EXPECT_EQ(live.stats().updates, 0u);
}

TEST(garch_live, without_history_it_starts_after_the_first_background_fit) {
  garch_live live(gjr_t, {.window = 1000, .refit_every = 500, .min_points = 1000});
  EXPECT_FALSE(live.ready());
  EXPECT_TRUE(std::isnan(live.average_variance(24)));
  for (std::size_t i = 0; i < 1000; ++i) live.on_return(btc()[i]);
  live.wait_idle();
  ASSERT_TRUE(live.ready());
  EXPECT_EQ(live.stats().refits_adopted, 1u);
  const double avg = live.average_variance(24 * 30);
  EXPECT_TRUE(std::isfinite(avg));
  EXPECT_GT(avg, 0.0);
}

}  // namespace
