// The hot path allocates nothing once every instrument has been seen.

#include <gtest/gtest.h>

#include <vector>

#include "counting_new.hpp"
#include "engine_test_support.hpp"
#include "vrp/engine/engine.hpp"

namespace {

using namespace vrp;
using namespace vrp::test::engine_support;
using core::option_right;

TEST(engine_alloc, on_event_allocates_nothing_in_steady_state) {
  chain ch;
  std::vector<core::instrument_id> ids;
  for (int days : {7, 30}) {
    for (double k = 80'000; k <= 120'000; k += 2'500) {
      ids.push_back(ch.option("BTC", expiry_after(days), k, option_right::call));
      ids.push_back(ch.option("BTC", expiry_after(days), k, option_right::put));
    }
  }
  const auto idx = ch.index("btc_usd", "btc");
  const auto dvol = ch.index("eth_usd", "eth");
  const auto perp = ch.perpetual("BTC-PERPETUAL", "BTC");
  engine::engine_config c;
  c.forecast.background_refit = false;
  engine::engine eng(c, ch.table);
  // First sight of every instrument (allowed to allocate), then one publish.
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, 100'000));
  eng.on_event(core::index_tick{t0_ns, t0_ns, idx, 100'000});
  eng.on_event(core::dvol_tick{t0_ns, t0_ns, dvol, 0.7});
  core::funding_tick f;
  f.ts_ns = t0_ns;
  f.id = perp;
  f.funding_8h = 1e-4;
  eng.on_event(f);
  ASSERT_NE(eng.flush(), nullptr);

  // Steady state: quotes (with prices that need an inversion), index, DVOL and funding ticks,
  // within the same index bar, plus garbage.
  std::vector<core::event> events;
  for (int round = 1; round <= 20; ++round) {
    const std::int64_t ts = t0_ns + round * 1'000 * ms;
    for (auto id : ids) events.emplace_back(smile_quote(ch.table, id, ts, 100'000 + round));
    events.emplace_back(core::index_tick{ts, ts, idx, 100'000.0 + round});
    events.emplace_back(core::dvol_tick{ts, ts, dvol, 0.7});
    f.ts_ns = ts;
    events.emplace_back(f);
    core::option_quote junk;
    junk.id = 99'999;
    junk.ts_ns = ts;
    events.emplace_back(junk);
  }
  const std::uint64_t n = vrp::test::allocations_in([&] {
    for (const auto& e : events) eng.on_event(e);
  });
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(eng.stats().quotes_ignored, 20u);
}

}  // namespace
