#pragma once

// Reconnect delay policy, pure (no clock, no I/O) so it can be tested deterministically.
// Exponential: initial, 2x, 4x, ... capped at max; each delay is jittered by +- `jitter` of itself
// so that many clients dropped at once do not reconnect in lockstep. `at_least(d)` raises the next
// delay only (a venue's rate-limit answer); `reset()` returns to the initial delay after a healthy
// connection.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace vrp::feeds {

class backoff_policy {
 public:
  using ms = std::chrono::milliseconds;

  backoff_policy(ms initial, ms max, double jitter, std::uint64_t seed)
      : initial_(std::max(initial, ms{1})),
        max_(std::max(max, initial_)),
        jitter_(std::clamp(jitter, 0.0, 1.0)),
        base_(initial_),
        rng_state_(seed) {}

  // The delay before the next attempt; advances the exponential step.
  ms next_delay() {
    const double u = 2.0 * next_unit() - 1.0;  // uniform in [-1, 1)
    const double jittered_ms = static_cast<double>(base_.count()) * (1.0 + jitter_ * u);
    ms delay{static_cast<ms::rep>(std::max(0.0, jittered_ms))};
    delay = std::max(delay, floor_);
    floor_ = ms{0};
    base_ = std::min(base_ * 2, max_);
    return delay;
  }

  void reset() { base_ = initial_; }
  void at_least(ms delay) { floor_ = std::max(floor_, delay); }

  // The un-jittered delay the next call will be based on.
  ms current_base() const { return base_; }
  ms pending_floor() const { return floor_; }

 private:
  // splitmix64 (Steele, Lea, Flood 2014): a fixed, portable sequence for a given seed, unlike
  // std::uniform_real_distribution whose output is implementation-defined.
  double next_unit() {
    std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    z ^= z >> 31U;
    return static_cast<double>(z >> 11U) * 0x1.0p-53;  // 53 random bits -> [0, 1)
  }

  ms initial_;
  ms max_;
  double jitter_;
  ms base_;
  ms floor_{0};
  std::uint64_t rng_state_;
};

}  // namespace vrp::feeds
