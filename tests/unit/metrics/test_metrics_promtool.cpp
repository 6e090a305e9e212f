// Cross-check of the exposition with Prometheus' own parser and linter (`promtool check metrics`,
// Debian package `prometheus`): exit 0 and no report means it parsed and linted clean.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

#include "vrp/core/metrics.hpp"

namespace {

using namespace vrp::core;

constexpr const char* promtool_path = "/usr/bin/promtool";

struct promtool_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

promtool_result run_promtool(const std::string& exposition, const std::string& tag) {
  const auto dir = std::filesystem::path(::testing::TempDir());
  const auto stem = "vrp_metrics_" + tag + "_" + std::to_string(::getpid());
  const auto in_path = dir / (stem + ".prom");
  const auto out_path = dir / (stem + ".out");
  {
    std::ofstream in(in_path, std::ios::binary);
    in << exposition;
  }
  const std::string cmd = std::string(promtool_path) + " check metrics < '" + in_path.string() +
                          "' > '" + out_path.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  promtool_result result;
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  std::ifstream out(out_path, std::ios::binary);
  result.output.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
  std::filesystem::remove(in_path);
  std::filesystem::remove(out_path);
  return result;
}

TEST(metrics_promtool, exposition_passes_promtool) {
  if (!std::filesystem::exists(promtool_path)) GTEST_SKIP() << promtool_path << " not installed";
  metrics_registry reg;
  auto& frames_deribit =
      reg.counter("vrp_feed_frames_total", "Frames received per venue.", {{"venue", "deribit"}});
  reg.gauge("vrp_ring_fill_ratio", "Fill of the event ring.\nSampled at scrape.",
            {{"ring", "feed\\deribit"}})
      .set(0.125);
  auto& frames_replay = reg.counter("vrp_feed_frames_total", "Frames received per venue.",
                                    {{"venue", "replay \"local\"\nsecond line"}});
  reg.gauge("vrp_forecast_vol_ratio", "Forecast volatility.", {{"tenor", "30d"}, {"model", "har"}})
      .set(std::numeric_limits<double>::quiet_NaN());
  reg.gauge("vrp_forecast_vol_ratio", "Forecast volatility.", {{"tenor", "7d"}, {"model", "har"}})
      .set(-2.5e-7);
  reg.gauge("vrp_snapshot_age_seconds", "Age of the last snapshot.")
      .set(std::numeric_limits<double>::infinity());
  auto& decode = reg.histogram("vrp_decode_duration_seconds", "Frame decode time.",
                               exponential_buckets(1e-6, 10, 7), {{"venue", "deribit"}});
  auto& decode_replay = reg.histogram("vrp_decode_duration_seconds", "Frame decode time.",
                                      exponential_buckets(1e-6, 10, 7), {{"venue", "replay"}});
  reg.histogram("vrp_snapshot_size_bytes", "Snapshot size.", {1e3, 1e6, 1e9}).observe(2.5e6);
  reg.gauge_callback("vrp_uptime_seconds", "Process uptime.", {}, [] { return 1234.5; });
  reg.counter_callback("vrp_http_requests_total", "HTTP requests served.",
                       {{"route", "/metrics"}, {"code", "200"}}, [] { return 42.0; });
  frames_deribit.inc(1'000'000);
  frames_replay.set(18446744073709551615ULL);
  for (double v : {1e-7, 1e-6, 3e-5, 0.002, 0.5, 7.0}) decode.observe(v);
  decode_replay.observe(std::numeric_limits<double>::quiet_NaN());

  const auto text = reg.expose();
  const auto result = run_promtool(text, "good");
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(result.output, "") << "\n--- exposition ---\n" << text;
}

TEST(metrics_promtool, promtool_flags_a_counter_without_total_suffix) {
  if (!std::filesystem::exists(promtool_path)) GTEST_SKIP() << promtool_path << " not installed";
  // Shows the check above can fail: the registry accepts the name, promtool's linter does not.
  metrics_registry reg;
  reg.counter("vrp_feed_frames", "Frames received.").inc(3);
  const auto result = run_promtool(reg.expose(), "bad");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("vrp_feed_frames counter metrics should have \"_total\" suffix"),
            std::string::npos)
      << result.output;
}

}  // namespace
