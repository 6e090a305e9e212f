#pragma once

// The fixed-size events that cross from a feed session to the engine (ARCHITECTURE.md §1).
// Plain trivially copyable structs: no strings, no heap. Instruments are interned ids
// (vrp/core/instruments.hpp). Units are converted by the codec: vols are decimals, prices are in
// the quote currency (USD/USDC), timestamps are Unix-epoch nanoseconds. A field the venue did not
// send (or sent as null) is NaN.

#include <cstdint>
#include <limits>
#include <type_traits>
#include <variant>

namespace vrp::core {

using instrument_id = std::uint32_t;
inline constexpr instrument_id no_instrument = std::numeric_limits<instrument_id>::max();

inline constexpr double missing = std::numeric_limits<double>::quiet_NaN();

// One option's top of book and marks. Deribit's inverse options are quoted in coin; the codec
// multiplies by `underlying_price` (the forward of that expiry) to give USD.
struct option_quote {
  std::int64_t ts_ns = 0;    // venue timestamp
  std::int64_t recv_ns = 0;  // local receive time of the frame
  instrument_id id = no_instrument;
  std::uint32_t flags = 0;            // option_quote_flags
  double bid_price = missing;         // USD
  double ask_price = missing;         // USD
  double mark_price = missing;        // USD
  double bid_amount = missing;        // contracts
  double ask_amount = missing;        // contracts
  double underlying_price = missing;  // forward of the expiry the venue prices against (USD)
  double index_price = missing;       // spot index (USD)
  double venue_bid_iv = missing;      // decimal; the venue's own, kept for cross-checks
  double venue_ask_iv = missing;
  double venue_mark_iv = missing;
  double open_interest = missing;
  double interest_rate = missing;  // decimal per year
};

enum option_quote_flags : std::uint32_t {
  quote_mark_only = 1U << 0,            // a mark update (e.g. markprice.options): no bid/ask fields
  quote_underlying_is_index = 1U << 1,  // the venue priced against the index, not a future
  quote_underlying_synthetic = 1U << 2,  // the venue priced against a synthetic future (SYN.*)
  quote_settled = 1U << 3,               // instrument expired / delivered
};

// A spot index price (Deribit deribit_price_index.*).
struct index_tick {
  std::int64_t ts_ns = 0;
  std::int64_t recv_ns = 0;
  instrument_id id = no_instrument;  // the interned index name, e.g. btc_usd
  double price = missing;            // USD
};

// A perpetual's funding and prices (Deribit ticker of *-PERPETUAL).
struct funding_tick {
  std::int64_t ts_ns = 0;
  std::int64_t recv_ns = 0;
  instrument_id id = no_instrument;
  double current_funding = missing;  // decimal, the venue's current funding rate
  double funding_8h = missing;       // decimal, funding over the last 8 hours
  double mark_price = missing;       // USD
  double index_price = missing;      // USD
  double bid_price = missing;        // USD
  double ask_price = missing;        // USD
};

// A volatility index value (Deribit DVOL).
struct dvol_tick {
  std::int64_t ts_ns = 0;
  std::int64_t recv_ns = 0;
  instrument_id id = no_instrument;  // the interned index name, e.g. btc_usd
  double vol = missing;              // decimal (DVOL 42.8 -> 0.428)
};

enum class trade_side : std::uint8_t { unknown, buy, sell };

struct trade {
  std::int64_t ts_ns = 0;
  std::int64_t recv_ns = 0;
  instrument_id id = no_instrument;
  trade_side side = trade_side::unknown;
  double price = missing;   // USD
  double amount = missing;  // contracts
  double iv = missing;      // decimal, options only
};

enum class chain_change : std::uint8_t {
  listed,             // a new instrument appeared in discovery
  expired,            // an instrument left discovery or reported itself expired
  maintenance_begin,  // platform_state maintenance / error 11051
  maintenance_end,    // platform back
  feed_down,          // the session lost its connection
  feed_up,            // connected and every channel subscribed again
};

// A change to the set of instruments or to the venue's state. `id` is no_instrument for
// venue-wide changes.
struct chain_event {
  std::int64_t ts_ns = 0;
  std::int64_t recv_ns = 0;
  instrument_id id = no_instrument;
  chain_change change = chain_change::listed;
};

using event = std::variant<option_quote, index_tick, funding_tick, dvol_tick, trade, chain_event>;
static_assert(std::is_trivially_copyable_v<event>);

// The instrument an event is about (no_instrument for venue-wide chain events).
inline instrument_id event_instrument(const event& e) {
  return std::visit([](const auto& x) { return x.id; }, e);
}

// Where a codec delivers decoded events. Called once per event on the feed's I/O thread; an
// implementation must not allocate or block (the ring producer conflates when full).
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void push(const event& e) = 0;
};

}  // namespace vrp::core
