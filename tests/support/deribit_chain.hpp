#pragma once

// Loader for the Deribit chain snapshot CSVs in tests/data/deribit (see tests/data/SOURCES.md).
// Test-only code: throws on a malformed file, which fails the test that reads it.

#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vrp::test {

struct deribit_row {
  std::string instrument;
  double strike = 0.0;
  std::int64_t expiry_ms = 0;
  bool is_call = true;
  double underlying_price = 0.0;  // forward of the expiry, USD
  double mark_price = 0.0;        // coin
  double mark_iv_pct = 0.0;       // percent
  double bid = 0.0;               // coin, 0 = no quote
  double ask = 0.0;               // coin, 0 = no quote
  std::string timestamp;          // per-row fetch time, ISO-8601 UTC without zone
  std::int64_t timestamp_ms = 0;
};

// Splits one CSV line honouring double quotes (the greeks column is a quoted dict with commas).
inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  out.push_back(field);
  return out;
}

// Days from civil date (Howard Hinnant's algorithm), for ISO timestamps without a library.
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2025-10-24T23:15:28.687627" (UTC) -> ms since the epoch.
inline std::int64_t parse_iso_ms(const std::string& s) {
  if (s.size() < 19) throw std::runtime_error("bad timestamp: " + s);
  const std::int64_t days =
      days_from_civil(std::stoll(s.substr(0, 4)), static_cast<unsigned>(std::stoi(s.substr(5, 2))),
                      static_cast<unsigned>(std::stoi(s.substr(8, 2))));
  const std::int64_t secs = days * 86400 + std::stoll(s.substr(11, 2)) * 3600 +
                            std::stoll(s.substr(14, 2)) * 60 + std::stoll(s.substr(17, 2));
  std::int64_t ms = 0;
  if (s.size() > 20 && s[19] == '.') ms = std::stoll((s.substr(20) + "000").substr(0, 3));
  return secs * 1000 + ms;
}

inline std::vector<deribit_row> load_deribit_chain(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<deribit_row> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto f = split_csv_line(line);
    if (f.size() != 13) throw std::runtime_error("bad row in " + path + ": " + line);
    deribit_row r;
    r.instrument = f[0];
    r.strike = std::stod(f[1]);
    r.expiry_ms = std::stoll(f[2]);
    r.is_call = f[3] == "call";
    r.underlying_price = std::stod(f[4]);
    r.mark_price = std::stod(f[5]);
    r.mark_iv_pct = std::stod(f[6]);
    r.bid = std::stod(f[7]);
    r.ask = std::stod(f[8]);
    r.timestamp = f[12];
    r.timestamp_ms = parse_iso_ms(f[12]);
    rows.push_back(std::move(r));
  }
  return rows;
}

// Rows grouped by expiry (ms), in expiry order.
inline std::map<std::int64_t, std::vector<deribit_row>> by_expiry(
    const std::vector<deribit_row>& rows) {
  std::map<std::int64_t, std::vector<deribit_row>> out;
  for (const auto& r : rows) out[r.expiry_ms].push_back(r);
  return out;
}

inline std::string test_data_path(const std::string& rel) {
  return std::string(VRP_TEST_DATA_DIR) + "/" + rel;
}

}  // namespace vrp::test
