// Names of the enums and the one-line summary for the startup log.

#include <charconv>
#include <string>

#include "vrp/config/config.hpp"

namespace vrp::config {

std::string_view to_string(severity v) noexcept {
  switch (v) {
    case severity::trace:
      return "trace";
    case severity::debug:
      return "debug";
    case severity::info:
      return "info";
    case severity::warn:
      return "warn";
    case severity::error:
      return "error";
    case severity::off:
      return "off";
  }
  return "?";
}

std::string_view to_string(fit_source v) noexcept {
  switch (v) {
    case fit_source::mark:
      return "mark";
    case fit_source::mid:
      return "mid";
  }
  return "?";
}

std::string_view to_string(wait_strategy v) noexcept {
  switch (v) {
    case wait_strategy::spin:
      return "spin";
    case wait_strategy::spin_then_park:
      return "spin_then_park";
    case wait_strategy::park:
      return "park";
  }
  return "?";
}

std::string_view to_string(thread_placement v) noexcept {
  switch (v) {
    case thread_placement::io:
      return "io";
    case thread_placement::own:
      return "own";
  }
  return "?";
}

std::string_view to_string(delta_bucket v) noexcept {
  switch (v) {
    case delta_bucket::put10:
      return "10p";
    case delta_bucket::put25:
      return "25p";
    case delta_bucket::atm:
      return "atm";
    case delta_bucket::call25:
      return "25c";
    case delta_bucket::call10:
      return "10c";
  }
  return "?";
}

std::string_view to_string(forecast_model v) noexcept {
  switch (v) {
    case forecast_model::garch:
      return "garch";
    case forecast_model::gjr:
      return "gjr";
    case forecast_model::egarch:
      return "egarch";
    case forecast_model::har:
      return "har";
  }
  return "?";
}

std::string_view to_string(garch_model v) noexcept {
  switch (v) {
    case garch_model::garch:
      return "garch";
    case garch_model::gjr:
      return "gjr";
    case garch_model::egarch:
      return "egarch";
  }
  return "?";
}

std::string_view to_string(garch_dist v) noexcept {
  switch (v) {
    case garch_dist::normal:
      return "normal";
    case garch_dist::t:
      return "t";
  }
  return "?";
}

std::string_view to_string(garch_mean v) noexcept {
  switch (v) {
    case garch_mean::zero:
      return "zero";
    case garch_mean::constant:
      return "constant";
  }
  return "?";
}

std::string_view to_string(feed_interval v) noexcept {
  switch (v) {
    case feed_interval::ms100:
      return "100ms";
    case feed_interval::raw:
      return "raw";
    case feed_interval::agg2:
      return "agg2";
  }
  return "?";
}

namespace {

class line_writer {
 public:
  void add(std::string_view key, std::string_view value) {
    if (!out_.empty()) out_.push_back(' ');
    out_.append(key).push_back('=');
    // Quote values a log parser would otherwise split (paths with spaces).
    const bool plain = !value.empty() && value.find_first_of(" \t\"=") == std::string_view::npos;
    if (plain) {
      out_.append(value);
      return;
    }
    out_.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\') out_.push_back('\\');
      out_.push_back(c);
    }
    out_.push_back('"');
  }
  void add(std::string_view key, std::int64_t value) { add(key, std::to_string(value)); }
  void add(std::string_view key, std::size_t value) { add(key, std::to_string(value)); }
  void add(std::string_view key, int value) { add(key, std::to_string(value)); }
  // Not an overload of add: a string literal would convert to bool before string_view.
  void add_bool(std::string_view key, bool value) { add(key, value ? "true" : "false"); }
  void add(std::string_view key, double value) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    add(key, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }
  template <class Range, class Format>
  void add_list(std::string_view key, const Range& items, Format format) {
    std::string joined;
    for (const auto& item : items) {
      if (!joined.empty()) joined.push_back(',');
      joined.append(format(item));
    }
    add(key, joined);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string describe(const config& c) {
  line_writer w;
  w.add("config", c.source);
  w.add("service.state_dir", c.service.state_dir);
  w.add("service.log_level", to_string(c.service.log_level));

  const api_section& a = c.api;
  w.add("api.listen", a.listen);
  w.add("api.max_connections", a.max_connections);
  w.add("api.max_connections_per_address", a.max_connections_per_address);
  w.add("api.max_subscriptions_per_client", a.max_subscriptions_per_client);
  w.add("api.subscriber_queue", a.subscriber_queue);
  w.add("api.slow_consumer_timeout_ms", std::int64_t{a.slow_consumer_timeout_ms.count()});
  w.add("api.max_request_bytes", a.max_request_bytes);
  w.add("api.max_header_bytes", a.max_header_bytes);
  w.add("api.ws_max_message_bytes", a.ws_max_message_bytes);
  w.add("api.idle_timeout_s", std::int64_t{a.idle_timeout_s.count()});
  w.add("api.history_points", a.history_points);
  w.add("api.history_interval_ms", std::int64_t{a.history_interval_ms.count()});
  w.add("api.token",
        std::string_view(a.token.empty() ? "none" : "set"));  // never the secret itself
  w.add("api.tls", std::string_view(a.tls_cert_file.empty() ? "off" : "on"));
  if (!a.tls_cert_file.empty()) {
    w.add("api.tls_cert_file", a.tls_cert_file);
    w.add("api.tls_key_file", a.tls_key_file);
  }
  w.add("api.thread", to_string(a.thread));

  const engine_section& e = c.engine;
  w.add_list("engine.underlyings", e.underlyings, [](const std::string& s) { return s; });
  w.add_list("engine.tenors_days", e.tenors_days, [](int d) { return std::to_string(d); });
  w.add_list("engine.buckets", e.buckets, [](delta_bucket b) { return std::string(to_string(b)); });
  w.add("engine.fit_on", to_string(e.fit_on));
  w.add("engine.refit_interval_ms", std::int64_t{e.refit_interval_ms.count()});
  w.add("engine.stale_quote_s", std::int64_t{e.stale_quote_s.count()});
  w.add("engine.data_timeout_s", std::int64_t{e.data_timeout_s.count()});
  w.add("engine.min_expiry_hours", e.min_expiry_hours.count());
  w.add("engine.min_quotes_per_expiry", e.min_quotes_per_expiry);
  w.add("engine.max_refits_per_publish", e.max_refits_per_publish);
  w.add_bool("engine.reject_outliers", e.reject_outliers);
  w.add("engine.max_extrapolation_ratio", e.max_extrapolation_ratio);
  w.add("engine.ring_capacity", e.ring_capacity);
  w.add("engine.thread", to_string(e.thread));
  w.add("engine.wait", to_string(e.wait));
  w.add("engine.spin_us", std::int64_t{e.spin_us.count()});

  const forecast_section& f = c.forecast;
  // The bar as it is written in the file (Ns, Nm or Nh).
  const std::int64_t bar_s = f.bar.count();
  w.add("forecast.bar", bar_s % 3600 == 0 ? std::to_string(bar_s / 3600) + "h"
                        : bar_s % 60 == 0 ? std::to_string(bar_s / 60) + "m"
                                          : std::to_string(bar_s) + "s");
  w.add("forecast.model", to_string(f.model));
  w.add("forecast.garch", to_string(f.garch));
  w.add("forecast.dist", to_string(f.dist));
  w.add("forecast.mean", to_string(f.mean));
  w.add("forecast.window", f.window);
  w.add("forecast.refit_every", f.refit_every);
  w.add("forecast.min_points", f.min_points);
  w.add("forecast.history_days", f.history_days);
  w.add_bool("forecast.background_refit", f.background_refit);

  const deribit_section& d = c.deribit;
  w.add_bool("venues.deribit.enabled", d.enabled);
  w.add("venues.deribit.url", d.url);
  w.add("venues.deribit.ca_file", d.ca_file.empty() ? std::string("system") : d.ca_file);
  w.add_list("venues.deribit.currencies", d.currencies, [](const std::string& s) { return s; });
  w.add("venues.deribit.ticker_interval", to_string(d.ticker_interval));
  w.add("venues.deribit.heartbeat_s", std::int64_t{d.heartbeat_s.count()});
  w.add("venues.deribit.connect_timeout_ms", std::int64_t{d.connect_timeout_ms.count()});
  w.add("venues.deribit.stale_after_ms", std::int64_t{d.stale_after_ms.count()});
  w.add("venues.deribit.backoff_initial_ms", std::int64_t{d.backoff_initial_ms.count()});
  w.add("venues.deribit.backoff_max_ms", std::int64_t{d.backoff_max_ms.count()});
  w.add("venues.deribit.subscribe_chunk", d.subscribe_chunk);
  w.add("venues.deribit.max_frame_bytes", d.max_frame_bytes);
  return w.take();
}

}  // namespace vrp::config
