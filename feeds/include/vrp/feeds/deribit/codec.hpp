#pragma once

// Deribit JSON-RPC frame codec (simdjson On-Demand). Classifies every text frame and turns the
// subscription notifications vrp uses into the fixed-size events of vrp/core/events.hpp, with
// instrument names interned and units converted (ticker IVs percent -> decimal, markprice IVs
// already fractions, DVOL percent -> decimal, inverse-option coin prices -> USD). One codec per
// session; it reuses one simdjson parser and allocates nothing per message once an instrument has
// been seen (the first sight of a name interns it).
//
// Decoding choices (the tests pin each one):
// - ticker of an option -> option_quote. A side with price 0 and amount 0 is Deribit's "no
//   quote": its price and IV are NaN, its amount 0. Inverse prices use this ticker's
//   underlying_price (the last one seen for the instrument when the ticker has none).
// - ticker of a perpetual -> funding_tick (same empty-side rule). Tickers of futures and combos
//   push nothing and count in stats.ignored_channel (combos quote negative prices and IVs).
// - markprice.options -> one quote_mark_only option_quote per entry; coin marks are converted
//   with the last ticker underlying_price of that option, NaN before the first ticker. A bad
//   entry is dropped and counted (frame_info::rejected); the others still decode.
// - platform_state {maintenance:true|false} -> chain_event maintenance_begin|maintenance_end
//   (ts_ns = recv_ns: the message has no timestamp); the {price_index, locked} form -> nothing.
// - A frame that is not JSON, not an object, or not a JSON-RPC frame we know is `malformed`.
//   A well-formed subscription whose data is bad keeps kind `subscription`, with `reject` set.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"

namespace vrp::feeds::deribit {

// What a frame was.
enum class frame_kind : std::uint8_t {
  subscription,  // {"method":"subscription","params":{"channel":..,"data":..}}
  heartbeat,     // {"method":"heartbeat","params":{"type":"heartbeat"}}
  test_request,  // {"method":"heartbeat","params":{"type":"test_request"}}: answer with public/test
  response,      // {"id":N,"result":..}
  error_response,  // {"id":N?,"error":{"code":..,"message":..}}
  malformed,       // not a JSON-RPC object we understand; `reject` says why
};

// The channel family of a subscription frame.
enum class channel_kind : std::uint8_t {
  none,
  ticker,            // ticker.{instrument}.{interval}
  markprice,         // markprice.options.{index}
  price_index,       // deribit_price_index.{index}
  volatility_index,  // deribit_volatility_index.{index}
  platform_state,    // platform_state
  other,             // a channel vrp does not decode (book, trades...): counted, ignored
  count_,
};
// Metric label of a channel kind; `none` (responses, heartbeats, malformed frames) is "control".
std::string_view channel_kind_name(channel_kind c);

// Why a frame or one entry of it was rejected. Every value is a metric label (reason_name).
enum class reject_reason : std::uint8_t {
  none,
  not_json,        // simdjson could not parse it (also truncated frames)
  not_object,      // top level is not an object
  missing_field,   // a required field is absent
  wrong_type,      // a field has the wrong JSON type (e.g. a number sent as a string)
  bad_instrument,  // instrument name that does not parse
  table_full,      // the instrument table has no room left
  non_finite,      // NaN/Inf or a number out of double range
  negative_price,  // price or amount below zero
  bad_timestamp,   // timestamp missing, non-positive or beyond year 2200
  unknown_method,  // a JSON-RPC object that is not a subscription, heartbeat or response
  count_,
};
std::string_view reason_name(reject_reason r);

struct frame_info {
  frame_kind kind = frame_kind::malformed;
  channel_kind channel = channel_kind::none;
  reject_reason reject = reject_reason::none;  // malformed frame, or the first rejected entry
  std::int64_t rpc_id = -1;                    // responses; -1 when absent
  std::int64_t error_code = 0;                 // error responses: error.code
  std::uint32_t events = 0;                    // events pushed to the sink from this frame
  std::uint32_t rejected = 0;                  // entries dropped from this frame
  bool maintenance = false;                    // platform_state said maintenance:true
};

// Counters are written by the session's thread only; read them from that thread or after it stops.
struct codec_stats {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t events = 0;
  std::uint64_t ignored_channel = 0;  // subscription frames of channel_kind::other
  // Frames and bytes per channel kind (index: channel_kind), for the per-channel metrics.
  std::uint64_t frames_by_channel[static_cast<std::size_t>(channel_kind::count_)] = {};
  std::uint64_t bytes_by_channel[static_cast<std::size_t>(channel_kind::count_)] = {};
  std::uint64_t rejected[static_cast<std::size_t>(reject_reason::count_)] = {};
};

// simdjson needs this many readable bytes after the end of a frame (SIMDJSON_PADDING).
std::size_t required_padding();

class codec {
 public:
  explicit codec(core::instrument_table& instruments);
  ~codec();
  codec(const codec&) = delete;
  codec& operator=(const codec&) = delete;

  // Decodes one text frame. `frame.data()` must be readable for frame.size() + required_padding()
  // bytes (the session reads into a buffer with that slack). Events go to `sink` in the frame's
  // order; nothing is pushed for a frame that is rejected as a whole. Never throws.
  frame_info decode(std::string_view frame, std::int64_t recv_ns, core::event_sink& sink);

  const codec_stats& stats() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Parses a Deribit instrument name into `out` (kind, underlying, quote, expiry at 08:00 UTC,
// strike, right, inverse). Handles BTC-28NOV25-100000-C, BTC-PERPETUAL, BTC-28NOV25 (future),
// ETH_USDC-PERPETUAL, linear options with `d` as the decimal point (MATIC_USDC-9MAR24-1d02-C),
// combos (BTC-FS-..., BTC-CS-...) and index names (btc_usd). Returns false for anything else.
bool parse_instrument_name(std::string_view name, core::instrument_info& out);

}  // namespace vrp::feeds::deribit
