#include "vrp/service/engine_setup.hpp"

#include <chrono>

namespace vrp::service {

engine::engine_config make_engine_config(const config::config& c) {
  engine::engine_config e;
  e.underlyings = c.engine.underlyings;
  e.tenor_days = c.engine.tenors_days;
  e.fit_on = c.engine.fit_on == config::fit_source::mid ? engine::fit_source::mid
                                                        : engine::fit_source::mark;
  e.refit_interval_ns = std::chrono::nanoseconds(c.engine.refit_interval_ms).count();
  e.stale_quote_ns = std::chrono::nanoseconds(c.engine.stale_quote_s).count();
  e.data_timeout_ns = std::chrono::nanoseconds(c.engine.data_timeout_s).count();
  e.min_expiry_ns = static_cast<std::int64_t>(c.engine.min_expiry_hours.count() * 3.6e12);
  e.min_quotes_per_expiry = c.engine.min_quotes_per_expiry;
  e.max_refits_per_publish = c.engine.max_refits_per_publish;
  e.reject_outliers = c.engine.reject_outliers;
  e.max_extrapolation_ratio = c.engine.max_extrapolation_ratio;

  auto& f = e.forecast;
  f.bar_ns = std::chrono::nanoseconds(c.forecast.bar).count();
  switch (c.forecast.garch) {
    case config::garch_model::garch:
      f.spec.model = quant::garch_model::garch;
      break;
    case config::garch_model::gjr:
      f.spec.model = quant::garch_model::gjr;
      break;
    case config::garch_model::egarch:
      f.spec.model = quant::garch_model::egarch;
      break;
  }
  f.spec.dist = c.forecast.dist == config::garch_dist::t ? quant::garch_dist::student_t
                                                         : quant::garch_dist::normal;
  f.spec.mean = c.forecast.mean == config::garch_mean::constant ? quant::garch_mean::constant
                                                                : quant::garch_mean::zero;
  f.use = c.forecast.model == config::forecast_model::har ? engine::premium_model::har
                                                          : engine::premium_model::garch_family;
  f.window = c.forecast.window;
  f.refit_every = c.forecast.refit_every;
  f.min_points = c.forecast.min_points;
  f.background_refit = c.forecast.background_refit;
  return e;
}

}  // namespace vrp::service
