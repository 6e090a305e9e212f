#include "vrpd/metrics_wiring.hpp"

#include <cmath>
#include <cstddef>

#include "vrp/core/time.hpp"

namespace vrp::service {

namespace {

using core::metric_labels;
namespace deribit = feeds::deribit;

constexpr auto channel_count = static_cast<std::size_t>(deribit::channel_kind::count_);
constexpr auto reason_count = static_cast<std::size_t>(deribit::reject_reason::count_);

}  // namespace

feed_metrics::feed_metrics(core::metrics_registry& r, const std::string& venue) {
  const metric_labels v{{"venue", venue}};
  for (std::size_t c = 0; c < channel_count; ++c) {
    const metric_labels l{
        {"venue", venue},
        {"channel",
         std::string(deribit::channel_kind_name(static_cast<deribit::channel_kind>(c)))}};
    messages_.push_back(&r.counter("vrp_feed_messages_total",
                                   "WebSocket frames received, by venue and channel kind", l));
    bytes_.push_back(&r.counter("vrp_feed_bytes_total",
                                "WebSocket payload bytes received, by venue and channel kind", l));
  }
  for (std::size_t i = 1; i < reason_count; ++i) {
    rejected_.push_back(&r.counter(
        "vrp_feed_decode_errors_total",
        "Frames or entries rejected by the venue codec, by reason (never reach the premium)",
        {{"venue", venue},
         {"reason", std::string(deribit::reason_name(static_cast<deribit::reject_reason>(i)))}}));
  }
  connects_ = &r.counter("vrp_feed_connects_total", "Successful WebSocket handshakes", v);
  disconnects_ = &r.counter("vrp_feed_reconnects_total",
                            "Connections lost after a successful handshake (each is retried)", v);
  failed_attempts_ = &r.counter("vrp_feed_connect_failures_total",
                                "Connection attempts that never reached the handshake", v);
  stale_ = &r.counter("vrp_feed_heartbeat_misses_total",
                      "Watchdog reconnects: no data or heartbeat within stale_after", v);
  request_timeouts_ =
      &r.counter("vrp_feed_request_timeouts_total", "Venue requests left unanswered", v);
  rate_limited_ = &r.counter("vrp_feed_rate_limited_total", "Rate-limit errors from the venue", v);
  maintenance_ = &r.counter("vrp_feed_maintenance_total", "Maintenance notices from the venue", v);
  test_answered_ =
      &r.counter("vrp_feed_test_requests_answered_total", "Heartbeat test requests answered", v);
  channels_missing_ = &r.counter("vrp_feed_channels_missing_total",
                                 "Channels requested but left out of a subscribe result", v);
  oversized_ = &r.counter("vrp_feed_oversized_frames_total",
                          "Frames above max_frame_bytes, skipped without a reconnect", v);
  ring_enqueued_ = &r.counter("vrp_ring_enqueued_total", "Events that entered the engine ring", v);
  ring_conflated_ =
      &r.counter("vrp_ring_conflated_total",
                 "Events replaced by a newer one of the same instrument (ring full)", v);
  ring_dropped_ =
      &r.counter("vrp_ring_dropped_total",
                 "Events dropped because the ring was full (trades, chain overflow)", v);
  up_ = &r.gauge("vrp_feed_up", "1 when the feed is connected and every channel is live", v);
  channels_live_ = &r.gauge("vrp_feed_channels_live", "Channels confirmed by the venue", v);
  channels_wanted_ = &r.gauge("vrp_feed_channels_wanted", "Channels the feed wants", v);
  ring_max_depth_ = &r.gauge("vrp_ring_max_depth", "Largest engine ring depth seen", v);
}

void feed_metrics::update(const deribit::feed_stats& s) {
  for (std::size_t c = 0; c < channel_count; ++c) {
    messages_[c]->set(s.codec.frames_by_channel[c]);
    bytes_[c]->set(s.codec.bytes_by_channel[c]);
  }
  for (std::size_t i = 1; i < reason_count; ++i) rejected_[i - 1]->set(s.codec.rejected[i]);
  connects_->set(s.session.connects);
  disconnects_->set(s.session.disconnects);
  failed_attempts_->set(s.session.failed_attempts);
  stale_->set(s.session.stale_reconnects);
  request_timeouts_->set(s.protocol.request_timeouts);
  rate_limited_->set(s.protocol.rate_limited);
  maintenance_->set(s.protocol.maintenance);
  test_answered_->set(s.protocol.test_requests_answered);
  channels_missing_->set(s.protocol.channels_missing);
  oversized_->set(s.oversized_skipped);
  ring_enqueued_->set(s.ring.enqueued);
  ring_conflated_->set(s.ring.conflated);
  ring_dropped_->set(s.ring.dropped);
  up_->set(s.state == deribit::protocol_state::live ? 1.0 : 0.0);
  channels_live_->set(static_cast<double>(s.live_channels));
  channels_wanted_->set(static_cast<double>(s.wanted_channels));
  ring_max_depth_->set(static_cast<double>(s.ring.max_depth));
}

engine_metrics::engine_metrics(core::metrics_registry& r,
                               const std::vector<std::string>& underlyings,
                               const std::vector<int>& tenor_days) {
  events_ = &r.counter("vrp_engine_events_total", "Events applied by the engine");
  quotes_ = &r.counter("vrp_engine_quotes_total", "Option quotes applied by the engine");
  ignored_ =
      &r.counter("vrp_engine_quotes_ignored_total",
                 "Quotes the engine dropped before its book (see vrp_engine_rejected_total)");
  for (std::size_t i = 0; i < engine::event_reject_count; ++i) {
    rejected_.push_back(&r.counter(
        "vrp_engine_rejected_total", "Events the engine rejected before its book, by reason",
        {{"reason", std::string(engine::to_string(static_cast<engine::event_reject>(i)))}}));
  }
  for (std::size_t i = 0; i < engine::quote_status_count; ++i) {
    const auto st = static_cast<engine::quote_status>(i);
    unusable_.push_back(st == engine::quote_status::ok
                            ? nullptr
                            : &r.counter("vrp_engine_quotes_unusable_total",
                                         "Quote updates that left their option out of the fits, "
                                         "by status",
                                         {{"status", std::string(engine::to_string(st))}}));
  }
  fits_ = &r.counter("vrp_smile_fits_total", "SVI smile fits");
  fit_failures_ = &r.counter("vrp_smile_fit_failures_total", "SVI smile fits that failed");
  bars_ = &r.counter("vrp_bars_closed_total", "Index bars closed (forecaster updates)");
  snapshots_ = &r.counter("vrp_snapshots_total", "Snapshots published by the engine");
  iv_failures_ =
      &r.counter("vrp_iv_failures_total", "Quote sides whose implied-vol inversion gave no vol");
  fit_rmse_ = &r.gauge("vrp_smile_fit_rmse_vol", "RMS vol error of the last SVI fit (decimal)");
  for (const auto& u : underlyings) {
    underlying_gauges g;
    const metric_labels l{{"underlying", u}};
    g.complete = &r.gauge("vrp_underlying_complete",
                          "1 when the underlying has an index, a fitted surface and a forecast", l);
    g.stale = &r.gauge("vrp_underlying_stale",
                       "1 when the underlying's market data stopped for longer than "
                       "engine.data_timeout_s (its premia are unavailable)",
                       l);
    g.data_recv_ns = std::make_shared<std::atomic<std::int64_t>>(0);
    r.gauge_callback("vrp_underlying_data_age_seconds",
                     "Seconds since vrpd received the underlying's newest market data (NaN "
                     "before any)",
                     l, [recv = g.data_recv_ns] {
                       const std::int64_t t = recv->load(std::memory_order_relaxed);
                       if (t <= 0) return engine::nan;
                       return static_cast<double>(core::wall_clock_ns() - t) * 1e-9;
                     });
    g.index_price = &r.gauge("vrp_index_price_usd", "Index price (USD)", l);
    g.quotes_usable = &r.gauge("vrp_quotes_usable", "Option quotes usable in the fits", l);
    g.expiries_fitted = &r.gauge("vrp_expiries_fitted", "Expiries with an admissible SVI fit", l);
    g.rv_conditional = &r.gauge("vrp_rv_conditional_vol",
                                "Forecast model's annualized vol of the next bar (decimal)", l);
    g.funding = &r.gauge("vrp_funding_annual", "Perpetual funding, annualized (decimal)", l);
    for (int d : tenor_days) {
      const metric_labels t{{"underlying", u}, {"tenor", std::to_string(d) + "d"}};
      g.tenors.push_back(tenor_gauges{
          &r.gauge("vrp_atm_iv", "ATM forward implied vol at the tenor (decimal)", t),
          &r.gauge("vrp_mfiv", "Model-free implied vol at the tenor (decimal)", t),
          &r.gauge("vrp_rv_forecast", "Forecast realized vol over the tenor, annualized (decimal)",
                   t),
          &r.gauge("vrp_premium_vol", "Vol premium: ATM IV minus forecast RV (decimal)", t),
          &r.gauge("vrp_premium_var", "Variance premium: MFIV^2 minus forecast RV^2", t),
          &r.gauge("vrp_rr25", "25-delta risk reversal (decimal vol)", t),
          &r.gauge("vrp_bf25", "25-delta butterfly (decimal vol)", t)});
    }
    underlyings_.push_back(std::move(g));
  }
}

void engine_metrics::update(const engine::snapshot& s) {
  events_->set(s.stats.events);
  quotes_->set(s.stats.quotes);
  ignored_->set(s.stats.quotes_ignored);
  fits_->set(s.stats.smile_fits);
  fit_failures_->set(s.stats.smile_fit_failures);
  bars_->set(s.stats.bars_closed);
  snapshots_->set(s.stats.snapshots);
  iv_failures_->set(s.stats.iv_failures);
  fit_rmse_->set(s.stats.last_fit_rmse_vol);
  for (std::size_t i = 0; i < rejected_.size(); ++i) rejected_[i]->set(s.stats.rejected[i]);
  for (std::size_t i = 0; i < unusable_.size(); ++i) {
    if (unusable_[i] != nullptr) unusable_[i]->set(s.stats.unusable[i]);
  }
  for (std::size_t i = 0; i < underlyings_.size() && i < s.underlyings.size(); ++i) {
    const auto* u = s.underlyings[i].get();
    if (u == nullptr) continue;
    auto& g = underlyings_[i];
    g.complete->set(u->complete ? 1.0 : 0.0);
    g.stale->set(u->stale ? 1.0 : 0.0);
    g.data_recv_ns->store(u->data_recv_ns, std::memory_order_relaxed);
    g.index_price->set(u->index_price);
    g.quotes_usable->set(u->quotes_usable);
    int fitted = 0;
    for (const auto& e : u->expiries) fitted += e && e->fitted ? 1 : 0;
    g.expiries_fitted->set(fitted);
    g.rv_conditional->set(u->forecast ? u->forecast->conditional_vol : engine::nan);
    g.funding->set(u->funding_annual);
    for (std::size_t t = 0; t < g.tenors.size() && t < u->tenors.size(); ++t) {
      const auto& row = u->tenors[t];
      const auto& tg = g.tenors[t];
      // An unavailable tenor is NaN in the exposition, never a stale number.
      const bool ok = row.available;
      tg.atm_iv->set(ok ? row.atm_iv : engine::nan);
      tg.mfiv->set(ok ? row.mfiv : engine::nan);
      tg.rv_forecast->set(ok ? row.rv_forecast : engine::nan);
      tg.premium_vol->set(ok ? row.premium_vol : engine::nan);
      tg.premium_var->set(ok ? row.premium_var : engine::nan);
      tg.rr25->set(ok ? row.rr25 : engine::nan);
      tg.bf25->set(ok ? row.bf25 : engine::nan);
    }
  }
}

}  // namespace vrp::service
