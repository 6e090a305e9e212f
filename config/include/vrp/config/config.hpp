#pragma once

// vrpd's configuration (ARCHITECTURE.md §2, STYLE.md "Config"): one immutable struct built once at
// startup from a TOML file, every key validated. Errors name the source, the full key path, the bad
// value and what is allowed; unknown keys and tables are errors so that a typo is never ignored.
// Members are named exactly like their TOML keys; durations are std::chrono types whose unit
// matches the key's suffix. The schema, with defaults and allowed values, is in config/README.md
// and deploy/vrpd.example.toml.

#include <chrono>
#include <cstdint>
#include <optional>
#include <ratio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vrp::config {

enum class severity : std::uint8_t { trace, debug, info, warn, error, off };  // service.log_level
enum class fit_source : std::uint8_t { mark, mid };                           // engine.fit_on
enum class wait_strategy : std::uint8_t { spin, spin_then_park, park };       // engine.wait
enum class thread_placement : std::uint8_t { io, own };  // engine.thread, api.thread
enum class delta_bucket : std::uint8_t { put10, put25, atm, call25, call10 };  // engine.buckets
enum class forecast_model : std::uint8_t { garch, gjr, egarch, har };          // forecast.model
enum class garch_model : std::uint8_t { garch, gjr, egarch };                  // forecast.garch
enum class garch_dist : std::uint8_t { normal, t };                            // forecast.dist
enum class garch_mean : std::uint8_t { zero, constant };                       // forecast.mean
enum class feed_interval : std::uint8_t { ms100, raw, agg2 };  // venues.deribit.ticker_interval

// The spelling used in the TOML file ("info", "spin_then_park", "25p", "100ms", ...).
std::string_view to_string(severity v) noexcept;
std::string_view to_string(fit_source v) noexcept;
std::string_view to_string(wait_strategy v) noexcept;
std::string_view to_string(thread_placement v) noexcept;
std::string_view to_string(delta_bucket v) noexcept;
std::string_view to_string(forecast_model v) noexcept;
std::string_view to_string(garch_model v) noexcept;
std::string_view to_string(garch_dist v) noexcept;
std::string_view to_string(garch_mean v) noexcept;
std::string_view to_string(feed_interval v) noexcept;

using hours_f = std::chrono::duration<double, std::ratio<3600>>;

struct service_section {
  std::string state_dir = "/var/lib/vrp";
  severity log_level = severity::info;

  friend bool operator==(const service_section&, const service_section&) = default;
};

struct api_section {
  std::string listen = "127.0.0.1:8080";  // as written ("[::1]:8080" for IPv6)
  std::string listen_host = "127.0.0.1";  // parsed: IP literal without brackets, or "localhost"
  std::uint16_t listen_port = 8080;       // parsed: 0 = let the OS pick a free port
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 64;
  std::size_t max_subscriptions_per_client = 16;
  std::size_t subscriber_queue = 64;  // frames queued per WebSocket subscriber before conflation
  std::chrono::milliseconds slow_consumer_timeout_ms{5'000};
  std::size_t max_request_bytes = 16'384;
  std::size_t max_header_bytes = 8'192;
  std::size_t ws_max_message_bytes = 65'536;
  std::chrono::seconds idle_timeout_s{60};
  std::size_t history_points = 100'000;  // per underlying and tenor, in memory
  std::chrono::milliseconds history_interval_ms{1'000};
  std::string token;  // bearer token; empty = no authentication. Never log it.
  // Both set: the port speaks TLS only (HTTPS, WSS); both empty: plain. Existing PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  // "io": the server shares the feed I/O thread (with engine.thread = "io", an update goes from
  // the socket read to the subscribers' socket writes without a thread hand-off); "own": its own
  // thread, so a slow HTTP request (a large /v1/surface) never delays market data.
  thread_placement thread = thread_placement::io;

  friend bool operator==(const api_section&, const api_section&) = default;
};

struct engine_section {
  std::vector<std::string> underlyings{"BTC", "ETH"};
  std::vector<int> tenors_days{1, 7, 14, 30, 60, 90, 180};
  // Always in the canonical order 10p, 25p, atm, 25c, 10c whatever the order in the file.
  std::vector<delta_bucket> buckets{delta_bucket::put10, delta_bucket::put25, delta_bucket::atm,
                                    delta_bucket::call25, delta_bucket::call10};
  fit_source fit_on = fit_source::mark;
  std::chrono::milliseconds refit_interval_ms{100};
  std::chrono::seconds stale_quote_s{300};
  // Local time without market data after which an underlying is stale (premia unavailable,
  // /readyz 503); 0 disables the check (a replay that ends).
  std::chrono::seconds data_timeout_s{60};
  hours_f min_expiry_hours{1.0};
  int min_quotes_per_expiry = 5;
  int max_refits_per_publish = 1;  // smile fits per published batch (latency bound)
  bool reject_outliers = true;
  // A tenor further outside the fitted expiries than this factor is unavailable
  // ("too_far_from_expiries") instead of extrapolated.
  double max_extrapolation_ratio = 2.0;
  std::size_t ring_capacity = 65'536;  // a power of two
  // "io": the engine runs on the feed I/O thread at the end of each burst of frames; "own": on
  // its own thread, woken through the ring (wait, spin_us).
  thread_placement thread = thread_placement::io;
  wait_strategy wait = wait_strategy::park;
  std::chrono::microseconds spin_us{50};

  friend bool operator==(const engine_section&, const engine_section&) = default;
};

struct forecast_section {
  std::chrono::seconds bar{3'600};
  forecast_model model = forecast_model::gjr;  // what the premium uses
  garch_model garch = garch_model::gjr;        // the GARCH family model (equals model unless har)
  garch_dist dist = garch_dist::normal;
  garch_mean mean = garch_mean::zero;
  std::size_t window = 17'520;  // bars per (re-)estimation
  std::size_t refit_every = 24;
  std::size_t min_points = 1'000;
  int history_days = 120;
  bool background_refit = true;

  friend bool operator==(const forecast_section&, const forecast_section&) = default;
};

struct deribit_section {
  bool enabled = true;
  std::string url = "wss://www.deribit.com/ws/api/v2";
  std::string url_host = "www.deribit.com";  // parsed: IP literals without brackets
  std::uint16_t url_port = 443;              // parsed: explicit, else 443 (wss) / 80 (ws)
  std::string url_target = "/ws/api/v2";     // parsed: path and query, "/" when absent
  bool url_tls = true;                       // parsed: wss://
  std::string ca_file;                       // empty: the system trust store
  std::vector<std::string> currencies{"BTC", "ETH"};
  feed_interval ticker_interval = feed_interval::ms100;
  std::chrono::seconds heartbeat_s{10};
  std::chrono::milliseconds connect_timeout_ms{5'000};
  std::chrono::milliseconds stale_after_ms{15'000};
  std::chrono::milliseconds backoff_initial_ms{250};
  std::chrono::milliseconds backoff_max_ms{30'000};
  std::size_t subscribe_chunk = 250;
  std::size_t max_frame_bytes = 1'048'576;

  friend bool operator==(const deribit_section&, const deribit_section&) = default;
};

struct config {
  service_section service;
  api_section api;
  engine_section engine;
  forecast_section forecast;
  deribit_section deribit;  // [venues.deribit]
  std::string source;       // the file path, or the source name given to load_config_string

  friend bool operator==(const config&, const config&) = default;
};

// A configuration that cannot be used. what() is "<source>: <key path>: <problem>", e.g.
// "deploy/x.toml: engine.tenors_days[2]: -5 is not allowed (whole days between 1 and 3650)",
// "deploy/x.toml:3:7: invalid TOML: <toml++'s description>" for a syntax error, and
// "--listen: <problem>" for a command-line override.
class config_error : public std::runtime_error {
 public:
  explicit config_error(const std::string& message, std::string key = {}, std::uint32_t line = 0,
                        std::uint32_t column = 0);
  // The full key path ("engine.tenors_days[2]") or flag ("--listen"); empty for file-level errors.
  const std::string& key() const noexcept { return key_; }
  // 1-based position in the source when known, else 0.
  std::uint32_t line() const noexcept { return line_; }
  std::uint32_t column() const noexcept { return column_; }

 private:
  std::string key_;
  std::uint32_t line_ = 0;
  std::uint32_t column_ = 0;
};

// Both throw config_error. The file is read whole; relative paths are relative to the working
// directory (also for ca_file, whose existence is checked).
config load_config_file(const std::string& path);
config load_config_string(std::string_view toml, std::string_view source_name = "<string>");

// Command-line overrides (vrpd --listen, --deribit-url, --state-dir), validated like the keys they
// replace; errors name the flag.
struct overrides {
  std::optional<std::string> listen, deribit_url, state_dir;
};
config apply_overrides(config c, const overrides& o);

// One line of key=value pairs for the startup log; the token is printed as token=set|none.
std::string describe(const config& c);

}  // namespace vrp::config
