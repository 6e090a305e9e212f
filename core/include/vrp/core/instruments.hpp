#pragma once

// Interned instruments: the feed thread turns a venue's instrument name into a small integer id
// once, and every event after that carries the id. The table has one writer (the I/O thread that
// runs the feeds) and any number of readers (engine, publisher): entries live in storage that is
// allocated once at construction and never moves, and the writer publishes each new entry with a
// release store of the count, so a reader that sees id < size() sees a complete entry.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vrp/core/events.hpp"

namespace vrp::core {

enum class venue : std::uint8_t { deribit, okx, bybit, binance, ethereum };

enum class instrument_kind : std::uint8_t { unknown, option, future, perpetual, index, combo };

enum class option_right : std::uint8_t { none, call, put };

struct instrument_info {
  static constexpr std::size_t max_name = 63;
  static constexpr std::size_t max_currency = 15;

  char name[max_name + 1] = {};            // the venue's exact name, NUL-terminated
  char underlying[max_currency + 1] = {};  // base currency: BTC, ETH, MATIC ...
  char quote[max_currency + 1] = {};       // settlement/quote currency: USD (inverse), USDC ...
  venue where = venue::deribit;
  instrument_kind kind = instrument_kind::unknown;
  option_right right = option_right::none;
  bool inverse = false;        // priced in the underlying coin (Deribit BTC/ETH options)
  std::int64_t expiry_ms = 0;  // 0 for perpetuals and indices
  double strike = 0.0;         // options only, in the quote currency

  std::string_view name_view() const { return name; }
  std::string_view underlying_view() const { return underlying; }
  std::string_view quote_view() const { return quote; }
};

class instrument_table {
 public:
  explicit instrument_table(std::size_t capacity = 65'536)
      : capacity_(capacity), entries_(std::make_unique<instrument_info[]>(capacity)) {
    index_.reserve(capacity);
  }
  instrument_table(const instrument_table&) = delete;
  instrument_table& operator=(const instrument_table&) = delete;

  // Writer thread only. The id of `name` if it is known, without allocating.
  instrument_id find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? no_instrument : it->second;
  }

  // Writer thread only. Adds `info` (keyed by info.name) or returns the existing id. Returns
  // no_instrument when the table is full or the name is empty or too long; the caller counts that.
  // Allocates only for a name it has not seen.
  instrument_id add(const instrument_info& info) {
    std::string_view name = info.name_view();
    if (name.empty() || name.size() > instrument_info::max_name) return no_instrument;
    if (auto id = find(name); id != no_instrument) return id;
    std::size_t n = size_.load(std::memory_order_relaxed);
    if (n >= capacity_) return no_instrument;
    entries_[n] = info;
    auto id = static_cast<instrument_id>(n);
    index_.emplace(std::string(entries_[n].name_view()), id);
    size_.store(n + 1, std::memory_order_release);
    return id;
  }

  // Any thread. Entries below size() are complete and never change.
  std::size_t size() const { return size_.load(std::memory_order_acquire); }
  std::size_t capacity() const { return capacity_; }
  const instrument_info& at(instrument_id id) const { return entries_[id]; }
  bool contains(instrument_id id) const { return id < size(); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::size_t capacity_;
  std::unique_ptr<instrument_info[]> entries_;
  std::atomic<std::size_t> size_{0};
  std::unordered_map<std::string, instrument_id, string_hash, std::equal_to<>> index_;
};

// Copies `src` into a fixed char array, truncating; returns false when it did not fit.
template <std::size_t N>
bool copy_name(char (&dst)[N], std::string_view src) {
  if (src.size() >= N) return false;
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
  dst[src.size()] = '\0';
  return true;
}

}  // namespace vrp::core
