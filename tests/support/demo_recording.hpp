#pragma once

// The bundled real recording (Deribit BTC and ETH chains of 2025-10-24 with 120 days of hourly
// bars, data/demo/), loaded once per process. VRP_SOURCE_DIR is the repository root.

#include <stdexcept>
#include <string>

#include "vrp/feeds/replay/recording.hpp"

namespace vrp::test {

inline const feeds::replay::recording& demo_recording() {
  static const feeds::replay::recording rec = [] {
    auto r = feeds::replay::load_recording_file(std::string(VRP_SOURCE_DIR) +
                                                "/data/demo/deribit_2025-10-24.recording.jsonl");
    if (!r.ok()) throw std::runtime_error("recording: " + r.error.message);
    return std::move(*r.value);
  }();
  return rec;
}

}  // namespace vrp::test
