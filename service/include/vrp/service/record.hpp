#pragma once

// `vrpctl record`: turns saved Deribit option chains, hourly bars and DVOL dailies into a replay
// recording (JSON lines: meta, canned get_instruments results, chart history, then wire frames in
// ts_ns order) that vrp-replayd plays. The output depends only on the inputs: same files, same
// bytes.

#include <cstdint>
#include <iosfwd>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vrp::service {

// One `UNDERLYING=FILE` argument (--bars, --dvol).
struct underlying_file {
  std::string underlying;
  std::string path;
};

struct record_options {
  std::string out_path;                  // .gz suffix: gzip-compressed
  std::vector<std::string> chain_paths;  // --deribit-chain, CSV or CSV.gz
  std::vector<underlying_file> bars;     // --bars, hourly bars (Bybit spot kline CSV)
  std::vector<underlying_file> dvol;     // --dvol, Deribit DVOL daily OHLC CSV
  int history_days = 120;
};

struct record_summary {
  std::string out_path;
  std::uint64_t bytes = 0;   // size of the written file
  std::uint64_t frames = 0;  // all frame lines
  std::uint64_t ticker_frames = 0;
  std::uint64_t index_frames = 0;
  std::uint64_t dvol_frames = 0;
  std::map<std::string, std::uint64_t> instruments;  // options per currency
  std::map<std::string, std::uint64_t> chart_bars;   // per currency
  std::int64_t first_ts_ns = 0;                      // first and last frame
  std::int64_t last_ts_ns = 0;

  // One line of JSON (no newline) with "ok":true.
  std::string to_json() const;
};

// Parses the arguments that follow `record`. Returns an empty string, or a message naming the flag.
std::string parse_record_args(std::span<const std::string_view> args, record_options& out);

// Reads the inputs and writes the recording atomically (temporary file, then rename). On failure
// returns false with `error` naming the flag, the file and the line; no output file is left.
bool build_recording(const record_options& options, record_summary& summary, std::string& error);

// The subcommand: parse, build, print the summary line to `out` or the error to `err`.
// Returns the exit code (0 ok, 1 bad input data, 2 bad command line).
int run_record(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// Shortest text that reads back as the same double, written as Python's repr writes floats
// (integral values keep ".0", exponent form below 1e-4 and from 1e16). The source CSVs were written
// that way, so values come out as their CSV text. `v` must be finite.
void append_json_number(std::string& out, double v);

}  // namespace vrp::service
