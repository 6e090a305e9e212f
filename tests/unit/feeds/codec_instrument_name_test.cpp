// parse_instrument_name: a table of Deribit names with their expected fields. Expiry literals were
// checked with `date -u -d '2025-11-28 08:00' +%s` (×1000) and are recomputed here with
// std::chrono::sys_days as a second, independent source.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec_test_support.hpp"

namespace {

using vrp::core::instrument_info;
using vrp::core::instrument_kind;
using vrp::core::option_right;
using vrp::feeds::deribit::parse_instrument_name;
namespace chr = std::chrono;

std::int64_t expiry_ms(int y, unsigned m, unsigned d) {
  const chr::sys_days day = chr::year{y} / chr::month{m} / chr::day{d};
  return chr::duration_cast<chr::milliseconds>(day.time_since_epoch() + chr::hours{8}).count();
}

struct row {
  std::string name;
  instrument_kind kind;
  std::string underlying;
  std::string quote;
  bool inverse;
  std::int64_t expiry_ms;
  double strike;
  option_right right;
};

TEST(instrument_name, expiry_literals_agree_with_chrono) {
  EXPECT_EQ(expiry_ms(2025, 11, 28), 1764316800000);  // date -u -d '2025-11-28 08:00' +%s
  EXPECT_EQ(expiry_ms(2024, 3, 9), 1709971200000);
  EXPECT_EQ(expiry_ms(2024, 2, 29), 1709193600000);
  EXPECT_EQ(expiry_ms(2020, 6, 8), 1591603200000);
}

TEST(instrument_name, known_names_parse_to_expected_fields) {
  const std::vector<row> rows = {
      {"BTC-28NOV25-100000-C", instrument_kind::option, "BTC", "USD", true, 1764316800000, 100000,
       option_right::call},
      {"ETH-30JUL21-2800-C", instrument_kind::option, "ETH", "USD", true, expiry_ms(2021, 7, 30),
       2800, option_right::call},
      {"BTC-9MAR24-60000-P", instrument_kind::option, "BTC", "USD", true, 1709971200000, 60000,
       option_right::put},
      {"BTC-29FEB24-50000-P", instrument_kind::option, "BTC", "USD", true, 1709193600000, 50000,
       option_right::put},
      {"MATIC_USDC-9MAR24-1d02-C", instrument_kind::option, "MATIC", "USDC", false, 1709971200000,
       1.02, option_right::call},
      {"XRP_USDC-31DEC25-0d5-P", instrument_kind::option, "XRP", "USDC", false,
       expiry_ms(2025, 12, 31), 0.5, option_right::put},
      {"BTC-8JUN20-8750-P", instrument_kind::option, "BTC", "USD", true, 1591603200000, 8750,
       option_right::put},
      {"BTC-PERPETUAL", instrument_kind::perpetual, "BTC", "USD", true, 0, 0, option_right::none},
      {"ETH_USDC-PERPETUAL", instrument_kind::perpetual, "ETH", "USDC", false, 0, 0,
       option_right::none},
      {"LINK_USDC-PERPETUAL", instrument_kind::perpetual, "LINK", "USDC", false, 0, 0,
       option_right::none},
      {"BTC-28NOV25", instrument_kind::future, "BTC", "USD", true, 1764316800000, 0,
       option_right::none},
      {"ETH-5JUN20", instrument_kind::future, "ETH", "USD", true, expiry_ms(2020, 6, 5), 0,
       option_right::none},
      {"BTC-FS-30SEP22_PERP", instrument_kind::combo, "BTC", "USD", true, expiry_ms(2022, 9, 30), 0,
       option_right::none},
      {"BTC-CS-16SEP22-21000_23000", instrument_kind::combo, "BTC", "USD", true,
       expiry_ms(2022, 9, 16), 0, option_right::none},
      {"BTC-CSR12-16SEP22-21000_23000", instrument_kind::combo, "BTC", "USD", true,
       expiry_ms(2022, 9, 16), 0, option_right::none},
      {"BTC-STRD-30SEP22-20000", instrument_kind::combo, "BTC", "USD", true, expiry_ms(2022, 9, 30),
       0, option_right::none},
      {"btc_usd", instrument_kind::index, "BTC", "USD", false, 0, 0, option_right::none},
      {"eth_usdc", instrument_kind::index, "ETH", "USDC", false, 0, 0, option_right::none},
      {"btcdvol_usdc", instrument_kind::index, "BTCDVOL", "USDC", false, 0, 0, option_right::none},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(r.name);
    instrument_info info;
    ASSERT_TRUE(parse_instrument_name(r.name, info));
    EXPECT_EQ(info.name_view(), r.name);
    EXPECT_EQ(info.kind, r.kind);
    EXPECT_EQ(info.underlying_view(), r.underlying);
    EXPECT_EQ(info.quote_view(), r.quote);
    EXPECT_EQ(info.inverse, r.inverse);
    EXPECT_EQ(info.expiry_ms, r.expiry_ms);
    EXPECT_EQ(info.strike, r.strike);
    EXPECT_EQ(info.right, r.right);
    EXPECT_EQ(info.where, vrp::core::venue::deribit);
  }
}

TEST(instrument_name, every_name_in_the_real_instrument_list_parses_consistently) {
  // The real 2021-07-22 get_instruments list gives strike, option_type, kind and expiration
  // timestamp per instrument: an independent source for every field.
  const auto list = nlohmann::json::parse(vrp::test::codec::read_text(
      vrp::test::codec::deribit_dir() + "rpc_get_instruments_BTC.real_2021-07-22.json"));
  std::size_t n = 0;
  for (const auto& ins : list.at("result")) {
    const std::string name = ins.at("instrument_name").get<std::string>();
    SCOPED_TRACE(name);
    instrument_info info;
    ASSERT_TRUE(parse_instrument_name(name, info));
    const std::string kind = ins.at("kind").get<std::string>();
    const bool perpetual = ins.value("settlement_period", "") == "perpetual";
    if (kind == "option") {
      EXPECT_EQ(info.kind, instrument_kind::option);
      EXPECT_EQ(info.strike, ins.at("strike").get<double>());
      EXPECT_EQ(info.right,
                ins.at("option_type") == "call" ? option_right::call : option_right::put);
    } else {
      EXPECT_EQ(info.kind, perpetual ? instrument_kind::perpetual : instrument_kind::future);
    }
    if (!perpetual) {
      EXPECT_EQ(info.expiry_ms, ins.at("expiration_timestamp").get<std::int64_t>());
    }
    EXPECT_EQ(info.underlying_view(), ins.at("base_currency").get<std::string>());
    EXPECT_TRUE(info.inverse);
    ++n;
  }
  EXPECT_GT(n, 100U);
}

TEST(instrument_name, malformed_names_are_refused) {
  const std::vector<std::string> bad = {
      "",
      "-",
      "BTC",
      "BTC-",
      "-PERPETUAL",
      "btc-perpetual",
      "BTC-PERPETUAL-X",
      "BTC-32JAN25",
      "BTC-29FEB25",  // 2025 is not a leap year
      "BTC-0JAN25",
      "BTC-09JAN25",
      "BTC-1XYZ25",
      "BTC-1JAN2",
      "BTC-1JAN2025",
      "BTC-28NOV25-100000",
      "BTC-28NOV25-100000-X",
      "BTC-28NOV25-0-C",
      "BTC-28NOV25--C",
      "BTC-28NOV25-1d-C",
      "BTC-28NOV25-d5-C",
      "BTC-28NOV25-1d2d3-C",
      "BTC-28NOV25-12a-C",
      "BTC-28NOV25-1234567890123456-C",
      "BTC-28NOV25-100000-C-EXTRA",
      "BTC_-PERPETUAL",
      "_USDC-PERPETUAL",
      "BTC_USDC",
      "btc",
      "btc_",
      "_usd",
      "btc_usd_x",
      "BTC USD",
      "BTC-FS-",
      "BTC-fs-30SEP22",
      std::string(64, 'A'),
      std::string("BTC-PERP\0ETUAL", 14),
      "ABCDEFGHIJKLMNOPQ-PERPETUAL",  // currency longer than 15
  };
  for (const auto& name : bad) {
    SCOPED_TRACE(name);
    instrument_info info;
    info.strike = 123.0;
    EXPECT_FALSE(parse_instrument_name(name, info));
    EXPECT_EQ(info.strike, 123.0);  // untouched on failure
  }
}

TEST(instrument_name, arbitrary_bytes_never_crash) {
  // Deterministic pseudo-random strings over the alphabet of names plus a few hostile bytes.
  const std::string alphabet = "BTCETH_USDC-PERPETUAL0123456789dCPJANFEBMARNOVbtc_usd\x80\xff.\"\\";
  std::uint64_t state = 88172645463325252ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string s(next() % 40, ' ');
    for (char& ch : s) ch = alphabet[next() % alphabet.size()];
    instrument_info info;
    if (parse_instrument_name(s, info)) {
      EXPECT_EQ(info.name_view(), s);
      EXPECT_NE(info.kind, instrument_kind::unknown);
    }
  }
}

}  // namespace
