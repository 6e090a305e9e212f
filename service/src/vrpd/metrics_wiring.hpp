#pragma once

// The daemon's Prometheus metrics, registered once at startup. Each group has one writer thread:
// feed_metrics the feeds' I/O thread (copied from the feed's own counters once a second),
// engine_metrics the engine thread (after each published snapshot).

#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/feeds/deribit/feed.hpp"

namespace vrp::service {

class feed_metrics {
 public:
  feed_metrics(core::metrics_registry& r, const std::string& venue);
  void update(const feeds::deribit::feed_stats& s);

 private:
  std::vector<core::metric_counter*> messages_, bytes_, rejected_;
  core::metric_counter *connects_, *disconnects_, *failed_attempts_, *stale_, *request_timeouts_,
      *rate_limited_, *maintenance_, *test_answered_, *channels_missing_, *oversized_;
  core::metric_counter *ring_enqueued_, *ring_conflated_, *ring_dropped_;
  core::metric_gauge *up_, *channels_live_, *channels_wanted_, *ring_max_depth_;
};

class engine_metrics {
 public:
  engine_metrics(core::metrics_registry& r, const std::vector<std::string>& underlyings,
                 const std::vector<int>& tenor_days);
  void update(const engine::snapshot& s);

 private:
  struct tenor_gauges {
    core::metric_gauge *atm_iv, *mfiv, *rv_forecast, *premium_vol, *premium_var, *rr25, *bf25;
  };
  struct underlying_gauges {
    core::metric_gauge *complete, *stale, *index_price, *quotes_usable, *expiries_fitted,
        *rv_conditional, *funding;
    // Receive time of the newest data (engine thread writes, the scrape reads its age).
    std::shared_ptr<std::atomic<std::int64_t>> data_recv_ns;
    std::vector<tenor_gauges> tenors;
  };
  core::metric_counter *events_, *quotes_, *ignored_, *fits_, *fit_failures_, *bars_, *snapshots_,
      *iv_failures_;
  core::metric_gauge* fit_rmse_;
  std::vector<core::metric_counter*> rejected_;  // by engine::event_reject
  std::vector<core::metric_counter*> unusable_;  // by engine::quote_status (ok: nullptr)
  std::vector<underlying_gauges> underlyings_;
};

}  // namespace vrp::service
