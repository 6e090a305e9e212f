#pragma once

// One-shot download of history bars over Deribit's JSON-RPC WebSocket
// (public/get_tradingview_chart_data) for the forecasters' warm-up. Runs at startup, before the
// engine thread exists, so it is synchronous: one connection, one request in flight at a time
// (Deribit's credit limits favour that over a burst), its own io_context, and errors as values.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vrp::feeds::deribit {

struct chart_bar {
  std::int64_t open_ms = 0;  // bar open time (Deribit's `ticks`), Unix epoch ms
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
};

struct history_request {
  std::string url;      // ws://host[:port]/path or wss://... (e.g. wss://www.deribit.com/ws/api/v2)
  std::string ca_file;  // wss only; empty: the system CA store
  std::string instrument;         // e.g. "BTC-PERPETUAL"
  std::string resolution = "60";  // minutes ("1", "60", ...) or "1D"
  std::int64_t start_ms = 0;      // both inclusive, on bar open times
  std::int64_t end_ms = 0;
  // Bound of each step: resolve + connect, TLS handshake, WebSocket handshake, each response.
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_bars_per_request = 5'000;  // the range is split into chunks of at most this
};

struct history_result {
  std::vector<chart_bar> bars;  // ascending open_ms, no duplicates, within [start_ms, end_ms]
  std::string error;            // empty on success; bars received before an error are dropped
  int requests = 0;             // chart requests sent (heartbeat answers not counted)
};

// Downloads the bars of [start_ms, end_ms]. A range without bars ("no_data") is an empty success.
// Errors: bad request fields, connection failures (refused, TLS verification, handshake),
// timeouts, JSON-RPC errors (message and code) and malformed results. Never throws.
history_result fetch_chart(const history_request& r);

struct server_time_result {
  std::int64_t server_ms = 0;  // the venue's clock (Unix epoch ms); 0 on error
  std::string error;           // empty on success
};

// public/get_time over one short connection (same transport rules as fetch_chart). A warm-up asks
// for history "up to now" on the venue's clock: a replay exchange reports its recording's time.
// Synchronous; never throws.
server_time_result fetch_server_time(const std::string& url, const std::string& ca_file,
                                     std::chrono::milliseconds timeout);

}  // namespace vrp::feeds::deribit
