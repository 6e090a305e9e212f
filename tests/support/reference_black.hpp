#pragma once

// Independent long-double Black-76 pricer for tests and benchmarks (not the code under test).

#include <algorithm>
#include <cmath>

namespace vrp::test {

// Independent evaluation of Black-76 in long double (64-bit mantissa): out-of-the-money part by the
// textbook formula, intrinsic added exactly. `cancelling` receives the size of the larger of the
// two cancelling terms: the evaluation's absolute error is a few long-double ulp of it (at most ~6
// of its 19 digits are lost on the grid below, against the 16 of a double under test).
inline long double reference_price(long double f, long double k, long double s, double theta,
                                   long double* cancelling = nullptr) {
  const auto big_n = [](long double z) { return 0.5L * std::erfc(-z / std::sqrt(2.0L)); };
  // Near the money log1p of the exact difference: log(f / k) would carry the ratio's rounding as
  // 1e-19 / |x|. Far from it log1p of a number near -1 would lose digits instead.
  const long double ratio = f / k;
  const long double x = ratio > 0.5L && ratio < 2.0L ? std::log1p((f - k) / k) : std::log(ratio);
  const long double x_otm = -std::fabs(x);
  const long double h = x_otm / s;
  const long double t = s / 2;
  const long double root_fk = std::sqrt(f * k);
  const long double first = std::exp(x_otm / 2) * big_n(h + t);
  const long double b_otm = first - std::exp(-x_otm / 2) * big_n(h - t);
  if (cancelling != nullptr) *cancelling = root_fk * first;
  const long double intrinsic = std::max<long double>(theta * (f - k), 0.0L);
  return intrinsic + root_fk * b_otm;
}

}  // namespace vrp::test
