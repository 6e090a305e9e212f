#pragma once

// A recording played straight into the engine, without sockets: the Deribit codec decodes each
// recorded frame and the engine applies its events, one batch per frame, in recorded order.
// `vrpctl engine` and the engine's real-data tests use it; vrpd runs the same codec and engine
// behind the feed and the ring.

#include <cstdint>
#include <string>

#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/replay/recording.hpp"

namespace vrp::service {

struct offline_replay_stats {
  std::uint64_t frames = 0;
  std::uint64_t events = 0;
  std::uint64_t rejected_frames = 0;  // frames the codec rejected as a whole
  std::uint64_t snapshots = 0;
  std::size_t warm_up_bars = 0;
};

// Warms up each configured underlying from the recording's "<U>-PERPETUAL" chart series (what
// vrpd fetches with public/get_tradingview_chart_data), then plays every frame and flushes.
// Returns the final snapshot (nullptr if nothing was published).
std::shared_ptr<const engine::snapshot> replay_into_engine(const feeds::replay::recording& rec,
                                                           engine::engine& eng,
                                                           core::instrument_table& instruments,
                                                           offline_replay_stats& stats);

}  // namespace vrp::service
