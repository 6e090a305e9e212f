// Calculator ops of the realized side (ARCHITECTURE.md §5.1): realized_vol, garch_fit,
// garch_forecast, har_fit.

#include <cstddef>
#include <string>
#include <vector>

#include "calc_detail.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/realized.hpp"

namespace vrp::service::detail {

namespace {

namespace q = vrp::quant;

// A forecast longer than ten years of hourly bars is a typo, not a request.
constexpr int max_forecast_steps = 87'600;

std::string enum_field(const json& in, const char* key, const char* fallback) {
  const auto it = in.find(key);
  if (it == in.end() || it->is_null()) return fallback;
  if (!it->is_string()) fail("invalid_input", std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

q::garch_spec spec_of(const json& in) {
  q::garch_spec spec;
  const std::string model = enum_field(in, "model", "garch");
  const std::string dist = enum_field(in, "dist", "normal");
  const std::string mean = enum_field(in, "mean", "constant");
  if (!q::parse_garch_model(model, spec.model))
    fail("invalid_input",
         "field 'model' must be \"garch\", \"gjr\" or \"egarch\", got \"" + model + "\"");
  if (!q::parse_garch_dist(dist, spec.dist))
    fail("invalid_input", "field 'dist' must be \"normal\" or \"t\", got \"" + dist + "\"");
  if (!q::parse_garch_mean(mean, spec.mean))
    fail("invalid_input", "field 'mean' must be \"constant\" or \"zero\", got \"" + mean + "\"");
  return spec;
}

bool uses_mu(const q::garch_spec& s) {
  return s.mean == q::garch_mean::constant;
}
bool uses_gamma(const q::garch_spec& s) {
  return s.model != q::garch_model::garch;
}
bool uses_nu(const q::garch_spec& s) {
  return s.dist == q::garch_dist::student_t;
}
bool egarch_t(const q::garch_spec& s) {
  return s.model == q::garch_model::egarch && uses_nu(s);
}

// EGARCH-t forecasts are simulated: cost = paths x horizon, so the calculator's default is
// smaller than the library's and a request may set its own (2 .. 100,000).
constexpr int default_egarch_paths = 2000;

// Unused parameters print as 0 (mu of a zero mean, gamma of GARCH: the model's exact value) or
// null (nu of normal errors, where no finite value is meant).
void write_params(const q::garch_spec& spec, const q::garch_params& p, json_writer& out) {
  out.begin_object();
  out.field("mu", p.mu).field("omega", p.omega).field("alpha", p.alpha);
  out.field("gamma", p.gamma).field("beta", p.beta);
  out.key("nu");
  if (uses_nu(spec))
    out.value(p.nu);
  else
    out.null();
  out.end_object();
}

q::garch_params params_of(const q::garch_spec& spec, const json& in) {
  const json& obj = field(in, "params");
  if (!obj.is_object()) fail("invalid_input", "field 'params' must be an object");
  q::garch_params p;
  p.omega = number(obj, "omega");
  p.alpha = number(obj, "alpha");
  p.beta = number(obj, "beta");
  p.mu = uses_mu(spec) ? number(obj, "mu") : 0.0;
  p.gamma = uses_gamma(spec) ? number(obj, "gamma") : 0.0;
  p.nu = uses_nu(spec) ? number(obj, "nu") : 0.0;
  if (!q::garch_params_valid(spec, p)) {
    fail("invalid_input",
         "params outside the model's domain (garch/gjr: omega > 0, alpha >= 0, beta >= 0, "
         "alpha + gamma >= 0, persistence < 1; egarch: |beta| < 1; t: nu > 2)");
  }
  return p;
}

std::vector<double> returns_of(const json& in) {
  std::vector<double> r = number_array(in, "returns");
  if (r.empty()) fail("insufficient_data", "field 'returns' is empty");
  return r;
}

}  // namespace

void op_realized_vol(const json& in, json_writer& out) {
  const std::string name = enum_field(in, "estimator", "");
  q::rv_estimator estimator{};
  if (!q::parse_rv_estimator(name, estimator)) {
    fail("invalid_input",
         "field 'estimator' must be one of close_to_close, parkinson, garman_klass, "
         "rogers_satchell, yang_zhang");
  }
  const json& arr = field(in, "bars");
  if (!arr.is_array()) fail("invalid_input", "field 'bars' must be an array of [o,h,l,c]");
  std::vector<q::ohlc_bar> bars;
  bars.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& b = arr[i];
    const std::string at = "bars[" + std::to_string(i) + "]";
    if (!b.is_array() || b.size() != 4)
      fail("invalid_input", at + " must be [open,high,low,close]");
    bars.push_back({as_number(b[0], at + "[0]"), as_number(b[1], at + "[1]"),
                    as_number(b[2], at + "[2]"), as_number(b[3], at + "[3]")});
    if (!q::valid_bar(bars.back())) {
      fail("invalid_input",
           at + " is not a valid bar (prices > 0, high >= max(open, close), low <= min(open, "
                "close))");
    }
  }
  const json& w = field(in, "window");
  if (!w.is_number_integer()) fail("invalid_input", "field 'window' must be an integer");
  const auto window = w.get<long long>();
  if (window < 1 || window > 1'000'000) fail("invalid_input", "field 'window' must be in [1, 1e6]");
  const double periods_per_year = number(in, "periods_per_year");
  std::vector<double> vol(bars.size());
  const q::status s =
      q::rolling_realized_vol(estimator, bars, static_cast<int>(window), periods_per_year, vol);
  if (s == q::status::insufficient_data) {
    fail(s, "need at least " + std::to_string(q::bars_needed(estimator, static_cast<int>(window))) +
                " bars for one window of " + std::to_string(window));
  }
  if (s != q::status::ok) {
    fail(s, "invalid inputs (window >= 2 for close_to_close and yang_zhang, periods_per_year > 0)");
  }
  out.key("vol").array(vol);
}

void op_garch_fit(const json& in, json_writer& out) {
  const q::garch_spec spec = spec_of(in);
  const std::vector<double> returns = returns_of(in);
  const q::garch_fit_result r = q::garch_fit(spec, returns);
  switch (r.code) {
    case q::status::ok:
    case q::status::no_convergence:  // best valid point; `converged` says so
      break;
    case q::status::insufficient_data:
      fail(r.code, "need at least " + std::to_string(q::garch_fit_min_points) +
                       " returns with a positive sample variance");
    case q::status::invalid_input:
      fail(r.code, "returns must be finite numbers");
    default:
      fail(r.code, "no parameter point gives a finite likelihood");
  }
  out.key("params");
  write_params(spec, r.params, out);
  out.field("loglik", r.loglik);
  out.key("std_errors");
  if (r.std_errors_valid)
    write_params(spec, r.se_hessian, out);
  else
    out.null();
  out.key("robust_std_errors");
  if (r.std_errors_valid)
    write_params(spec, r.se_robust, out);
  else
    out.null();
  out.field("converged", r.converged);
  out.field("next_variance", r.next_variance);
  out.field("persistence", q::garch_persistence(spec, r.params));
  // EGARCH with t errors has no finite mean variance (E[exp(c|z|)] is infinite for t); the
  // library's fixed-seed simulated stand-in costs seconds near beta = 1, so it is not printed.
  out.key("unconditional_variance");
  if (egarch_t(spec))
    out.null();
  else
    out.value(q::garch_unconditional_variance(spec, r.params));
  out.field("observations", static_cast<long long>(returns.size()));
}

void op_garch_forecast(const json& in, json_writer& out) {
  const q::garch_spec spec = spec_of(in);
  const q::garch_params p = params_of(spec, in);
  const std::vector<double> returns = returns_of(in);
  const json& h = field(in, "horizon");
  if (!h.is_number_integer()) fail("invalid_input", "field 'horizon' must be an integer");
  const auto horizon = h.get<long long>();
  if (horizon < 1 || horizon > max_forecast_steps) {
    fail("invalid_input",
         "field 'horizon' must be in [1, " + std::to_string(max_forecast_steps) + "] steps");
  }
  double next_variance = 0;
  const q::status fs = q::garch_filter(spec, p, returns, {}, nullptr, &next_variance);
  if (fs != q::status::ok) {
    fail(fs, fs == q::status::invalid_input ? "returns must be finite numbers"
                                            : "the variance filter broke down on these returns");
  }
  int paths = default_egarch_paths;
  if (const auto it = in.find("paths"); it != in.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long long>() < 2 || it->get<long long>() > 100'000)
      fail("invalid_input", "field 'paths' must be an integer in [2, 100000]");
    paths = static_cast<int>(it->get<long long>());
  }
  std::vector<double> variance(static_cast<std::size_t>(horizon));
  const q::status s = q::garch_forecast(spec, p, next_variance, variance, paths);
  if (s != q::status::ok) fail(s, "the forecast failed for these parameters");
  double sum = 0;
  for (double v : variance) sum += v;
  out.key("variance").array(variance);
  out.field("mean_variance", sum / static_cast<double>(variance.size()));
}

void op_har_fit(const json& in, json_writer& out) {
  const std::vector<double> rv = number_array(in, "rv");
  const q::har_fit_result r = q::har_fit(rv);
  if (r.code == q::status::insufficient_data) {
    fail(r.code, "need at least " + std::to_string(q::har_monthly_days + q::har_min_observations) +
                     " daily values");
  }
  if (r.code == q::status::invalid_input) fail(r.code, "rv values must be finite and >= 0");
  if (r.code != q::status::ok)
    fail(r.code, "the regressors are collinear (e.g. a constant series)");
  out.field("beta0", r.beta0).field("beta_d", r.beta_d).field("beta_w", r.beta_w);
  out.field("beta_m", r.beta_m).field("r2", r.r2).field("observations", r.observations);
  out.key("std_errors").begin_object();
  out.field("beta0", r.se_beta0).field("beta_d", r.se_beta_d).field("beta_w", r.se_beta_w);
  out.field("beta_m", r.se_beta_m).end_object();
  out.key("hac_std_errors").begin_object();
  out.field("beta0", r.nw_se_beta0).field("beta_d", r.nw_se_beta_d);
  out.field("beta_w", r.nw_se_beta_w).field("beta_m", r.nw_se_beta_m).end_object();
}

}  // namespace vrp::service::detail
