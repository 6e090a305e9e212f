// One writer thread updating, one thread scraping: the writer never locks, and every scrape must
// show counters that never go backwards and histograms whose buckets are consistent.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "vrp/core/metrics.hpp"

namespace {

using namespace vrp::core;

// Value of the sample line starting with `head` (e.g. "vrp_x_total "), or -1 when absent.
std::int64_t sample_value(const std::string& text, std::string_view head) {
  std::string needle(1, '\n');
  needle.append(head);
  const auto pos = text.find(needle);
  if (pos == std::string::npos) return -1;
  return std::stoll(text.substr(pos + needle.size()));
}

TEST(metrics_concurrency, scraped_counters_are_monotonic_while_a_writer_runs) {
  constexpr std::uint64_t n_events = 200'000;
  metrics_registry reg;
  auto& events = reg.counter("vrp_events_total", "Events.", {{"venue", "deribit"}});
  auto& latency = reg.histogram("vrp_latency_seconds", "Latency.", {0.25, 0.5, 0.75});
  auto& last = reg.gauge("vrp_last_event", "Last event index.");

  std::atomic<bool> scraper_started{false};
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    while (!scraper_started.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::uint64_t i = 1; i <= n_events; ++i) {
      events.inc();
      latency.observe(static_cast<double>(i % 4) * 0.25);  // 0, 0.25, 0.5, 0.75 in turn
      last.set(static_cast<double>(i));
    }
    writer_done.store(true, std::memory_order_release);
  });

  std::int64_t previous_events = 0;
  std::int64_t previous_count = 0;
  int scrapes = 0;
  bool failed = false;
  std::string text;
  while (!failed) {
    const bool done_before_scrape = writer_done.load(std::memory_order_acquire);
    text.clear();
    reg.expose(text);
    scraper_started.store(true, std::memory_order_release);
    ++scrapes;
    const auto ev = sample_value(text, "vrp_events_total{venue=\"deribit\"} ");
    const auto b0 = sample_value(text, "vrp_latency_seconds_bucket{le=\"0.25\"} ");
    const auto b1 = sample_value(text, "vrp_latency_seconds_bucket{le=\"0.5\"} ");
    const auto b2 = sample_value(text, "vrp_latency_seconds_bucket{le=\"0.75\"} ");
    const auto inf = sample_value(text, "vrp_latency_seconds_bucket{le=\"+Inf\"} ");
    const auto count = sample_value(text, "vrp_latency_seconds_count ");
    EXPECT_GE(ev, previous_events);
    EXPECT_LE(ev, static_cast<std::int64_t>(n_events));
    EXPECT_LE(b0, b1);
    EXPECT_LE(b1, b2);
    EXPECT_LE(b2, inf);
    EXPECT_EQ(inf, count);
    EXPECT_GE(count, previous_count);
    failed = ::testing::Test::HasFailure();
    previous_events = ev;
    previous_count = count;
    if (done_before_scrape) break;
  }
  writer.join();
  ASSERT_FALSE(failed) << "after " << scrapes << " scrapes";
  // The last scrape started after the writer finished, so it sees every update.
  EXPECT_EQ(previous_events, static_cast<std::int64_t>(n_events));
  EXPECT_EQ(previous_count, static_cast<std::int64_t>(n_events));
  EXPECT_TRUE(text.find("\nvrp_last_event 200000\n") != std::string::npos);
  EXPECT_TRUE(text.find("\nvrp_latency_seconds_sum 75000\n") != std::string::npos)
      << text;  // 50,000 rounds of 0 + 0.25 + 0.5 + 0.75, every partial sum exact
}

}  // namespace
