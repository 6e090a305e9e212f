// The engine's share of the tick-to-publish latency, without sockets or threads: the bundled real
// recording is replayed into the engine, then each iteration applies one changed option quote and
// publishes, as vrpd's engine does for a batch of one frame.
//   BM_quote_publish_refit:   the quote's expiry is refitted in that publish (refit interval 0,
//                             one fit per publish, the default cap): apply + SVI fit + surface +
//                             tenor grid + snapshot.
//   BM_quote_publish_refit_full_grid: the same with every tenor row recomputed (no reuse of the
//                             rows whose surface inputs did not change).
//   BM_quote_publish_no_fit:  the refit waits (interval of an hour): apply + book-keeping only.
//   BM_render_premium_frame:  the WebSocket frame of premium.BTC for the resulting snapshot.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo_recording.hpp"
#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/replay/recording.hpp"
#include "vrp/service/offline_replay.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace {

using namespace vrp;

using test::demo_recording;

struct replayed {
  std::unique_ptr<core::instrument_table> table = std::make_unique<core::instrument_table>();
  std::unique_ptr<engine::engine> eng;
  std::vector<core::option_quote> quotes;  // BTC's usable quotes, as events
  std::int64_t ts_ns = 0;
};

// The recording through the engine, then one event per usable BTC quote of the final snapshot
// (prices in USD, the expiry's forward as the underlying price).
std::unique_ptr<replayed> replay(std::int64_t refit_interval_ns, bool incremental = true) {
  auto r = std::make_unique<replayed>();
  engine::engine_config c;
  c.forecast.background_refit = false;
  c.refit_interval_ns = refit_interval_ns;
  c.incremental_surface = incremental;
  r->eng = std::make_unique<engine::engine>(c, *r->table);
  service::offline_replay_stats stats;
  const auto snap = service::replay_into_engine(demo_recording(), *r->eng, *r->table, stats, 20);
  if (!snap) throw std::runtime_error("the replay published nothing");
  for (const auto& u : snap->underlyings) {
    if (!u || u->underlying != "BTC") continue;
    r->ts_ns = u->ts_ns;
    for (const auto& e : u->expiries) {
      if (!e || !e->fitted) continue;
      for (const auto& q : e->quotes) {
        if (q.status != engine::quote_status::ok) continue;
        core::option_quote ev;
        ev.id = q.id;
        ev.bid_price = q.bid_usd;
        ev.ask_price = q.ask_usd;
        ev.mark_price = q.mark_usd;
        ev.bid_amount = 1;
        ev.ask_amount = 1;
        ev.underlying_price = e->forward;
        ev.index_price = u->index_price;
        r->quotes.push_back(ev);
      }
    }
  }
  if (r->quotes.empty()) throw std::runtime_error("no usable BTC quote");
  return r;
}

// One changed quote (the mark nudged, alternately up and down, so it always differs), 1 ms
// later than the one before, then publish().
void quote_publish(benchmark::State& state, std::int64_t refit_interval_ns,
                   bool incremental = true) {
  const auto r = replay(refit_interval_ns, incremental);
  std::size_t k = 0;
  std::int64_t ts = r->ts_ns;
  std::uint64_t snapshots = 0;
  for (auto _ : state) {
    core::option_quote q = r->quotes[k % r->quotes.size()];
    const double nudge = (k & 1U) != 0 ? 1.0 + 1e-6 : 1.0 - 1e-6;
    q.mark_price *= nudge;
    q.ts_ns = (ts += 1'000'000);
    q.recv_ns = q.ts_ns;
    r->eng->on_event(q);
    const auto s = r->eng->publish();
    snapshots += s ? 1 : 0;
    benchmark::DoNotOptimize(s);
    ++k;
  }
  state.counters["snapshots_per_iter"] =
      benchmark::Counter(static_cast<double>(snapshots) / static_cast<double>(state.iterations()));
}

void BM_quote_publish_refit(benchmark::State& state) {
  quote_publish(state, 0);
}
void BM_quote_publish_refit_full_grid(benchmark::State& state) {
  quote_publish(state, 0, false);
}
void BM_quote_publish_no_fit(benchmark::State& state) {
  quote_publish(state, 3'600'000'000'000);
}

void BM_render_premium_frame(benchmark::State& state) {
  const auto r = replay(100'000'000);
  const auto snap = r->eng->latest();
  std::shared_ptr<const engine::underlying_snapshot> btc;
  if (snap) {
    for (const auto& u : snap->underlyings) {
      if (u && u->underlying == "BTC") btc = u;
    }
  }
  if (!btc) {
    state.SkipWithError("no BTC snapshot");
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    service::render_stream_frame("premium.BTC", *btc, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}

}  // namespace

BENCHMARK(BM_quote_publish_refit)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_quote_publish_refit_full_grid)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_quote_publish_no_fit)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_render_premium_frame)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
