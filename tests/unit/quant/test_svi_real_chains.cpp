// SVI fits on every expiry of real chains (tests/data/SOURCES.md): Deribit BTC and ETH
// (2025-10-24), the Deribit BTC 8-expiry capture (2026-02-07) and three Binance BTC hourly chains
// (2023-10-20..22). Marks are the venues' own smoothed IVs; we fit the OTM side (puts K < F,
// calls K >= F). The test prints a per-expiry table (rmse in vol points, butterfly and calendar
// flags) and asserts: no degenerate parameters, no NaN, insufficient_data exactly when the expiry
// has fewer than 5 usable strikes or none on one side of the forward.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/core/time.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/surface.hpp"
#include "vrp/quant/svi.hpp"

namespace vrp::quant {
namespace {

struct slice_input {
  std::string label;
  double t_years = 0;
  double forward = 0;
  std::vector<double> strikes, ivs;
};

struct chain_input {
  std::string name;
  std::vector<slice_input> slices;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Deribit CSV: forward = underlying_price of the expiry (median over its rows), t from the rows'
// own timestamps (mean), mark_iv in percent.
chain_input load_deribit_csv(const std::string& rel, const std::string& name) {
  chain_input c{name, {}};
  for (const auto& [expiry_ms, rows] :
       test::by_expiry(test::load_deribit_chain(test::test_data_path(rel)))) {
    slice_input s;
    s.label = rows.front().instrument.substr(0, rows.front().instrument.find('-', 4));
    std::vector<double> fwd;
    double ts_sum = 0;
    for (const auto& r : rows) {
      fwd.push_back(r.underlying_price);
      ts_sum += static_cast<double>(r.timestamp_ms);
    }
    s.forward = median(fwd);
    const auto ts_ms = static_cast<std::int64_t>(ts_sum / static_cast<double>(rows.size()));
    s.t_years = core::years_between_ms(ts_ms, expiry_ms);
    for (const auto& r : rows) {
      const bool otm = r.is_call ? r.strike >= s.forward : r.strike < s.forward;
      if (otm && r.mark_iv_pct > 0.0) {
        s.strikes.push_back(r.strike);
        s.ivs.push_back(r.mark_iv_pct / 100.0);
      }
    }
    c.slices.push_back(std::move(s));
  }
  return c;
}

// Deribit JSON capture: per-expiry forward_price and ttm, mark_iv decimal (may be null).
chain_input load_deribit_json(const std::string& rel, const std::string& name) {
  std::ifstream in(test::test_data_path(rel));
  if (!in) throw std::runtime_error("cannot open " + rel);
  const nlohmann::json j = nlohmann::json::parse(in);
  chain_input c{name, {}};
  for (const auto& label : j.at("selected_expiries")) {
    const auto& e = j.at("expiries").at(label.get<std::string>());
    slice_input s;
    s.label = label.get<std::string>();
    s.forward = e.at("forward_price").get<double>();
    s.t_years = e.at("ttm").get<double>();
    for (const auto& o : e.at("options")) {
      if (o.at("mark_iv").is_null()) continue;
      const double k = o.at("strike").get<double>();
      const bool call = o.at("option_type").get<std::string>() == "call";
      if (call ? k >= s.forward : k < s.forward) {
        s.strikes.push_back(k);
        s.ivs.push_back(o.at("mark_iv").get<double>());
      }
    }
    c.slices.push_back(std::move(s));
  }
  return c;
}

// Binance EOH chain: symbol BTC-YYMMDD-K-C|P, expiry 08:00 UTC, `hour` = H is the state at the end
// of hour H (data/raw/SOURCES.md 1b). Forward from put-call parity of the marks: the median of
// K + C - P over the five strikes nearest the one where |C - P| is smallest. OTM marks at the
// price floor are skipped.
constexpr double min_binance_mark_usdt = 10.0;

chain_input load_binance(const std::string& rel, const std::string& name) {
  std::ifstream in(test::test_data_path(rel));
  if (!in) throw std::runtime_error("cannot open " + rel);
  std::string line;
  std::getline(in, line);
  struct quote {
    double call_mark = -1, put_mark = -1, call_iv = 0, put_iv = 0;
  };
  std::map<std::string, std::map<double, quote>> by_expiry;
  std::int64_t ts_ms = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto f = test::split_csv_line(line);
    const std::string& sym = f.at(2);  // BTC-231229-34000-C
    const auto p1 = sym.find('-'), p2 = sym.find('-', p1 + 1), p3 = sym.find('-', p2 + 1);
    const std::string expiry = sym.substr(p1 + 1, p2 - p1 - 1);
    const double strike = std::stod(sym.substr(p2 + 1, p3 - p2 - 1));
    const bool call = sym.substr(p3 + 1) == "C";
    const double mark = std::stod(f.at(18));
    const double iv = f.at(19).empty() ? 0.0 : std::stod(f.at(19));
    quote& q = by_expiry[expiry][strike];
    (call ? q.call_mark : q.put_mark) = mark;
    (call ? q.call_iv : q.put_iv) = iv;
    ts_ms = test::parse_iso_ms(f.at(0) + "T00:00:00") + (std::stoll(f.at(1)) + 1) * 3'600'000;
  }
  chain_input c{name, {}};
  for (const auto& [expiry, quotes] : by_expiry) {
    slice_input s;
    s.label = expiry;
    const std::int64_t expiry_ms =
        test::parse_iso_ms("20" + expiry.substr(0, 2) + "-" + expiry.substr(2, 2) + "-" +
                           expiry.substr(4, 2) + "T08:00:00");
    s.t_years = core::years_between_ms(ts_ms, expiry_ms);
    std::vector<std::pair<double, double>> parity;  // (strike, K + C - P)
    double best_gap = 1e300, best_k = 0;
    for (const auto& [k, q] : quotes) {
      if (q.call_mark > 0 && q.put_mark > 0) {
        parity.emplace_back(k, k + q.call_mark - q.put_mark);
        if (std::abs(q.call_mark - q.put_mark) < best_gap) {
          best_gap = std::abs(q.call_mark - q.put_mark);
          best_k = k;
        }
      }
    }
    if (parity.empty()) {
      s.forward = 0;  // no parity pair: the fit reports invalid_input
    } else {
      std::sort(parity.begin(), parity.end(), [&](const auto& a, const auto& b) {
        return std::abs(a.first - best_k) < std::abs(b.first - best_k);
      });
      std::vector<double> fwd;
      for (std::size_t i = 0; i < std::min<std::size_t>(5, parity.size()); ++i) {
        fwd.push_back(parity[i].second);
      }
      s.forward = median(fwd);
    }
    for (const auto& [k, q] : quotes) {
      const double iv = k < s.forward ? q.put_iv : q.call_iv;
      const double mark = k < s.forward ? q.put_mark : q.call_mark;
      // Binance's tick is 5 USDT: a mark within two ticks is the price floor, and its IV (often
      // a flat 1.0875 on sub-day expiries) says nothing about the smile.
      if (iv > 0.0 && mark >= min_binance_mark_usdt) {
        s.strikes.push_back(k);
        s.ivs.push_back(iv);
      }
    }
    c.slices.push_back(std::move(s));
  }
  return c;
}

std::vector<chain_input> all_chains() {
  return {
      load_deribit_csv("deribit/deribit_btc_chain_2025-10-24T2315Z.csv", "deribit BTC 2025-10-24"),
      load_deribit_csv("deribit/deribit_eth_chain_2025-10-24T2358Z.csv", "deribit ETH 2025-10-24"),
      load_deribit_json("svi/deribit_btc_8expiries_2026-02-07T1839Z.json",
                        "deribit BTC 2026-02-07"),
      load_binance("svi/binance_btc_eoh_2023-10-20_h00.csv", "binance BTC 2023-10-20 01Z"),
      load_binance("svi/binance_btc_eoh_2023-10-21_h12.csv", "binance BTC 2023-10-21 13Z"),
      load_binance("svi/binance_btc_eoh_2023-10-22_h23.csv", "binance BTC 2023-10-23 00Z"),
  };
}

// Independent of the fit: usable distinct strikes and both sides of the forward present.
bool enough_data(const slice_input& s) {
  std::set<double> distinct(s.strikes.begin(), s.strikes.end());
  const bool below =
      std::any_of(s.strikes.begin(), s.strikes.end(), [&](double k) { return k < s.forward; });
  const bool above =
      std::any_of(s.strikes.begin(), s.strikes.end(), [&](double k) { return k > s.forward; });
  return distinct.size() >= 5 && below && above;
}

// Black-76 vega at the mark: the usual weighting, which lets the capped far-wing marks (Deribit
// flattens them, Binance writes placeholders such as 0.775) matter as little as their prices do.
std::vector<double> vega_weights(const slice_input& s) {
  std::vector<double> w;
  for (std::size_t i = 0; i < s.strikes.size(); ++i) {
    w.push_back(
        black76_greeks(s.forward, s.strikes[i], s.t_years, s.ivs[i], option_type::call).vega);
  }
  return w;
}

// Median absolute vol error of the fitted smile, evaluated with the raw SVI formula written here.
double median_abs_error(const slice_input& s, const svi_params& p) {
  std::vector<double> e;
  for (std::size_t i = 0; i < s.strikes.size(); ++i) {
    const double x = std::log(s.strikes[i] / s.forward) - p.m;
    const double w = p.a + p.b * (p.rho * x + std::sqrt(x * x + p.sigma * p.sigma));
    e.push_back(std::abs(std::sqrt(w / s.t_years) - s.ivs[i]));
  }
  return median(e);
}

TEST(svi_real_chains, no_degenerate_fit_on_any_expiry) {
  int n_fit = 0, n_insufficient = 0, n_not_bf = 0;
  std::printf(
      "\nvega-weighted fits of OTM marks (plain, then with outlier rejection); errors in "
      "vol points\n");
  std::printf("%-27s %-11s %8s %10s %3s %-17s %7s %7s %7s %7s %3s %3s %9s\n", "chain", "expiry",
              "t_days", "forward", "n", "status", "rmse_pl", "rmse", "median", "max", "rej", "bf",
              "min_g");
  svi_fit_options robust;
  robust.reject_outliers = true;
  for (const chain_input& c : all_chains()) {
    std::vector<surface_slice> fitted;
    for (const slice_input& s : c.slices) {
      const std::vector<double> weights = vega_weights(s);
      const svi_fit_result plain = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, weights);
      const svi_fit_result r =
          svi_fit(s.t_years, s.forward, s.strikes, s.ivs, weights, nullptr, robust);
      const bool fitted_ok = r.code == status::ok;
      const double med = fitted_ok ? median_abs_error(s, r.params) : 0.0;
      std::printf("%-27s %-11s %8.3f %10.2f %3d %-17s %7.3f %7.3f %7.3f %7.3f %3d %3s %9.3g\n",
                  c.name.c_str(), s.label.c_str(), s.t_years * 365.0, s.forward,
                  static_cast<int>(s.strikes.size()), std::string(to_string(r.code)).c_str(),
                  100 * plain.rmse_vol, 100 * r.rmse_vol, 100 * med, 100 * r.max_abs_error_vol,
                  r.points_rejected, r.butterfly_free ? "yes" : "no", r.min_g);
      if (!enough_data(s)) {
        EXPECT_EQ(plain.code, status::insufficient_data) << c.name << " " << s.label;
      } else {
        // The plain fit, pulled by bad marks, must still be admissible.
        ASSERT_EQ(plain.code, status::ok) << c.name << " " << s.label;
        EXPECT_TRUE(svi_is_admissible(plain.params));
        EXPECT_TRUE(std::isfinite(plain.rmse_vol) && std::isfinite(plain.min_g));
      }
      if (!enough_data(s)) {
        EXPECT_EQ(r.code, status::insufficient_data) << c.name << " " << s.label;
        ++n_insufficient;
        continue;
      }
      ASSERT_EQ(r.code, status::ok) << c.name << " " << s.label;
      ++n_fit;
      EXPECT_TRUE(svi_is_admissible(r.params)) << c.name << " " << s.label;
      EXPECT_TRUE(std::isfinite(r.rmse_vol) && std::isfinite(r.max_abs_error_vol) &&
                  std::isfinite(r.min_g));
      // Half the marks lie within 1.5 vol points of the fit (placeholders and capped wings are
      // outliers, not the bulk); a fit stuck in a wrong basin misses the bulk by far more.
      EXPECT_LT(med, 0.015) << c.name << " " << s.label;
      n_not_bf += r.butterfly_free ? 0 : 1;
      // A warm refit from the cold result reaches the same quality.
      const svi_fit_result warm =
          svi_fit(s.t_years, s.forward, s.strikes, s.ivs, weights, &r.params, robust);
      EXPECT_EQ(warm.code, status::ok);
      EXPECT_LE(warm.rmse_vol, r.rmse_vol + 1e-4) << c.name << " " << s.label;
      fitted.push_back({s.t_years, s.forward, r.params});
    }
    vol_surface surf;
    ASSERT_EQ(surf.build(fitted), status::ok) << c.name;
    // Over the default k range [-1.5, 1.5] (far beyond short expiries' strikes) and near the money.
    const calendar_check_result cal = surf.calendar_check();
    const calendar_check_result cal_near = surf.calendar_check(-0.25, 0.25);
    EXPECT_EQ(cal.code, status::ok);
    EXPECT_EQ(cal_near.code, status::ok);
    std::printf(
        "%-27s calendar_free[-1.5,1.5]=%s worst=%.3g at_k=%.2f slice=%d; "
        "[-0.25,0.25]=%s worst=%.3g slice=%d\n",
        c.name.c_str(), cal.calendar_free ? "yes" : "no", cal.worst_violation, cal.at_k,
        cal.slice_index, cal_near.calendar_free ? "yes" : "no", cal_near.worst_violation,
        cal_near.slice_index);
    for (double days : {7.0, 30.0}) {
      const delta_smile sm = surf.smile_at(days / 365.0);
      EXPECT_EQ(sm.code, status::ok) << c.name << " " << days;
      std::printf(
          "%-27s %3.0fd: atm=%.4f 25p=%.4f 25c=%.4f 10p=%.4f 10c=%.4f rr25=%+.4f bf25=%+.4f%s\n",
          c.name.c_str(), days, sm.atm.vol, sm.put25.vol, sm.call25.vol, sm.put10.vol,
          sm.call10.vol, sm.rr25, sm.bf25, sm.extrapolated ? " (extrapolated)" : "");
    }
  }
  std::printf("fitted=%d insufficient_data=%d not_butterfly_free=%d\n", n_fit, n_insufficient,
              n_not_bf);
  EXPECT_GT(n_fit, 30);
}

}  // namespace
}  // namespace vrp::quant
