#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/quant/forward.hpp"

namespace {

using vrp::quant::forward_from_parity;
using vrp::quant::parity_quote;
using vrp::quant::status;

nlohmann::json cboe_case(const std::string& id) {
  std::ifstream in(vrp::test::test_data_path("refdata/cases.json"));
  const auto all = nlohmann::json::parse(in);
  for (const auto& g : all.at("groups")) {
    if (g.at("id") != "vix_cboe_2014_whitepaper") continue;
    for (const auto& c : g.at("cases")) {
      if (c.at("id") == id) return c;
    }
  }
  throw std::runtime_error("case not found: " + id);
}

// Case vix2014_forward_near / _next (tier published, abs 1e-5): F = K* + e^{RT} (C - P). The
// white paper prints only the K* pair (and, near, the K0 pair 1960 from case vix2014_k0_price).
TEST(forward, cboe_whitepaper_forwards) {
  const auto near = cboe_case("vix2014_forward_near");
  const auto k0 = cboe_case("vix2014_k0_price").at("inputs");
  const auto& ni = near.at("inputs");
  const double near_t = 35924.0 / 525600.0;
  const std::vector<parity_quote> near_pairs{
      {1960.0, k0.at("near_K0_call_mid"), k0.at("near_K0_put_mid")},
      {ni.at("K_star"), ni.at("call_mid"), ni.at("put_mid")}};
  const auto fn = forward_from_parity(near_pairs, std::exp(-ni.at("R").get<double>() * near_t));
  ASSERT_EQ(fn.code, status::ok);
  EXPECT_EQ(fn.strike_used, ni.at("K_star").get<double>());
  EXPECT_NEAR(fn.forward, near.at("expected").at("F").get<double>(),
              near.at("tolerance").at("abs").get<double>());

  const auto next = cboe_case("vix2014_forward_next");
  const auto& xi = next.at("inputs");
  const double next_t = 46394.0 / 525600.0;
  const std::vector<parity_quote> next_pairs{
      {xi.at("K_star"), xi.at("call_mid"), xi.at("put_mid")}};
  const auto fx = forward_from_parity(next_pairs, std::exp(-xi.at("R").get<double>() * next_t));
  ASSERT_EQ(fx.code, status::ok);
  EXPECT_EQ(fx.pairs_used, 1);
  EXPECT_NEAR(fx.forward, next.at("expected").at("F").get<double>(),
              next.at("tolerance").at("abs").get<double>());
}

// Board of a known forward: C - P = discount (F - K) exactly (put-call parity), plus a small
// deterministic quote noise of at most 0.02.
std::vector<parity_quote> parity_board(double forward, double discount) {
  std::vector<parity_quote> out;
  const double noise[] = {0.013, -0.007, 0.02, -0.018, 0.004, -0.011, 0.016, -0.002, 0.009};
  int i = 0;
  for (double k = 90.0; k <= 112.5; k += 2.5, ++i) {
    const double put = 2.0 + 0.1 * std::abs(k - forward);
    out.push_back({k, put + discount * (forward - k) + noise[i % 9], put});
  }
  return out;
}

TEST(forward, clean_board_uses_smallest_call_put_gap_like_cboe) {
  const double discount = 0.99;
  const auto board = parity_board(101.3, discount);
  const auto r = forward_from_parity(board, discount);
  ASSERT_EQ(r.code, status::ok);
  // Independent Cboe computation: K* = argmin |C - P|, F = K* + (C - P)/discount.
  const auto best = *std::min_element(board.begin(), board.end(), [](const auto& a, const auto& b) {
    return std::abs(a.call_price - a.put_price) < std::abs(b.call_price - b.put_price);
  });
  EXPECT_EQ(r.strike_used, best.strike);
  EXPECT_DOUBLE_EQ(r.forward, best.strike + (best.call_price - best.put_price) / discount);
  EXPECT_EQ(r.pairs_used, 5);
  EXPECT_NEAR(r.forward, 101.3, 0.02 / discount + 1e-12);
}

TEST(forward, rejects_one_bad_pair_with_smallest_gap) {
  const double discount = 0.99;
  auto board = parity_board(101.3, discount);
  // A stale pair far from the money whose C - P happens to be the smallest on the board: the
  // plain Cboe rule would take F = 90.05.
  for (auto& q : board) {
    if (q.strike == 90.0) q.call_price = q.put_price + 0.001;
  }
  const auto r = forward_from_parity(board, discount);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_NE(r.strike_used, 90.0);
  EXPECT_NEAR(r.forward, 101.3, 0.02 / discount + 1e-12);
}

TEST(forward, result_does_not_depend_on_input_order) {
  auto board = parity_board(101.3, 1.0);
  const auto a = forward_from_parity(board, 1.0);
  std::reverse(board.begin(), board.end());
  const auto b = forward_from_parity(board, 1.0);
  EXPECT_EQ(a.forward, b.forward);
  EXPECT_EQ(a.strike_used, b.strike_used);
}

TEST(forward, skips_unusable_pairs_and_reports_missing_data) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<parity_quote> bad{{100.0, nan, 1.0}, {100.0, -1.0, 1.0}, {0.0, 1.0, 1.0}};
  EXPECT_EQ(forward_from_parity(bad, 1.0).code, status::insufficient_data);
  EXPECT_EQ(forward_from_parity({}, 1.0).code, status::insufficient_data);

  std::vector<parity_quote> mixed = bad;
  mixed.push_back({100.0, 3.0, 2.0});
  const auto r = forward_from_parity(mixed, 1.0);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_DOUBLE_EQ(r.forward, 101.0);
}

TEST(forward, invalid_discount_is_rejected) {
  const std::vector<parity_quote> q{{100.0, 3.0, 2.0}};
  EXPECT_EQ(forward_from_parity(q, 0.0).code, status::invalid_input);
  EXPECT_EQ(forward_from_parity(q, -1.0).code, status::invalid_input);
  EXPECT_EQ(forward_from_parity(q, std::numeric_limits<double>::infinity()).code,
            status::invalid_input);
}

TEST(forward, non_positive_forward_is_degenerate_not_success) {
  // Put far above the call at a low strike: F = 1 + (0 - 5) < 0.
  const std::vector<parity_quote> q{{1.0, 0.0, 5.0}};
  const auto r = forward_from_parity(q, 1.0);
  EXPECT_EQ(r.code, status::degenerate);
  EXPECT_EQ(r.forward, 0.0);
}

}  // namespace
