#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "vrp/core/event_ring.hpp"
#include "vrp/core/spsc_ring.hpp"

namespace {

using namespace vrp::core;

TEST(spsc_ring, capacity_rounds_up_to_a_power_of_two) {
  EXPECT_EQ(spsc_ring<int>(0).capacity(), 2U);
  EXPECT_EQ(spsc_ring<int>(5).capacity(), 8U);
  EXPECT_EQ(spsc_ring<int>(1024).capacity(), 1024U);
}

TEST(spsc_ring, keeps_fifo_order_and_reports_full_and_empty) {
  spsc_ring<int> ring(4);
  int out = 0;
  EXPECT_FALSE(ring.try_pop(out));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size_approx(), 4U);
  for (int round = 0; round < 3; ++round) {  // wrap around the slot array several times
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(ring.try_pop(out));
      EXPECT_EQ(out, round * 4 + i);
    }
    EXPECT_FALSE(ring.try_pop(out));
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push((round + 1) * 4 + i));
  }
  int batch[8];
  EXPECT_EQ(ring.pop_batch(batch, 8), 4U);
  EXPECT_EQ(batch[0], 12);
  EXPECT_EQ(batch[3], 15);
}

// Two threads, a million items through a small ring: every item arrives once and in order.
TEST(spsc_ring, transfers_every_item_in_order_between_two_threads) {
  constexpr std::uint64_t n = 1'000'000;
  spsc_ring<std::uint64_t> ring(256);
  ring_doorbell bell;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      while (!ring.try_push(i)) std::this_thread::yield();
      if ((i & 63) == 0) bell.ring();
    }
    bell.ring();
    done.store(true);
    bell.wake();
  });
  std::uint64_t expected = 0;
  std::uint64_t parks = 0;
  while (expected < n) {
    std::uint64_t v = 0;
    if (ring.try_pop(v)) {
      ASSERT_EQ(v, expected);
      ++expected;
    } else if (!done.load()) {
      ++parks;
      bell.park([&] { return ring.size_approx() == 0 && !done.load(); });
    }
  }
  producer.join();
  EXPECT_EQ(expected, n);
  std::uint64_t v = 0;
  EXPECT_FALSE(ring.try_pop(v));
}

option_quote quote(instrument_id id, double mark) {
  option_quote q;
  q.id = id;
  q.mark_price = mark;
  return q;
}

double mark_of(const event& e) {
  return std::get<option_quote>(e).mark_price;
}

TEST(event_ring_producer, passes_events_straight_through_while_there_is_room) {
  spsc_ring<event> ring(8);
  ring_doorbell bell;
  event_ring_producer producer(ring, bell, 16);
  producer.push(quote(1, 10.0));
  producer.push(index_tick{0, 0, 2, 100.0});
  producer.end_batch();
  EXPECT_EQ(producer.stats().enqueued, 2U);
  EXPECT_EQ(producer.stats().conflated, 0U);
  event e;
  ASSERT_TRUE(ring.try_pop(e));
  EXPECT_EQ(mark_of(e), 10.0);
  ASSERT_TRUE(ring.try_pop(e));
  EXPECT_EQ(std::get<index_tick>(e).price, 100.0);
}

TEST(event_ring_producer, conflates_to_the_latest_event_per_instrument_when_full) {
  spsc_ring<event> ring(2);
  ring_doorbell bell;
  event_ring_producer producer(ring, bell, 16);
  producer.push(quote(1, 1.0));
  producer.push(quote(2, 2.0));  // ring now full
  producer.push(quote(3, 3.0));  // pending: 3
  producer.push(quote(4, 4.0));  // pending: 3, 4
  producer.push(quote(3, 3.5));  // overwrites 3
  producer.push(quote(3, 3.75));
  producer.push(trade{0, 0, 5, trade_side::buy, 1.0, 1.0, missing});  // trades cannot wait
  EXPECT_EQ(producer.stats().conflated, 2U);
  EXPECT_EQ(producer.stats().dropped, 1U);
  EXPECT_EQ(producer.stats().pending, 2U);

  std::vector<double> marks;
  event e;
  while (ring.try_pop(e)) marks.push_back(mark_of(e));
  EXPECT_EQ(producer.flush(), 0U);  // room again: pending enters, oldest instrument first
  while (ring.try_pop(e)) marks.push_back(mark_of(e));
  EXPECT_EQ(marks, (std::vector<double>{1.0, 2.0, 3.75, 4.0}));
  EXPECT_EQ(producer.stats().pushed, 7U);
  EXPECT_EQ(producer.stats().enqueued, 4U);
}

TEST(event_ring_producer, keeps_every_chain_event_in_order_and_ahead_of_pending_quotes) {
  spsc_ring<event> ring(2);
  ring_doorbell bell;
  event_ring_producer producer(ring, bell, 16, 4);
  producer.push(quote(1, 1.0));
  producer.push(quote(2, 2.0));
  producer.push(quote(7, 7.0));  // pending
  for (int i = 0; i < 5; ++i) {  // four fit in the chain FIFO, the fifth is dropped
    producer.push(chain_event{i, 0, static_cast<instrument_id>(i), chain_change::listed});
  }
  EXPECT_EQ(producer.stats().dropped, 1U);
  EXPECT_EQ(producer.stats().conflated, 0U);

  std::vector<std::int64_t> chain_ts;
  int quotes = 0;
  event e;
  for (int round = 0; round < 8; ++round) {
    while (ring.try_pop(e)) {
      if (const auto* c = std::get_if<chain_event>(&e)) {
        chain_ts.push_back(c->ts_ns);
      } else {
        ++quotes;
        if (chain_ts.size() < 4) {
          EXPECT_NE(mark_of(e), 7.0) << "pending quote overtook a chain event";
        }
      }
    }
    producer.flush();
  }
  EXPECT_EQ(chain_ts, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(quotes, 3);
}

TEST(event_ring_producer, drops_ids_beyond_its_capacity_instead_of_writing_out_of_bounds) {
  spsc_ring<event> ring(2);
  ring_doorbell bell;
  event_ring_producer producer(ring, bell, 4);
  producer.push(quote(0, 0.0));
  producer.push(quote(1, 1.0));
  producer.push(quote(1'000, 2.0));
  producer.push(quote(no_instrument, 3.0));
  EXPECT_EQ(producer.stats().dropped, 2U);
  EXPECT_EQ(producer.stats().pending, 0U);
}

}  // namespace
