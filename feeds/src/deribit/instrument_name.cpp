// Deribit instrument names (see codec.hpp for the forms handled). Pure string work: no
// allocation, no locale, bounded loops, so it is safe on any input.

#include <array>
#include <cstdint>
#include <string_view>

#include "vrp/core/time.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace vrp::feeds::deribit {
namespace {

constexpr std::size_t max_parts = 6;

bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A currency code: upper-case letters and digits, starting with a letter (BTC, ETH, MATIC, 1INCH
// is not listed on Deribit, so a leading digit is refused).
bool is_currency(std::string_view s) {
  if (s.empty() || s.size() > core::instrument_info::max_currency || !is_upper(s[0])) return false;
  for (char c : s) {
    if (!is_upper(c) && !is_digit(c)) return false;
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// "28NOV25" or "9MAR24" -> expiry at 08:00 UTC in Unix milliseconds.
bool parse_expiry(std::string_view s, std::int64_t& expiry_ms) {
  if (s.size() != 6 && s.size() != 7) return false;
  const std::size_t day_digits = s.size() - 5;
  int day = 0;
  for (std::size_t i = 0; i < day_digits; ++i) {
    if (!is_digit(s[i])) return false;
    day = day * 10 + (s[i] - '0');
  }
  if (day_digits == 2 && s[0] == '0') return false;  // Deribit writes 9MAR24, never 09MAR24
  static constexpr std::array<std::string_view, 12> months = {
      "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  const std::string_view mon = s.substr(day_digits, 3);
  int month = 0;
  for (std::size_t i = 0; i < months.size(); ++i) {
    if (mon == months[i]) month = static_cast<int>(i) + 1;
  }
  if (month == 0) return false;
  const char y1 = s[day_digits + 3];
  const char y2 = s[day_digits + 4];
  if (!is_digit(y1) || !is_digit(y2)) return false;
  const int year = 2000 + (y1 - '0') * 10 + (y2 - '0');
  static constexpr std::array<int, 12> month_days = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  const int last = month_days[static_cast<std::size_t>(month - 1)] + (month == 2 && is_leap(year));
  if (day < 1 || day > last) return false;
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  expiry_ms = days * core::ms_per_day + 8 * 3'600'000;  // Deribit expiries are 08:00 UTC
  return true;
}

// "100000" or "1d02" (d is the decimal point of linear options) -> strike > 0.
bool parse_strike(std::string_view s, double& strike) {
  if (s.empty() || s.size() > 15) return false;  // 15 digits stay exact in a double
  std::int64_t mantissa = 0;
  std::int64_t scale = 1;
  bool seen_point = false;
  std::size_t digits = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == 'd') {
      // One point, with digits on both sides.
      if (seen_point || i == 0 || i + 1 == s.size()) return false;
      seen_point = true;
      continue;
    }
    if (!is_digit(c)) return false;
    mantissa = mantissa * 10 + (c - '0');
    if (seen_point) scale *= 10;
    ++digits;
  }
  if (digits == 0 || mantissa == 0) return false;
  // Both exact in a double, so the quotient is the correctly rounded decimal.
  strike = static_cast<double>(mantissa) / static_cast<double>(scale);
  return true;
}

// A combo's type tag: FS, CS, CSR12, STRD, PS, RR, ... (letters, then optional digits).
bool is_combo_tag(std::string_view s) {
  if (s.empty() || s.size() > 8 || !is_upper(s[0])) return false;
  for (char c : s) {
    if (!is_upper(c) && !is_digit(c)) return false;
  }
  return true;
}

// A combo leg part: upper-case letters, digits, '_' and 'd' (strikes like 21000_23000,
// 30SEP22_PERP).
bool is_combo_part(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_upper(c) && !is_digit(c) && c != '_' && c != 'd') return false;
  }
  return true;
}

// Lower-case letters and digits, starting with a letter, copied upper-cased.
bool copy_lower_code(char (&dst)[core::instrument_info::max_currency + 1], std::string_view s) {
  if (s.empty() || s.size() > core::instrument_info::max_currency || !is_lower(s[0])) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_lower(s[i]) && !is_digit(s[i])) return false;
    dst[i] = is_lower(s[i]) ? static_cast<char>(s[i] - 'a' + 'A') : s[i];
  }
  dst[s.size()] = '\0';
  return true;
}

// btc_usd, eth_usdc, btcdvol_usdc: lower-case base '_' lower-case quote.
bool parse_index(std::string_view name, core::instrument_info& out) {
  const std::size_t us = name.find('_');
  if (us == std::string_view::npos) return false;
  if (!copy_lower_code(out.underlying, name.substr(0, us)) ||
      !copy_lower_code(out.quote, name.substr(us + 1))) {
    return false;
  }
  out.kind = core::instrument_kind::index;
  out.inverse = false;
  return true;
}

}  // namespace

bool parse_instrument_name(std::string_view name, core::instrument_info& out) {
  core::instrument_info info;
  if (name.empty() || name.size() > core::instrument_info::max_name) return false;
  if (!core::copy_name(info.name, name)) return false;
  info.where = core::venue::deribit;

  if (is_lower(name[0])) {
    if (!parse_index(name, info)) return false;
    out = info;
    return true;
  }

  std::array<std::string_view, max_parts> parts{};
  std::size_t n = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '-') {
      if (n == max_parts) return false;
      parts[n++] = name.substr(start, i - start);
      start = i + 1;
    }
  }
  if (n < 2) return false;

  // Currency: BTC (inverse, quoted in USD) or MATIC_USDC (linear, quoted in USDC).
  const std::string_view currency = parts[0];
  const std::size_t us = currency.find('_');
  const std::string_view base = currency.substr(0, us);
  const std::string_view quote = us == std::string_view::npos ? "USD" : currency.substr(us + 1);
  if (!is_currency(base) || !is_currency(quote)) return false;
  core::copy_name(info.underlying, base);
  core::copy_name(info.quote, quote);
  info.inverse = us == std::string_view::npos;

  if (n == 2) {
    if (parts[1] == "PERPETUAL") {
      info.kind = core::instrument_kind::perpetual;
    } else if (parse_expiry(parts[1], info.expiry_ms)) {
      info.kind = core::instrument_kind::future;
    } else {
      return false;
    }
    out = info;
    return true;
  }

  if (n == 4 && parse_expiry(parts[1], info.expiry_ms)) {
    if (!parse_strike(parts[2], info.strike)) return false;
    if (parts[3] == "C") {
      info.right = core::option_right::call;
    } else if (parts[3] == "P") {
      info.right = core::option_right::put;
    } else {
      return false;
    }
    info.kind = core::instrument_kind::option;
    out = info;
    return true;
  }

  // Combos: BTC-FS-30SEP22_PERP, BTC-CS-16SEP22-21000_23000, BTC-STRD-30SEP22-20000.
  if (n >= 3 && is_combo_tag(parts[1]) && parts[1] != "PERPETUAL") {
    for (std::size_t i = 2; i < n; ++i) {
      if (!is_combo_part(parts[i])) return false;
    }
    // The first leg's expiry when it is written as a date (30SEP22_PERP -> 30SEP22).
    const std::string_view first_leg = parts[2].substr(0, parts[2].find('_'));
    if (!parse_expiry(first_leg, info.expiry_ms)) info.expiry_ms = 0;
    info.kind = core::instrument_kind::combo;
    out = info;
    return true;
  }
  return false;
}

}  // namespace vrp::feeds::deribit
