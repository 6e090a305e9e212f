#pragma once

// Loader for the Bybit hourly bar slices in tests/data/bybit (see tests/data/SOURCES.md), shared
// by tests and benchmarks. Test-only code: throws on a malformed file.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/quant/realized.hpp"

namespace vrp::test {

inline constexpr std::int64_t bybit_bar_ms = 3'600'000;

struct bar_series {
  std::vector<std::int64_t> open_ms;  // bar open time, UTC
  std::vector<vrp::quant::ohlc_bar> bars;
  std::vector<double> close;
};

// "2025-10-24 23:00:00" (UTC) -> ms since the epoch.
inline std::int64_t parse_utc_ms(const std::string& s) {
  if (s.size() < 19) throw std::runtime_error("bad timestamp: " + s);
  const std::int64_t days =
      days_from_civil(std::stoi(s.substr(0, 4)), static_cast<unsigned>(std::stoi(s.substr(5, 2))),
                      static_cast<unsigned>(std::stoi(s.substr(8, 2))));
  const std::int64_t secs = std::stoi(s.substr(11, 2)) * 3600 + std::stoi(s.substr(14, 2)) * 60 +
                            std::stoi(s.substr(17, 2));
  return (days * 86400 + secs) * 1000;
}

// symbol: "BTCUSDT" or "ETHUSDT". 17,545 bars, 2023-10-24 00:00 .. 2025-10-24 23:00.
inline bar_series load_bybit_hourly(const std::string& symbol) {
  const std::string path =
      test_data_path("bybit/bybit_spot_" + symbol + "_1h_2023-10-24_2025-10-24.csv");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  bar_series s;
  std::string line;
  std::getline(in, line);  // header: timestamp,open,high,low,close
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string ts, o, h, l, c;
    if (!std::getline(ss, ts, ',') || !std::getline(ss, o, ',') || !std::getline(ss, h, ',') ||
        !std::getline(ss, l, ',') || !std::getline(ss, c, ',')) {
      throw std::runtime_error("bad row in " + path + ": " + line);
    }
    s.open_ms.push_back(parse_utc_ms(ts));
    s.bars.push_back({std::stod(o), std::stod(h), std::stod(l), std::stod(c)});
    s.close.push_back(s.bars.back().close);
  }
  return s;
}

// Gap-aware hourly log returns (the library's policy: a return across missing bars is dropped),
// scaled by `scale` (100 for percent returns).
inline std::vector<double> bybit_hourly_returns(const std::string& symbol, double scale = 1.0) {
  const bar_series s = load_bybit_hourly(symbol);
  std::vector<vrp::quant::timed_return> timed;
  const auto res = vrp::quant::bar_log_returns(s.open_ms, s.close, bybit_bar_ms, timed);
  if (res.code != vrp::quant::status::ok) throw std::runtime_error("bar_log_returns failed");
  std::vector<double> out;
  out.reserve(timed.size());
  for (const auto& r : timed) out.push_back(scale * r.log_return);
  return out;
}

}  // namespace vrp::test
