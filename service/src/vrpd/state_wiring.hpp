#pragma once

// vrpd's use of the state store (service/include/vrp/service/state_store.hpp): what is restored
// at startup, when checkpoints are taken, and the final flush. daemon.cpp calls it at four
// places: construction (loads the premium history), resume() before the warm-up, on_publish()
// after each engine publish and shutdown() once the engine and the API have stopped.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "vrp/config/config.hpp"
#include "vrp/core/metrics.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/service/premium_history.hpp"
#include "vrp/service/state_store.hpp"

namespace vrp::service {

class state_wiring {
 public:
  // Opens <service.state_dir>/vrpd.sqlite, puts the stored premium history back into `history`
  // and makes every new history point go to the store. Before the API serves.
  state_wiring(const config::config& c, core::metrics_registry& registry, premium_history& history);
  ~state_wiring();
  state_wiring(const state_wiring&) = delete;
  state_wiring& operator=(const state_wiring&) = delete;

  // Before the feed starts, on the thread that owns the engine then: restores each underlying's
  // forecaster from its checkpoint and fetches only the venue bars since the checkpoint's open
  // bar. An underlying without a usable checkpoint (none, invalid, or older than
  // forecast.history_days on the venue's clock) stays cold for the regular warm-up.
  void resume(engine::engine& eng, const std::atomic<bool>& cancel);
  bool any_cold() const;
  // `c` with engine.underlyings narrowed to the cold ones (for the warm-up).
  config::config cold_config(const config::config& c) const;

  // The engine's thread, after each publish: a forecaster checkpoint when its forecast changed
  // (a bar closed, a re-estimation was adopted, a warm-up) and every checkpoint_period; the
  // latest premium snapshot every snapshot_period. Copies and hands over; never writes.
  void on_publish(engine::engine& eng, const engine::snapshot& s);

  // After the engine and the API stopped: last checkpoints, then everything is committed.
  void shutdown(engine::engine& eng);

 private:
  void checkpoint(engine::engine& eng, std::size_t i);

  const config::config& config_;
  premium_history& history_;
  std::unique_ptr<state_store> store_;
  std::vector<std::string> underlyings_;
  std::vector<bool> cold_;
  std::vector<core::metric_gauge*> restored_;
  // Engine thread only.
  std::vector<std::shared_ptr<const engine::forecast_view>> last_forecast_;
  std::chrono::steady_clock::time_point next_checkpoint_{};
  std::chrono::steady_clock::time_point next_snapshot_{};
};

}  // namespace vrp::service
