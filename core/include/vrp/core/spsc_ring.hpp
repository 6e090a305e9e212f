#pragma once

// Bounded single-producer/single-consumer ring (ARCHITECTURE.md §1): one per feed session, from the
// I/O thread to the engine thread. Layout after rigtorp/SPSCQueue's idea: the two indices live on
// their own cache lines and each side keeps a cached copy of the other side's index, so a push or
// pop touches the shared line only when the cached view says the ring is full or empty.
// Indices grow without wrapping (64-bit) and are masked into a power-of-two slot array.
//
// ring_doorbell lets the consumer park when the ring stays empty (2 cores: a spinning consumer
// starves the I/O thread) and lets the producer wake it with one relaxed load when nobody sleeps.

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace vrp::core {

inline constexpr std::size_t cache_line = 64;

template <class T>
class spsc_ring {
  static_assert(std::is_trivially_copyable_v<T>, "ring slots are copied bytewise");

 public:
  // Capacity is rounded up to a power of two (at least 2).
  explicit spsc_ring(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1),
        slots_(std::make_unique<T[]>(mask_ + 1)) {}
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  // Producer only. False when the ring is full.
  bool try_push(const T& value) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ > mask_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ > mask_) return false;
    }
    slots_[head & mask_] = value;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False when the ring is empty.
  bool try_pop(T& out) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_cache_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail == head_cache_) return false;
    }
    out = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only: pops up to `max` items into `out`, returns how many (one acquire per batch).
  std::size_t pop_batch(T* out, std::size_t max) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    head_cache_ = head_.load(std::memory_order_acquire);
    std::size_t n = static_cast<std::size_t>(head_cache_ - tail);
    if (n > max) n = max;
    for (std::size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  // Any thread; exact only when both sides are idle.
  std::size_t size_approx() const {
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    return head >= tail ? static_cast<std::size_t>(head - tail) : 0;
  }
  std::size_t capacity() const { return mask_ + 1; }

 private:
  const std::uint64_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(cache_line) std::atomic<std::uint64_t> head_{0};  // written by the producer
  std::uint64_t tail_cache_ = 0;                            // producer's view of tail_
  alignas(cache_line) std::atomic<std::uint64_t> tail_{0};  // written by the consumer
  std::uint64_t head_cache_ = 0;                            // consumer's view of head_
  alignas(cache_line) char pad_[cache_line] = {};
};

// Park/wake between one producer and one consumer. The consumer calls park(is_empty) after it
// found nothing for a while; the producer calls ring() after it pushed. The Dekker-style pair
// (sleeping_ store then re-check in the consumer; data store then sleeping_
// load in the producer, each behind a seq_cst fence) guarantees that a push is never missed by a
// parked consumer.
class ring_doorbell {
 public:
  // Consumer. `still_empty` is re-checked after announcing the sleep; returns after a ring() or a
  // spurious wake-up (shutdown uses wake()).
  template <class Pred>
  void park(Pred still_empty) {
    const std::uint32_t seen = seq_.load(std::memory_order_acquire);
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (still_empty()) seq_.wait(seen, std::memory_order_acquire);
    sleeping_.store(false, std::memory_order_relaxed);
  }

  // Producer, once per batch of pushes (per frame). A fence and a load when nobody sleeps.
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed)) {
      seq_.fetch_add(1, std::memory_order_release);
      seq_.notify_one();
    }
  }

  // Wakes the consumer unconditionally (shutdown).
  void wake() {
    seq_.fetch_add(1, std::memory_order_release);
    seq_.notify_all();
  }

 private:
  alignas(cache_line) std::atomic<bool> sleeping_{false};
  std::atomic<std::uint32_t> seq_{0};
};

}  // namespace vrp::core
