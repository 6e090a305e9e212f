// The state store: round trips of the premium history and forecaster checkpoints through the
// SQLite file, WAL mode, detection of bad files (random bytes, a truncated database, a wrong
// schema version) with the file moved aside, a clean start and the error metric, and the writer
// queue's drop-oldest bound.

#include "vrp/service/state_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/forecaster.hpp"

namespace {

namespace fs = std::filesystem;
using vrp::service::history_point;
using vrp::service::state_store;
using vrp::service::state_store_options;

class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("vrp-state-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

state_store_options options_for(const fs::path& dir, bool writer = true) {
  state_store_options o;
  o.dir = dir;
  o.batch_interval = std::chrono::milliseconds(20);
  o.start_writer = writer;
  return o;
}

// The value of one sample line of the exposition ("name{labels} value"), -1 when absent.
double sample(const vrp::core::metrics_registry& r, const std::string& series) {
  const std::string text = r.expose();
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

history_point point(std::int64_t ts_ms, double base) {
  return {ts_ms, base, base + 0.01, base - 0.1, 0.1, base * base - 0.01, -0.02, 0.003};
}

bool same(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

void expect_same_point(const history_point& a, const history_point& b) {
  EXPECT_EQ(a.ts_ms, b.ts_ms);
  EXPECT_TRUE(same(a.atm_iv, b.atm_iv));
  EXPECT_TRUE(same(a.mfiv, b.mfiv));
  EXPECT_TRUE(same(a.rv_forecast, b.rv_forecast));
  EXPECT_TRUE(same(a.premium_vol, b.premium_vol));
  EXPECT_TRUE(same(a.premium_var, b.premium_var));
  EXPECT_TRUE(same(a.rr25, b.rr25));
  EXPECT_TRUE(same(a.bf25, b.bf25));
}

std::string query_text(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      out = t != nullptr ? t : "";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

TEST(state_store, history_round_trips_through_the_file) {
  temp_dir dir;
  std::vector<history_point> written;
  for (int i = 0; i < 50; ++i)
    written.push_back(point(1'761'346'800'000 + i * 1000, 0.4 + i * 1e-3));
  written[7].mfiv = std::nan("");  // a tenor without MFIV is stored as NULL and read back as NaN
  {
    vrp::core::metrics_registry reg;
    state_store store(options_for(dir.path()), reg);
    ASSERT_TRUE(store.enabled());
    for (const auto& p : written) store.append_history("BTC", 30, p);
    store.append_history("ETH", 7, point(5, 0.6));
    store.flush();
    EXPECT_EQ(store.stats().writes_history, 51u);
    EXPECT_EQ(sample(reg, "vrp_state_writes_total{kind=\"history\"}"), 51);
    EXPECT_EQ(store.stats().write_errors, 0u);
  }
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path()), reg);
  ASSERT_TRUE(store.enabled());
  EXPECT_TRUE(store.moved_aside().empty());
  const auto back = store.load_history("BTC", 30, 1000);
  ASSERT_EQ(back.size(), written.size());
  for (std::size_t i = 0; i < back.size(); ++i) expect_same_point(back[i], written[i]);
  // The newest `limit`, oldest first.
  const auto last3 = store.load_history("BTC", 30, 3);
  ASSERT_EQ(last3.size(), 3u);
  EXPECT_EQ(last3[0].ts_ms, written[47].ts_ms);
  EXPECT_EQ(last3[2].ts_ms, written[49].ts_ms);
  EXPECT_EQ(store.load_history("ETH", 7, 10).size(), 1u);
  EXPECT_TRUE(store.load_history("ETH", 30, 10).empty());
}

TEST(state_store, wal_journal_is_on) {
  temp_dir dir;
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path()), reg);
  ASSERT_TRUE(store.enabled());
  EXPECT_EQ(query_text(store.path(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_text(store.path(), "SELECT version FROM schema_version"),
            std::to_string(vrp::service::state_schema_version));
  EXPECT_EQ(sample(reg, "vrp_state_enabled"), 1);
}

TEST(state_store, forecaster_checkpoint_round_trips) {
  temp_dir dir;
  vrp::engine::forecast_config cfg;
  cfg.window = 300;
  cfg.min_points = 100;
  cfg.background_refit = false;
  vrp::engine::forecaster f(cfg);
  std::vector<vrp::engine::history_bar> bars;
  std::mt19937_64 rng(1);
  std::normal_distribution<double> z(0, 0.004);
  double px = 3000;
  for (int i = 0; i < 24 * 20; ++i) {
    px *= std::exp(z(rng));
    bars.push_back({1'735'689'600'000 + i * 3'600'000LL, px, px, px, px});
  }
  f.warm_up(bars);
  const auto exported = f.export_state();
  ASSERT_TRUE(exported.garch.ready);
  {
    vrp::core::metrics_registry reg;
    state_store store(options_for(dir.path()), reg);
    store.save_forecaster("ETH", std::make_unique<vrp::engine::forecaster_state>(exported));
    store.flush();
    EXPECT_EQ(store.stats().writes_forecaster, 1u);
  }
  // The readable columns say what the blob holds.
  const fs::path db = dir.path() / "vrpd.sqlite";
  EXPECT_EQ(query_text(db, "SELECT model FROM forecaster_state WHERE underlying = 'ETH'"),
            "gjr-normal-zero");
  EXPECT_EQ(std::stod(query_text(db, "SELECT printf('%.17g', beta) FROM forecaster_state")),
            exported.garch.params.beta);
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path()), reg);
  vrp::engine::forecaster_state back;
  std::string error;
  ASSERT_TRUE(store.load_forecaster("ETH", back, error)) << error;
  EXPECT_EQ(vrp::service::state::encode_forecaster(back),
            vrp::service::state::encode_forecaster(exported));
  EXPECT_FALSE(store.load_forecaster("BTC", back, error));
  EXPECT_EQ(error, "");  // none stored is not an error
}

struct bad_file_case {
  const char* name;
  void (*make)(const fs::path& dir);
  std::vector<std::string> reasons;  // any of these
};

void PrintTo(const bad_file_case& c, std::ostream* os) {
  *os << c.name;
}

void random_bytes(const fs::path& dir) {
  std::ofstream out(dir / "vrpd.sqlite", std::ios::binary);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(rng() & 0xFF));
}

void populated_then_truncated(const fs::path& dir) {
  {
    vrp::core::metrics_registry reg;
    state_store store(options_for(dir), reg);
    for (int i = 0; i < 20'000; ++i) store.append_history("BTC", 30, point(i, 0.5));
    store.flush();
  }  // closing checkpoints the WAL into the main file
  const fs::path db = dir / "vrpd.sqlite";
  ASSERT_GT(fs::file_size(db), 64 * 1024u);
  fs::resize_file(db, fs::file_size(db) / 3);
}

void wrong_version(const fs::path& dir) {
  {
    vrp::core::metrics_registry reg;
    state_store store(options_for(dir), reg);
    store.append_history("BTC", 30, point(1, 0.5));
    store.flush();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "vrpd.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

void foreign_database(const fs::path& dir) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "vrpd.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other(x); INSERT INTO other VALUES (1);", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

class bad_state_file : public ::testing::TestWithParam<bad_file_case> {};

TEST_P(bad_state_file, is_moved_aside_counted_and_replaced_by_a_clean_store) {
  temp_dir dir;
  GetParam().make(dir.path());
  const fs::path db = dir.path() / "vrpd.sqlite";
  ASSERT_TRUE(fs::exists(db));
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path()), reg);
  ASSERT_TRUE(store.enabled()) << "a bad file must not disable the store";
  const std::string reason = store.open_error_reason();
  EXPECT_NE(std::find(GetParam().reasons.begin(), GetParam().reasons.end(), reason),
            GetParam().reasons.end())
      << "reason " << reason;
  EXPECT_EQ(sample(reg, "vrp_state_errors_total{reason=\"" + reason + "\"}"), 1);
  // Moved aside under vrpd.sqlite.corrupt-<unix time>, and a clean file in its place.
  ASSERT_FALSE(store.moved_aside().empty());
  EXPECT_TRUE(fs::exists(store.moved_aside()));
  const std::string name = store.moved_aside().filename().string();
  EXPECT_EQ(name.rfind("vrpd.sqlite.corrupt-", 0), 0u) << name;
  const long long stamp = std::stoll(name.substr(std::string("vrpd.sqlite.corrupt-").size()));
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_LE(std::llabs(now - stamp), 60);
  EXPECT_TRUE(store.load_history("BTC", 30, 10).empty());
  store.append_history("BTC", 30, point(123, 0.5));
  store.flush();
  EXPECT_EQ(store.load_history("BTC", 30, 10).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    files, bad_state_file,
    ::testing::Values(
        bad_file_case{"random_bytes", random_bytes, {"not_a_database"}},
        bad_file_case{
            "truncated", populated_then_truncated, {"quick_check_failed", "not_a_database"}},
        bad_file_case{"wrong_schema_version", wrong_version, {"wrong_schema_version"}},
        bad_file_case{"foreign_database", foreign_database, {"wrong_schema_version"}}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(state_store, missing_file_starts_clean_without_error) {
  temp_dir dir;
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path() / "nested" / "dir"), reg);
  ASSERT_TRUE(store.enabled());
  EXPECT_TRUE(store.moved_aside().empty());
  EXPECT_EQ(store.open_error_reason(), "");
  for (const char* r : vrp::service::state_error_reasons) {
    EXPECT_EQ(sample(reg, std::string("vrp_state_errors_total{reason=\"") + r + "\"}"), 0) << r;
  }
}

TEST(state_store, unusable_directory_disables_the_store_without_throwing) {
  temp_dir dir;
  // A regular file where the directory should be.
  std::ofstream(dir.path() / "file") << "x";
  vrp::core::metrics_registry reg;
  state_store store(options_for(dir.path() / "file"), reg);
  EXPECT_FALSE(store.enabled());
  store.append_history("BTC", 30, point(1, 0.5));  // accepted and discarded
  store.flush();
  EXPECT_EQ(sample(reg, "vrp_state_errors_total{reason=\"open_failed\"}"), 1);
  EXPECT_EQ(sample(reg, "vrp_state_enabled"), 0);
}

TEST(state_store, full_queue_drops_the_oldest_and_counts) {
  temp_dir dir;
  vrp::core::metrics_registry reg;
  auto o = options_for(dir.path(), /*writer=*/false);  // nothing drains until flush()
  o.queue_capacity = 4;
  state_store store(o, reg);
  for (int i = 0; i < 10; ++i) store.append_history("BTC", 1, point(i, 0.5));
  EXPECT_EQ(store.queue_depth(), 4u);
  EXPECT_EQ(store.stats().queue_dropped, 6u);
  EXPECT_EQ(sample(reg, "vrp_state_queue_dropped_total"), 6);
  store.flush();
  const auto kept = store.load_history("BTC", 1, 100);
  ASSERT_EQ(kept.size(), 4u);
  for (std::size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i].ts_ms, 6 + static_cast<int>(i));
  EXPECT_EQ(store.queue_depth(), 0u);
}

TEST(state_store, pruning_keeps_the_newest_points_per_series) {
  temp_dir dir;
  vrp::core::metrics_registry reg;
  auto o = options_for(dir.path());
  o.history_keep = 10;
  {
    state_store store(o, reg);
    store.flush();  // the writer's first pass prunes (nothing yet)
    for (int i = 0; i < 30; ++i) store.append_history("BTC", 7, point(i, 0.5));
    store.flush();
  }
  vrp::core::metrics_registry reg2;
  state_store store(o, reg2);  // a new writer prunes at its start
  store.flush();
  const auto kept = store.load_history("BTC", 7, 100);
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(kept.front().ts_ms, 20);
}

}  // namespace
