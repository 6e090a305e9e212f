// JSON bodies of the vrpd API (ARCHITECTURE.md §5.2): every field of a hand-built snapshot must
// come back from an independent parser (nlohmann_json) bit for bit, NaN as null, in valid JSON.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "vrp/engine/snapshot.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace {

using nlohmann::json;
using vrp::engine::bucket_cell;
using vrp::engine::expiry_view;
using vrp::engine::forecast_view;
using vrp::engine::quote_view;
using vrp::engine::tenor_row;
using vrp::engine::underlying_snapshot;
using vrp::service::history_point;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.insert(it.key());
  return k;
}

// Bit-exact comparison of a parsed number with the double that was rendered.
void expect_number(const json& j, double expected, const std::string& what) {
  SCOPED_TRACE(what);
  if (std::isnan(expected)) {
    EXPECT_TRUE(j.is_null()) << j.dump();
    return;
  }
  ASSERT_TRUE(j.is_number()) << j.dump();
  const double got = j.get<double>();
  EXPECT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(expected))
      << "got " << got << " expected " << expected;
}

// Doubles that need all 17 significant digits, plus extremes of the format.
const double awkward[] = {0.1 + 0.2,
                          1.0 / 3.0,
                          0.45,
                          -0.0123456789012345678,
                          2.2250738585072014e-308,  // smallest normal
                          4.9406564584124654e-324,  // smallest subnormal
                          1.7976931348623157e308,   // largest finite
                          112233.44556677889,
                          -1e-17,
                          0.0};

double awkward_at(std::size_t i) {
  return awkward[i % std::size(awkward)];
}

underlying_snapshot make_snapshot() {
  underlying_snapshot u;
  u.underlying = "BTC";
  u.seq = 18446744073709551000ULL;  // above INT64_MAX: must stay unsigned
  u.ts_ns = 1761347700123456789;
  u.recv_ns = 1761347700124000001;
  u.complete = false;
  u.index_price = 111234.56789012345;
  u.dvol = nan;
  u.funding_annual = -0.010950000000000001;
  u.perp_basis = 0.00012345678901234567;

  std::size_t k = 0;
  tenor_row good;
  good.days = 30;
  good.t_years = 30.0 / 365.0;
  good.available = true;
  good.reason = "";
  good.extrapolated = true;
  good.forward = 111987.65432109876;
  good.basis_annual = awkward_at(k++);
  good.atm_iv = 0.41234567890123456;
  good.mfiv = 0.45678901234567891;
  good.rv_forecast = 0.33333333333333331;
  good.premium_vol = good.atm_iv - good.rv_forecast;
  good.premium_var = good.mfiv * good.mfiv - good.rv_forecast * good.rv_forecast;
  good.rr25 = awkward_at(k++);
  good.bf25 = awkward_at(k++);
  for (auto& c : good.buckets) {
    c.iv = awkward_at(k++);
    c.premium_vol = awkward_at(k++);
    c.strike = 90000.0 + static_cast<double>(k) * 1234.5678901234567;
    c.width_vol = awkward_at(k++);
  }
  good.buckets[3].width_vol = nan;  // a bucket without liquidity data

  tenor_row missing;
  missing.days = 7;
  missing.t_years = 7.0 / 365.0;
  missing.available = false;
  missing.reason = "no_surface";
  missing.forward = 111000.5;
  u.tenors = {missing, good};
  return u;
}

std::shared_ptr<const expiry_view> make_fitted_expiry() {
  auto e = std::make_shared<expiry_view>();
  e->label = "28NOV25";
  e->expiry_ms = 1764316800000;
  e->t_years = 0.095890410958904104;
  e->forward = 112345.67890123456;
  e->forward_from = vrp::engine::forward_source::parity;
  e->fitted = true;
  e->fit_status = vrp::quant::status::ok;
  e->svi = {0.0041234567890123457, 0.012345678901234568, -0.31234567890123457, 0.012345678901234567,
            0.098765432109876543};
  e->rmse_vol = 0.0012345678901234567;
  e->butterfly_free = true;
  e->calendar_free = false;
  e->points_used = 41;
  e->points_rejected = 3;
  e->mfiv = 0.47123456789012345;
  quote_view call;
  call.strike = 110000;
  call.right = vrp::core::option_right::call;
  call.bid_iv = 0.44123456789012344;
  call.ask_iv = 0.45987654321098766;
  call.mark_iv = 0.45012345678901233;
  call.venue_mark_iv = 0.4501;
  call.status = vrp::engine::quote_status::ok;
  quote_view put = call;
  put.right = vrp::core::option_right::put;
  put.bid_iv = nan;  // zero bid: no bid IV
  put.status = vrp::engine::quote_status::zero_bid;
  quote_view odd;
  odd.strike = 250000;
  odd.right = vrp::core::option_right::none;
  odd.status = vrp::engine::quote_status::no_quote;
  e->quotes = {call, put, odd};
  return e;
}

std::shared_ptr<const expiry_view> make_unfitted_expiry() {
  auto e = std::make_shared<expiry_view>();
  e->label = "26DEC25";
  e->expiry_ms = 1766736000000;
  e->t_years = 0.17260273972602741;
  e->forward = nan;
  e->forward_from = vrp::engine::forward_source::none;
  e->fitted = false;
  e->fit_status = vrp::quant::status::insufficient_data;
  e->svi = {1, 2, 3, 4, 5};  // stale numbers that must not be shown
  return e;
}

std::shared_ptr<const forecast_view> make_forecast() {
  auto f = std::make_shared<forecast_view>();
  f->ready = true;
  f->model = "gjr-normal";
  f->spec = {vrp::quant::garch_model::gjr, vrp::quant::garch_dist::student_t,
             vrp::quant::garch_mean::zero};
  f->params = {0.0,
               1.2345678901234567e-6,
               0.051234567890123456,
               0.031234567890123457,
               0.91234567890123457,
               5.4321098765432098};
  f->persistence = 0.97923456789012346;
  f->long_run_vol = 0.41234567890123456;
  f->conditional_vol = 0.38765432109876543;
  f->realized_vol_24h = nan;
  f->har_ready = false;
  f->har_beta0 = nan;
  f->har_beta_d = 0.31234567890123456;
  f->term = {{7, 0.39123456789012345}, {30, 0.40123456789012345}};
  f->garch_term = {{7, 0.39123456789012345}, {30, 0.40123456789012345}};
  f->har_term = {{7, nan}, {30, nan}};
  f->bar_ns = 3'600'000'000'000;
  f->bars = 2881;
  f->last_bar_close_ns = 1761346800000000000;
  f->last_refit_ns = 0;  // never refitted
  f->refits = 0;
  return f;
}

json parse(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "invalid JSON: " << text;
  return j;
}

void expect_tenor(const json& j, const tenor_row& row) {
  SCOPED_TRACE("tenor " + std::to_string(row.days));
  std::set<std::string> expected_keys = {
      "days", "t",           "available",   "extrapolated", "forward", "basis_annual", "atm_iv",
      "mfiv", "rv_forecast", "premium_vol", "premium_var",  "rr25",    "bf25",         "buckets"};
  if (!row.available) expected_keys.insert("reason");
  EXPECT_EQ(keys_of(j), expected_keys);
  EXPECT_EQ(j.at("days").get<int>(), row.days);
  expect_number(j.at("t"), row.t_years, "t");
  EXPECT_EQ(j.at("available").get<bool>(), row.available);
  if (!row.available) {
    EXPECT_EQ(j.at("reason").get<std::string>(), row.reason);
  }
  EXPECT_EQ(j.at("extrapolated").get<bool>(), row.extrapolated);
  expect_number(j.at("forward"), row.forward, "forward");
  expect_number(j.at("basis_annual"), row.basis_annual, "basis_annual");
  expect_number(j.at("atm_iv"), row.atm_iv, "atm_iv");
  expect_number(j.at("mfiv"), row.mfiv, "mfiv");
  expect_number(j.at("rv_forecast"), row.rv_forecast, "rv_forecast");
  expect_number(j.at("premium_vol"), row.premium_vol, "premium_vol");
  expect_number(j.at("premium_var"), row.premium_var, "premium_var");
  expect_number(j.at("rr25"), row.rr25, "rr25");
  expect_number(j.at("bf25"), row.bf25, "bf25");
  const json& b = j.at("buckets");
  EXPECT_EQ(keys_of(b), (std::set<std::string>{"10p", "25p", "atm", "25c", "10c"}));
  const char* names[] = {"10p", "25p", "atm", "25c", "10c"};
  for (std::size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(names[i]);
    const json& c = b.at(names[i]);
    const bucket_cell& cell = row.buckets[i];
    EXPECT_EQ(keys_of(c), (std::set<std::string>{"iv", "premium_vol", "strike", "width_vol"}));
    expect_number(c.at("iv"), cell.iv, "iv");
    expect_number(c.at("premium_vol"), cell.premium_vol, "premium_vol");
    expect_number(c.at("strike"), cell.strike, "strike");
    expect_number(c.at("width_vol"), cell.width_vol, "width_vol");
  }
}

TEST(snapshot_json, premium_round_trips_every_field_bit_exactly) {
  underlying_snapshot u = make_snapshot();
  u.forecast = make_forecast();
  std::string out;
  vrp::service::render_premium(u, out);
  const json j = parse(out);
  EXPECT_EQ(keys_of(j),
            (std::set<std::string>{"underlying", "seq", "ts", "ts_ns", "complete", "index_price",
                                   "dvol", "model", "funding_annual", "perp_basis", "recv_ns",
                                   "data_recv_ns", "stale", "tenors"}));
  EXPECT_EQ(j.at("underlying").get<std::string>(), "BTC");
  EXPECT_EQ(j.at("seq").get<std::uint64_t>(), 18446744073709551000ULL);
  EXPECT_EQ(j.at("ts").get<std::int64_t>(), 1761347700123);  // ms, truncated
  EXPECT_EQ(j.at("ts_ns").get<std::int64_t>(), 1761347700123456789);
  EXPECT_EQ(j.at("recv_ns").get<std::int64_t>(), 1761347700124000001);
  EXPECT_EQ(j.at("complete").get<bool>(), false);
  expect_number(j.at("index_price"), u.index_price, "index_price");
  EXPECT_TRUE(j.at("dvol").is_null());
  EXPECT_EQ(j.at("model").get<std::string>(), "gjr-normal");
  expect_number(j.at("funding_annual"), u.funding_annual, "funding_annual");
  expect_number(j.at("perp_basis"), u.perp_basis, "perp_basis");
  ASSERT_EQ(j.at("tenors").size(), 2u);
  expect_tenor(j.at("tenors")[0], u.tenors[0]);
  expect_tenor(j.at("tenors")[1], u.tenors[1]);
}

TEST(snapshot_json, premium_buckets_keep_the_documented_order) {
  const underlying_snapshot u = make_snapshot();
  std::string out;
  vrp::service::render_premium(u, out);
  const auto j = nlohmann::ordered_json::parse(out);
  std::vector<std::string> order;
  for (auto it = j["tenors"][1]["buckets"].begin(); it != j["tenors"][1]["buckets"].end(); ++it)
    order.push_back(it.key());
  EXPECT_EQ(order, (std::vector<std::string>{"10p", "25p", "atm", "25c", "10c"}));
}

TEST(snapshot_json, numbers_are_printed_with_17_significant_digits) {
  // Expected texts are C's printf("%.17g") of these literals (the format of ARCHITECTURE.md §5.1).
  underlying_snapshot u;
  u.underlying = "ETH";
  u.index_price = 0.1;
  u.dvol = 0.45;
  u.funding_annual = 1e21;
  u.perp_basis = 1e-5;
  std::string out;
  vrp::service::render_premium(u, out);
  EXPECT_NE(out.find("\"index_price\":0.10000000000000001"), std::string::npos) << out;
  EXPECT_NE(out.find("\"dvol\":0.45000000000000001"), std::string::npos) << out;
  EXPECT_NE(out.find("\"funding_annual\":1e+21"), std::string::npos) << out;
  EXPECT_NE(out.find("\"perp_basis\":1.0000000000000001e-05"), std::string::npos) << out;
}

// The renderer has its own number formatter; C's printf("%.17g") is the reference for its text.
TEST(snapshot_json, numbers_match_printf_17g_across_magnitudes_and_rounding_edges) {
  std::vector<double> values;
  std::mt19937_64 rng(20251024);
  std::uniform_real_distribution<double> decade(-30.0, 30.0);
  for (int i = 0; i < 60000; ++i) {
    const double v = std::pow(10.0, decade(rng));
    values.push_back(v);
    values.push_back(-v);
  }
  for (int i = 0; i < 20000; ++i) {  // any finite bit pattern
    const double v = std::bit_cast<double>(rng());
    if (std::isfinite(v)) values.push_back(v);
  }
  // Neighbours of powers of two and ten, where the decimal exponent or the scaling changes.
  for (int e = -1074; e <= 1023; ++e) {
    const double v = std::ldexp(1.0, e);
    values.insert(values.end(), {v, std::nextafter(v, 0.0), std::nextafter(v, 2 * v)});
  }
  for (int e = -25; e <= 25; ++e) {
    const double v = std::pow(10.0, e);
    values.insert(values.end(), {v, std::nextafter(v, 0.0), std::nextafter(v, 2 * v)});
  }
  // Exact ties at the 17th digit need round-half-even, and values rounding up to 10^n.
  for (std::int64_t i = 1; i < 2000; ++i) {
    values.push_back(static_cast<double>(i) + 0.5);
    values.push_back(static_cast<double>(i) / 1024.0);
    values.push_back(4503599627370496.0 + static_cast<double>(i) * 0.5);  // 2^52 + i/2
    values.push_back(9007199254740992.0 - static_cast<double>(i));        // below 2^53
  }
  values.insert(values.end(), {0.0, -0.0, 99999999999999999.0, 9999999999999999.0,
                               0.99999999999999994, 1.5258789062500001e-05, 1e-5, 0.0001});

  std::vector<history_point> pts;
  std::string expected = R"({"underlying":"X","tenor":1,"points":[)";
  char buf[64];
  for (std::size_t i = 0; i < values.size(); i += 7) {
    history_point p{static_cast<std::int64_t>(i), 0, 0, 0, 0, 0, 0, 0};
    double* fields[] = {&p.atm_iv,      &p.mfiv, &p.rv_forecast, &p.premium_vol,
                        &p.premium_var, &p.rr25, &p.bf25};
    const char* names[] = {"atm_iv",      "mfiv", "rv_forecast", "premium_vol",
                           "premium_var", "rr25", "bf25"};
    if (!pts.empty()) expected += ',';
    expected += "{\"ts\":" + std::to_string(i);
    for (std::size_t f = 0; f < 7; ++f) {
      *fields[f] = values[(i + f) % values.size()];
      std::snprintf(buf, sizeof buf, "%.17g", *fields[f]);
      expected += ",\"" + std::string(names[f]) + "\":" + buf;
    }
    expected += '}';
    pts.push_back(p);
  }
  expected += "]}";
  std::string out;
  vrp::service::render_history("X", 1, pts, out);
  EXPECT_EQ(out.size(), expected.size());
  if (out != expected) {
    const auto at = std::mismatch(out.begin(), out.end(), expected.begin()).first - out.begin();
    ADD_FAILURE() << "first difference at " << at << ": " << out.substr(at > 40 ? at - 40 : 0, 80)
                  << " vs " << expected.substr(at > 40 ? at - 40 : 0, 80);
  }
}

TEST(snapshot_json, non_finite_numbers_become_null) {
  underlying_snapshot u;
  u.underlying = "BTC";
  u.index_price = std::numeric_limits<double>::infinity();
  u.dvol = -std::numeric_limits<double>::infinity();
  u.funding_annual = nan;
  u.perp_basis = -nan;
  u.tenors.push_back(tenor_row{});  // all NaN, not available, empty reason
  std::string out;
  vrp::service::render_premium(u, out);
  const json j = parse(out);
  EXPECT_TRUE(j.at("index_price").is_null());
  EXPECT_TRUE(j.at("dvol").is_null());
  EXPECT_TRUE(j.at("funding_annual").is_null());
  EXPECT_TRUE(j.at("perp_basis").is_null());
  const json& row = j.at("tenors")[0];
  EXPECT_EQ(row.at("reason").get<std::string>(), "");
  EXPECT_TRUE(row.at("atm_iv").is_null());
  EXPECT_TRUE(row.at("buckets").at("10c").at("iv").is_null());
  EXPECT_EQ(out.find("nan"), std::string::npos);
  EXPECT_EQ(out.find("inf"), std::string::npos);
}

TEST(snapshot_json, premium_model_is_null_without_forecast_or_model_name) {
  underlying_snapshot u = make_snapshot();
  std::string out;
  vrp::service::render_premium(u, out);
  EXPECT_TRUE(parse(out).at("model").is_null());

  auto f = std::make_shared<forecast_view>();  // forecaster exists but has not chosen a model
  u.forecast = f;
  out.clear();
  vrp::service::render_premium(u, out);
  EXPECT_TRUE(parse(out).at("model").is_null());
}

TEST(snapshot_json, empty_snapshot_renders_valid_json) {
  const underlying_snapshot u;  // no name, no tenors, no expiries, no forecast
  std::string out;
  vrp::service::render_premium(u, out);
  json j = parse(out);
  EXPECT_EQ(j.at("underlying").get<std::string>(), "");
  EXPECT_TRUE(j.at("tenors").is_array());
  EXPECT_TRUE(j.at("tenors").empty());

  out.clear();
  vrp::service::render_surface(u, out);
  j = parse(out);
  EXPECT_TRUE(j.at("expiries").is_array());
  EXPECT_TRUE(j.at("expiries").empty());

  out.clear();
  vrp::service::render_forecast(u, out);
  parse(out);

  out.clear();
  vrp::service::render_stream_frame("premium.", u, out);
  parse(out);
}

TEST(snapshot_json, renderers_append_to_the_callers_buffer) {
  const underlying_snapshot u = make_snapshot();
  std::string alone;
  vrp::service::render_premium(u, alone);
  std::string out = "HTTP/1.1 200 OK\r\n\r\n";
  vrp::service::render_premium(u, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\n\r\n" + alone);
  // A second render appends again and does not touch what is there.
  vrp::service::render_error("x", "y", out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\n\r\n" + alone + R"({"error":{"code":"x","message":"y"}})");
}

TEST(snapshot_json, surface_round_trips_fitted_and_unfitted_expiries) {
  underlying_snapshot u = make_snapshot();
  const auto fitted = make_fitted_expiry();
  const auto unfitted = make_unfitted_expiry();
  u.expiries = {fitted, nullptr, unfitted};  // a null slot is skipped, not dereferenced
  std::string out;
  vrp::service::render_surface(u, out);
  const json j = parse(out);
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"underlying", "ts", "expiries"}));
  EXPECT_EQ(j.at("underlying").get<std::string>(), "BTC");
  EXPECT_EQ(j.at("ts").get<std::int64_t>(), 1761347700123);
  ASSERT_EQ(j.at("expiries").size(), 2u);

  const std::set<std::string> expiry_keys = {
      "expiry",          "expiry_ms", "t",        "forward",        "forward_source", "fitted",
      "fit_status",      "svi",       "rmse_vol", "butterfly_free", "calendar_free",  "points_used",
      "points_rejected", "mfiv",      "quotes"};
  const json& e = j.at("expiries")[0];
  EXPECT_EQ(keys_of(e), expiry_keys);
  EXPECT_EQ(e.at("expiry").get<std::string>(), "28NOV25");
  EXPECT_EQ(e.at("expiry_ms").get<std::int64_t>(), 1764316800000);
  expect_number(e.at("t"), fitted->t_years, "t");
  expect_number(e.at("forward"), fitted->forward, "forward");
  EXPECT_EQ(e.at("forward_source").get<std::string>(),
            std::string(vrp::engine::to_string(vrp::engine::forward_source::parity)));
  EXPECT_EQ(e.at("fitted").get<bool>(), true);
  EXPECT_EQ(e.at("fit_status").get<std::string>(), "ok");
  const json& svi = e.at("svi");
  EXPECT_EQ(keys_of(svi), (std::set<std::string>{"a", "b", "rho", "m", "sigma"}));
  expect_number(svi.at("a"), fitted->svi.a, "a");
  expect_number(svi.at("b"), fitted->svi.b, "b");
  expect_number(svi.at("rho"), fitted->svi.rho, "rho");
  expect_number(svi.at("m"), fitted->svi.m, "m");
  expect_number(svi.at("sigma"), fitted->svi.sigma, "sigma");
  expect_number(e.at("rmse_vol"), fitted->rmse_vol, "rmse_vol");
  EXPECT_EQ(e.at("butterfly_free").get<bool>(), true);
  EXPECT_EQ(e.at("calendar_free").get<bool>(), false);
  EXPECT_EQ(e.at("points_used").get<int>(), 41);
  EXPECT_EQ(e.at("points_rejected").get<int>(), 3);
  expect_number(e.at("mfiv"), fitted->mfiv, "mfiv");

  const json& quotes = e.at("quotes");
  ASSERT_EQ(quotes.size(), 3u);
  const char* types[] = {"call", "put", nullptr};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("quote " + std::to_string(i));
    const json& q = quotes[i];
    const quote_view& v = fitted->quotes[i];
    EXPECT_EQ(keys_of(q), (std::set<std::string>{"strike", "type", "bid_iv", "ask_iv", "mark_iv",
                                                 "venue_mark_iv", "status"}));
    expect_number(q.at("strike"), v.strike, "strike");
    if (types[i] != nullptr)
      EXPECT_EQ(q.at("type").get<std::string>(), types[i]);
    else
      EXPECT_TRUE(q.at("type").is_null());
    expect_number(q.at("bid_iv"), v.bid_iv, "bid_iv");
    expect_number(q.at("ask_iv"), v.ask_iv, "ask_iv");
    expect_number(q.at("mark_iv"), v.mark_iv, "mark_iv");
    expect_number(q.at("venue_mark_iv"), v.venue_mark_iv, "venue_mark_iv");
    EXPECT_EQ(q.at("status").get<std::string>(), std::string(vrp::engine::to_string(v.status)));
    EXPECT_FALSE(q.at("status").get<std::string>().empty());
  }

  const json& un = j.at("expiries")[1];
  EXPECT_EQ(keys_of(un), expiry_keys);
  EXPECT_EQ(un.at("expiry").get<std::string>(), "26DEC25");
  EXPECT_EQ(un.at("fitted").get<bool>(), false);
  EXPECT_EQ(un.at("fit_status").get<std::string>(), "insufficient_data");
  EXPECT_TRUE(un.at("svi").is_null());
  EXPECT_TRUE(un.at("forward").is_null());
  EXPECT_TRUE(un.at("rmse_vol").is_null());
  EXPECT_TRUE(un.at("mfiv").is_null());
  EXPECT_TRUE(un.at("quotes").is_array());
  EXPECT_TRUE(un.at("quotes").empty());
}

TEST(snapshot_json, forecast_round_trips_every_field) {
  underlying_snapshot u = make_snapshot();
  const auto f = make_forecast();
  u.forecast = f;
  std::string out;
  vrp::service::render_forecast(u, out);
  const json j = parse(out);
  const std::set<std::string> forecast_keys = {
      "underlying", "ts",          "model",        "ready",           "spec",
      "params",     "persistence", "long_run_vol", "conditional_vol", "realized_vol_24h",
      "har",        "bar_seconds", "bars",         "last_bar_close",  "last_refit",
      "refits",     "term",        "garch_term",   "har_term"};
  EXPECT_EQ(keys_of(j), forecast_keys);
  EXPECT_EQ(j.at("underlying").get<std::string>(), "BTC");
  EXPECT_EQ(j.at("ts").get<std::int64_t>(), 1761347700123);
  EXPECT_EQ(j.at("model").get<std::string>(), "gjr-normal");
  EXPECT_EQ(j.at("ready").get<bool>(), true);
  EXPECT_EQ(j.at("spec"), (json{{"model", "gjr"}, {"dist", "t"}, {"mean", "zero"}}));
  const json& p = j.at("params");
  EXPECT_EQ(keys_of(p), (std::set<std::string>{"mu", "omega", "alpha", "gamma", "beta", "nu"}));
  expect_number(p.at("mu"), f->params.mu, "mu");
  expect_number(p.at("omega"), f->params.omega, "omega");
  expect_number(p.at("alpha"), f->params.alpha, "alpha");
  expect_number(p.at("gamma"), f->params.gamma, "gamma");
  expect_number(p.at("beta"), f->params.beta, "beta");
  expect_number(p.at("nu"), f->params.nu, "nu");
  expect_number(j.at("persistence"), f->persistence, "persistence");
  expect_number(j.at("long_run_vol"), f->long_run_vol, "long_run_vol");
  expect_number(j.at("conditional_vol"), f->conditional_vol, "conditional_vol");
  EXPECT_TRUE(j.at("realized_vol_24h").is_null());
  const json& har = j.at("har");
  EXPECT_EQ(keys_of(har), (std::set<std::string>{"ready", "beta0", "beta_d", "beta_w", "beta_m"}));
  EXPECT_EQ(har.at("ready").get<bool>(), false);
  EXPECT_TRUE(har.at("beta0").is_null());
  expect_number(har.at("beta_d"), f->har_beta_d, "beta_d");
  EXPECT_TRUE(har.at("beta_w").is_null());
  EXPECT_TRUE(har.at("beta_m").is_null());
  expect_number(j.at("bar_seconds"), 3600.0, "bar_seconds");
  EXPECT_EQ(j.at("bars").get<std::uint64_t>(), 2881u);
  EXPECT_EQ(j.at("last_bar_close").get<std::int64_t>(), 1761346800000);
  EXPECT_TRUE(j.at("last_refit").is_null());  // 0 means never
  EXPECT_EQ(j.at("refits").get<std::uint64_t>(), 0u);
  const auto check_term = [](const json& t, const std::vector<vrp::engine::forecast_point>& v,
                             const char* name) {
    SCOPED_TRACE(name);
    ASSERT_EQ(t.size(), v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(keys_of(t[i]), (std::set<std::string>{"days", "vol"}));
      EXPECT_EQ(t[i].at("days").get<int>(), v[i].days);
      expect_number(t[i].at("vol"), v[i].vol, "vol");
    }
  };
  check_term(j.at("term"), f->term, "term");
  check_term(j.at("garch_term"), f->garch_term, "garch_term");
  check_term(j.at("har_term"), f->har_term, "har_term");
}

TEST(snapshot_json, forecast_without_forecaster_has_the_same_keys_with_nulls) {
  const underlying_snapshot u = make_snapshot();
  std::string out;
  vrp::service::render_forecast(u, out);
  const json j = parse(out);
  underlying_snapshot with = make_snapshot();
  with.forecast = make_forecast();
  std::string full;
  vrp::service::render_forecast(with, full);
  EXPECT_EQ(keys_of(j), keys_of(parse(full)));
  EXPECT_TRUE(j.at("model").is_null());
  EXPECT_EQ(j.at("ready").get<bool>(), false);
  EXPECT_TRUE(j.at("spec").is_null());
  EXPECT_TRUE(j.at("params").is_null());
  EXPECT_TRUE(j.at("conditional_vol").is_null());
  EXPECT_TRUE(j.at("term").empty());
  EXPECT_EQ(j.at("bars").get<int>(), 0);
}

TEST(snapshot_json, stream_frame_wraps_the_premium_body) {
  underlying_snapshot u = make_snapshot();
  u.seq = 42;
  std::string body;
  vrp::service::render_premium(u, body);
  std::string out;
  vrp::service::render_stream_frame("premium.BTC", u, out);
  const json j = parse(out);
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"channel", "seq", "ts", "data"}));
  EXPECT_EQ(j.at("channel").get<std::string>(), "premium.BTC");
  EXPECT_EQ(j.at("seq").get<std::uint64_t>(), 42u);
  EXPECT_EQ(j.at("ts").get<std::int64_t>(), 1761347700123);
  // The data member is the premium body, byte for byte.
  EXPECT_NE(out.find(",\"data\":" + body + "}"), std::string::npos);
  EXPECT_EQ(out.back(), '}');
  EXPECT_EQ(j.at("data"), parse(body));
}

TEST(snapshot_json, error_escapes_code_and_message) {
  std::string out;
  vrp::service::render_error("bad_request", "tenor \"abc\" is not a number\\\n", out);
  const json j = parse(out);
  EXPECT_EQ(j,
            (json{{"error",
                   {{"code", "bad_request"}, {"message", "tenor \"abc\" is not a number\\\n"}}}}));
}

TEST(snapshot_json, strings_are_escaped_into_valid_json) {
  underlying_snapshot u;
  // Quotes, backslash, every control character, DEL, multi-byte UTF-8 (2, 3, 4 bytes).
  std::string name = "a\"b\\c/";
  for (int c = 0; c < 0x20; ++c) name.push_back(static_cast<char>(c));
  name += "\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  u.underlying = name;
  std::string out;
  vrp::service::render_premium(u, out);
  const json j = parse(out);
  EXPECT_EQ(j.at("underlying").get<std::string>(), name);
  // Control characters never appear raw.
  for (const char c : out) EXPECT_GE(static_cast<unsigned char>(c), 0x20u);
}

TEST(snapshot_json, ill_formed_utf8_is_replaced_not_passed_through) {
  // Lone continuation byte, truncated 2-byte sequence at the end, overlong '/', a UTF-16 surrogate,
  // a code point above U+10FFFF, and a byte that never starts a sequence.
  const std::string bad =
      std::string("x\x80y") + "\xc0\xaf" + "\xed\xa0\x80" + "\xf4\x90\x80\x80" + "\xff" + "\xc3";
  std::string out;
  vrp::service::render_error("bad", bad, out);
  const json j = parse(out);
  const std::string msg = j.at("error").at("message").get<std::string>();
  const std::string r = "\xef\xbf\xbd";  // U+FFFD in UTF-8
  // One replacement per byte of each ill-formed sequence.
  std::string expected = "x" + r + "y";
  for (int i = 0; i < 2 + 3 + 4 + 1 + 1; ++i) expected += r;
  EXPECT_EQ(msg, expected);
}

}  // namespace
