#include "vrp/service/calc.hpp"

#include <cmath>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "calc_detail.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/implied_vol.hpp"
#include "vrp/quant/model_free.hpp"
#include "vrp/quant/svi.hpp"
#include "vrp/service/json_writer.hpp"

namespace vrp::service {

namespace {

using nlohmann::json;
namespace q = vrp::quant;

using namespace detail;

void write_greeks(const q::greeks& g, json_writer& out, bool with_rho) {
  if (g.code != q::status::ok)
    fail(g.code, "invalid pricing inputs (need forward/spot, strike > 0, t >= 0, vol >= 0)");
  out.field("price", g.price).field("delta", g.delta).field("gamma", g.gamma);
  out.field("vega", g.vega).field("theta", g.theta);
  if (with_rho) out.field("rho", g.rho);
}

void op_black76(const json& in, json_writer& out) {
  const auto g =
      q::black76_greeks(number(in, "forward"), number(in, "strike"), number(in, "t"),
                        number(in, "vol"), option_type_of(in), number_or(in, "discount", 1.0));
  write_greeks(g, out, false);
}

void op_bsm(const json& in, json_writer& out) {
  const auto g =
      q::bsm_greeks(number(in, "spot"), number(in, "strike"), number(in, "t"), number(in, "vol"),
                    number_or(in, "rate", 0.0), number_or(in, "div", 0.0), option_type_of(in));
  write_greeks(g, out, true);
}

void op_implied_vol(const json& in, json_writer& out) {
  const auto r =
      q::implied_vol_black76(number(in, "price"), number(in, "forward"), number(in, "strike"),
                             number(in, "t"), option_type_of(in), number_or(in, "discount", 1.0));
  if (r.code != q::status::ok) {
    fail(r.code, r.code == q::status::below_intrinsic ? "price is below the intrinsic value"
                 : r.code == q::status::above_maximum ? "price is at or above the option's maximum"
                                                      : "invalid implied-vol inputs");
  }
  out.field("iv", r.vol);
}

q::svi_params svi_params_of(const json& in) {
  return {number(in, "a"), number(in, "b"), number(in, "rho"), number(in, "m"),
          number(in, "sigma")};
}

void op_svi_fit(const json& in, json_writer& out) {
  const double t = number(in, "t");
  const auto strikes = number_array(in, "strikes");
  const auto ivs = number_array(in, "ivs");
  const auto weights = number_array(in, "weights", false);
  if (strikes.size() != ivs.size() || (!weights.empty() && weights.size() != strikes.size())) {
    fail("invalid_input", "strikes, ivs and weights must have the same length");
  }
  std::optional<q::svi_params> warm;
  if (const auto it = in.find("warm_start"); it != in.end() && !it->is_null()) {
    if (!it->is_object()) fail("invalid_input", "field 'warm_start' must be an object");
    warm = svi_params_of(*it);
  }
  const auto r =
      q::svi_fit(t, number(in, "forward"), strikes, ivs, weights, warm ? &*warm : nullptr);
  if (r.code != q::status::ok) {
    fail(r.code, r.code == q::status::insufficient_data
                     ? "the quotes cannot support a fit (need at least 5 strikes on both sides of "
                       "the forward)"
                     : "the SVI fit failed");
  }
  out.field("a", r.params.a).field("b", r.params.b).field("rho", r.params.rho);
  out.field("m", r.params.m).field("sigma", r.params.sigma);
  out.field("rmse_vol", r.rmse_vol).field("butterfly_free", r.butterfly_free);
  out.field("max_abs_error_vol", r.max_abs_error_vol).field("min_g", r.min_g);
  out.field("points_used", r.points_used);
}

void op_svi_check(const json& in, json_writer& out) {
  const double t = number(in, "t");
  if (!(t > 0.0)) fail("invalid_input", "field 't' must be > 0");
  const auto r = q::svi_butterfly_check(svi_params_of(in), number_or(in, "k_min", -3.0),
                                        number_or(in, "k_max", 3.0));
  if (r.code == q::status::invalid_input) {
    fail(r.code,
         "inadmissible SVI parameters (need b >= 0, |rho| < 1, sigma > 0, min w >= 0) or bad k "
         "range");
  }
  out.field("butterfly_free", r.butterfly_free).field("min_g", r.min_g);
  out.field("argmin_k", r.argmin_k);
  if (r.code != q::status::ok) out.field("status", q::to_string(r.code));
}

std::vector<q::mf_quote> quotes_of(const json& in) {
  const json& arr = field(in, "quotes");
  if (!arr.is_array()) fail("invalid_input", "field 'quotes' must be an array");
  std::vector<q::mf_quote> out;
  out.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& qt = arr[i];
    if (!qt.is_object())
      fail("invalid_input", "quotes[" + std::to_string(i) + "] must be an object");
    out.push_back({number(qt, "strike"), option_type_of(qt), number(qt, "bid"), number(qt, "ask")});
  }
  return out;
}

// Deribit's inverse options are quoted in coin; `"price_unit":"coin"` applies the DVOL variant.
bool coin_prices(const json& in) {
  const auto it = in.find("price_unit");
  if (it == in.end() || it->is_null()) return false;
  if (it->is_string() && *it == "coin") return true;
  if (it->is_string() && *it == "quote") return false;
  fail("invalid_input", "field 'price_unit' must be \"quote\" (default) or \"coin\"");
}

void check_mf(const q::mf_result& r) {
  if (r.code == q::status::ok) return;
  fail(r.code, r.code == q::status::insufficient_data
                   ? "not enough usable out-of-the-money quotes on both sides of K0"
               : r.code == q::status::degenerate ? "the strip gives a non-positive variance"
                                                 : "invalid model-free variance inputs");
}

void op_model_free_variance(const json& in, json_writer& out) {
  const auto quotes = quotes_of(in);
  const double t = number(in, "t");
  q::mf_result r;
  if (coin_prices(in)) {
    const auto fwd = optional_number(in, "forward");
    if (!fwd) fail("invalid_input", "price_unit \"coin\" needs the expiry's 'forward'");
    r = q::model_free_variance_coin(t, quotes, *fwd);
  } else {
    r = q::model_free_variance(
        {t, number_or(in, "rate", 0.0), quotes, optional_number(in, "forward")});
  }
  check_mf(r);
  out.field("variance", r.variance).field("forward", r.forward).field("k0", r.k0);
  out.field("strikes_used", r.strikes_used);
}

void write_term(const q::mf_result& r, json_writer& out) {
  out.begin_object();
  out.field("variance", r.variance).field("forward", r.forward).field("k0", r.k0);
  out.field("strikes_used", r.strikes_used);
  out.end_object();
}

void op_vix(const json& in, json_writer& out) {
  const json& near = field(in, "near");
  const json& next = field(in, "next");
  if (!near.is_object() || !next.is_object())
    fail("invalid_input", "'near' and 'next' must be objects");
  const auto near_quotes = quotes_of(near);
  const auto next_quotes = quotes_of(next);
  const double target = number_or(in, "target_minutes", 43'200.0);
  const bool coin = coin_prices(in);
  q::vix_result r;
  if (coin) {
    const auto fn = optional_number(near, "forward");
    const auto fx = optional_number(next, "forward");
    if (!fn || !fx) fail("invalid_input", "price_unit \"coin\" needs 'forward' in near and next");
    r = q::dvol({number(near, "minutes"), near_quotes, *fn},
                {number(next, "minutes"), next_quotes, *fx}, target);
  } else {
    r = q::vix({number(near, "minutes"), number_or(near, "rate", 0.0), near_quotes,
                optional_number(near, "forward")},
               {number(next, "minutes"), number_or(next, "rate", 0.0), next_quotes,
                optional_number(next, "forward")},
               target);
  }
  check_mf(r.near);
  check_mf(r.next);
  if (r.code != q::status::ok) fail(r.code, "the 30-day interpolation failed (check minutes)");
  out.field("index", r.index).field("near_variance", r.near_variance);
  out.field("next_variance", r.next_variance);
  out.key("near");
  write_term(r.near, out);
  out.key("next");
  write_term(r.next, out);
}

struct op_entry {
  const char* name;
  op_fn fn;
};

constexpr op_entry ops[] = {
    {"black76", op_black76},
    {"bsm", op_bsm},
    {"implied_vol", op_implied_vol},
    {"svi_fit", op_svi_fit},
    {"svi_check", op_svi_check},
    {"model_free_variance", op_model_free_variance},
    {"vix", op_vix},
    {"realized_vol", op_realized_vol},
    {"garch_fit", op_garch_fit},
    {"garch_forecast", op_garch_forecast},
    {"har_fit", op_har_fit},
};

// nlohmann's depth limit is the stack; refuse absurdly nested input before parsing it.
constexpr std::size_t max_nesting = 64;

bool too_deep(std::string_view line) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : line) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_nesting) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

std::string calc_line(std::string_view line) {
  json_writer out;
  out.begin_object();
  json request;
  try {
    if (too_deep(line)) fail("parse_error", "JSON nested deeper than 64 levels");
    request = json::parse(line.begin(), line.end());
  } catch (const calc_error& e) {
    out.field("ok", false).key("error").begin_object();
    out.field("code", e.code).field("message", e.message).end_object();
    return out.end_object().str();
  } catch (const std::exception& e) {
    out.field("ok", false).key("error").begin_object();
    out.field("code", "parse_error").field("message", std::string("malformed JSON: ") + e.what());
    out.end_object();
    return out.end_object().str();
  }

  // The reply body is written aside so a failure half-way leaves no partial fields behind.
  json_writer body;
  std::string op_name;
  try {
    if (!request.is_object()) fail("invalid_input", "each line must be a JSON object");
    const auto op_it = request.find("op");
    if (op_it == request.end() || !op_it->is_string()) {
      fail("invalid_input", "missing string field 'op'");
    }
    op_name = op_it->get<std::string>();
    op_fn fn = nullptr;
    for (const auto& e : ops) {
      if (op_name == e.name) fn = e.fn;
    }
    if (fn == nullptr) fail("unknown_op", "unknown op '" + op_name + "'");
    fn(request, body);
  } catch (const calc_error& e) {
    out.field("ok", false);
    if (!op_name.empty()) out.field("op", op_name);
    if (request.is_object() && request.contains("id")) out.key("id").raw(request["id"].dump());
    out.key("error").begin_object().field("code", e.code).field("message", e.message).end_object();
    return out.end_object().str();
  } catch (const std::exception& e) {
    // Defensive: nothing above should throw anything else (e.g. bad_alloc on absurd input).
    out.field("ok", false).key("error").begin_object();
    out.field("code", "internal_error").field("message", e.what()).end_object();
    return out.end_object().str();
  }
  out.field("ok", true).field("op", op_name);
  if (request.contains("id")) out.key("id").raw(request["id"].dump());
  if (!body.str().empty()) out.raw(body.str());
  return out.end_object().str();
}

int run_calc(std::istream& in, std::ostream& out) {
  int failures = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string reply = calc_line(line);
    if (reply.rfind(R"({"ok":false)", 0) == 0) ++failures;
    out << reply << '\n' << std::flush;
  }
  return failures;
}

}  // namespace vrp::service
