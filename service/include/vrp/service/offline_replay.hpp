#pragma once

// A recording played straight into the engine, without sockets: the Deribit codec decodes each
// recorded frame and the engine applies its events, one batch per frame, in recorded order.
// `vrpctl engine` and the engine's real-data tests use it; vrpd runs the same codec and engine
// behind the feed and the ring.

#include <cstdint>
#include <string>
#include <vector>

#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/replay/recording.hpp"
#include "vrp/quant/status.hpp"

namespace vrp::service {

struct offline_replay_stats {
  std::uint64_t frames = 0;
  std::uint64_t events = 0;
  std::uint64_t rejected_frames = 0;  // frames the codec rejected as a whole
  std::uint64_t snapshots = 0;
  std::size_t warm_up_bars = 0;
  std::vector<quant::status> warm_up;  // one per underlying that had a chart series
};

// Warms up each configured underlying from the recording's "<U>-PERPETUAL" chart series (what
// vrpd fetches with public/get_tradingview_chart_data), then plays every frame, publishing after
// every `frames_per_publish` frames (a batch of the engine thread), and flushes. Returns the final
// snapshot (nullptr if nothing was published).
std::shared_ptr<const engine::snapshot> replay_into_engine(const feeds::replay::recording& rec,
                                                           engine::engine& eng,
                                                           core::instrument_table& instruments,
                                                           offline_replay_stats& stats,
                                                           std::size_t frames_per_publish = 1);

}  // namespace vrp::service
