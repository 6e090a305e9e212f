// In-memory premium history behind GET /v1/history: sampling on event time, bounded rings, range
// queries, and its JSON body.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "vrp/engine/snapshot.hpp"
#include "vrp/service/premium_history.hpp"

namespace {

using vrp::engine::tenor_row;
using vrp::engine::underlying_snapshot;
using vrp::service::history_point;
using vrp::service::premium_history;

constexpr std::int64_t t0_ns = 1761347700000000000;  // 2025-10-24 23:15:00 UTC
constexpr std::int64_t ms = 1'000'000;

// A row whose values encode (days, ts) so that each point can be recognised after a query.
tenor_row row(int days, std::int64_t ts_ns, bool available = true) {
  tenor_row r;
  r.days = days;
  r.available = available;
  r.reason = available ? "" : "no_surface";
  const double x = static_cast<double>(ts_ns - t0_ns) / 1e9;
  r.atm_iv = 0.4 + days * 1e-3 + x * 1e-6;
  r.mfiv = r.atm_iv + 0.01;
  r.rv_forecast = 0.3;
  r.premium_vol = r.atm_iv - r.rv_forecast;
  r.premium_var = r.mfiv * r.mfiv - r.rv_forecast * r.rv_forecast;
  r.rr25 = -0.02;
  r.bf25 = 0.005;
  return r;
}

underlying_snapshot snap(const std::string& name, std::int64_t ts_ns, std::vector<tenor_row> rows) {
  underlying_snapshot u;
  u.underlying = name;
  u.ts_ns = ts_ns;
  u.tenors = std::move(rows);
  return u;
}

underlying_snapshot grid(const std::string& name, std::int64_t ts_ns) {
  return snap(name, ts_ns, {row(7, ts_ns), row(30, ts_ns)});
}

TEST(premium_history, records_one_point_per_available_configured_tenor) {
  premium_history h({"BTC", "ETH"}, {7, 30}, 100, 1000);
  // Tenor 90 is not configured, tenor 7 is unavailable: only 30 is stored.
  const auto u = snap("BTC", t0_ns, {row(7, t0_ns, false), row(30, t0_ns), row(90, t0_ns)});
  EXPECT_EQ(h.record(u), 1u);
  EXPECT_EQ(h.size("BTC", 30), 1u);
  EXPECT_EQ(h.size("BTC", 7), 0u);
  EXPECT_EQ(h.size("BTC", 90), 0u);
  EXPECT_EQ(h.size("ETH", 30), 0u);
  EXPECT_EQ(h.record(grid("SOL", t0_ns)), 0u);  // underlying not configured

  const auto pts = h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 10);
  ASSERT_EQ(pts.size(), 1u);
  const tenor_row& r = u.tenors[1];
  EXPECT_EQ(pts[0].ts_ms, t0_ns / ms);
  EXPECT_EQ(pts[0].atm_iv, r.atm_iv);
  EXPECT_EQ(pts[0].mfiv, r.mfiv);
  EXPECT_EQ(pts[0].rv_forecast, r.rv_forecast);
  EXPECT_EQ(pts[0].premium_vol, r.premium_vol);
  EXPECT_EQ(pts[0].premium_var, r.premium_var);
  EXPECT_EQ(pts[0].rr25, r.rr25);
  EXPECT_EQ(pts[0].bf25, r.bf25);
}

TEST(premium_history, appends_only_after_the_minimum_event_time_interval) {
  premium_history h({"BTC"}, {7, 30}, 100, 1000);
  EXPECT_EQ(h.record(grid("BTC", t0_ns)), 2u);
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 500 * ms)), 0u);
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 999 * ms + 999'999)), 0u);  // 1 ns short
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 1000 * ms)), 2u);           // exactly the interval
  // The interval counts from the last stored point, not from the last refused snapshot.
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 1900 * ms)), 0u);
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 2000 * ms)), 2u);
  EXPECT_EQ(h.size("BTC", 7), 3u);
  EXPECT_EQ(h.size("BTC", 30), 3u);
}

TEST(premium_history, interval_is_kept_per_series) {
  premium_history h({"BTC", "ETH"}, {7, 30}, 100, 1000);
  // Tenor 7 is unavailable at t0, so its first point comes 500 ms later while 30 waits.
  EXPECT_EQ(h.record(snap("BTC", t0_ns, {row(7, t0_ns, false), row(30, t0_ns)})), 1u);
  EXPECT_EQ(h.record(grid("BTC", t0_ns + 500 * ms)), 1u);
  EXPECT_EQ(h.size("BTC", 7), 1u);
  EXPECT_EQ(h.size("BTC", 30), 1u);
  EXPECT_EQ(h.query("BTC", 7, 0, std::numeric_limits<std::int64_t>::max(), 10)[0].ts_ms,
            t0_ns / ms + 500);
  // Another underlying has its own clock.
  EXPECT_EQ(h.record(grid("ETH", t0_ns + 600 * ms)), 2u);
}

TEST(premium_history, event_time_going_backwards_is_refused) {
  premium_history h({"BTC"}, {30}, 100, 0);
  EXPECT_EQ(h.record(grid("BTC", t0_ns)), 1u);
  EXPECT_EQ(h.record(grid("BTC", t0_ns)), 1u);  // interval 0: same time is accepted
  EXPECT_EQ(h.record(grid("BTC", t0_ns - 1)), 0u);
  EXPECT_EQ(h.size("BTC", 30), 2u);
}

TEST(premium_history, full_ring_drops_the_oldest_points) {
  premium_history h({"BTC"}, {30}, 3, 1000);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.record(grid("BTC", t0_ns + i * 1000 * ms)), 1u);
  EXPECT_EQ(h.size("BTC", 30), 3u);
  const auto pts = h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 100);
  ASSERT_EQ(pts.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::int64_t ts_ns = t0_ns + (i + 2) * 1000 * ms;
    EXPECT_EQ(pts[i].ts_ms, ts_ns / ms);
    EXPECT_EQ(pts[i].atm_iv, row(30, ts_ns).atm_iv);
  }
  // Wrapping many times keeps the order.
  for (int i = 5; i < 23; ++i) h.record(grid("BTC", t0_ns + i * 1000 * ms));
  const auto later = h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 100);
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].ts_ms, t0_ns / ms + 20'000);
  EXPECT_EQ(later[1].ts_ms, t0_ns / ms + 21'000);
  EXPECT_EQ(later[2].ts_ms, t0_ns / ms + 22'000);
}

TEST(premium_history, zero_capacity_stores_nothing) {
  premium_history h({"BTC"}, {30}, 0, 1000);
  EXPECT_EQ(h.record(grid("BTC", t0_ns)), 0u);
  EXPECT_EQ(h.size("BTC", 30), 0u);
  bool known = false;
  EXPECT_TRUE(h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 10, &known).empty());
  EXPECT_TRUE(known);
}

class premium_history_query : public ::testing::Test {
 protected:
  // Points at base, base+1s, ..., base+9s (ms).
  void SetUp() override {
    for (int i = 0; i < 10; ++i) h_.record(grid("BTC", t0_ns + i * 1000 * ms));
  }
  std::vector<std::int64_t> offsets(std::int64_t from, std::int64_t to, std::size_t limit) const {
    std::vector<std::int64_t> out;
    for (const auto& p : h_.query("BTC", 30, base + from, base + to, limit))
      out.push_back(p.ts_ms - base);
    return out;
  }
  static constexpr std::int64_t base = t0_ns / ms;
  premium_history h_{{"BTC"}, {7, 30}, 100, 1000};
};

TEST_F(premium_history_query, range_bounds_are_inclusive) {
  EXPECT_EQ(offsets(2000, 5000, 100), (std::vector<std::int64_t>{2000, 3000, 4000, 5000}));
  EXPECT_EQ(offsets(1999, 5001, 100), (std::vector<std::int64_t>{2000, 3000, 4000, 5000}));
  EXPECT_EQ(offsets(2001, 2999, 100), (std::vector<std::int64_t>{}));
  EXPECT_EQ(offsets(9000, 9000, 100), (std::vector<std::int64_t>{9000}));
  EXPECT_EQ(offsets(-5000, 0, 100), (std::vector<std::int64_t>{0}));
  EXPECT_EQ(offsets(9001, 20000, 100), (std::vector<std::int64_t>{}));
  EXPECT_EQ(offsets(5000, 2000, 100), (std::vector<std::int64_t>{}));  // from after to
}

TEST_F(premium_history_query, limit_keeps_the_newest_points_oldest_first) {
  EXPECT_EQ(offsets(0, 9000, 3), (std::vector<std::int64_t>{7000, 8000, 9000}));
  EXPECT_EQ(offsets(1000, 4000, 2), (std::vector<std::int64_t>{3000, 4000}));
  EXPECT_EQ(offsets(0, 9000, 10).size(), 10u);
  EXPECT_EQ(offsets(0, 9000, 0), (std::vector<std::int64_t>{}));
}

TEST_F(premium_history_query, unknown_series_is_empty_and_reported) {
  bool known = true;
  EXPECT_TRUE(h_.query("ETH", 30, 0, std::numeric_limits<std::int64_t>::max(), 10, &known).empty());
  EXPECT_FALSE(known);
  known = true;
  EXPECT_TRUE(h_.query("BTC", 14, 0, std::numeric_limits<std::int64_t>::max(), 10, &known).empty());
  EXPECT_FALSE(known);
  known = false;
  EXPECT_EQ(h_.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 10, &known).size(),
            10u);
  EXPECT_TRUE(known);
  EXPECT_EQ(h_.size("ETH", 30), 0u);
  // Names are matched exactly.
  EXPECT_TRUE(h_.query("btc", 30, 0, std::numeric_limits<std::int64_t>::max(), 10).empty());
}

TEST(premium_history, concurrent_record_and_query_stay_consistent) {
  constexpr std::size_t capacity = 64;
  constexpr int snapshots = 3000;
  premium_history h({"BTC"}, {7, 30}, capacity, 1);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const auto pts = h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 1000);
      if (pts.size() > capacity) bad.fetch_add(1);
      for (std::size_t i = 1; i < pts.size(); ++i)
        if (pts[i].ts_ms != pts[i - 1].ts_ms + 1) bad.fetch_add(1);  // one point per ms, no gaps
      for (const auto& p : pts)
        if (p.atm_iv != row(30, t0_ns + (p.ts_ms - t0_ns / ms) * ms).atm_iv) bad.fetch_add(1);
      if (h.size("BTC", 7) > capacity) bad.fetch_add(1);
    }
  });
  std::size_t appended = 0;
  for (int i = 0; i < snapshots; ++i) appended += h.record(grid("BTC", t0_ns + i * ms));
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(appended, 2u * snapshots);
  EXPECT_EQ(h.size("BTC", 30), capacity);
  const auto pts = h.query("BTC", 30, 0, std::numeric_limits<std::int64_t>::max(), 1000);
  ASSERT_EQ(pts.size(), capacity);
  EXPECT_EQ(pts.back().ts_ms, t0_ns / ms + snapshots - 1);
}

TEST(premium_history, render_history_round_trips_points) {
  const std::vector<history_point> pts = {
      {1761347700000, 0.41234567890123456, 0.45678901234567891, 0.33333333333333331,
       0.41234567890123456 - 0.33333333333333331, 0.1, -0.020000000000000001, 0.005},
      {1761347701000, std::nan(""), 0.4, 0.3, std::nan(""), 0.07, 1e-300, 0.0}};
  std::string out = "prefix:";
  vrp::service::render_history("BTC", 30, pts, out);
  ASSERT_EQ(out.rfind("prefix:", 0), 0u);
  const auto j = nlohmann::json::parse(out.substr(7));
  EXPECT_EQ(j.at("underlying").get<std::string>(), "BTC");
  EXPECT_EQ(j.at("tenor").get<int>(), 30);
  ASSERT_EQ(j.at("points").size(), 2u);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const auto& p = j.at("points")[i];
    EXPECT_EQ(p.size(), 8u);
    EXPECT_EQ(p.at("ts").get<std::int64_t>(), pts[i].ts_ms);
    const auto num = [&](const char* k, double v) {
      SCOPED_TRACE(k);
      if (std::isnan(v)) {
        EXPECT_TRUE(p.at(k).is_null());
      } else {
        EXPECT_EQ(p.at(k).get<double>(), v);
      }
    };
    num("atm_iv", pts[i].atm_iv);
    num("mfiv", pts[i].mfiv);
    num("rv_forecast", pts[i].rv_forecast);
    num("premium_vol", pts[i].premium_vol);
    num("premium_var", pts[i].premium_var);
    num("rr25", pts[i].rr25);
    num("bf25", pts[i].bf25);
  }

  std::string empty;
  vrp::service::render_history("ETH", 7, {}, empty);
  EXPECT_EQ(empty, R"({"underlying":"ETH","tenor":7,"points":[]})");
}

}  // namespace
