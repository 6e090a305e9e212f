#include "vrp/service/premium_history.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace vrp::service {
namespace {

std::int64_t floor_ms(std::int64_t ts_ns) {
  std::int64_t q = ts_ns / 1'000'000;
  if (ts_ns % 1'000'000 < 0) --q;
  return q;
}

}  // namespace

premium_history::premium_history(std::vector<std::string> underlyings, std::vector<int> tenor_days,
                                 std::size_t capacity_per_series, std::int64_t min_interval_ms)
    : capacity_(capacity_per_series),
      min_interval_ns_(
          std::clamp<std::int64_t>(min_interval_ms, 0,
                                   std::numeric_limits<std::int64_t>::max() / 1'000'000) *
          1'000'000) {
  for (auto& name : underlyings) {
    for (const int days : tenor_days) {
      if (find(name, days) != nullptr) continue;  // duplicates in the configuration
      series s;
      s.underlying = name;
      s.tenor_days = days;
      series_.push_back(std::move(s));
    }
  }
}

premium_history::series* premium_history::find(std::string_view underlying, int tenor_days) {
  for (auto& s : series_)
    if (s.tenor_days == tenor_days && s.underlying == underlying) return &s;
  return nullptr;
}

const premium_history::series* premium_history::find(std::string_view underlying,
                                                     int tenor_days) const {
  return const_cast<premium_history*>(this)->find(underlying, tenor_days);
}

std::size_t premium_history::record(const engine::underlying_snapshot& u) {
  if (capacity_ == 0) return 0;
  const std::int64_t ts_ms = floor_ms(u.ts_ns);
  std::size_t appended = 0;
  std::lock_guard lock(mutex_);
  for (const auto& row : u.tenors) {
    if (!row.available) continue;
    series* s = find(u.underlying, row.days);
    if (s == nullptr) continue;
    // Event time, not wall time, so a replay at any speed samples the same points. Time going
    // backwards is refused too, which keeps every series sorted for the binary search in query.
    if (s->has_last && u.ts_ns - s->last_ts_ns < min_interval_ns_) continue;
    const history_point p{ts_ms,           row.atm_iv,      row.mfiv, row.rv_forecast,
                          row.premium_vol, row.premium_var, row.rr25, row.bf25};
    if (s->ring.size() < capacity_) {
      s->ring.push_back(p);
    } else {
      s->ring[s->head] = p;  // overwrite the oldest
      s->head = (s->head + 1) % capacity_;
    }
    s->last_ts_ns = u.ts_ns;
    s->has_last = true;
    ++appended;
    if (sink_) sink_(s->underlying, s->tenor_days, p);
  }
  return appended;
}

std::vector<history_point> premium_history::query(std::string_view underlying, int tenor_days,
                                                  std::int64_t from_ms, std::int64_t to_ms,
                                                  std::size_t limit, bool* known) const {
  std::vector<history_point> result;
  std::lock_guard lock(mutex_);
  const series* s = find(underlying, tenor_days);
  if (known != nullptr) *known = s != nullptr;
  if (s == nullptr || from_ms > to_ms || limit == 0) return result;

  const std::size_t n = s->ring.size();
  const auto at = [s, n](std::size_t i) -> const history_point& {
    return s->ring[(s->head + i) % n];
  };
  // Logical indices [first, last) of the points inside [from_ms, to_ms]; the ring is sorted.
  std::size_t lo = 0, hi = n;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (at(mid).ts_ms < from_ms)
      lo = mid + 1;
    else
      hi = mid;
  }
  const std::size_t first = lo;
  hi = n;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (at(mid).ts_ms <= to_ms)
      lo = mid + 1;
    else
      hi = mid;
  }
  const std::size_t last = lo;
  const std::size_t begin = last - first > limit ? last - limit : first;
  result.reserve(last - begin);
  for (std::size_t i = begin; i < last; ++i) result.push_back(at(i));
  return result;
}

void premium_history::set_sink(append_sink sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

std::size_t premium_history::load(std::string_view underlying, int tenor_days,
                                  std::span<const history_point> points) {
  if (capacity_ == 0) return 0;
  std::lock_guard lock(mutex_);
  series* s = find(underlying, tenor_days);
  if (s == nullptr) return 0;
  // Logical order (oldest first) of what the series holds, then the loaded points after it.
  std::vector<history_point> all;
  all.reserve(s->ring.size() + points.size());
  for (std::size_t i = 0; i < s->ring.size(); ++i)
    all.push_back(s->ring[(s->head + i) % s->ring.size()]);
  std::size_t kept = 0;
  constexpr std::int64_t max_abs_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000;
  for (const history_point& p : points) {
    if (p.ts_ms > max_abs_ms || p.ts_ms < -max_abs_ms) continue;  // not a time in ns range
    if (!all.empty() && p.ts_ms <= all.back().ts_ms) continue;
    all.push_back(p);
    ++kept;
  }
  if (all.size() > capacity_) {
    const std::size_t excess = all.size() - capacity_;
    all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(excess));
    kept = std::min(kept, all.size());
  }
  s->ring = std::move(all);
  s->head = 0;
  if (!s->ring.empty()) {
    const std::int64_t last_ns = s->ring.back().ts_ms * 1'000'000;
    if (!s->has_last || last_ns > s->last_ts_ns) s->last_ts_ns = last_ns;
    s->has_last = true;
  }
  return kept;
}

std::size_t premium_history::size(std::string_view underlying, int tenor_days) const {
  std::lock_guard lock(mutex_);
  const series* s = find(underlying, tenor_days);
  return s == nullptr ? 0 : s->ring.size();
}

}  // namespace vrp::service
