#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "refdata.hpp"
#include "vrp/quant/model_free.hpp"

namespace {

using vrp::quant::mf_input;
using vrp::quant::mf_quote;
using vrp::quant::mf_result;
using vrp::quant::mf_workspace;
using vrp::quant::model_free_variance;
using vrp::quant::option_type;
using vrp::quant::status;

constexpr option_type put = option_type::put;
constexpr option_type call = option_type::call;

const nlohmann::json& cboe_group() {
  static const nlohmann::json group = vrp::test::load_refdata_group("vix_cboe_2014_whitepaper");
  return group;
}

const nlohmann::json& cboe_case(const std::string& id) {
  for (const auto& c : cboe_group().at("cases")) {
    if (c.at("id") == id) return c;
  }
  throw std::runtime_error("case not found: " + id);
}

struct strip_row {
  double strike;
  std::string type;
  double q;
  double delta_strike;
};

std::vector<strip_row> load_strip(const std::string& term) {
  std::ifstream in(vrp::test::test_data_path("refdata/cboe_vix_example_strip.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<strip_row> out;
  while (std::getline(in, line)) {
    const auto f = vrp::test::split_csv_line(line);
    if (f.size() != 5 || f[0] != term) continue;
    out.push_back({std::stod(f[1]), f[2], std::stod(f[3]), std::stod(f[4])});
  }
  return out;
}

// The white-paper board of one term, as quotes with bid = ask = Q (the strip prints mids and is
// already zero-bid filtered; group conventions). At K0 the strip prints only the average, so the
// put and call mids come from case vix2014_k0_price; near also lists the K* = 1965 put of case
// vix2014_forward_near so that the forward is found by parity, as in the paper.
std::vector<mf_quote> cboe_board(const std::string& term) {
  const auto& k0 = cboe_case("vix2014_k0_price").at("inputs");
  std::vector<mf_quote> out;
  for (const auto& r : load_strip(term)) {
    if (r.type == "put/call average") {
      const double c = k0.at(term + "_K0_call_mid");
      const double p = k0.at(term + "_K0_put_mid");
      out.push_back({r.strike, call, c, c});
      out.push_back({r.strike, put, p, p});
    } else {
      out.push_back({r.strike, r.type == "call" ? call : put, r.q, r.q});
    }
  }
  if (term == "near") {
    const auto& fn = cboe_case("vix2014_forward_near").at("inputs");
    const double p = fn.at("put_mid");
    out.push_back({fn.at("K_star"), put, p, p});
  }
  return out;
}

struct cboe_term {
  double minutes;
  double rate;
  std::vector<mf_quote> quotes;
};

// Minutes and rates of case vix2014_sigma2; T = minutes / 525600 at full precision (case note).
cboe_term cboe_inputs(const std::string& term) {
  const auto& in = cboe_case("vix2014_sigma2").at("inputs").at(term);
  return {in.at("minutes"), in.at("R"), cboe_board(term)};
}

mf_result run_cboe(const std::string& term, mf_workspace& ws) {
  const auto t = cboe_inputs(term);
  return model_free_variance({t.minutes / 525600.0, t.rate, t.quotes, std::nullopt}, ws);
}

const vrp::quant::mf_strip_point* find_point(const mf_workspace& ws, double strike) {
  for (const auto& p : ws.strip()) {
    if (p.strike == strike) return &p;
  }
  return nullptr;
}

// Case vix2014_time (abs 5e-8): T = minutes / 525600 with the paper's minute counts.
TEST(model_free_cboe, time_to_expiry_in_minutes) {
  const auto& c = cboe_case("vix2014_time");
  const double tol = c.at("tolerance").at("abs");
  EXPECT_NEAR(c.at("expected").at("N_T1").get<double>() / 525600.0, c.at("expected").at("T1"), tol);
  EXPECT_NEAR(c.at("expected").at("N_T2").get<double>() / 525600.0, c.at("expected").at("T2"), tol);
}

// Cases vix2014_forward_near/_next (abs 1e-5) and vix2014_K0 (exact): forward by parity inside the
// estimator, K0 = first strike below F.
TEST(model_free_cboe, forwards_and_k0_match_whitepaper) {
  mf_workspace ws;
  for (const std::string term : {"near", "next"}) {
    const auto r = run_cboe(term, ws);
    ASSERT_EQ(r.code, status::ok) << term;
    const auto& fc = cboe_case("vix2014_forward_" + term);
    EXPECT_NEAR(r.forward, fc.at("expected").at("F").get<double>(),
                fc.at("tolerance").at("abs").get<double>())
        << term;
    EXPECT_EQ(r.k0, cboe_case("vix2014_K0").at("expected").at("K0_" + term).get<double>()) << term;
  }
}

// Case vix2014_k0_price (abs 1e-12): Q(K0) is the average of the put and call mids.
TEST(model_free_cboe, k0_price_is_average_of_put_and_call_mids) {
  const auto& c = cboe_case("vix2014_k0_price");
  mf_workspace ws;
  for (const std::string term : {"near", "next"}) {
    ASSERT_EQ(run_cboe(term, ws).code, status::ok);
    const auto* p = find_point(ws, 1960.0);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->is_k0);
    EXPECT_NEAR(p->q, c.at("expected").at("Q_" + term + "_1960").get<double>(),
                c.at("tolerance").at("abs").get<double>());
  }
}

// Case vix2014_single_contribution (abs 5e-11): the 1370 put of the near term.
TEST(model_free_cboe, single_contribution_matches_whitepaper) {
  const auto& c = cboe_case("vix2014_single_contribution");
  const auto& in = c.at("inputs");
  const double expected = c.at("expected").at("contribution");
  const double tol = c.at("tolerance").at("abs");
  EXPECT_NEAR(
      vrp::quant::mf_contribution(in.at("K"), in.at("dK"), in.at("Q"), in.at("R"), in.at("T")),
      expected, tol);
  mf_workspace ws;
  ASSERT_EQ(run_cboe("near", ws).code, status::ok);
  const auto* p = find_point(ws, 1370.0);
  ASSERT_NE(p, nullptr);
  EXPECT_NEAR(p->contribution, expected, tol);
}

// Case vix2014_dK_examples (exact): dK on the surviving strip, and every dK of the printed table.
TEST(model_free_cboe, delta_strike_on_surviving_strip_matches_table) {
  const auto& e = cboe_case("vix2014_dK_examples").at("expected");
  mf_workspace ws;
  for (const std::string term : {"near", "next"}) {
    ASSERT_EQ(run_cboe(term, ws).code, status::ok);
    const auto table = load_strip(term);
    ASSERT_EQ(ws.strip().size(), table.size()) << term;
    for (std::size_t i = 0; i < table.size(); ++i) {
      EXPECT_EQ(ws.strip()[i].strike, table[i].strike) << term;
      EXPECT_EQ(ws.strip()[i].delta_strike, table[i].delta_strike)
          << term << " " << table[i].strike;
    }
  }
  ASSERT_EQ(run_cboe("near", ws).code, status::ok);
  EXPECT_EQ(find_point(ws, 1370.0)->delta_strike, e.at("near_1370_put_dK").get<double>());
  ASSERT_EQ(run_cboe("next", ws).code, status::ok);
  EXPECT_EQ(find_point(ws, 1325.0)->delta_strike, e.at("next_1325_put_dK").get<double>());
}

// Case vix2014_sigma2: scaled sum (abs 5e-7), K0 term (abs 5e-9), sigma^2 (abs 1e-8).
TEST(model_free_cboe, variances_match_whitepaper) {
  const auto& c = cboe_case("vix2014_sigma2");
  const auto& e = c.at("expected");
  const auto& tol = c.at("tolerance");
  mf_workspace ws;
  for (const std::string term : {"near", "next"}) {
    const auto r = run_cboe(term, ws);
    ASSERT_EQ(r.code, status::ok) << term;
    EXPECT_NEAR(r.contribution_sum, e.at(term + "_scaled_sum_2_over_T").get<double>(),
                tol.at("scaled_sum_abs").get<double>())
        << term;
    EXPECT_NEAR(r.k0_term, e.at(term + "_taylor_term").get<double>(),
                tol.at("taylor_abs").get<double>())
        << term;
    EXPECT_NEAR(r.variance, e.at(term + "_sigma2").get<double>(),
                tol.at("sigma2_abs").get<double>())
        << term;
  }
}

// Case vix2014_index: inner sqrt (abs 1e-7) from the printed variances, and the index 13.69
// (abs 0.005) end to end from the two boards.
TEST(model_free_cboe, index_matches_whitepaper) {
  const auto& c = cboe_case("vix2014_index");
  const auto& in = c.at("inputs");
  const auto i = vrp::quant::vix_interpolate(in.at("N_T1"), in.at("sigma2_near"), in.at("N_T2"),
                                             in.at("sigma2_next"), in.at("N_30"));
  ASSERT_EQ(i.code, status::ok);
  EXPECT_NEAR(std::sqrt(i.variance), c.at("expected").at("inner_sqrt").get<double>(),
              c.at("tolerance").at("inner_abs").get<double>());

  const auto near = cboe_inputs("near");
  const auto next = cboe_inputs("next");
  const auto v = vrp::quant::vix({near.minutes, near.rate, near.quotes, std::nullopt},
                                 {next.minutes, next.rate, next.quotes, std::nullopt});
  ASSERT_EQ(v.code, status::ok);
  EXPECT_NEAR(v.index, c.at("expected").at("VIX").get<double>(),
              c.at("tolerance").at("VIX_abs").get<double>());
  EXPECT_NEAR(v.near_variance, cboe_case("vix2014_sigma2").at("expected").at("near_sigma2"), 1e-8);
}

// Constructed board (F = 101 given, R = 0, T = 0.25): K0 = 100.
//   puts : 95 mid 1.1 | 90 zero bid (skipped) | 85 mid 0.5 | 80 zero | 75 zero -> stop | 70 has a
//          bid but lies beyond the stop, so it is excluded.
//   calls: 105 mid 1.6 | 110 zero (skipped) | 115 mid 0.4 | 120 zero | 125 zero -> stop | 130
//          excluded.
//   K0   : put mid 2.1, call mid 2.9 -> Q = 2.5. ITM quotes (call 95, put 105) must be ignored.
// Surviving strip 85, 95, 100, 105, 115; dK = 10, 7.5, 5, 7.5, 10 (one-sided at the ends).
std::vector<mf_quote> zero_bid_board() {
  return {
      {70, put, 0.1, 0.2},   {75, put, 0.0, 0.05},   {80, put, 0.0, 0.05},   {85, put, 0.4, 0.6},
      {90, put, 0.0, 0.1},   {95, put, 1.0, 1.2},    {95, call, 6.9, 7.1},   {100, put, 2.0, 2.2},
      {100, call, 2.8, 3.0}, {105, call, 1.5, 1.7},  {105, put, 5.9, 6.1},   {110, call, 0.0, 0.1},
      {115, call, 0.3, 0.5}, {120, call, 0.0, 0.05}, {125, call, 0.0, 0.05}, {130, call, 0.05, 0.1},
  };
}

double zero_bid_board_variance_by_hand() {
  const double t = 0.25;
  const double sum = 10.0 / (85.0 * 85.0) * 0.5 + 7.5 / (95.0 * 95.0) * 1.1 +
                     5.0 / (100.0 * 100.0) * 2.5 + 7.5 / (105.0 * 105.0) * 1.6 +
                     10.0 / (115.0 * 115.0) * 0.4;
  return 2.0 / t * sum - 1.0 / t * (101.0 / 100.0 - 1.0) * (101.0 / 100.0 - 1.0);
}

TEST(model_free, zero_bid_skip_and_two_zero_bid_stop_rule) {
  const auto board = zero_bid_board();
  mf_workspace ws;
  const auto r = model_free_variance({0.25, 0.0, board, 101.0}, ws);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_EQ(r.k0, 100.0);
  EXPECT_EQ(r.strikes_used, 5);
  const std::vector<double> strikes{85, 95, 100, 105, 115};
  const std::vector<double> delta{10, 7.5, 5, 7.5, 10};
  ASSERT_EQ(ws.strip().size(), strikes.size());
  for (std::size_t i = 0; i < strikes.size(); ++i) {
    EXPECT_EQ(ws.strip()[i].strike, strikes[i]);
    EXPECT_EQ(ws.strip()[i].delta_strike, delta[i]);
  }
  EXPECT_NEAR(r.variance, zero_bid_board_variance_by_hand(), 1e-15);
}

TEST(model_free, unsorted_and_duplicated_quotes_give_the_sorted_result) {
  auto board = zero_bid_board();
  std::reverse(board.begin(), board.end());
  // A wider duplicate of the 95 put must lose to the narrower original.
  board.push_back({95, put, 0.5, 1.9});
  const auto r = model_free_variance({0.25, 0.0, board, 101.0});
  ASSERT_EQ(r.code, status::ok);
  EXPECT_NEAR(r.variance, zero_bid_board_variance_by_hand(), 1e-15);
}

TEST(model_free, reserved_workspace_gives_same_result_as_thread_local) {
  const auto board = zero_bid_board();
  mf_workspace ws(board.size());
  const auto a = model_free_variance({0.25, 0.0, board, 101.0}, ws);
  const auto b = model_free_variance({0.25, 0.0, board, 101.0});
  EXPECT_EQ(a.variance, b.variance);
}

TEST(model_free, invalid_inputs_return_status_without_nan) {
  const auto board = zero_bid_board();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double t : {0.0, -1.0, nan}) {
    const auto r = model_free_variance({t, 0.0, board, 101.0});
    EXPECT_EQ(r.code, status::invalid_input);
    EXPECT_EQ(r.variance, 0.0);
  }
  EXPECT_EQ(model_free_variance({0.25, nan, board, 101.0}).code, status::invalid_input);
  EXPECT_EQ(model_free_variance({0.25, 0.0, board, -5.0}).code, status::invalid_input);
  auto bad = board;
  bad[3].bid = nan;
  EXPECT_EQ(model_free_variance({0.25, 0.0, bad, 101.0}).code, status::invalid_input);
  bad = board;
  bad[3].ask = -0.1;
  EXPECT_EQ(model_free_variance({0.25, 0.0, bad, 101.0}).code, status::invalid_input);
}

TEST(model_free, one_sided_strip_is_insufficient_data) {
  // Every call above K0 has a zero bid: no strike on the call side.
  auto board = zero_bid_board();
  for (auto& q : board) {
    if (q.type == call && q.strike > 100) q.bid = 0.0;
  }
  EXPECT_EQ(model_free_variance({0.25, 0.0, board, 101.0}).code, status::insufficient_data);
  // Forward below every strike: no K0.
  EXPECT_EQ(model_free_variance({0.25, 0.0, zero_bid_board(), 60.0}).code,
            status::insufficient_data);
  // No forward and no parity pair with two-sided quotes.
  const std::vector<mf_quote> lone{{90, put, 1, 1.1}, {110, call, 1, 1.1}};
  EXPECT_EQ(model_free_variance({0.25, 0.0, lone, std::nullopt}).code, status::insufficient_data);
  EXPECT_EQ(model_free_variance({0.25, 0.0, {}, 100.0}).code, status::insufficient_data);
}

TEST(model_free, negative_variance_is_degenerate_not_nan) {
  // F far above K0 with worthless wings: the K0 term (F/K0 - 1)^2 / T dominates.
  const std::vector<mf_quote> board{{50, put, 1e-9, 1e-9},
                                    {100, put, 1e-9, 1e-9},
                                    {100, call, 1e-9, 1e-9},
                                    {200, call, 1e-9, 1e-9}};
  const auto r = model_free_variance({0.25, 0.0, board, 199.0});
  EXPECT_EQ(r.code, status::degenerate);
  EXPECT_EQ(r.variance, 0.0);
  EXPECT_GT(r.k0_term, r.contribution_sum);
}

TEST(model_free, coin_variant_scales_prices_by_forward) {
  // USD = coin x F: the coin board with F = 101 equals the USD board divided by 101.
  auto coin = zero_bid_board();
  for (auto& q : coin) {
    q.bid /= 101.0;
    q.ask /= 101.0;
  }
  const auto r = vrp::quant::model_free_variance_coin(0.25, coin, 101.0);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_NEAR(r.variance, zero_bid_board_variance_by_hand(), 1e-14);
}

TEST(model_free, interpolation_rejects_bad_terms) {
  EXPECT_EQ(vrp::quant::vix_interpolate(100, 0.04, 50, 0.04).code, status::invalid_input);
  EXPECT_EQ(vrp::quant::vix_interpolate(0, 0.04, 50, 0.04).code, status::invalid_input);
  // Flat 0.04 variance interpolates to 0.04 (20 vol) at any target between the terms.
  const auto i = vrp::quant::vix_interpolate(20'000, 0.04, 60'000, 0.04);
  ASSERT_EQ(i.code, status::ok);
  EXPECT_NEAR(i.index, 20.0, 1e-12);
}

}  // namespace
