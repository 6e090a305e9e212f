// Loading: defaults, the shipped files, syntax errors, overrides and the startup summary.
// Expected values are the schema's documented defaults and the values written in the files.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>

#include "vrp/config/config.hpp"

namespace vrp::config {
namespace {

using namespace std::chrono_literals;

std::string source_path(const std::string& relative) {
  return std::string(VRP_SOURCE_DIR) + "/" + relative;
}

TEST(config_defaults, empty_document_gives_every_documented_default) {
  const config c = load_config_string("");
  EXPECT_EQ(c.source, "<string>");

  EXPECT_EQ(c.service.state_dir, "/var/lib/vrp");
  EXPECT_EQ(c.service.log_level, severity::info);

  EXPECT_EQ(c.api.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.api.listen_host, "127.0.0.1");
  EXPECT_EQ(c.api.listen_port, 8080);
  EXPECT_EQ(c.api.max_connections, 256u);
  EXPECT_EQ(c.api.max_connections_per_address, 64u);
  EXPECT_EQ(c.api.max_subscriptions_per_client, 16u);
  EXPECT_EQ(c.api.subscriber_queue, 64u);
  EXPECT_EQ(c.api.slow_consumer_timeout_ms, 5000ms);
  EXPECT_EQ(c.api.max_request_bytes, 16384u);
  EXPECT_EQ(c.api.max_header_bytes, 8192u);
  EXPECT_EQ(c.api.ws_max_message_bytes, 65536u);
  EXPECT_EQ(c.api.idle_timeout_s, 60s);
  EXPECT_EQ(c.api.history_points, 100000u);
  EXPECT_EQ(c.api.history_interval_ms, 1000ms);
  EXPECT_EQ(c.api.token, "");

  EXPECT_EQ(c.engine.underlyings, (std::vector<std::string>{"BTC", "ETH"}));
  EXPECT_EQ(c.engine.tenors_days, (std::vector<int>{1, 7, 14, 30, 60, 90, 180}));
  EXPECT_EQ(c.engine.buckets,
            (std::vector<delta_bucket>{delta_bucket::put10, delta_bucket::put25, delta_bucket::atm,
                                       delta_bucket::call25, delta_bucket::call10}));
  EXPECT_EQ(c.engine.fit_on, fit_source::mark);
  EXPECT_EQ(c.engine.refit_interval_ms, 100ms);
  EXPECT_EQ(c.engine.stale_quote_s, 300s);
  EXPECT_EQ(c.engine.min_expiry_hours.count(), 1.0);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(c.engine.min_expiry_hours),
            std::chrono::nanoseconds(3'600'000'000'000));
  EXPECT_EQ(c.engine.min_quotes_per_expiry, 5);
  EXPECT_EQ(c.engine.max_refits_per_publish, 1);
  EXPECT_TRUE(c.engine.reject_outliers);
  EXPECT_EQ(c.engine.max_extrapolation_ratio, 2.0);
  EXPECT_EQ(c.engine.ring_capacity, 65536u);
  EXPECT_EQ(c.engine.wait, wait_strategy::park);
  EXPECT_EQ(c.engine.spin_us, 50us);

  EXPECT_EQ(c.forecast.bar, 3600s);
  EXPECT_EQ(c.forecast.model, forecast_model::gjr);
  EXPECT_EQ(c.forecast.garch, garch_model::gjr);
  EXPECT_EQ(c.forecast.dist, garch_dist::normal);
  EXPECT_EQ(c.forecast.mean, garch_mean::zero);
  EXPECT_EQ(c.forecast.window, 17520u);
  EXPECT_EQ(c.forecast.refit_every, 24u);
  EXPECT_EQ(c.forecast.min_points, 1000u);
  EXPECT_EQ(c.forecast.history_days, 120);
  EXPECT_TRUE(c.forecast.background_refit);

  EXPECT_TRUE(c.deribit.enabled);
  EXPECT_EQ(c.deribit.url, "wss://www.deribit.com/ws/api/v2");
  EXPECT_EQ(c.deribit.url_host, "www.deribit.com");
  EXPECT_EQ(c.deribit.url_port, 443);
  EXPECT_EQ(c.deribit.url_target, "/ws/api/v2");
  EXPECT_TRUE(c.deribit.url_tls);
  EXPECT_EQ(c.deribit.ca_file, "");
  EXPECT_EQ(c.deribit.currencies, (std::vector<std::string>{"BTC", "ETH"}));
  EXPECT_EQ(c.deribit.ticker_interval, feed_interval::ms100);
  EXPECT_EQ(c.deribit.heartbeat_s, 10s);
  EXPECT_EQ(c.deribit.connect_timeout_ms, 5000ms);
  EXPECT_EQ(c.deribit.stale_after_ms, 15000ms);
  EXPECT_EQ(c.deribit.backoff_initial_ms, 250ms);
  EXPECT_EQ(c.deribit.backoff_max_ms, 30000ms);
  EXPECT_EQ(c.deribit.subscribe_chunk, 250u);
  EXPECT_EQ(c.deribit.max_frame_bytes, 1048576u);
}

TEST(config_defaults, default_constructed_struct_equals_loaded_empty_document) {
  config expected;
  expected.source = "<string>";
  EXPECT_EQ(load_config_string(""), expected);
}

TEST(config_defaults, empty_tables_take_defaults) {
  const config c = load_config_string(
      "[service]\n[api]\n[engine]\n[forecast]\n[venues]\n"
      "[venues.deribit]\n",
      "x.toml");
  config expected;
  expected.source = "x.toml";
  EXPECT_EQ(c, expected);
}

TEST(config_files, example_file_states_exactly_the_defaults) {
  const std::string path = source_path("deploy/vrpd.example.toml");
  const config c = load_config_file(path);
  EXPECT_EQ(c.source, path);
  config defaults;
  defaults.source = path;
  EXPECT_EQ(c, defaults);
  // A few values as written in the file, independently of the struct's initializers.
  EXPECT_EQ(c.api.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.engine.tenors_days, (std::vector<int>{1, 7, 14, 30, 60, 90, 180}));
  EXPECT_EQ(c.forecast.window, 17520u);
  EXPECT_EQ(c.deribit.url, "wss://www.deribit.com/ws/api/v2");
}

TEST(config_files, example_file_documents_every_key_with_a_comment) {
  // Every `key = value` line is preceded by a comment line (the line-by-line documentation rule).
  std::ifstream in(source_path("deploy/vrpd.example.toml"));
  ASSERT_TRUE(in);
  std::string line, block;  // block: the comment lines right above the current line
  int keys = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') {
      block += line + "\n";
      continue;
    }
    const bool is_key = !line.empty() && line[0] != '[' && line.find(" = ") != std::string::npos;
    if (is_key) {
      ++keys;
      EXPECT_FALSE(block.empty()) << "undocumented: " << line;
      EXPECT_NE(block.find("Default"), std::string::npos) << "no default stated: " << line;
    }
    block.clear();
  }
  EXPECT_EQ(keys, 2 + 16 + 16 + 10 + 12);  // service, api, engine, forecast, venues.deribit
}

TEST(config_files, demo_file_points_at_the_loopback_replay) {
  const config c = load_config_file(source_path("deploy/demo.toml"));
  EXPECT_EQ(c.service.state_dir, "build/demo-state");
  EXPECT_EQ(c.api.listen_host, "127.0.0.1");
  EXPECT_EQ(c.api.listen_port, 8080);
  EXPECT_EQ(c.engine.underlyings, (std::vector<std::string>{"BTC", "ETH"}));
  EXPECT_EQ(c.deribit.url, "ws://127.0.0.1:18443/ws/api/v2");
  EXPECT_FALSE(c.deribit.url_tls);
  EXPECT_EQ(c.deribit.url_host, "127.0.0.1");
  EXPECT_EQ(c.deribit.url_port, 18443);
  EXPECT_EQ(c.deribit.url_target, "/ws/api/v2");
  EXPECT_EQ(c.deribit.currencies, (std::vector<std::string>{"BTC", "ETH"}));
  EXPECT_TRUE(c.deribit.enabled);
  EXPECT_EQ(c.forecast.bar, std::chrono::hours(1));
  EXPECT_EQ(c.forecast.history_days, 120);
}

TEST(config_files, missing_file_error_names_the_path) {
  const std::string path = source_path("deploy/does-not-exist.toml");
  try {
    load_config_file(path);
    FAIL() << "no error";
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_NE(what.find("No such file"), std::string::npos) << what;
  }
}

TEST(config_files, syntax_error_reports_file_line_and_column) {
  const std::string text = "[service]\nstate_dir = \"/tmp\"\n\n[api\nlisten = \"127.0.0.1:1\"\n";
  try {
    load_config_string(text, "deploy/x.toml");
    FAIL() << "no error";
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.line(), 4u) << what;
    EXPECT_GT(e.column(), 0u);
    EXPECT_EQ(what.rfind("deploy/x.toml:4:", 0), 0u) << what;
    EXPECT_NE(what.find("invalid TOML"), std::string::npos) << what;
  }
}

TEST(config_files, syntax_error_in_file_reports_its_path) {
  const auto path = std::filesystem::temp_directory_path() / "vrp_config_test_syntax.toml";
  {
    std::ofstream out(path);
    out << "# comment\n[engine]\nunderlyings = [\"BTC\",\n";
  }
  try {
    load_config_file(path.string());
    FAIL() << "no error";
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path.string() + ":", 0), 0u) << what;
    EXPECT_GE(e.line(), 3u) << what;
  }
  std::filesystem::remove(path);
}

TEST(config_files, value_errors_carry_the_line_of_the_value) {
  try {
    load_config_string("[api]\n\nmax_connections = 0\n");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.key(), "api.max_connections");
  }
}

TEST(config_files, dotted_keys_and_inline_tables_are_the_same_tables) {
  const config c = load_config_string(
      "api.listen = \"127.0.0.1:9000\"\n"
      "venues = { deribit = { url = \"ws://localhost:1/x\" } }\n"
      "engine = { tenors_days = [30] }\n");
  EXPECT_EQ(c.api.listen_port, 9000);
  EXPECT_EQ(c.deribit.url_host, "localhost");
  EXPECT_EQ(c.engine.tenors_days, std::vector<int>{30});
}

TEST(config_overrides, replace_listen_url_and_state_dir_with_parsed_fields) {
  const config base = load_config_string("");
  overrides o;
  o.listen = "[::1]:0";
  o.deribit_url = "ws://127.0.0.2:18443/ws/api/v2?x=1";
  o.state_dir = "/tmp/vrp state";
  const config c = apply_overrides(base, o);
  EXPECT_EQ(c.api.listen, "[::1]:0");
  EXPECT_EQ(c.api.listen_host, "::1");
  EXPECT_EQ(c.api.listen_port, 0);
  EXPECT_EQ(c.deribit.url, "ws://127.0.0.2:18443/ws/api/v2?x=1");
  EXPECT_EQ(c.deribit.url_host, "127.0.0.2");
  EXPECT_EQ(c.deribit.url_port, 18443);
  EXPECT_EQ(c.deribit.url_target, "/ws/api/v2?x=1");
  EXPECT_FALSE(c.deribit.url_tls);
  EXPECT_EQ(c.service.state_dir, "/tmp/vrp state");
  // Everything else untouched.
  config rest = c;
  rest.api = base.api;
  rest.deribit = base.deribit;
  rest.service = base.service;
  EXPECT_EQ(rest, base);
}

TEST(config_overrides, none_given_leaves_the_config_unchanged) {
  const config base = load_config_file(source_path("deploy/demo.toml"));
  EXPECT_EQ(apply_overrides(base, overrides{}), base);
}

void expect_flag_error(const overrides& o, const std::string& flag, const std::string& problem) {
  try {
    apply_overrides(load_config_string(""), o);
    FAIL() << "no error for " << flag;
  } catch (const config_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.key(), flag);
    EXPECT_EQ(what.rfind(flag + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(problem), std::string::npos) << what;
  }
}

TEST(config_overrides, bad_values_are_errors_naming_the_flag) {
  overrides listen;
  listen.listen = "127.0.0.1";
  expect_flag_error(listen, "--listen", "port is missing");
  overrides url;
  url.deribit_url = "ws://www.deribit.com/ws/api/v2";
  expect_flag_error(url, "--deribit-url", "only allowed for loopback hosts");
  overrides dir;
  dir.state_dir = "";
  expect_flag_error(dir, "--state-dir", "must not be empty");
}

TEST(config_describe, is_one_line_of_key_values_without_the_token) {
  const config c = load_config_string("[api]\ntoken = \"s3cr3t-T0ken\"\n", "a.toml");
  const std::string line = describe(c);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << line;
  EXPECT_NE(line.find("api.token=set"), std::string::npos) << line;
  EXPECT_NE(line.find("config=a.toml"), std::string::npos) << line;
  EXPECT_NE(line.find("api.listen=127.0.0.1:8080"), std::string::npos) << line;
  EXPECT_NE(line.find("engine.tenors_days=1,7,14,30,60,90,180"), std::string::npos) << line;
  EXPECT_NE(line.find("engine.buckets=10p,25p,atm,25c,10c"), std::string::npos) << line;
  EXPECT_NE(line.find("forecast.model=gjr"), std::string::npos) << line;
  EXPECT_NE(line.find("engine.wait=park"), std::string::npos) << line;
  EXPECT_NE(line.find("venues.deribit.url=wss://www.deribit.com/ws/api/v2"), std::string::npos);
  EXPECT_NE(describe(load_config_string("")).find("api.token=none"), std::string::npos);
  EXPECT_NE(line.find("forecast.bar=1h"), std::string::npos) << line;
  const config quarter = load_config_string("[forecast]\nbar = \"15m\"\n");
  EXPECT_NE(describe(quarter).find("forecast.bar=15m"), std::string::npos);
}

TEST(config_describe, quotes_values_with_spaces) {
  const config c = load_config_string("[service]\nstate_dir = \"/srv/my state\"\n");
  EXPECT_NE(describe(c).find("service.state_dir=\"/srv/my state\""), std::string::npos);
}

// Property: every enum's spelling, written back into its key, loads as the same value.
template <class Enum>
void expect_round_trip(const std::string& table, const std::string& key,
                       std::initializer_list<Enum> values) {
  for (const Enum v : values) {
    const std::string text =
        "[" + table + "]\n" + key + " = \"" + std::string(to_string(v)) + "\"\n";
    const config c = load_config_string(text);
    SCOPED_TRACE(text);
    if constexpr (std::is_same_v<Enum, severity>) {
      EXPECT_EQ(c.service.log_level, v);
    }
    if constexpr (std::is_same_v<Enum, fit_source>) {
      EXPECT_EQ(c.engine.fit_on, v);
    }
    if constexpr (std::is_same_v<Enum, wait_strategy>) {
      EXPECT_EQ(c.engine.wait, v);
    }
    if constexpr (std::is_same_v<Enum, thread_placement>) {
      EXPECT_EQ(table == "api" ? c.api.thread : c.engine.thread, v);
    }
    if constexpr (std::is_same_v<Enum, forecast_model>) {
      EXPECT_EQ(c.forecast.model, v);
    }
    if constexpr (std::is_same_v<Enum, garch_dist>) {
      EXPECT_EQ(c.forecast.dist, v);
    }
    if constexpr (std::is_same_v<Enum, garch_mean>) {
      EXPECT_EQ(c.forecast.mean, v);
    }
    if constexpr (std::is_same_v<Enum, feed_interval>) {
      EXPECT_EQ(c.deribit.ticker_interval, v);
    }
  }
}

TEST(config_enums, to_string_spellings_load_back_as_the_same_value) {
  expect_round_trip<severity>("service", "log_level",
                              {severity::trace, severity::debug, severity::info, severity::warn,
                               severity::error, severity::off});
  expect_round_trip<fit_source>("engine", "fit_on", {fit_source::mark, fit_source::mid});
  expect_round_trip<wait_strategy>(
      "engine", "wait", {wait_strategy::spin, wait_strategy::spin_then_park, wait_strategy::park});
  expect_round_trip<thread_placement>("engine", "thread",
                                      {thread_placement::io, thread_placement::own});
  expect_round_trip<thread_placement>("api", "thread",
                                      {thread_placement::io, thread_placement::own});
  expect_round_trip<forecast_model>(
      "forecast", "model",
      {forecast_model::garch, forecast_model::gjr, forecast_model::egarch, forecast_model::har});
  expect_round_trip<garch_dist>("forecast", "dist", {garch_dist::normal, garch_dist::t});
  expect_round_trip<garch_mean>("forecast", "mean", {garch_mean::zero, garch_mean::constant});
  expect_round_trip<feed_interval>("venues.deribit", "ticker_interval",
                                   {feed_interval::ms100, feed_interval::raw, feed_interval::agg2});
}

TEST(config_enums, spellings_match_the_schema) {
  EXPECT_EQ(to_string(severity::warn), "warn");
  EXPECT_EQ(to_string(wait_strategy::spin_then_park), "spin_then_park");
  EXPECT_EQ(to_string(delta_bucket::put10), "10p");
  EXPECT_EQ(to_string(delta_bucket::call25), "25c");
  EXPECT_EQ(to_string(feed_interval::ms100), "100ms");
  EXPECT_EQ(to_string(garch_model::egarch), "egarch");
  EXPECT_EQ(to_string(garch_dist::t), "t");
  EXPECT_EQ(to_string(garch_mean::constant), "constant");
  EXPECT_EQ(to_string(fit_source::mid), "mid");
  EXPECT_EQ(to_string(forecast_model::har), "har");
}

}  // namespace
}  // namespace vrp::config
