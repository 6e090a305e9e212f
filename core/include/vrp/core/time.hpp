#pragma once

#include <chrono>
#include <cstdint>

namespace vrp::core {

// ARCHITECTURE.md §4: crypto trades 24/7, so time to expiry is calendar time on a 365-day year.
inline constexpr std::int64_t ms_per_day = 86'400'000;
inline constexpr std::int64_t ms_per_year = 365 * ms_per_day;
inline constexpr double minutes_per_year = 525'600.0;
inline constexpr double days_per_year = 365.0;

// Year fraction between two Unix-epoch millisecond stamps (negative when `to_ms` is earlier).
constexpr double years_between_ms(std::int64_t from_ms, std::int64_t to_ms) {
  return static_cast<double>(to_ms - from_ms) / static_cast<double>(ms_per_year);
}

// The local wall clock (CLOCK_REALTIME) in nanoseconds since the Unix epoch: the receive time of
// market frames and the clock of the data timeout and the latency measurements.
inline std::int64_t wall_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vrp::core
