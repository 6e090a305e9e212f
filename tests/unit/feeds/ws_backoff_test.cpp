#include <gtest/gtest.h>

#include <vector>

#include "vrp/feeds/backoff.hpp"

namespace vrp::feeds {
namespace {

using ms = std::chrono::milliseconds;

TEST(ws_backoff, backoff_grows_doubles_caps_and_resets) {
  backoff_policy policy(ms{100}, ms{1'000}, 0.0, 7);
  const std::vector<ms> expected{ms{100}, ms{200}, ms{400}, ms{800}, ms{1'000}, ms{1'000}};
  for (const ms want : expected) EXPECT_EQ(policy.next_delay(), want);
  policy.reset();
  EXPECT_EQ(policy.next_delay(), ms{100});
  EXPECT_EQ(policy.next_delay(), ms{200});
}

TEST(ws_backoff, backoff_jitter_stays_within_fraction_and_is_seeded) {
  constexpr double jitter = 0.2;
  backoff_policy a(ms{1'000}, ms{8'000}, jitter, 42);
  backoff_policy b(ms{1'000}, ms{8'000}, jitter, 42);
  backoff_policy other_seed(ms{1'000}, ms{8'000}, jitter, 43);
  double base_ms = 1'000;
  int off_base = 0;
  int differs_from_other_seed = 0;
  for (int i = 0; i < 40; ++i) {
    const ms d = a.next_delay();
    EXPECT_EQ(d, b.next_delay()) << "same seed, same sequence, step " << i;
    if (d != other_seed.next_delay()) ++differs_from_other_seed;
    EXPECT_GE(static_cast<double>(d.count()), base_ms * (1 - jitter) - 1) << "step " << i;
    EXPECT_LE(static_cast<double>(d.count()), base_ms * (1 + jitter)) << "step " << i;
    if (d.count() != static_cast<ms::rep>(base_ms)) ++off_base;
    base_ms = std::min(base_ms * 2, 8'000.0);
  }
  EXPECT_GT(off_base, 30);  // jitter is applied, not just allowed
  EXPECT_GT(differs_from_other_seed, 30);
}

TEST(ws_backoff, backoff_at_least_extends_next_delay) {
  backoff_policy policy(ms{100}, ms{10'000}, 0.0, 1);
  EXPECT_EQ(policy.next_delay(), ms{100});
  policy.at_least(ms{5'000});
  EXPECT_EQ(policy.next_delay(), ms{5'000});  // the rate-limit floor wins over 200
  EXPECT_EQ(policy.next_delay(), ms{400});    // only the next delay; doubling carries on
  policy.at_least(ms{50});                    // a floor below the delay changes nothing
  EXPECT_EQ(policy.next_delay(), ms{800});
}

TEST(ws_backoff, backoff_at_least_survives_reset) {
  // A healthy connection resets the exponent but a pending rate-limit floor still holds.
  backoff_policy policy(ms{100}, ms{10'000}, 0.0, 1);
  policy.next_delay();
  policy.next_delay();
  policy.at_least(ms{3'000});
  policy.reset();
  EXPECT_EQ(policy.next_delay(), ms{3'000});
  EXPECT_EQ(policy.next_delay(), ms{200});
}

}  // namespace
}  // namespace vrp::feeds
