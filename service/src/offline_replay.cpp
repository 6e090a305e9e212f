#include "vrp/service/offline_replay.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace vrp::service {

namespace {

class engine_sink final : public core::event_sink {
 public:
  explicit engine_sink(engine::engine& eng) : eng_(eng) {}
  void push(const core::event& e) override {
    eng_.on_event(e);
    ++events;
  }
  std::uint64_t events = 0;

 private:
  engine::engine& eng_;
};

}  // namespace

std::shared_ptr<const engine::snapshot> replay_into_engine(const feeds::replay::recording& rec,
                                                           engine::engine& eng,
                                                           core::instrument_table& instruments,
                                                           offline_replay_stats& stats,
                                                           std::size_t frames_per_publish) {
  for (const auto& u : eng.config().underlyings) {
    const std::string name = u + "-PERPETUAL";
    for (const auto& c : rec.charts) {
      if (c.instrument_name != name) continue;
      std::vector<engine::history_bar> bars(c.ticks_ms.size());
      for (std::size_t i = 0; i < bars.size(); ++i) {
        bars[i] = {c.ticks_ms[i], c.open[i], c.high[i], c.low[i], c.close[i]};
      }
      stats.warm_up.push_back(eng.warm_up(u, bars));
      stats.warm_up_bars += bars.size();
    }
  }

  feeds::deribit::codec codec(instruments);
  engine_sink sink(eng);
  std::string padded;
  std::shared_ptr<const engine::snapshot> last;
  for (const auto& f : rec.frames) {
    // The codec reads up to required_padding() bytes past the frame (simdjson).
    padded.assign(f.text);
    padded.append(feeds::deribit::required_padding(), ' ');
    const auto info = codec.decode(std::string_view(padded.data(), f.text.size()), f.ts_ns, sink);
    ++stats.frames;
    if (info.kind == feeds::deribit::frame_kind::malformed) ++stats.rejected_frames;
    if (stats.frames % std::max<std::size_t>(frames_per_publish, 1) != 0) continue;
    if (auto s = eng.publish()) {
      last = std::move(s);
      ++stats.snapshots;
    }
  }
  if (auto s = eng.flush()) {
    last = std::move(s);
    ++stats.snapshots;
  }
  stats.events = sink.events;
  return last ? last : eng.latest();
}

}  // namespace vrp::service
