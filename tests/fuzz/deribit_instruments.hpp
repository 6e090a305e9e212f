#pragma once

// The realistic instrument table of the Deribit fuzz targets: the names in
// data/deribit_instruments.txt (real get_instruments answers and capture names), read once.

#include <fstream>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace vrp::fuzz {

inline const std::vector<core::instrument_info>& deribit_instruments() {
  static const std::vector<core::instrument_info> parsed = [] {
    std::vector<core::instrument_info> out;
    std::ifstream in(VRP_FUZZ_DATA_DIR "/deribit_instruments.txt");
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", VRP_FUZZ_DATA_DIR "/deribit_instruments.txt");
      std::abort();
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      core::instrument_info info;
      // Every name in the file is one the venue lists: the parser must accept it.
      if (!feeds::deribit::parse_instrument_name(line, info)) {
        std::fprintf(stderr, "parse_instrument_name refused a real name: %s\n", line.c_str());
        std::abort();
      }
      out.push_back(info);
    }
    return out;
  }();
  return parsed;
}

// Room for the real names plus some the input may intern (a small table also reaches
// table_full).
inline constexpr std::size_t fuzz_table_spare = 64;

inline void load_deribit_instruments(core::instrument_table& table) {
  for (const auto& info : deribit_instruments()) {
    VRP_FUZZ_CHECK(table.add(info) != core::no_instrument);
  }
}

}  // namespace vrp::fuzz
