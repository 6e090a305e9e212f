#pragma once

// vrpd's state store (ARCHITECTURE.md §1 "state store (SQLite)"; docs/RELIABILITY.md "State and
// restarts"): the premium history points, each underlying's forecaster checkpoint and the last
// published premium snapshot, in one embedded SQLite database `<dir>/vrpd.sqlite`.
//
// - WAL journal, synchronous=NORMAL: a committed transaction survives the process being killed
//   (kill -9, a crash), since it is in the WAL file the moment COMMIT returns; a power loss may
//   roll back the transactions since the last WAL checkpoint, never corrupt the file.
// - Writes never happen on the caller's thread: producers hand records to a bounded queue (drop
//   the oldest history point when full, counted) or replace the pending checkpoint of their
//   underlying; one writer thread commits them in batched transactions with prepared statements.
// - Open checks the file (PRAGMA quick_check, schema version, migrations). A file that is not a
//   SQLite database, fails the check or has an unknown schema version is logged with its path and
//   the problem, moved aside to `vrpd.sqlite.corrupt-<unix time>` and replaced by a clean one,
//   and counted in vrp_state_errors_total{reason}. Nothing here throws for a bad file; when no
//   database can be opened at all the store runs disabled (it accepts and discards records).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "vrp/core/metrics.hpp"
#include "vrp/engine/forecaster.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/service/premium_history.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace vrp::service {

namespace state {

// Binary form of engine::forecaster_state (the `state` column): an 8-byte magic with the format
// version, then a fixed field order, integers and IEEE-754 doubles as 8 bytes little-endian,
// vectors as a count then their elements. Decoding checks every length against the bytes left,
// so a damaged blob is an error naming the field, never an over-read; value checks (finite,
// ordered, admissible) are forecaster::restore_state's.
std::string encode_forecaster(const engine::forecaster_state& s);
bool decode_forecaster(std::string_view bytes, engine::forecaster_state& out, std::string& error);

}  // namespace state

// Schema version this build writes; older versions are migrated at open, newer ones refused.
inline constexpr int state_schema_version = 1;

struct state_store_options {
  std::filesystem::path dir;                      // the database is dir / "vrpd.sqlite"
  std::size_t queue_capacity = 16'384;            // history points waiting for the writer
  std::chrono::milliseconds batch_interval{200};  // the writer commits at most this often
  std::size_t history_keep = 100'000;             // rows kept per (underlying, tenor)
  bool start_writer = true;  // false: no thread; flush() writes on the caller's thread (tests)
};

// Labels of vrp_state_errors_total{reason}.
inline constexpr const char* state_error_reasons[] = {"not_a_database", "quick_check_failed",
                                                      "wrong_schema_version", "open_failed",
                                                      "invalid_forecaster_state"};

struct stored_snapshot {
  std::uint64_t seq = 0;
  std::int64_t ts_ns = 0;          // engine time of the snapshot
  std::int64_t saved_unix_ms = 0;  // wall time it was written
  std::string premium_json;        // the GET /v1/premium body it had
};

struct state_store_stats {
  std::uint64_t writes_history = 0, writes_forecaster = 0, writes_snapshot = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t queue_dropped = 0;
  std::uint64_t transactions = 0;
};

class state_store {
 public:
  // Opens (creating the directory and the file when missing), checks and migrates; registers the
  // vrp_state_* metrics in `metrics`. Never throws for file problems.
  state_store(state_store_options options, core::metrics_registry& metrics);
  ~state_store();  // flush() and stop the writer
  state_store(const state_store&) = delete;
  state_store& operator=(const state_store&) = delete;

  bool enabled() const noexcept { return db_ != nullptr; }
  const std::filesystem::path& path() const noexcept { return path_; }
  // Set when open() found a bad file: where it was moved and why (a vrp_state_errors_total reason).
  const std::filesystem::path& moved_aside() const noexcept { return moved_aside_; }
  const std::string& open_error_reason() const noexcept { return open_error_reason_; }

  // Startup reads (any thread; not the hot path).
  // The newest `limit` points of a series, oldest first (NULL columns read back as NaN).
  std::vector<history_point> load_history(std::string_view underlying, int tenor_days,
                                          std::size_t limit);
  // false with an empty `error` when there is no checkpoint; false with `error` when the stored
  // one cannot be decoded (the caller counts it as invalid_forecaster_state).
  bool load_forecaster(std::string_view underlying, engine::forecaster_state& out,
                       std::string& error);
  std::optional<stored_snapshot> load_snapshot(std::string_view underlying);

  // Producers (any thread): hand over and return; no I/O, one short lock.
  void append_history(std::string_view underlying, int tenor_days, const history_point& p);
  // Replaces the underlying's pending checkpoint, if the writer has not taken it yet.
  void save_forecaster(std::string_view underlying,
                       std::unique_ptr<const engine::forecaster_state> s);
  // The writer renders the snapshot's /v1/premium body and keeps it per underlying.
  void save_snapshot(std::shared_ptr<const engine::underlying_snapshot> u);

  // Blocks until everything handed over before the call is committed (or failed).
  void flush();

  // Counts vrp_state_errors_total{reason} (startup thread only).
  void count_error(std::string_view reason);

  state_store_stats stats() const;
  std::size_t queue_depth() const;

 private:
  struct queued_point {
    std::string underlying;
    int tenor_days = 0;
    history_point p{};
  };
  struct pending_forecaster {
    std::string underlying;
    std::unique_ptr<const engine::forecaster_state> state;
  };
  struct batch {
    std::vector<queued_point> points;
    std::vector<pending_forecaster> forecasters;
    std::vector<std::shared_ptr<const engine::underlying_snapshot>> snapshots;
    std::uint64_t seq = 0;
    bool empty() const { return points.empty() && forecasters.empty() && snapshots.empty(); }
  };

  bool open();  // one attempt; false after moving a bad file aside or failing to open
  bool open_checked(std::string& reason, std::string& detail);
  void move_aside(const std::string& reason, const std::string& detail);
  void close_db();
  bool prepare_statements();
  bool take_batch(batch& b);  // under queue_mutex_
  void write_batch(batch& b);
  void prune();
  void writer_loop();

  state_store_options options_;
  std::filesystem::path path_;
  std::filesystem::path moved_aside_;
  std::string open_error_reason_;

  // The connection and its statements: the writer's, and startup reads' (db_mutex_).
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_point_ = nullptr;
  sqlite3_stmt* upsert_forecaster_ = nullptr;
  sqlite3_stmt* upsert_snapshot_ = nullptr;
  std::mutex db_mutex_;
  std::chrono::steady_clock::time_point next_prune_{};

  // Hand-over from producers: a ring of history points and the latest pending checkpoint and
  // snapshot per underlying.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  // wakes the writer (flush, stop)
  std::condition_variable done_cv_;   // wakes flush() waiters
  std::vector<queued_point> ring_;
  std::size_t ring_head_ = 0;
  std::size_t ring_count_ = 0;
  std::vector<pending_forecaster> pending_forecasters_;
  std::vector<std::shared_ptr<const engine::underlying_snapshot>> pending_snapshots_;
  std::uint64_t handed_seq_ = 0;   // records handed over
  std::uint64_t written_seq_ = 0;  // handed_seq_ of the last batch written
  std::uint64_t passes_ = 0;       // writer iterations completed
  bool flush_requested_ = false;
  bool stop_ = false;
  std::thread writer_;

  // Metrics: the writer thread writes the write counters; drops happen under queue_mutex_.
  core::metrics_registry& metrics_;
  core::metric_counter& writes_history_;
  core::metric_counter& writes_forecaster_;
  core::metric_counter& writes_snapshot_;
  core::metric_counter& write_errors_;
  core::metric_counter& queue_dropped_;
  core::metric_counter& transactions_;
  core::metric_histogram& write_seconds_;
  std::vector<std::pair<std::string, core::metric_counter*>> error_counters_;
  std::uint64_t write_errors_logged_ = 0;
};

}  // namespace vrp::service
