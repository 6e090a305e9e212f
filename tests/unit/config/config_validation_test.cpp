// Validation: every rule of the schema (config/README.md) gives an error that names the source,
// the full key path and the problem; unknown keys and tables and wrong types are errors.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vrp/config/config.hpp"

namespace vrp::config {
namespace {

using namespace std::chrono_literals;

// Loads `text` as "deploy/x.toml" and expects a config_error whose what() is
// "deploy/x.toml: <key>: ..." and contains every fragment of `problem`.
void expect_error(const std::string& text, const std::string& key,
                  std::initializer_list<std::string> problem) {
  SCOPED_TRACE(text);
  try {
    load_config_string(text, "deploy/x.toml");
    ADD_FAILURE() << "no error, expected one for " << key;
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.key(), key) << what;
    EXPECT_EQ(what.rfind("deploy/x.toml: " + key + ": ", 0), 0u) << what;
    for (const auto& fragment : problem) {
      EXPECT_NE(what.find(fragment), std::string::npos)
          << "missing '" << fragment << "' in " << what;
    }
  }
}

// --- the example of the schema ------------------------------------------------------------------

TEST(config_validation, negative_tenor_error_is_the_documented_message) {
  try {
    load_config_string("[engine]\ntenors_days = [1, 7, -5]\n", "deploy/x.toml");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(),
                 "deploy/x.toml: engine.tenors_days[2]: -5 is not allowed (whole days between 1 "
                 "and 3650)");
  }
}

// --- unknown keys, unknown tables, wrong types -------------------------------------------------

TEST(config_validation, unknown_key_names_full_path_and_lists_allowed_keys) {
  expect_error("[api]\nmax_conections = 10\n", "api.max_conections",
               {"unknown key", "allowed in [api]: listen, max_connections,", "token",
                "did you mean max_connections?"});
  expect_error("[venues.deribit]\nhartbeat_s = 10\n", "venues.deribit.hartbeat_s",
               {"unknown key", "heartbeat_s", "did you mean heartbeat_s?"});
  expect_error("[forecast]\ncompletely_unrelated = 1\n", "forecast.completely_unrelated",
               {"unknown key", "bar, model, garch"});
  expect_error("stray = true\n", "stray", {"unknown key", "at the top level", "service, api"});
}

TEST(config_validation, unknown_key_without_close_match_has_no_suggestion) {
  try {
    load_config_string("[engine]\nzzzzzzzzzz = 1\n");
    FAIL();
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()).find("did you mean"), std::string::npos) << e.what();
  }
}

TEST(config_validation, unknown_table_is_an_error) {
  expect_error(
      "[servce]\nstate_dir = \"/x\"\n", "servce",
      {"unknown table", "service, api, engine, forecast, venues", "did you mean service?"});
  expect_error("[api.tls]\ncert = \"x\"\n", "api.tls", {"unknown table", "allowed in [api]"});
}

TEST(config_validation, other_venues_are_not_supported_yet) {
  expect_error("[venues.okx]\nenabled = true\n", "venues.okx",
               {"venue not supported yet (supported: deribit)"});
  expect_error("[venues.deribit]\n[venues.bybit]\n", "venues.bybit",
               {"venue not supported yet (supported: deribit)"});
}

TEST(config_validation, wrong_types_name_found_and_expected_type) {
  expect_error("[api]\nmax_connections = \"256\"\n", "api.max_connections",
               {"expected an integer, found a string (\"256\")"});
  expect_error("[api]\nlisten = 8080\n", "api.listen", {"expected a string, found an integer"});
  expect_error("[engine]\nreject_outliers = \"yes\"\n", "engine.reject_outliers",
               {"expected a boolean", "found a string"});
  expect_error("[engine]\nunderlyings = \"BTC\"\n", "engine.underlyings",
               {"expected an array, found a string"});
  expect_error("[engine]\ntenors_days = [1, 7.5]\n", "engine.tenors_days[1]",
               {"expected an integer, found a float (7.5)"});
  expect_error("[engine]\nmin_expiry_hours = \"1\"\n", "engine.min_expiry_hours",
               {"expected a number, found a string"});
  expect_error("api = 3\n", "api", {"expected a table, found an integer"});
  expect_error("[venues]\nderibit = [1]\n", "venues.deribit", {"expected a table, found an array"});
  expect_error("[forecast]\nwindow = 1.0e4\n", "forecast.window",
               {"expected an integer, found a float"});
  expect_error("[service]\nstate_dir = 1979-05-27\n", "service.state_dir",
               {"expected a string, found a date"});
}

// --- [service] ----------------------------------------------------------------------------------

TEST(config_validation, service_rules) {
  expect_error("[service]\nstate_dir = \"\"\n", "service.state_dir", {"must not be empty"});
  expect_error("[service]\nstate_dir = \"a\\nb\"\n", "service.state_dir", {"control characters"});
  expect_error("[service]\nlog_level = \"verbose\"\n", "service.log_level",
               {"\"verbose\" is not allowed (one of trace, debug, info, warn, error, off)"});
  expect_error("[service]\nlog_level = \"INFO\"\n", "service.log_level",
               {"\"INFO\" is not allowed"});
}

// --- [api] --------------------------------------------------------------------------------------

TEST(config_validation, listen_accepts_ipv4_ipv6_and_localhost) {
  struct row {
    const char* listen;
    const char* host;
    std::uint16_t port;
  };
  for (const row& r :
       {row{"0.0.0.0:80", "0.0.0.0", 80}, row{"127.0.0.1:0", "127.0.0.1", 0},
        row{"[::1]:8080", "::1", 8080}, row{"[::]:65535", "::", 65535},
        row{"localhost:9", "localhost", 9}, row{"[2001:db8::7]:443", "2001:db8::7", 443}}) {
    const config c = load_config_string(std::string("[api]\nlisten = \"") + r.listen + "\"\n");
    EXPECT_EQ(c.api.listen, r.listen);
    EXPECT_EQ(c.api.listen_host, r.host);
    EXPECT_EQ(c.api.listen_port, r.port);
  }
}

TEST(config_validation, listen_rejects_bad_addresses_saying_why) {
  const auto bad = [](const std::string& listen, const std::string& why) {
    expect_error("[api]\nlisten = \"" + listen + "\"\n", "api.listen",
                 {"\"" + listen + "\" is not allowed", why, "host:port"});
  };
  bad("127.0.0.1", "port is missing");
  bad("127.0.0.1:", "port must be a number between 0 and 65535");
  bad("127.0.0.1:65536", "port must be a number between 0 and 65535");
  bad("127.0.0.1:-1", "port must be a number between 0 and 65535");
  bad("127.0.0.1:80a", "port must be a number between 0 and 65535");
  bad("example.com:80", "IPv4 or IPv6 literal or localhost");
  bad("256.1.1.1:80", "IPv4 or IPv6 literal or localhost");
  bad(":8080", "IPv4 or IPv6 literal or localhost");
  bad("::1:8080", "IPv6 address needs brackets");
  bad("[::1]", "port is missing");
  bad("[::1:8080", "closing bracket");
  bad("[127.0.0.1]:80", "not an IPv6 address");
  bad("", "port is missing");
}

TEST(config_validation, api_limits_and_cross_rules) {
  expect_error("[api]\nmax_connections = 10\nmax_connections_per_address = 11\n",
               "api.max_connections_per_address",
               {"11 is not allowed (at most api.max_connections = 10)"});
  expect_error("[api]\nmax_connections = 0\n", "api.max_connections",
               {"0 is not allowed (an integer between 1 and 65535)"});
  expect_error("[api]\nslow_consumer_timeout_ms = 99\n", "api.slow_consumer_timeout_ms",
               {"99 is not allowed (milliseconds between 100 and 600000)"});
  expect_error("[api]\nmax_header_bytes = 100\n", "api.max_header_bytes",
               {"100 is not allowed (bytes between 1024 and 1048576)"});
  expect_error("[api]\nidle_timeout_s = 0\n", "api.idle_timeout_s",
               {"seconds between 1 and 86400"});
  expect_error("[api]\nhistory_points = 0\n", "api.history_points", {"0 is not allowed"});
  expect_error("[api]\nhistory_interval_ms = -1\n", "api.history_interval_ms",
               {"-1 is not allowed"});
}

TEST(config_validation, token_with_spaces_is_rejected_without_echoing_it) {
  try {
    load_config_string("[api]\ntoken = \"my secret\"\n");
    FAIL();
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.key(), "api.token");
    EXPECT_EQ(what.find("secret"), std::string::npos) << what;
    EXPECT_NE(what.find("visible ASCII"), std::string::npos) << what;
  }
  EXPECT_EQ(load_config_string("[api]\ntoken = \"abc.DEF-123_~+/=\"\n").api.token,
            "abc.DEF-123_~+/=");
}

// --- [engine] -----------------------------------------------------------------------------------

TEST(config_validation, underlyings_rules) {
  expect_error("[engine]\nunderlyings = []\n", "engine.underlyings", {"must not be empty"});
  expect_error("[engine]\nunderlyings = [\"BTC\", \"eth\"]\n", "engine.underlyings[1]",
               {"\"eth\" is not allowed", "uppercase"});
  expect_error("[engine]\nunderlyings = [\"BTC\", \"BTC-USD\"]\n", "engine.underlyings[1]",
               {"uppercase letters A-Z or digits 0-9"});
  expect_error("[engine]\nunderlyings = [\"\"]\n", "engine.underlyings[0]",
               {"\"\" is not allowed"});
  expect_error("[engine]\nunderlyings = [\"BTC\", \"ETH\", \"BTC\"]\n", "engine.underlyings[2]",
               {"\"BTC\" is not allowed (duplicate of engine.underlyings[0])"});
}

TEST(config_validation, underlyings_need_a_venue_currency_when_deribit_is_enabled) {
  expect_error("[engine]\nunderlyings = [\"BTC\", \"SOL\"]\n", "engine.underlyings[1]",
               {"\"SOL\" is not allowed", "venues.deribit.currencies = BTC, ETH"});
  const config c =
      load_config_string("[engine]\nunderlyings = [\"SOL\"]\n[venues.deribit]\nenabled = false\n");
  EXPECT_EQ(c.engine.underlyings, std::vector<std::string>{"SOL"});
  EXPECT_FALSE(c.deribit.enabled);
  // Extra venue currencies are fine.
  EXPECT_NO_THROW(load_config_string("[engine]\nunderlyings = [\"ETH\"]\n"));
}

TEST(config_validation, tenors_rules) {
  expect_error("[engine]\ntenors_days = []\n", "engine.tenors_days", {"must not be empty"});
  expect_error("[engine]\ntenors_days = [0]\n", "engine.tenors_days[0]",
               {"0 is not allowed (whole days between 1 and 3650)"});
  expect_error("[engine]\ntenors_days = [3651]\n", "engine.tenors_days[0]",
               {"3651 is not allowed"});
  expect_error("[engine]\ntenors_days = [7, 1]\n", "engine.tenors_days[1]",
               {"1 is not allowed", "unique and ascending", "the one before is 7"});
  expect_error("[engine]\ntenors_days = [7, 7]\n", "engine.tenors_days[1]",
               {"unique and ascending"});
  EXPECT_EQ(load_config_string("[engine]\ntenors_days = [3650]\n").engine.tenors_days,
            std::vector<int>{3650});
}

TEST(config_validation, buckets_are_a_unique_subset_output_in_canonical_order) {
  const config c = load_config_string("[engine]\nbuckets = [\"10c\", \"atm\", \"10p\"]\n");
  EXPECT_EQ(c.engine.buckets, (std::vector<delta_bucket>{delta_bucket::put10, delta_bucket::atm,
                                                         delta_bucket::call10}));
  expect_error("[engine]\nbuckets = [\"atm\", \"50c\"]\n", "engine.buckets[1]",
               {"\"50c\" is not allowed (one of 10p, 25p, atm, 25c, 10c)"});
  expect_error("[engine]\nbuckets = [\"atm\", \"25p\", \"atm\"]\n", "engine.buckets[2]",
               {"duplicate of engine.buckets[0]"});
  expect_error("[engine]\nbuckets = []\n", "engine.buckets", {"must not be empty"});
}

TEST(config_validation, engine_scalar_rules) {
  expect_error("[engine]\nfit_on = \"bid\"\n", "engine.fit_on",
               {"\"bid\" is not allowed (one of mark, mid)"});
  expect_error("[engine]\nwait = \"yield\"\n", "engine.wait",
               {"one of spin, spin_then_park, park"});
  expect_error("[engine]\nthread = \"worker\"\n", "engine.thread", {"one of io, own"});
  expect_error("[api]\nthread = 1\n", "api.thread", {"string"});
  expect_error("[engine]\ndata_timeout_s = -1\n", "engine.data_timeout_s",
               {"seconds between 0 (no check) and 86400"});
  expect_error("[engine]\nrefit_interval_ms = 60001\n", "engine.refit_interval_ms",
               {"60001 is not allowed (milliseconds between 0 and 60000)"});
  expect_error("[engine]\nmin_quotes_per_expiry = 4\n", "engine.min_quotes_per_expiry",
               {"4 is not allowed (at least 5"});
  expect_error("[engine]\nring_capacity = 3000\n", "engine.ring_capacity",
               {"3000 is not allowed (a power of two between 1024 and 16777216)"});
  expect_error("[engine]\nmin_expiry_hours = -0.5\n", "engine.min_expiry_hours",
               {"-0.5 is not allowed (hours between 0 and 720"});
  expect_error("[engine]\nmin_expiry_hours = inf\n", "engine.min_expiry_hours",
               {"inf is not allowed"});
  expect_error("[engine]\nmin_expiry_hours = nan\n", "engine.min_expiry_hours",
               {"nan is not allowed"});
  expect_error("[engine]\nspin_us = 10001\n", "engine.spin_us",
               {"microseconds between 0 and 10000"});
  expect_error("[engine]\nstale_quote_s = 0\n", "engine.stale_quote_s",
               {"seconds between 1 and 86400"});
  expect_error("[engine]\nmax_extrapolation_ratio = 0.5\n", "engine.max_extrapolation_ratio",
               {"0.5 is not allowed (a factor between 1 and 1000"});
  expect_error("[engine]\nmax_extrapolation_ratio = 1001\n", "engine.max_extrapolation_ratio",
               {"1001 is not allowed"});
  expect_error("[engine]\nmax_extrapolation_ratio = nan\n", "engine.max_extrapolation_ratio",
               {"nan is not allowed"});
  expect_error("[engine]\nmax_extrapolation_ratio = \"2\"\n", "engine.max_extrapolation_ratio",
               {"a number"});
}

TEST(config_validation, max_extrapolation_ratio_accepts_integers_and_fractions) {
  EXPECT_EQ(
      load_config_string("[engine]\nmax_extrapolation_ratio = 1\n").engine.max_extrapolation_ratio,
      1.0);
  EXPECT_EQ(load_config_string("[engine]\nmax_extrapolation_ratio = 3.5\n")
                .engine.max_extrapolation_ratio,
            3.5);
}

TEST(config_validation, min_expiry_hours_accepts_integers_and_fractions) {
  EXPECT_EQ(load_config_string("[engine]\nmin_expiry_hours = 2\n").engine.min_expiry_hours.count(),
            2.0);
  const config c = load_config_string("[engine]\nmin_expiry_hours = 0.25\n");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(c.engine.min_expiry_hours), 900s);
}

// --- [forecast] ---------------------------------------------------------------------------------

TEST(config_validation, bar_parses_seconds_minutes_hours_dividing_a_day) {
  struct row {
    const char* text;
    std::chrono::seconds bar;
  };
  for (const row& r :
       {row{"1h", 3600s}, row{"4h", 14400s}, row{"24h", 86400s}, row{"15m", 900s}, row{"1m", 60s},
        row{"30s", 30s}, row{"1s", 1s}, row{"90m", 5400s}, row{"86400s", 86400s}}) {
    // Short bars need fewer history days for min_points; keep the history rule out of the way.
    const config c = load_config_string(std::string("[forecast]\nbar = \"") + r.text + "\"\n" +
                                        "history_days = 3650\nmin_points = 50\nwindow = 500\n");
    EXPECT_EQ(c.forecast.bar, r.bar) << r.text;
  }
  for (const char* bad : {"0h", "7m", "25h", "1d", "1.5h", "h", "-1h", "+1h", "1 h", "1H", "60", "",
                          "1440m1", "99999999h"}) {
    expect_error(std::string("[forecast]\nbar = \"") + bad + "\"\n", "forecast.bar",
                 {"is not allowed", "Ns, Nm or Nh", "dividing one day"});
  }
}

TEST(config_validation, garch_must_match_a_garch_family_model) {
  expect_error("[forecast]\nmodel = \"gjr\"\ngarch = \"egarch\"\n", "forecast.garch",
               {"\"egarch\" is not allowed", "equal forecast.model = \"gjr\"", "model = \"har\""});
  const config same = load_config_string("[forecast]\nmodel = \"egarch\"\ngarch = \"egarch\"\n");
  EXPECT_EQ(same.forecast.garch, garch_model::egarch);
  const config absent = load_config_string("[forecast]\nmodel = \"garch\"\n");
  EXPECT_EQ(absent.forecast.garch, garch_model::garch);
  const config har = load_config_string("[forecast]\nmodel = \"har\"\ngarch = \"egarch\"\n");
  EXPECT_EQ(har.forecast.model, forecast_model::har);
  EXPECT_EQ(har.forecast.garch, garch_model::egarch);
  const config har_default = load_config_string("[forecast]\nmodel = \"har\"\n");
  EXPECT_EQ(har_default.forecast.garch, garch_model::gjr);
  expect_error("[forecast]\nmodel = \"har\"\ngarch = \"har\"\n", "forecast.garch",
               {"\"har\" is not allowed (one of garch, gjr, egarch)"});
}

TEST(config_validation, forecast_rules) {
  expect_error("[forecast]\nmodel = \"arima\"\n", "forecast.model",
               {"one of garch, gjr, egarch, har"});
  expect_error("[forecast]\ndist = \"skewt\"\n", "forecast.dist", {"one of normal, t"});
  expect_error("[forecast]\nmean = \"ar1\"\n", "forecast.mean", {"one of zero, constant"});
  expect_error("[forecast]\nwindow = 499\nmin_points = 100\n", "forecast.window",
               {"499 is not allowed (bars between 500 and 1000000)"});
  expect_error("[forecast]\nrefit_every = 0\n", "forecast.refit_every", {"0 is not allowed"});
  expect_error("[forecast]\nwindow = 600\n", "forecast.min_points",
               {"1000 is not allowed (at most forecast.window = 600)"});
  expect_error("[forecast]\nmin_points = 49\n", "forecast.min_points", {"49 is not allowed"});
  expect_error("[forecast]\nhistory_days = 0\n", "forecast.history_days",
               {"whole days between 1 and 3650"});
  expect_error("[forecast]\nbackground_refit = 1\n", "forecast.background_refit",
               {"expected a boolean"});
}

TEST(config_validation, history_must_cover_min_points_bars) {
  // 41 days of 1 h bars = 984 bars < 1001; 42 days = 1008 bars.
  expect_error("[forecast]\nhistory_days = 41\n", "forecast.history_days",
               {"41 is not allowed", "984 bars", "min_points + 1 = 1001"});
  EXPECT_EQ(load_config_string("[forecast]\nhistory_days = 42\n").forecast.history_days, 42);
  // Daily bars: 1000 returns need 1001 days.
  expect_error("[forecast]\nbar = \"24h\"\nhistory_days = 1000\n", "forecast.history_days",
               {"1000 bars"});
  EXPECT_NO_THROW(load_config_string("[forecast]\nbar = \"24h\"\nhistory_days = 1001\n"));
}

// --- [venues.deribit] ---------------------------------------------------------------------------

TEST(config_validation, deribit_url_is_parsed) {
  struct row {
    const char* url;
    const char* host;
    std::uint16_t port;
    const char* target;
    bool tls;
  };
  for (const row& r :
       {row{"wss://test.deribit.com/ws/api/v2", "test.deribit.com", 443, "/ws/api/v2", true},
        row{"wss://www.deribit.com:8443", "www.deribit.com", 8443, "/", true},
        row{"wss://10.1.2.3?x=1", "10.1.2.3", 443, "/?x=1", true},
        row{"ws://localhost/ws", "localhost", 80, "/ws", false},
        row{"ws://LocalHost:1/ws", "LocalHost", 1, "/ws", false},
        row{"ws://127.255.0.9:18443/ws/api/v2", "127.255.0.9", 18443, "/ws/api/v2", false},
        row{"ws://[::1]:18443/ws/api/v2", "::1", 18443, "/ws/api/v2", false},
        row{"wss://[2001:db8::1]/a", "2001:db8::1", 443, "/a", true}}) {
    const config c = load_config_string(std::string("[venues.deribit]\nurl = \"") + r.url + "\"\n");
    EXPECT_EQ(c.deribit.url, r.url);
    EXPECT_EQ(c.deribit.url_host, r.host) << r.url;
    EXPECT_EQ(c.deribit.url_port, r.port) << r.url;
    EXPECT_EQ(c.deribit.url_target, r.target) << r.url;
    EXPECT_EQ(c.deribit.url_tls, r.tls) << r.url;
  }
}

TEST(config_validation, deribit_url_rejects_plain_ws_off_loopback_and_bad_urls) {
  const auto bad = [](const std::string& url, const std::string& why) {
    expect_error("[venues.deribit]\nurl = \"" + url + "\"\n", "venues.deribit.url",
                 {"\"" + url + "\" is not allowed", why});
  };
  const std::string loopback_only =
      "ws:// (no TLS) is only allowed for loopback hosts 127.0.0.0/8, localhost or ::1";
  bad("ws://www.deribit.com/ws/api/v2", loopback_only);
  bad("ws://128.0.0.1/ws", loopback_only);
  bad("ws://10.0.0.1:80/ws", loopback_only);
  bad("ws://[::2]/ws", loopback_only);
  bad("ws://[::ffff:10.0.0.1]/ws", loopback_only);
  bad("ws://localhost.example.com/ws", loopback_only);
  bad("https://www.deribit.com/ws/api/v2", "scheme must be ws:// or wss://");
  bad("www.deribit.com/ws/api/v2", "scheme must be ws:// or wss://");
  bad("wss:///ws", "host is missing");
  bad("wss://user:pw@www.deribit.com/ws", "credentials");
  bad("wss://www.deribit.com:0/ws", "port must be a number between 1 and 65535");
  bad("wss://www.deribit.com:70000/ws", "port must be a number between 1 and 65535");
  bad("wss://www.deribit.com/ws#frag", "fragment");
  bad("wss://www.deri bit.com/ws", "space or control");
  bad("wss://bad_host.com/ws", "neither a host name nor an IP address");
  bad("wss://-bad.com/ws", "neither a host name nor an IP address");
  bad("wss://[::1/ws", "closing bracket");
}

TEST(config_validation, ca_file_must_exist_when_set) {
  expect_error("[venues.deribit]\nca_file = \"/nonexistent/ca.pem\"\n", "venues.deribit.ca_file",
               {"\"/nonexistent/ca.pem\" is not allowed", "no such file", "system trust store"});
  expect_error(std::string("[venues.deribit]\nca_file = \"") + VRP_SOURCE_DIR + "/deploy\"\n",
               "venues.deribit.ca_file", {"no such file"});  // a directory is not a file
  const std::string existing = std::string(VRP_SOURCE_DIR) + "/deploy/demo.toml";
  EXPECT_EQ(
      load_config_string("[venues.deribit]\nca_file = \"" + existing + "\"\n").deribit.ca_file,
      existing);
}

TEST(config_validation, tls_files_must_exist_and_come_as_a_pair) {
  const std::string cert = std::string(VRP_SOURCE_DIR) + "/tests/data/tls/localhost.pem";
  const std::string key = std::string(VRP_SOURCE_DIR) + "/tests/data/tls/localhost.key";
  const auto api = [](const std::string& lines) { return "[api]\n" + lines; };
  expect_error(api("tls_cert_file = \"/nonexistent/c.pem\"\ntls_key_file = \"" + key + "\"\n"),
               "api.tls_cert_file", {"no such file", "leave both"});
  expect_error(api("tls_cert_file = \"" + cert + "\"\ntls_key_file = \"/nonexistent/k.pem\"\n"),
               "api.tls_key_file", {"no such file"});
  expect_error(api("tls_cert_file = \"" + cert + "\"\n"), "api.tls_key_file",
               {"TLS needs both", "(api.tls_cert_file is set)", "neither for plain HTTP"});
  expect_error(api("tls_key_file = \"" + key + "\"\n"), "api.tls_cert_file",
               {"TLS needs both", "(api.tls_key_file is set)"});
  const config c =
      load_config_string(api("tls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key + "\"\n"));
  EXPECT_EQ(c.api.tls_cert_file, cert);
  EXPECT_EQ(c.api.tls_key_file, key);
  EXPECT_NE(describe(c).find("api.tls=on"), std::string::npos);
  EXPECT_NE(describe(load_config_string("")).find("api.tls=off"), std::string::npos);
  EXPECT_TRUE(load_config_string("").api.tls_cert_file.empty());
}

TEST(config_validation, deribit_rules) {
  expect_error("[venues.deribit]\ncurrencies = []\n", "venues.deribit.currencies",
               {"must not be empty"});
  expect_error("[venues.deribit]\ncurrencies = [\"BTC\", \"eth\"]\n",
               "venues.deribit.currencies[1]", {"\"eth\" is not allowed"});
  expect_error("[venues.deribit]\nticker_interval = \"1s\"\n", "venues.deribit.ticker_interval",
               {"\"1s\" is not allowed (one of 100ms, raw, agg2)"});
  expect_error("[venues.deribit]\nheartbeat_s = 0\n", "venues.deribit.heartbeat_s",
               {"0 is not allowed (seconds between 1 and 3600)"});
  expect_error("[venues.deribit]\nstale_after_ms = 10000\n", "venues.deribit.stale_after_ms",
               {"10000 is not allowed (more than venues.deribit.heartbeat_s = 10 s"});
  expect_error("[venues.deribit]\nbackoff_initial_ms = 1000\nbackoff_max_ms = 999\n",
               "venues.deribit.backoff_max_ms",
               {"999 is not allowed (at least venues.deribit.backoff_initial_ms = 1000)"});
  expect_error("[venues.deribit]\nsubscribe_chunk = 501\n", "venues.deribit.subscribe_chunk",
               {"501 is not allowed", "between 1 and 500"});
  expect_error("[venues.deribit]\nmax_frame_bytes = 1024\n", "venues.deribit.max_frame_bytes",
               {"bytes between 65536 and 67108864"});
  expect_error("[venues.deribit]\nconnect_timeout_ms = 50\n", "venues.deribit.connect_timeout_ms",
               {"milliseconds between 100 and 120000"});
  expect_error("[venues.deribit]\nenabled = \"no\"\n", "venues.deribit.enabled",
               {"expected a boolean"});
}

// --- property-style sweeps ----------------------------------------------------------------------

// For integer keys with a plain [lo, hi] range (the documented range, written here independently),
// sweep values around and far outside the bounds: accepted iff inside, and every rejection names
// the key and the value.
TEST(config_sweep, integer_keys_accept_exactly_their_documented_range) {
  struct key_range {
    const char* table;
    const char* key;
    std::int64_t lo, hi;
    const char* extra;  // other keys of the table, to keep cross-key rules out of the way
  };
  const std::vector<key_range> keys = {
      {"api", "max_connections", 1, 65'535, "max_connections_per_address = 1\n"},
      {"api", "max_subscriptions_per_client", 1, 1'024, ""},
      {"api", "subscriber_queue", 1, 65'536, ""},
      {"api", "slow_consumer_timeout_ms", 100, 600'000, ""},
      {"api", "max_request_bytes", 1'024, 16'777'216, ""},
      {"api", "ws_max_message_bytes", 1'024, 16'777'216, ""},
      {"api", "history_points", 1, 10'000'000, ""},
      {"engine", "refit_interval_ms", 0, 60'000, ""},
      {"engine", "min_quotes_per_expiry", 5, 10'000, ""},
      {"engine", "max_refits_per_publish", 1, 64, ""},
      {"engine", "spin_us", 0, 10'000, ""},
      {"forecast", "refit_every", 1, 1'000'000, ""},
      // lo: 1000 returns of 1 h bars need 1001 bars, 42 days (the cross-key rule, same key).
      {"forecast", "history_days", 42, 3'650, ""},
      {"venues.deribit", "subscribe_chunk", 1, 500, ""},
      {"venues.deribit", "heartbeat_s", 1, 3'600, "stale_after_ms = 7200000\n"},
      {"venues.deribit", "backoff_initial_ms", 1, 60'000, "backoff_max_ms = 600000\n"},
  };
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t small = std::numeric_limits<std::int64_t>::min();
  for (const key_range& k : keys) {
    const std::vector<std::int64_t> values = {
        small,    -1'000'000,        -1,       0,    1,        k.lo - 1,     k.lo,
        k.lo + 1, (k.lo + k.hi) / 2, k.hi - 1, k.hi, k.hi + 1, 2 * k.hi + 7, big};
    for (const std::int64_t v : values) {
      std::string text = "[";
      text.append(k.table).append("]\n").append(k.extra).append(k.key).append(" = ");
      text.append(std::to_string(v)).append("\n");
      const std::string path = std::string(k.table) + "." + k.key;
      if (v >= k.lo && v <= k.hi) {
        EXPECT_NO_THROW(load_config_string(text)) << text;
      } else {
        expect_error(text, path, {std::to_string(v) + " is not allowed"});
      }
    }
  }
}

TEST(config_sweep, ring_capacity_accepts_only_powers_of_two_in_range) {
  for (std::int64_t v = 1; v <= (std::int64_t{1} << 26); v *= 2) {
    for (const std::int64_t candidate : {v - 1, v, v + 1}) {
      const std::string text = "[engine]\nring_capacity = " + std::to_string(candidate) + "\n";
      const bool power_of_two = candidate == v || candidate == 1 || candidate == 2;
      const bool ok = power_of_two && candidate >= 1'024 && candidate <= 16'777'216;
      if (ok) {
        EXPECT_EQ(load_config_string(text).engine.ring_capacity,
                  static_cast<std::size_t>(candidate));
      } else {
        expect_error(text, "engine.ring_capacity",
                     {std::to_string(candidate) + " is not allowed", "power of two"});
      }
    }
  }
}

TEST(config_sweep, every_tenor_position_is_checked) {
  // A bad value at each position of a valid list is reported with that index.
  const std::vector<std::string> good = {"1", "7", "14", "30", "60", "90", "180"};
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const char* bad : {"0", "-5", "3651", "99999999999"}) {
      std::string list;
      for (std::size_t j = 0; j < good.size(); ++j) {
        if (j > 0) list += ", ";
        list += j == i ? bad : good[j];
      }
      // A value that is in range but breaks the order is also reported at its own index; these
      // are out of range so the range message comes first.
      expect_error("[engine]\ntenors_days = [" + list + "]\n",
                   "engine.tenors_days[" + std::to_string(i) + "]",
                   {std::string(bad) + " is not allowed (whole days between 1 and 3650)"});
    }
  }
}

TEST(config_sweep, bar_values_dividing_a_day_are_exactly_the_accepted_ones) {
  // Independent rule: N*unit seconds, 1 <= N, and 86400 % seconds == 0.
  for (const auto& [suffix, unit] : {std::pair<char, int>{'s', 1}, {'m', 60}, {'h', 3600}}) {
    for (int n = 0; n <= 100; ++n) {
      const std::string text = "[forecast]\nbar = \"" + std::to_string(n) + suffix +
                               "\"\nhistory_days = 3650\nmin_points = 50\nwindow = 500\n";
      const int seconds = n * unit;
      const bool ok = n >= 1 && seconds <= 86'400 && 86'400 % seconds == 0;
      if (ok) {
        EXPECT_EQ(load_config_string(text).forecast.bar, std::chrono::seconds(seconds)) << text;
      } else {
        expect_error(text, "forecast.bar", {"is not allowed"});
      }
    }
  }
}

}  // namespace
}  // namespace vrp::config
