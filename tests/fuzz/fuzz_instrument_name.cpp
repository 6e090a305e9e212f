// libFuzzer target: Deribit instrument names. Two parsers read them: the codec's
// parse_instrument_name (feeds/src/deribit/instrument_name.cpp) and the replay exchange's
// derive_instrument (feeds/src/replay/recording.cpp, for a derived get_instruments answer).
//
// Invariants: neither throws; an accepted name is stored verbatim and has a kind; an option has a
// right, a strike > 0 equal to the name's strike text read by strtod ('d' as the decimal point),
// and an expiry at 08:00 UTC on the date of the name (computed here with std::chrono); a future
// has that expiry too. Where both parsers accept an option or future, they agree on its kind,
// strike, right and expiry.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_support.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/feeds/deribit/codec.hpp"
#include "vrp/feeds/replay/recording.hpp"

namespace {

using namespace vrp;

// "28NOV25" -> 08:00 UTC that day in Unix ms, by std::chrono's civil calendar; -1 if not a date.
std::int64_t expiry_of(std::string_view s) {
  static constexpr std::string_view months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  if (s.size() < 6) return -1;
  const std::string_view yy = s.substr(s.size() - 2);
  const std::string_view mon = s.substr(s.size() - 5, 3);
  const std::string_view dd = s.substr(0, s.size() - 5);
  unsigned m = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (months[i] == mon) m = i + 1;
  if (m == 0) return -1;
  const unsigned d = static_cast<unsigned>(std::atoi(std::string(dd).c_str()));
  const int y = 2000 + std::atoi(std::string(yy).c_str());
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok()) return -1;
  const auto tp = std::chrono::sys_days{ymd} + std::chrono::hours{8};
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

std::vector<std::string_view> split_dash(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '-') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view name = fuzz::as_text(data, size);
  core::instrument_info info;
  const bool parsed = feeds::deribit::parse_instrument_name(name, info);
  const auto derived = feeds::replay::derive_instrument(name);
  if (derived) {
    const auto doc = nlohmann::json::parse(derived->json, nullptr, false);
    VRP_FUZZ_CHECK(doc.is_object());
    VRP_FUZZ_CHECK(doc["instrument_name"] == derived->name);
    VRP_FUZZ_CHECK(derived->kind == "option" || derived->kind == "future");
  }
  if (!parsed) return 0;
  VRP_FUZZ_CHECK(info.name_view() == name);
  VRP_FUZZ_CHECK(info.kind != core::instrument_kind::unknown);
  VRP_FUZZ_CHECK(!info.underlying_view().empty() && !info.quote_view().empty());
  const auto parts = split_dash(name);
  if (info.kind == core::instrument_kind::option) {
    VRP_FUZZ_CHECK(parts.size() == 4);
    VRP_FUZZ_CHECK(info.right ==
                   (parts[3] == "C" ? core::option_right::call : core::option_right::put));
    std::string strike_text(parts[2]);
    for (char& c : strike_text)
      if (c == 'd') c = '.';
    VRP_FUZZ_CHECK(info.strike > 0.0 && info.strike == std::strtod(strike_text.c_str(), nullptr));
    VRP_FUZZ_CHECK(info.expiry_ms == expiry_of(parts[1]));
  } else if (info.kind == core::instrument_kind::future) {
    VRP_FUZZ_CHECK(parts.size() == 2);
    VRP_FUZZ_CHECK(info.expiry_ms == expiry_of(parts[1]));
  } else if (info.kind == core::instrument_kind::perpetual) {
    VRP_FUZZ_CHECK(info.expiry_ms == 0);
  }
  if (derived &&
      (info.kind == core::instrument_kind::option || info.kind == core::instrument_kind::future)) {
    const auto doc = nlohmann::json::parse(derived->json, nullptr, false);
    VRP_FUZZ_CHECK(derived->kind ==
                   (info.kind == core::instrument_kind::option ? "option" : "future"));
    if (doc.contains("expiration_timestamp")) {
      VRP_FUZZ_CHECK(doc["expiration_timestamp"] == info.expiry_ms);
    }
    if (info.kind == core::instrument_kind::option) {
      VRP_FUZZ_CHECK(doc["strike"] == info.strike);
      VRP_FUZZ_CHECK(doc["option_type"] ==
                     (info.right == core::option_right::call ? "call" : "put"));
    }
  }
  return 0;
}
