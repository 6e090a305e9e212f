#include "vrp/quant/forward.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace vrp::quant {

namespace {

struct candidate {
  double abs_diff = 0.0;  // |C - P|
  double strike = 0.0;
  double forward = 0.0;
};

bool usable(const parity_quote& q) {
  return std::isfinite(q.strike) && std::isfinite(q.call_price) && std::isfinite(q.put_price) &&
         q.strike > 0.0 && q.call_price >= 0.0 && q.put_price >= 0.0;
}

double median_of(std::array<double, parity_vote_pairs> xs, int n) {
  // Insertion sort: at most five values (std::sort trips a GCC 12 -Warray-bounds false positive).
  for (int i = 1; i < n; ++i) {
    const double x = xs[i];
    int j = i;
    for (; j > 0 && xs[j - 1] > x; --j) xs[j] = xs[j - 1];
    xs[j] = x;
  }
  return n % 2 == 1 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

}  // namespace

forward_result forward_from_parity(std::span<const parity_quote> quotes, double discount) {
  forward_result out;
  if (!std::isfinite(discount) || discount <= 0.0) {
    out.code = status::invalid_input;
    return out;
  }
  // Keep the pairs with the smallest |C - P| in a fixed array, ascending: no allocation.
  std::array<candidate, parity_vote_pairs> best{};
  int n = 0;
  for (const auto& q : quotes) {
    if (!usable(q)) continue;
    const double d = q.call_price - q.put_price;
    // Cboe white paper step 1: F = K* + e^{RT} (C - P); e^{RT} = 1 / discount.
    const candidate c{std::abs(d), q.strike, q.strike + d / discount};
    if (n == parity_vote_pairs && !(c.abs_diff < best[n - 1].abs_diff)) continue;
    int pos = std::min(n, parity_vote_pairs - 1);
    // Strict comparison keeps the first-listed pair first among equal |C - P|.
    while (pos > 0 && c.abs_diff < best[pos - 1].abs_diff) {
      best[pos] = best[pos - 1];
      --pos;
    }
    best[pos] = c;
    n = std::min(n + 1, parity_vote_pairs);
  }
  if (n == 0) {
    out.code = status::insufficient_data;
    return out;
  }

  int chosen = 0;
  out.pairs_used = 1;
  if (n >= 3) {
    std::array<double, parity_vote_pairs> fwd{};
    std::array<double, parity_vote_pairs> dev{};
    for (int i = 0; i < n; ++i) fwd[i] = best[i].forward;
    const double m = median_of(fwd, n);
    for (int i = 0; i < n; ++i) dev[i] = std::abs(best[i].forward - m);
    // 1.4826 MAD estimates a normal standard deviation (Rousseeuw & Croux 1993); the 0.1% floor
    // keeps a near-money pair whose noise is small but not zero from being called an outlier.
    const double tol = std::max(3.0 * 1.4826 * median_of(dev, n), 1e-3 * std::abs(m));
    chosen = -1;
    for (int i = 0; i < n && chosen < 0; ++i) {
      if (dev[i] <= tol) chosen = i;
    }
    if (chosen < 0) {
      chosen = static_cast<int>(std::min_element(dev.begin(), dev.begin() + n) - dev.begin());
    }
    out.pairs_used = n;
  }
  out.forward = best[chosen].forward;
  out.strike_used = best[chosen].strike;
  if (!(out.forward > 0.0) || !std::isfinite(out.forward)) {
    out.forward = 0.0;
    out.code = status::degenerate;
  }
  return out;
}

}  // namespace vrp::quant
