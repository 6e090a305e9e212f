#pragma once

// The producer side of a feed's event ring, with conflation (ARCHITECTURE.md §1): when the ring is
// full the feed never blocks its I/O thread. Each instrument keeps at most one pending event, the
// latest (a newer quote overwrites an older one: counted as conflated); pending events enter the
// ring, oldest first, as soon as the consumer makes room. Trades cannot be conflated and are
// dropped (counted) while the ring is full; chain events (listings, expiries, feed state) are
// never conflated: they wait in their own bounded FIFO and enter the ring first.
// Everything is allocated at construction; push() allocates nothing.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>

#include "vrp/core/events.hpp"
#include "vrp/core/spsc_ring.hpp"

namespace vrp::core {

struct event_ring_stats {
  std::uint64_t pushed = 0;     // events offered by the codec
  std::uint64_t enqueued = 0;   // events that entered the ring (directly or from pending)
  std::uint64_t conflated = 0;  // pending events overwritten by a newer one for the instrument
  std::uint64_t dropped = 0;    // trades while full, ids beyond capacity, chain FIFO overflow
  std::uint64_t pending = 0;    // events waiting for room now
  std::uint64_t max_depth = 0;  // largest ring depth seen by the producer
};

class event_ring_producer final : public event_sink {
 public:
  // `max_instruments` bounds the ids that can be conflated (the instrument table's capacity).
  // `chain_capacity` bounds the chain events (listings, expiries, feed state) held while full.
  event_ring_producer(spsc_ring<event>& ring, ring_doorbell& bell, std::size_t max_instruments,
                      std::size_t chain_capacity = 4'096)
      : ring_(ring),
        bell_(bell),
        max_instruments_(max_instruments),
        pending_(std::make_unique<event[]>(max_instruments)),
        is_pending_(std::make_unique<bool[]>(max_instruments)),
        order_(std::make_unique<instrument_id[]>(max_instruments)),
        chain_capacity_(chain_capacity),
        chain_(std::make_unique<event[]>(chain_capacity)) {}

  void push(const event& e) override {
    ++stats_.pushed;
    if (pending_count_ + chain_count_ > 0) flush();
    if (pending_count_ + chain_count_ == 0 && ring_.try_push(e)) {
      ++stats_.enqueued;
      return;
    }
    hold(e);
  }

  // Moves pending events into the ring while it has room; returns how many are still pending.
  // Call after each frame and when the I/O thread is idle.
  std::size_t flush() {
    while (chain_count_ > 0 && ring_.try_push(chain_[chain_head_])) {
      chain_head_ = (chain_head_ + 1) % chain_capacity_;
      --chain_count_;
      ++stats_.enqueued;
    }
    while (pending_count_ > 0) {
      const instrument_id id = order_[order_head_];
      if (!ring_.try_push(pending_[id])) break;
      is_pending_[id] = false;
      order_head_ = (order_head_ + 1) % max_instruments_;
      --pending_count_;
      ++stats_.enqueued;
    }
    stats_.pending = pending_count_ + chain_count_;
    return static_cast<std::size_t>(stats_.pending);
  }

  // After a batch of pushes (one frame): note the depth and wake a parked consumer.
  void end_batch() {
    const std::size_t depth = ring_.size_approx();
    if (depth > stats_.max_depth) stats_.max_depth = depth;
    bell_.ring();
  }

  const event_ring_stats& stats() const { return stats_; }

 private:
  void hold(const event& e) {
    if (std::holds_alternative<trade>(e)) {
      ++stats_.dropped;
      return;
    }
    const instrument_id id = event_instrument(e);
    if (std::holds_alternative<chain_event>(e)) {
      if (chain_count_ == chain_capacity_) {
        ++stats_.dropped;
        return;
      }
      chain_[(chain_head_ + chain_count_) % chain_capacity_] = e;
      ++chain_count_;
    } else if (id >= max_instruments_) {
      ++stats_.dropped;
      return;
    } else if (is_pending_[id]) {
      pending_[id] = e;
      ++stats_.conflated;
    } else {
      pending_[id] = e;
      is_pending_[id] = true;
      order_[(order_head_ + pending_count_) % max_instruments_] = id;
      ++pending_count_;
    }
    stats_.pending = pending_count_ + chain_count_;
  }

  spsc_ring<event>& ring_;
  ring_doorbell& bell_;
  std::size_t max_instruments_;
  std::unique_ptr<event[]> pending_;
  std::unique_ptr<bool[]> is_pending_;
  std::unique_ptr<instrument_id[]> order_;  // FIFO of pending ids
  std::size_t order_head_ = 0;
  std::size_t pending_count_ = 0;
  std::size_t chain_capacity_;
  std::unique_ptr<event[]> chain_;  // FIFO of chain events: never conflated
  std::size_t chain_head_ = 0;
  std::size_t chain_count_ = 0;
  event_ring_stats stats_;
};

}  // namespace vrp::core
