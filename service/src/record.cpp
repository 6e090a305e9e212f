#include "vrp/service/record.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "vrp/service/json_writer.hpp"

namespace vrp::service {

namespace {

constexpr std::int64_t ns_per_us = 1'000;
constexpr std::int64_t ns_per_ms = 1'000'000;
constexpr std::int64_t ms_per_hour = 3'600'000;
constexpr std::int64_t ms_per_day = 86'400'000;
constexpr int max_history_days = 36'500;

// ---------------------------------------------------------------------------------------------
// Text helpers

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string base_name(std::string_view path) {
  const auto slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool parse_double(std::string_view s, double& v) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(v);
}

bool parse_int64(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_fixed_digits(std::string_view s, std::size_t pos, std::size_t n, int& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

// "YYYY-MM-DD" -> days since 1970-01-01.
bool parse_date(std::string_view s, std::int64_t& days) {
  int y = 0, m = 0, d = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !parse_fixed_digits(s, 0, 4, y) ||
      !parse_fixed_digits(s, 5, 2, m) || !parse_fixed_digits(s, 8, 2, d))
    return false;
  const std::chrono::year_month_day ymd{std::chrono::year{y},
                                        std::chrono::month{static_cast<unsigned>(m)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return false;
  days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  return true;
}

// UTC time without zone ("2025-10-24T23:15:28.687627", "2025-10-24 23:00:00"; a trailing "Z" is
// accepted) -> ns since the epoch.
bool parse_utc_ns(std::string_view s, std::int64_t& ns) {
  if (!s.empty() && s.back() == 'Z') s.remove_suffix(1);
  std::int64_t days = 0;
  int hh = 0, mm = 0, ss = 0;
  if (s.size() < 19 || !parse_date(s.substr(0, 10), days) || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || !parse_fixed_digits(s, 11, 2, hh) ||
      !parse_fixed_digits(s, 14, 2, mm) || !parse_fixed_digits(s, 17, 2, ss) || hh > 23 ||
      mm > 59 || ss > 59)
    return false;
  std::int64_t frac_ns = 0;
  if (s.size() > 19) {
    const std::size_t digits = s.size() - 20;
    if (s[19] != '.' || digits == 0 || digits > 9) return false;
    int one = 0;
    for (std::size_t i = 20; i < s.size(); ++i) {
      if (!parse_fixed_digits(s, i, 1, one)) return false;
      frac_ns = frac_ns * 10 + one;
    }
    for (std::size_t i = digits; i < 9; ++i) frac_ns *= 10;
  }
  ns = ((days * 24 + hh) * 60 + mm) * 60 + ss;
  ns = ns * 1'000'000'000 + frac_ns;
  return true;
}

std::string format_utc(std::int64_t ns) {
  const std::int64_t ms_total = ns / ns_per_ms - (ns % ns_per_ms < 0 ? 1 : 0);
  std::int64_t days = ms_total / ms_per_day;
  if (ms_total % ms_per_day < 0) --days;
  const std::int64_t ns_of_day = ns - days * ms_per_day * ns_per_ms;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  const std::int64_t sec = ns_of_day / 1'000'000'000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(sec / 3600),
                static_cast<long long>(sec / 60 % 60), static_cast<long long>(sec % 60),
                static_cast<long long>(ns_of_day % 1'000'000'000 / ns_per_us));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Input files

// Where an error happened: the flag and file, then a line.
struct source {
  std::string_view flag;
  std::string_view path;

  std::string at(std::size_t line) const {
    return std::string(flag) + " " + std::string(path) + " line " + std::to_string(line) + ": ";
  }
  std::string file() const { return std::string(flag) + " " + std::string(path) + ": "; }
};

// Reads a file whole; gzip is recognised by its magic bytes (zlib passes plain files through).
bool read_input(const source& src, std::string& text, std::string& error) {
  errno = 0;
  gzFile f = gzopen(std::string(src.path).c_str(), "rb");
  if (f == nullptr) {
    error = src.file() + "cannot open: " + (errno != 0 ? std::strerror(errno) : "out of memory");
    return false;
  }
  text.clear();
  char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      error = src.file() + "cannot read: " +
              (code == Z_ERRNO ? std::strerror(errno) : std::string(msg ? msg : "zlib error"));
      gzclose(f);
      return false;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  gzclose(f);
  return true;
}

// Splits text into lines (LF or CRLF), numbering them from 1.
class line_reader {
 public:
  explicit line_reader(std::string_view text) : text_(text) {}

  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    auto end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++number_;
    return true;
  }
  std::size_t number() const { return number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t number_ = 0;
};

// One CSV record (RFC 4180 quoting; no newlines inside fields).
bool split_csv(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  std::size_t i = 0;
  for (;;) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return false;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') return false;
    } else {
      const auto comma = line.find(',', i);
      const auto end = comma == std::string_view::npos ? line.size() : comma;
      field.assign(line.substr(i, end - i));
      i = end;
    }
    fields.push_back(field);
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// Header -> column index for the names asked for; optional ones may be missing (-1).
struct column_spec {
  std::string_view name;
  bool required;
};

bool map_columns(const source& src, const std::vector<std::string>& header,
                 std::span<const column_spec> specs, std::vector<int>& index, std::string& error) {
  index.assign(specs.size(), -1);
  for (std::size_t s = 0; s < specs.size(); ++s) {
    for (std::size_t h = 0; h < header.size(); ++h)
      if (header[h] == specs[s].name) index[s] = static_cast<int>(h);
    if (index[s] < 0 && specs[s].required) {
      error = src.at(1) + "header has no column " + quoted(specs[s].name);
      return false;
    }
  }
  return true;
}

// Reads the data rows of a CSV file, calling on_row(fields, line_number) -> bool; stops at the
// first error. Blank lines are skipped.
template <class OnRow>
bool for_each_row(const source& src, std::string_view text, std::span<const column_spec> specs,
                  std::vector<int>& index, std::size_t& rows, std::string& error, OnRow on_row) {
  line_reader lines(text);
  std::string_view line;
  std::vector<std::string> fields;
  if (!lines.next(line) || is_blank(line)) {
    error = src.file() + "empty file (no CSV header)";
    return false;
  }
  if (line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  if (!split_csv(line, fields)) {
    error = src.at(1) + "malformed CSV header";
    return false;
  }
  if (!map_columns(src, fields, specs, index, error)) return false;
  const std::size_t width = fields.size();
  rows = 0;
  while (lines.next(line)) {
    if (is_blank(line)) continue;
    if (!split_csv(line, fields)) {
      error = src.at(lines.number()) + "malformed CSV (unterminated quote)";
      return false;
    }
    if (fields.size() != width) {
      error = src.at(lines.number()) + "expected " + std::to_string(width) + " fields, found " +
              std::to_string(fields.size());
      return false;
    }
    if (!on_row(fields, lines.number())) return false;
    ++rows;
  }
  if (rows == 0) {
    error = src.file() + "no data rows";
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Deribit chain CSV

struct chain_row {
  std::string instrument;
  std::string currency;
  std::string option_type;  // "call" | "put"
  double strike = 0;
  std::int64_t expiration_ms = 0;
  double underlying_price = 0;
  double mark_price = 0;
  double mark_iv = 0;
  double bid = 0;
  double ask = 0;
  double open_interest = 0;
  double volume = 0;
  double greeks[5] = {};  // delta, gamma, vega, theta, rho
  std::int64_t ts_ns = 0;
};

constexpr std::string_view greek_names[5] = {"delta", "gamma", "vega", "theta", "rho"};

// The chain's greeks column is a Python dict literal: "{'delta': 0.99596, 'gamma': 0.0, ...}".
bool parse_greeks(std::string_view s, double (&out)[5], std::string& why) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') {
    why = "greeks is not a {...} dict";
    return false;
  }
  s = s.substr(1, s.size() - 2);
  bool seen[5] = {};
  while (!s.empty()) {
    const auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      why = "greeks entry without ':'";
      return false;
    }
    std::string_view key = item.substr(0, colon);
    std::string_view value = item.substr(colon + 1);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (key.size() >= 2 && (key.front() == '\'' || key.front() == '"') && key.back() == key.front())
      key = key.substr(1, key.size() - 2);
    const auto it = std::find(std::begin(greek_names), std::end(greek_names), key);
    if (it == std::end(greek_names)) continue;  // a greek vrp does not record
    const auto k = static_cast<std::size_t>(it - std::begin(greek_names));
    if (!parse_double(value, out[k])) {
      why = "greeks " + std::string(key) + " is not a finite number: " + quoted(value);
      return false;
    }
    seen[k] = true;
  }
  for (std::size_t k = 0; k < 5; ++k) {
    if (!seen[k]) {
      why = "greeks has no " + std::string(greek_names[k]);
      return false;
    }
  }
  return true;
}

bool valid_currency(std::string_view c) {
  return !c.empty() && c.size() <= 10 &&
         std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
}

bool read_chain(std::string_view path, std::vector<chain_row>& rows, std::size_t& row_count,
                std::string& error) {
  const source src{"--deribit-chain", path};
  std::string text;
  if (!read_input(src, text, error)) return false;
  enum col : std::size_t {
    instrument,
    strike,
    expiration,
    option_type,
    underlying,
    mark,
    mark_iv,
    bid,
    ask,
    oi,
    volume,
    greeks,
    timestamp
  };
  static constexpr column_spec specs[] = {{"instrument", true},
                                          {"strike", true},
                                          {"expiration", true},
                                          {"option_type", true},
                                          {"underlying_price", true},
                                          {"mark_price", true},
                                          {"mark_iv", true},
                                          {"bid", true},
                                          {"ask", true},
                                          {"oi", true},
                                          {"volume", true},
                                          {"greeks", true},
                                          {"timestamp", true}};
  std::vector<int> index;
  return for_each_row(
      src, text, specs, index, row_count, error,
      [&](const std::vector<std::string>& f, std::size_t line) {
        const auto get = [&](col c) -> const std::string& {
          return f[static_cast<std::size_t>(index[c])];
        };
        chain_row r;
        r.instrument = get(instrument);
        // BTC-25OCT25-100000-C: currency, expiry, strike, C|P. Linear (BTC_USDC-...) options are
        // not in the sources and would need other instrument fields.
        std::vector<std::string_view> parts;
        std::string_view rest = r.instrument;
        for (auto dash = rest.find('-'); dash != std::string_view::npos; dash = rest.find('-')) {
          parts.push_back(rest.substr(0, dash));
          rest.remove_prefix(dash + 1);
        }
        parts.push_back(rest);
        if (parts.size() != 4 || !valid_currency(parts[0]) ||
            (parts[3] != "C" && parts[3] != "P")) {
          error = src.at(line) + "instrument " + quoted(r.instrument) +
                  " is not an inverse Deribit option name (CUR-DMMMYY-STRIKE-C|P)";
          return false;
        }
        r.currency = parts[0];
        r.option_type = get(option_type);
        if (r.option_type != (parts[3] == "C" ? "call" : "put")) {
          error = src.at(line) + "option_type " + quoted(r.option_type) + " does not match " +
                  quoted(r.instrument);
          return false;
        }
        struct number_field {
          col c;
          double* v;
          bool positive;  // > 0, else >= 0
        };
        const number_field numbers[] = {
            {strike, &r.strike, true},     {underlying, &r.underlying_price, true},
            {mark, &r.mark_price, false},  {mark_iv, &r.mark_iv, false},
            {bid, &r.bid, false},          {ask, &r.ask, false},
            {oi, &r.open_interest, false}, {volume, &r.volume, false}};
        for (const auto& n : numbers) {
          const std::string& cell = get(n.c);
          if (!parse_double(cell, *n.v) || *n.v < 0 || (n.positive && *n.v == 0)) {
            error = src.at(line) + std::string(specs[n.c].name) + " is not a " +
                    (n.positive ? "positive" : "non-negative") + " number: " + quoted(cell);
            return false;
          }
        }
        if (!parse_int64(get(expiration), r.expiration_ms) || r.expiration_ms <= 0) {
          error = src.at(line) +
                  "expiration is not a positive integer of ms: " + quoted(get(expiration));
          return false;
        }
        std::string why;
        if (!parse_greeks(get(greeks), r.greeks, why)) {
          error = src.at(line) + why;
          return false;
        }
        if (!parse_utc_ns(get(timestamp), r.ts_ns) || r.ts_ns <= 0) {
          error = src.at(line) + "timestamp is not a UTC time (YYYY-MM-DDTHH:MM:SS[.ffffff]): " +
                  quoted(get(timestamp));
          return false;
        }
        rows.push_back(std::move(r));
        return true;
      });
}

// ---------------------------------------------------------------------------------------------
// Hourly bars and DVOL dailies

struct bar {
  std::int64_t open_ms = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0, cost = 0;
};

struct bar_series {
  std::vector<bar> bars;
  bool has_volume = false;
  bool has_cost = false;
  std::size_t rows = 0;
};

bool read_bars(const underlying_file& in, bar_series& out, std::string& error) {
  const source src{"--bars", in.path};
  std::string text;
  if (!read_input(src, text, error)) return false;
  enum col : std::size_t { ts, open, high, low, close, volume, turnover };
  static constexpr column_spec specs[] = {{"timestamp", true}, {"open", true},  {"high", true},
                                          {"low", true},       {"close", true}, {"volume", false},
                                          {"turnover", false}};
  std::vector<int> index;
  bool header_checked = false;
  return for_each_row(
      src, text, specs, index, out.rows, error,
      [&](const std::vector<std::string>& f, std::size_t line) {
        if (!header_checked) {
          out.has_volume = index[volume] >= 0;
          out.has_cost = index[turnover] >= 0;
          header_checked = true;
        }
        bar b;
        std::int64_t ns = 0;
        const std::string& t = f[static_cast<std::size_t>(index[ts])];
        if (!parse_utc_ns(t, ns) || ns % (ms_per_hour * ns_per_ms) != 0) {
          error = src.at(line) + "timestamp is not a UTC hour (YYYY-MM-DD HH:00:00): " + quoted(t);
          return false;
        }
        b.open_ms = ns / ns_per_ms;
        if (!out.bars.empty() && b.open_ms <= out.bars.back().open_ms) {
          error = src.at(line) + "timestamp " + quoted(t) + " does not follow the previous bar's";
          return false;
        }
        struct number_field {
          col c;
          double* v;
          bool positive;
        };
        const number_field numbers[] = {{open, &b.open, true},      {high, &b.high, true},
                                        {low, &b.low, true},        {close, &b.close, true},
                                        {volume, &b.volume, false}, {turnover, &b.cost, false}};
        for (const auto& n : numbers) {
          if (index[n.c] < 0) continue;
          const std::string& cell = f[static_cast<std::size_t>(index[n.c])];
          if (!parse_double(cell, *n.v) || *n.v < 0 || (n.positive && *n.v == 0)) {
            error = src.at(line) + std::string(specs[n.c].name) + " is not a " +
                    (n.positive ? "positive" : "non-negative") + " number: " + quoted(cell);
            return false;
          }
        }
        out.bars.push_back(b);
        return true;
      });
}

struct dvol_day {
  std::int64_t day = 0;  // days since the epoch
  double close = 0;
};

bool read_dvol(const underlying_file& in, std::vector<dvol_day>& days, std::size_t& rows,
               std::string& error) {
  const source src{"--dvol", in.path};
  std::string text;
  if (!read_input(src, text, error)) return false;
  enum col : std::size_t { date, symbol, close };
  static constexpr column_spec specs[] = {{"date", true}, {"symbol", false}, {"close", true}};
  std::vector<int> index;
  std::set<std::int64_t> seen;
  return for_each_row(
      src, text, specs, index, rows, error,
      [&](const std::vector<std::string>& f, std::size_t line) {
        dvol_day d;
        const std::string& date_text = f[static_cast<std::size_t>(index[date])];
        if (date_text.size() != 10 || !parse_date(date_text, d.day)) {
          error = src.at(line) + "date is not YYYY-MM-DD: " + quoted(date_text);
          return false;
        }
        if (index[symbol] >= 0 && f[static_cast<std::size_t>(index[symbol])] != in.underlying) {
          error = src.at(line) + "symbol " + quoted(f[static_cast<std::size_t>(index[symbol])]) +
                  " is not " + in.underlying;
          return false;
        }
        const std::string& cell = f[static_cast<std::size_t>(index[close])];
        if (!parse_double(cell, d.close) || d.close <= 0) {
          error = src.at(line) + "close is not a positive number: " + quoted(cell);
          return false;
        }
        if (!seen.insert(d.day).second) {
          error = src.at(line) + "date " + date_text + " appears twice";
          return false;
        }
        days.push_back(d);
        return true;
      });
}

// ---------------------------------------------------------------------------------------------
// Output pieces

struct frame_line {
  std::int64_t ts_ns;
  std::string text;  // the wire frame
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void begin_notification(std::string& f, std::string_view channel) {
  f += R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":)";
  append_json_string(f, channel);
  f += R"(,"data":{)";
}

void field(std::string& f, std::string_view key, double v, bool comma = true) {
  if (comma) f.push_back(',');
  append_json_string(f, key);
  f.push_back(':');
  append_json_number(f, v);
}

void field(std::string& f, std::string_view key, std::int64_t v, bool comma = true) {
  if (comma) f.push_back(',');
  append_json_string(f, key);
  f.push_back(':');
  f += std::to_string(v);
}

void field(std::string& f, std::string_view key, std::string_view v, bool comma = true) {
  if (comma) f.push_back(',');
  append_json_string(f, key);
  f.push_back(':');
  append_json_string(f, v);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - (a % b < 0 ? 1 : 0);
}

// ticker.{instrument}.100ms with only the fields the chain CSV holds.
frame_line ticker_frame(const chain_row& r) {
  std::string f;
  f.reserve(512);
  begin_notification(f, "ticker." + r.instrument + ".100ms");
  field(f, "timestamp", floor_div(r.ts_ns, ns_per_ms), false);
  field(f, "state", "open");
  field(f, "instrument_name", r.instrument);
  field(f, "best_bid_price", r.bid);
  field(f, "best_ask_price", r.ask);
  field(f, "mark_price", r.mark_price);
  field(f, "mark_iv", r.mark_iv);
  field(f, "underlying_price", r.underlying_price);
  field(f, "open_interest", r.open_interest);
  f += R"(,"stats":{)";
  field(f, "volume", r.volume, false);
  f += R"(},"greeks":{)";
  for (std::size_t k = 0; k < 5; ++k) field(f, greek_names[k], r.greeks[k], k != 0);
  f += "}}}}";
  return {r.ts_ns, std::move(f)};
}

frame_line price_index_frame(std::string_view currency, std::int64_t ts_ms, double price) {
  const std::string index = lower(currency) + "_usd";
  std::string f;
  begin_notification(f, "deribit_price_index." + index);
  field(f, "timestamp", ts_ms, false);
  field(f, "price", price);
  field(f, "index_name", index);
  f += "}}}";
  return {ts_ms * ns_per_ms, std::move(f)};
}

// `line_ns` is when the replay plays the frame: a daily close is known from its timestamp on, but
// the replay starts with the first live data so that its clock (public/get_time) reads the time of
// the live market and not the day before.
frame_line volatility_index_frame(std::string_view currency, std::int64_t ts_ms, double vol_pct,
                                  std::int64_t line_ns) {
  const std::string index = lower(currency) + "_usd";
  std::string f;
  begin_notification(f, "deribit_volatility_index." + index);
  field(f, "volatility", vol_pct, false);
  field(f, "timestamp", ts_ms);
  field(f, "index_name", index);
  f += "}}}";
  return {std::max(ts_ms * ns_per_ms, line_ns), std::move(f)};
}

void append_instrument(std::string& out, const chain_row& r) {
  out.push_back('{');
  field(out, "instrument_name", r.instrument, false);
  field(out, "kind", "option");
  field(out, "option_type", r.option_type);
  field(out, "strike", r.strike);
  field(out, "expiration_timestamp", r.expiration_ms);
  field(out, "base_currency", r.currency);
  // Inverse options are quoted in the coin (the real 2021-07-22 listing says
  // "quote_currency":"BTC").
  field(out, "quote_currency", r.currency);
  field(out, "settlement_currency", r.currency);
  field(out, "counter_currency", "USD");
  out += R"(,"is_active":true})";
}

void append_perpetual(std::string& out, std::string_view currency) {
  out.push_back('{');
  field(out, "instrument_name", std::string(currency) + "-PERPETUAL", false);
  field(out, "kind", "future");
  field(out, "settlement_period", "perpetual");
  field(out, "base_currency", currency);
  field(out, "quote_currency", "USD");
  field(out, "settlement_currency", currency);
  field(out, "counter_currency", "USD");
  out += R"(,"is_active":true})";
}

template <class Get>
void append_array(std::string& out, std::string_view key, const std::vector<bar>& bars, Get get) {
  out.push_back(',');
  append_json_string(out, key);
  out += ":[";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (i != 0) out.push_back(',');
    get(out, bars[i]);
  }
  out.push_back(']');
}

void append_chart(std::string& out, std::string_view currency, const std::vector<bar>& bars,
                  bool has_volume, bool has_cost) {
  out += R"({"chart":{)";
  field(out, "instrument_name", std::string(currency) + "-PERPETUAL", false);
  field(out, "resolution", "60");
  append_array(out, "ticks", bars,
               [](std::string& o, const bar& b) { o += std::to_string(b.open_ms); });
  append_array(out, "open", bars,
               [](std::string& o, const bar& b) { append_json_number(o, b.open); });
  append_array(out, "high", bars,
               [](std::string& o, const bar& b) { append_json_number(o, b.high); });
  append_array(out, "low", bars,
               [](std::string& o, const bar& b) { append_json_number(o, b.low); });
  append_array(out, "close", bars,
               [](std::string& o, const bar& b) { append_json_number(o, b.close); });
  if (has_volume)
    append_array(out, "volume", bars,
                 [](std::string& o, const bar& b) { append_json_number(o, b.volume); });
  if (has_cost)
    append_array(out, "cost", bars,
                 [](std::string& o, const bar& b) { append_json_number(o, b.cost); });
  out += "}}\n";
}

// gzip with zlib's default header (mtime 0), so the bytes depend only on the text.
bool gzip_bytes(std::string_view text, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  out.resize(deflateBound(&zs, static_cast<uLong>(text.size())) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

bool write_atomically(const std::string& path, std::string_view bytes, std::string& error) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const auto fail = [&](const char* what) {
    error = "--out " + path + ": " + what + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    error = "--out " + path + ": cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                       std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int saved = errno;
  if (std::fclose(f) != 0 || !written) {
    if (!written) errno = saved;
    return fail("cannot write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into place");
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct currency_state {
  std::vector<const chain_row*> rows;
  std::int64_t first_ns = 0;
  std::vector<bar> chart;
  bool has_volume = false;
  bool has_cost = false;
  bool has_bars = false;
};

}  // namespace

// -----------------------------------------------------------------------------------------------

void append_json_number(std::string& out, double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));  // [-]d[.ddd]e(+|-)XX
  if (!s.empty() && s.front() == '-') {
    out.push_back('-');
    s.remove_prefix(1);
  }
  const auto e = s.find('e');
  std::string digits(1, s[0]);
  if (e > 1) digits.append(s.substr(2, e - 2));
  int exp = 0;
  std::string_view exp_text = s.substr(e + 1);
  const bool exp_negative = exp_text.front() == '-';
  exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  if (exp_negative) exp = -exp;
  if (exp < -4 || exp >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    const int a = exp < 0 ? -exp : exp;
    if (a < 10) out.push_back('0');
    out += std::to_string(a);
  } else if (exp < 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-exp - 1), '0');
    out += digits;
  } else {
    const auto int_digits = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, int_digits);
      out.push_back('.');
      out.append(digits, int_digits);
    }
  }
}

std::string record_summary::to_json() const {
  json_writer w;
  w.begin_object();
  w.field("ok", true).field("out", out_path);
  w.field("bytes", static_cast<long long>(bytes));
  w.field("frames", static_cast<long long>(frames));
  w.field("ticker_frames", static_cast<long long>(ticker_frames));
  w.field("index_frames", static_cast<long long>(index_frames));
  w.field("dvol_frames", static_cast<long long>(dvol_frames));
  w.key("instruments").begin_object();
  for (const auto& [cur, n] : instruments) w.field(cur, static_cast<long long>(n));
  w.end_object();
  w.key("chart_bars").begin_object();
  for (const auto& [cur, n] : chart_bars) w.field(cur, static_cast<long long>(n));
  w.end_object();
  w.field("first_ts_ns", static_cast<long long>(first_ts_ns));
  w.field("last_ts_ns", static_cast<long long>(last_ts_ns));
  w.field("first_ts", format_utc(first_ts_ns));
  w.field("last_ts", format_utc(last_ts_ns));
  w.end_object();
  return w.str();
}

std::string parse_record_args(std::span<const std::string_view> args, record_options& out) {
  out = record_options{};
  bool have_out = false;
  bool have_days = false;
  std::set<std::string> bars_seen, dvol_seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::optional<std::string_view> value;
    if (const auto eq = flag.find('='); flag.substr(0, 2) == "--" && eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    const bool known = flag == "--out" || flag == "--deribit-chain" || flag == "--bars" ||
                       flag == "--dvol" || flag == "--history-days";
    if (!known) return "unknown argument " + quoted(flag);
    if (!value) {
      if (i + 1 >= args.size()) return std::string(flag) + ": missing value";
      value = args[++i];
    }
    if (value->empty()) return std::string(flag) + ": empty value";
    if (flag == "--out") {
      if (have_out) return "--out: given twice";
      out.out_path = std::string(*value);
      have_out = true;
    } else if (flag == "--deribit-chain") {
      out.chain_paths.emplace_back(*value);
    } else if (flag == "--history-days") {
      std::int64_t days = 0;
      if (have_days) return "--history-days: given twice";
      if (!parse_int64(*value, days) || days < 1 || days > max_history_days)
        return "--history-days: " + quoted(*value) + " is not a whole number of days in 1.." +
               std::to_string(max_history_days);
      out.history_days = static_cast<int>(days);
      have_days = true;
    } else {
      const auto eq = value->find('=');
      const std::string_view underlying =
          eq == std::string_view::npos ? std::string_view{} : value->substr(0, eq);
      if (eq == std::string_view::npos || !valid_currency(underlying) || eq + 1 == value->size())
        return std::string(flag) + ": " + quoted(*value) +
               " is not UNDERLYING=FILE (e.g. BTC=bars.csv.gz)";
      auto& seen = flag == "--bars" ? bars_seen : dvol_seen;
      if (!seen.insert(std::string(underlying)).second)
        return std::string(flag) + ": " + std::string(underlying) + " given twice";
      auto& list = flag == "--bars" ? out.bars : out.dvol;
      list.push_back({std::string(underlying), std::string(value->substr(eq + 1))});
    }
  }
  if (!have_out) return "--out: required";
  if (out.chain_paths.empty()) return "--deribit-chain: at least one is required";
  return {};
}

bool build_recording(const record_options& options, record_summary& summary, std::string& error) {
  summary = record_summary{};
  summary.out_path = options.out_path;

  // Chains: every row becomes a ticker frame; instruments per currency in order of first sight.
  std::vector<std::vector<chain_row>> chains(options.chain_paths.size());
  std::vector<std::size_t> chain_rows(options.chain_paths.size());
  std::map<std::string, currency_state> currencies;
  for (std::size_t c = 0; c < options.chain_paths.size(); ++c) {
    if (!read_chain(options.chain_paths[c], chains[c], chain_rows[c], error)) return false;
    for (const chain_row& r : chains[c]) {
      currency_state& st = currencies[r.currency];
      if (st.rows.empty() || r.ts_ns < st.first_ns) st.first_ns = r.ts_ns;
      st.rows.push_back(&r);
    }
  }

  std::vector<frame_line> frames;
  std::vector<std::size_t> bars_used(options.bars.size());
  std::vector<std::size_t> bars_rows(options.bars.size());
  for (std::size_t b = 0; b < options.bars.size(); ++b) {
    const underlying_file& in = options.bars[b];
    const auto it = currencies.find(in.underlying);
    if (it == currencies.end()) {
      error = "--bars " + in.underlying + "=" + in.path + ": no --deribit-chain rows for " +
              in.underlying;
      return false;
    }
    currency_state& st = it->second;
    bar_series series;
    if (!read_bars(in, series, error)) return false;
    bars_rows[b] = series.rows;
    // Bars that closed (open + 1 h) at or before the first chain row; the last history_days days.
    const auto end = std::partition_point(
        series.bars.begin(), series.bars.end(),
        [&](const bar& x) { return (x.open_ms + ms_per_hour) * ns_per_ms <= st.first_ns; });
    if (end == series.bars.begin()) {
      error = "--bars " + in.underlying + "=" + in.path + ": no bar closed before the first " +
              in.underlying + " chain row (" + format_utc(st.first_ns) + ")";
      return false;
    }
    const std::int64_t end_ms = std::prev(end)->open_ms + ms_per_hour;
    const std::int64_t start_ms = end_ms - options.history_days * ms_per_day;
    const auto begin = std::partition_point(series.bars.begin(), end,
                                            [&](const bar& x) { return x.open_ms < start_ms; });
    st.chart.assign(begin, end);
    st.has_volume = series.has_volume;
    st.has_cost = series.has_cost;
    st.has_bars = true;
    bars_used[b] = st.chart.size();
    // The close of the last finished bar stands in for the index at that moment.
    frames.push_back(price_index_frame(in.underlying, end_ms, st.chart.back().close));
    ++summary.index_frames;
  }

  std::vector<std::size_t> dvol_rows(options.dvol.size());
  std::vector<std::int64_t> dvol_day_used(options.dvol.size());
  for (std::size_t d = 0; d < options.dvol.size(); ++d) {
    const underlying_file& in = options.dvol[d];
    const auto it = currencies.find(in.underlying);
    if (it == currencies.end()) {
      error = "--dvol " + in.underlying + "=" + in.path + ": no --deribit-chain rows for " +
              in.underlying;
      return false;
    }
    std::vector<dvol_day> days;
    if (!read_dvol(in, days, dvol_rows[d], error)) return false;
    const dvol_day* best = nullptr;
    for (const dvol_day& x : days) {
      const std::int64_t day_end_ns = (x.day + 1) * ms_per_day * ns_per_ms;
      if (day_end_ns < it->second.first_ns && (best == nullptr || x.day > best->day)) best = &x;
    }
    if (best == nullptr) {
      error = "--dvol " + in.underlying + "=" + in.path + ": no day ended before the first " +
              in.underlying + " chain row (" + format_utc(it->second.first_ns) + ")";
      return false;
    }
    dvol_day_used[d] = best->day;
    const currency_state& st = it->second;
    const std::int64_t live_ns =
        st.has_bars ? (st.chart.back().open_ms + ms_per_hour) * ns_per_ms : st.first_ns;
    frames.push_back(
        volatility_index_frame(in.underlying, (best->day + 1) * ms_per_day, best->close, live_ns));
    ++summary.dvol_frames;
  }

  for (const auto& chain : chains) {
    for (const chain_row& r : chain) frames.push_back(ticker_frame(r));
    summary.ticker_frames += chain.size();
  }
  std::stable_sort(frames.begin(), frames.end(),
                   [](const frame_line& a, const frame_line& b) { return a.ts_ns < b.ts_ns; });

  std::string text;
  text.reserve(frames.size() * 640 + (std::size_t{1} << 16));

  // meta: provenance only (file names without directories, row counts), no clock time.
  text += R"({"meta":{"created_by":"vrpctl record","history_days":)";
  text += std::to_string(options.history_days);
  text += R"(,"inputs":[)";
  bool first_input = true;
  const auto begin_input = [&](std::string_view flag, std::string_view path) {
    if (!first_input) text.push_back(',');
    first_input = false;
    text.push_back('{');
    field(text, "flag", flag, false);
    field(text, "file", base_name(path));
  };
  for (std::size_t c = 0; c < options.chain_paths.size(); ++c) {
    begin_input("--deribit-chain", options.chain_paths[c]);
    field(text, "rows", static_cast<std::int64_t>(chain_rows[c]));
    text.push_back('}');
  }
  for (std::size_t b = 0; b < options.bars.size(); ++b) {
    begin_input("--bars", options.bars[b].path);
    field(text, "underlying", options.bars[b].underlying);
    field(text, "rows", static_cast<std::int64_t>(bars_rows[b]));
    field(text, "bars_used", static_cast<std::int64_t>(bars_used[b]));
    text.push_back('}');
  }
  for (std::size_t d = 0; d < options.dvol.size(); ++d) {
    begin_input("--dvol", options.dvol[d].path);
    field(text, "underlying", options.dvol[d].underlying);
    field(text, "rows", static_cast<std::int64_t>(dvol_rows[d]));
    field(text, "day_used", format_utc(dvol_day_used[d] * ms_per_day * ns_per_ms).substr(0, 10));
    text.push_back('}');
  }
  text += R"(],"notes":[)";
  append_json_string(text,
                     "ticker frames carry only the chain CSV's fields; their time is the row's "
                     "fetch time");
  text.push_back(',');
  append_json_string(text,
                     "{CUR}-PERPETUAL chart and deribit_price_index come from the --bars hourly "
                     "bars (a stand-in: same underlying, possibly another venue); the index is "
                     "the close of the last bar finished before the chain");
  text.push_back(',');
  append_json_string(text, "no perpetual ticker frames: the inputs have no perpetual series");
  text += "]}}\n";

  for (const auto& [cur, st] : currencies) {
    text += R"({"rpc":"public/get_instruments","params":{"currency":)";
    append_json_string(text, cur);
    text += R"(,"kind":"option"},"result":[)";
    std::map<std::string_view, const chain_row*> by_name;
    bool first = true;
    for (const chain_row* r : st.rows) {
      const auto [seen, fresh] = by_name.emplace(r->instrument, r);
      if (!fresh) {
        const chain_row& a = *seen->second;
        if (a.strike != r->strike || a.expiration_ms != r->expiration_ms) {
          error = "--deribit-chain: instrument " + r->instrument +
                  " appears twice with different strike or expiration";
          return false;
        }
        continue;
      }
      if (!first) text.push_back(',');
      first = false;
      append_instrument(text, *r);
    }
    text += "]}\n";
    summary.instruments[cur] = by_name.size();
    text += R"({"rpc":"public/get_instruments","params":{"currency":)";
    append_json_string(text, cur);
    text += R"(,"kind":"future"},"result":[)";
    append_perpetual(text, cur);
    text += "]}\n";
  }
  for (const auto& [cur, st] : currencies) {
    summary.chart_bars[cur] = st.chart.size();
    if (st.has_bars) append_chart(text, cur, st.chart, st.has_volume, st.has_cost);
  }
  for (const frame_line& f : frames) {
    text += R"({"ts_ns":)";
    text += std::to_string(f.ts_ns);
    text += R"(,"frame":)";
    append_json_string(text, f.text);
    text += "}\n";
  }
  summary.frames = frames.size();
  if (!frames.empty()) {
    summary.first_ts_ns = frames.front().ts_ns;
    summary.last_ts_ns = frames.back().ts_ns;
  }

  std::string packed;
  std::string_view bytes = text;
  if (ends_with(options.out_path, ".gz")) {
    if (!gzip_bytes(text, packed)) {
      error = "--out " + options.out_path + ": gzip compression failed";
      return false;
    }
    bytes = packed;
  }
  if (!write_atomically(options.out_path, bytes, error)) return false;
  summary.bytes = bytes.size();
  return true;
}

int run_record(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  record_options options;
  if (const std::string bad = parse_record_args(args, options); !bad.empty()) {
    err << "vrpctl record: " << bad << "\n"
        << "usage: vrpctl record --out FILE --deribit-chain CSV[.gz] [--deribit-chain ...]\n"
        << "         [--bars UNDERLYING=CSV[.gz] ...] [--dvol UNDERLYING=CSV ...] "
           "[--history-days N]\n";
    return 2;
  }
  record_summary summary;
  std::string error;
  if (!build_recording(options, summary, error)) {
    err << "vrpctl record: " << error << "\n";
    return 1;
  }
  out << summary.to_json() << "\n";
  return 0;
}

}  // namespace vrp::service
