// The hot-path functions documented as allocation-free are checked by counting the calls of the
// global operator new made by the calling thread (replaced below for this test executable; it
// forwards to malloc). Per-thread, so a background worker's allocations do not count.

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "bybit_bars.hpp"
#include "counting_new.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/garch_live.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/implied_vol.hpp"
#include "vrp/quant/realized.hpp"

namespace {

using namespace vrp::quant;

// Allocations made while running f (as a signed count, for EXPECT_EQ with literals).
template <class F>
long allocations_in(F&& f) {
  return static_cast<long>(vrp::test::allocations_in(std::forward<F>(f)));
}

const std::vector<double>& btc() {
  static const std::vector<double> r = vrp::test::bybit_hourly_returns("BTCUSDT", 100.0);
  return r;
}

TEST(no_allocation, counter_sees_an_allocation) {
  EXPECT_EQ(allocations_in([] { std::vector<double> v(10); }), 1);
}

TEST(no_allocation, garch_online_update_and_closed_form_forecasts) {
  for (const auto model : {garch_model::garch, garch_model::gjr, garch_model::egarch}) {
    const garch_spec spec{model, garch_dist::student_t, garch_mean::constant};
    const garch_fit_result fit = garch_fit(spec, std::span<const double>(btc().data(), 2000));
    ASSERT_EQ(fit.code, status::ok);
    garch_online online(spec, fit.params, fit.next_variance);
    std::vector<double> steps(24);
    const garch_spec normal{model, garch_dist::normal, garch_mean::constant};
    const garch_fit_result fit_n = garch_fit(normal, std::span<const double>(btc().data(), 2000));
    ASSERT_EQ(fit_n.code, status::ok);
    EXPECT_EQ(allocations_in([&] {
                for (std::size_t i = 2000; i < 3000; ++i) online.update(btc()[i]);
                // Analytic forecasts: garch/gjr for any errors, egarch for normal errors.
                if (model != garch_model::egarch) {
                  garch_forecast(spec, fit.params, online.next_variance(), steps);
                  garch_average_variance(spec, fit.params, online.next_variance(), 24 * 30);
                }
                garch_forecast(normal, fit_n.params, fit_n.next_variance, steps);
              }),
              0)
        << to_string(model);
  }
}

TEST(no_allocation, garch_live_on_return_including_refit_handoff_and_swap) {
  const garch_spec spec{garch_model::gjr, garch_dist::normal, garch_mean::constant};
  garch_live live(spec, {.window = 1000, .refit_every = 50, .min_points = 1000});
  ASSERT_EQ(live.warm_up(std::span<const double>(btc().data(), 1500)), status::ok);
  // The worker allocates inside garch_fit (its own thread, not counted); the engine thread's
  // handoff (window copy) and swap (replay) must not.
  long counted = 0;
  for (std::size_t i = 1500; i < 1700; ++i) {
    // wait_idle adopts through the same maybe_adopt as on_return, and waits on the atomic.
    counted += allocations_in([&] {
      live.on_return(btc()[i]);
      live.wait_idle();
    });
  }
  EXPECT_GE(live.stats().refits_adopted, 3u);
  EXPECT_EQ(counted, 0);
}

TEST(no_allocation, realized_vol_har_forecast_and_implied_vol) {
  const vrp::test::bar_series s = vrp::test::load_bybit_hourly("BTCUSDT");
  const std::span<const ohlc_bar> bars(s.bars.data(), 2000);
  std::vector<double> vol(bars.size());
  std::vector<double> rv(200);
  for (std::size_t d = 0; d < rv.size(); ++d) {
    double sum = 0;
    for (std::size_t h = 0; h < 24; ++h) sum += btc()[24 * d + h] * btc()[24 * d + h] * 1e-4;
    rv[d] = sum;
  }
  const har_fit_result har = har_fit(rv);
  ASSERT_EQ(har.code, status::ok);
  std::vector<double> out(30);
  EXPECT_EQ(allocations_in([&] {
              for (const auto e : {rv_estimator::close_to_close, rv_estimator::parkinson,
                                   rv_estimator::garman_klass, rv_estimator::rogers_satchell,
                                   rv_estimator::yang_zhang}) {
                rolling_realized_vol(e, bars, 24, 8760, vol);
              }
              har_forecast(har, rv, out);
              har_forecast_mean(har, rv, 30);
              implied_vol_black76(5.637197779701664, 100, 100, 0.5, option_type::call);
            }),
            0);
}

}  // namespace
