#pragma once

// A recording for the replay exchange, loaded once at startup and read-only afterwards (every
// connection reads it without locks). Three input forms are accepted, line by line:
//   - the recording format (docs: the shared contract with `vrpctl record`): {"meta":...},
//     {"rpc":...,"params":...,"result":...}, {"chart":{...}}, {"ts_ns":N,"frame":"..."};
//   - a capture ({"ts":seconds,"dir":"open"|"send"|"recv","frame":"..."}): the received
//     subscription notifications are played, paced by `ts`; sends and RPC responses are skipped;
//   - bare frames (one exact server->client frame per line, no time): played unpaced, in order.
// Only subscription notifications become playable frames (the server pushes a frame to the
// connections subscribed to its `params.channel`). When the input carries no get_instruments
// answer, one is derived from the instrument names in the frames' channels.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vrp::feeds::replay {

// One playable server->client notification.
struct recorded_frame {
  std::int64_t ts_ns = 0;        // recorded time; 0 for unpaced input
  std::uint32_t channel_id = 0;  // index into recording::channels
  std::string text;              // exact wire text
};

// The canned answer of one RPC method for requests whose params match `params`.
struct canned_rpc {
  std::string method;
  // Keys that a request must match; values are the JSON string's content for strings and the
  // JSON text for anything else. A request that omits a key matches every value of it.
  std::vector<std::pair<std::string, std::string>> params;
  bool result_is_array = false;
  std::vector<std::string> result_items;  // JSON text of each element when result_is_array
  std::string result_text;                // JSON text of the whole result otherwise
};

// Bars for public/get_tradingview_chart_data, ticks ascending.
struct chart_series {
  std::string instrument_name;
  std::string resolution;
  std::vector<std::int64_t> ticks_ms;
  std::vector<double> open, high, low, close, volume, cost;
};

enum class recording_form : std::uint8_t { empty, recording, capture, frames, mixed };
std::string_view recording_form_name(recording_form f);

struct recording {
  recording_form form = recording_form::empty;
  bool paced = false;  // frames carry usable times
  std::vector<recorded_frame> frames;
  std::vector<std::string> channels;  // distinct channels of the frames; channel_id indexes it
  std::unordered_map<std::string, std::uint32_t> channel_ids;
  std::vector<canned_rpc> rpcs;
  std::vector<chart_series> charts;
  std::vector<std::string> instruments;  // distinct names get_instruments can answer, sorted
  bool instruments_derived = false;      // no canned get_instruments: derived from the channels
  std::vector<std::string> meta;         // JSON text of each meta object
  std::size_t lines = 0;                 // non-empty lines read
  std::size_t skipped = 0;               // lines of unknown form or not a notification
  std::vector<std::string> warnings;     // at most a few, with line numbers

  // The id of a channel present in the frames, or nullopt.
  std::optional<std::uint32_t> find_channel(std::string_view name) const;
};

struct load_error {
  std::size_t line = 0;  // 1-based; 0 when the error is not tied to a line (e.g. file missing)
  std::string message;
};

struct load_result {
  std::optional<recording> value;  // set on success
  load_error error;                // set on failure
  bool ok() const { return value.has_value(); }
};

// Parses the text of a recording in any of the three forms (decompressed already).
load_result parse_recording(std::string_view text);

// Reads a plain-text file and parses it. Gzip input is the caller's business (the program
// decompresses with zlib, which this library does not link).
load_result load_recording_file(const std::string& path);

// Parses a Deribit instrument name into the fields it determines (name, kind, base/quote/
// settlement currency, and for options option_type, strike and expiry at 08:00 UTC), as the JSON
// text of one get_instruments element. nullopt for names that are not futures or options.
struct derived_instrument {
  std::string name;
  std::string kind;                 // "option" or "future"
  std::string settlement_currency;  // the get_instruments `currency` it answers to
  std::string json;
};
std::optional<derived_instrument> derive_instrument(std::string_view name);

// The instrument part of a channel name (ticker.X.100ms -> X), empty when the channel has none.
std::string_view channel_instrument(std::string_view channel);

}  // namespace vrp::feeds::replay
