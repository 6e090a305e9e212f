#include "vrp/service/state_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include "vrp/service/snapshot_json.hpp"

namespace vrp::service {

namespace {

using steady = std::chrono::steady_clock;
constexpr auto prune_period = std::chrono::minutes(10);
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// Each entry upgrades the schema from version i + 1 to i + 2 (none yet: version 1 is the first).
// A migration runs inside the open transaction and must leave the data readable by this build.
constexpr const char* migrations[] = {nullptr};

constexpr const char* schema_v1 = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES (1);
CREATE TABLE history_points(
  underlying TEXT NOT NULL, tenor_days INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
  atm_iv REAL, mfiv REAL, rv_forecast REAL, premium_vol REAL, premium_var REAL, rr25 REAL,
  bf25 REAL,
  PRIMARY KEY (underlying, tenor_days, ts_ms)) WITHOUT ROWID;
CREATE TABLE forecaster_state(
  underlying TEXT PRIMARY KEY NOT NULL, saved_unix_ms INTEGER NOT NULL, model TEXT NOT NULL,
  ready INTEGER NOT NULL, bars INTEGER NOT NULL, last_bar_close_ns INTEGER NOT NULL,
  open_bar_ms INTEGER, mu REAL, omega REAL, alpha REAL, gamma REAL, beta REAL, nu REAL,
  next_variance REAL, refits INTEGER NOT NULL, state BLOB NOT NULL);
CREATE TABLE last_snapshot(
  underlying TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
  saved_unix_ms INTEGER NOT NULL, premium_json TEXT NOT NULL);
)sql";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double column_double(sqlite3_stmt* st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? nan : sqlite3_column_double(st, i);
}

// Binds NaN/Inf as NULL (SQLite stores NaN as NULL anyway; Inf would read back as Inf, but the
// history never holds one, and NULL keeps the file readable by any client).
void bind_double(sqlite3_stmt* st, int i, double v) {
  if (std::isfinite(v))
    sqlite3_bind_double(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

void bind_text(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

bool exec(sqlite3* db, const char* sql, std::string& error) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return true;
  error = msg != nullptr ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return false;
}

struct stmt_guard {
  sqlite3_stmt* st = nullptr;
  ~stmt_guard() { sqlite3_finalize(st); }
};

}  // namespace

state_store::state_store(state_store_options options, core::metrics_registry& metrics)
    : options_(std::move(options)),
      path_(options_.dir / "vrpd.sqlite"),
      metrics_(metrics),
      writes_history_(metrics.counter(
          "vrp_state_writes_total", "Records committed to the state store", {{"kind", "history"}})),
      writes_forecaster_(metrics.counter("vrp_state_writes_total",
                                         "Records committed to the state store",
                                         {{"kind", "forecaster"}})),
      writes_snapshot_(metrics.counter("vrp_state_writes_total",
                                       "Records committed to the state store",
                                       {{"kind", "snapshot"}})),
      write_errors_(metrics.counter("vrp_state_write_errors_total",
                                    "State store transactions that failed (rolled back)")),
      queue_dropped_(metrics.counter("vrp_state_queue_dropped_total",
                                     "History points dropped because the writer queue was full")),
      transactions_(
          metrics.counter("vrp_state_transactions_total", "State store transactions committed")),
      write_seconds_(metrics.histogram("vrp_state_write_seconds",
                                       "Duration of one state store transaction",
                                       core::exponential_buckets(0.0001, 4, 8))) {
  for (const char* reason : state_error_reasons) {
    error_counters_.emplace_back(
        reason, &metrics.counter("vrp_state_errors_total",
                                 "State files found bad (moved aside) or state rejected at restore",
                                 {{"reason", reason}}));
  }
  options_.queue_capacity = std::max<std::size_t>(options_.queue_capacity, 1);
  ring_.resize(options_.queue_capacity);
  const bool ok = open();
  metrics.gauge("vrp_state_enabled", "1 when the state store has an open database")
      .set(ok ? 1.0 : 0.0);
  metrics.gauge_callback("vrp_state_queue_depth", "History points waiting for the state writer", {},
                         [this] { return static_cast<double>(queue_depth()); });
  if (ok && options_.start_writer) writer_ = std::thread([this] { writer_loop(); });
}

state_store::~state_store() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mutex_);
      stop_ = true;
    }
    queue_cv_.notify_one();
    writer_.join();
  } else if (enabled()) {
    flush();
  }
  close_db();
}

void state_store::count_error(std::string_view reason) {
  for (auto& [name, counter] : error_counters_) {
    if (name == reason) counter->inc();
  }
}

void state_store::close_db() {
  for (sqlite3_stmt** st : {&insert_point_, &upsert_forecaster_, &upsert_snapshot_}) {
    sqlite3_finalize(*st);
    *st = nullptr;
  }
  if (db_ != nullptr) sqlite3_close(db_);
  db_ = nullptr;
}

bool state_store::open() {
  std::string reason, detail;
  if (open_checked(reason, detail)) return true;
  if (reason != "open_failed") {
    move_aside(reason, detail);
    if (open_checked(reason, detail)) return true;
  }
  spdlog::error("event=state_disabled path=\"{}\" reason={} detail=\"{}\"", path_.string(), reason,
                detail);
  count_error(reason);
  if (open_error_reason_.empty()) open_error_reason_ = reason;
  close_db();
  return false;
}

bool state_store::open_checked(std::string& reason, std::string& detail) {
  close_db();
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) {
    reason = "open_failed";
    detail = "cannot create the directory " + options_.dir.string() + ": " + ec.message();
    return false;
  }
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    reason = "open_failed";
    detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close_db();
    return false;
  }
  sqlite3_busy_timeout(db_, 5'000);  // another reader (a diagnostic client) may hold a lock

  // The integrity check reads every page header and index: it is the first statement, so a file
  // that is not a database fails here with SQLITE_NOTADB.
  {
    stmt_guard q;
    rc = sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &q.st, nullptr);
    std::vector<std::string> rows;
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.st, 0));
        rows.emplace_back(text != nullptr ? text : "");
      }
    }
    if (rc != SQLITE_DONE) {
      const int primary = rc & 0xFF;
      reason = primary == SQLITE_NOTADB    ? "not_a_database"
               : primary == SQLITE_CORRUPT ? "quick_check_failed"
                                           : "open_failed";
      detail = sqlite3_errmsg(db_);
      return false;
    }
    if (rows.size() != 1 || rows[0] != "ok") {
      reason = "quick_check_failed";
      detail = rows.empty() ? "no result" : rows[0];
      return false;
    }
  }
  std::string error;
  {
    stmt_guard q;
    sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &q.st, nullptr);
    const bool row = q.st != nullptr && sqlite3_step(q.st) == SQLITE_ROW;
    const auto* mode = row ? reinterpret_cast<const char*>(sqlite3_column_text(q.st, 0)) : nullptr;
    if (mode == nullptr || std::string_view(mode) != "wal") {
      reason = "open_failed";
      detail = std::string("cannot switch to WAL journal mode: ") + sqlite3_errmsg(db_);
      return false;
    }
  }
  // NORMAL is enough in WAL mode for kill -9 (header comment, docs/RELIABILITY.md).
  if (!exec(db_, "PRAGMA synchronous=NORMAL", error)) {
    reason = "open_failed";
    detail = error;
    return false;
  }

  // Schema: empty file -> create; otherwise the version decides.
  int tables = 0;
  {
    stmt_guard q;
    sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1, &q.st,
                       nullptr);
    if (q.st == nullptr || sqlite3_step(q.st) != SQLITE_ROW) {
      reason = "quick_check_failed";
      detail = sqlite3_errmsg(db_);
      return false;
    }
    tables = sqlite3_column_int(q.st, 0);
  }
  if (tables == 0) {
    if (!exec(db_, "BEGIN IMMEDIATE", error) || !exec(db_, schema_v1, error) ||
        !exec(db_, "COMMIT", error)) {
      exec(db_, "ROLLBACK", error);
      reason = "open_failed";
      detail = "cannot create the schema: " + error;
      return false;
    }
  } else {
    std::vector<std::int64_t> versions;
    {
      stmt_guard q;
      if (sqlite3_prepare_v2(db_, "SELECT version FROM schema_version", -1, &q.st, nullptr) !=
          SQLITE_OK) {
        reason = "wrong_schema_version";
        detail = std::string("no schema_version table (") + sqlite3_errmsg(db_) + ")";
        return false;
      }
      while (sqlite3_step(q.st) == SQLITE_ROW) versions.push_back(sqlite3_column_int64(q.st, 0));
    }
    if (versions.size() != 1 || versions[0] < 1 || versions[0] > state_schema_version) {
      reason = "wrong_schema_version";
      detail = versions.size() != 1
                   ? "schema_version holds " + std::to_string(versions.size()) + " rows, not 1"
                   : "schema version " + std::to_string(versions[0]) + ", this build reads 1.." +
                         std::to_string(state_schema_version);
      return false;
    }
    for (std::int64_t v = versions[0]; v < state_schema_version; ++v) {
      const char* step = migrations[v - 1];
      const std::string bump = "UPDATE schema_version SET version = " + std::to_string(v + 1) + ";";
      if (step == nullptr || !exec(db_, "BEGIN IMMEDIATE", error) || !exec(db_, step, error) ||
          !exec(db_, bump.c_str(), error) || !exec(db_, "COMMIT", error)) {
        exec(db_, "ROLLBACK", error);
        reason = "wrong_schema_version";
        detail = "migration from version " + std::to_string(v) + " failed: " + error;
        return false;
      }
      spdlog::info("event=state_migrated path=\"{}\" from={} to={}", path_.string(), v, v + 1);
    }
  }
  if (!prepare_statements()) {
    reason = "wrong_schema_version";
    detail = std::string("tables do not match the schema: ") + sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool state_store::prepare_statements() {
  // The reads are prepared here too, so a table with other columns is caught at open.
  const auto columns_match = [this] {
    stmt_guard q;
    return sqlite3_prepare_v2(db_,
                              "SELECT h.ts_ms, h.atm_iv, h.mfiv, h.rv_forecast, h.premium_vol, "
                              "h.premium_var, h.rr25, h.bf25, f.state, s.seq, s.ts_ns, "
                              "s.saved_unix_ms, s.premium_json FROM history_points h, "
                              "forecaster_state f, last_snapshot s WHERE 0",
                              -1, &q.st, nullptr) == SQLITE_OK;
  };
  const auto prep = [this](const char* sql, sqlite3_stmt** out) {
    return sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) == SQLITE_OK;
  };
  return prep(
             "INSERT OR REPLACE INTO history_points(underlying, tenor_days, ts_ms, atm_iv, mfiv, "
             "rv_forecast, premium_vol, premium_var, rr25, bf25) VALUES (?,?,?,?,?,?,?,?,?,?)",
             &insert_point_) &&
         prep(
             "INSERT OR REPLACE INTO forecaster_state(underlying, saved_unix_ms, model, ready, "
             "bars, last_bar_close_ns, open_bar_ms, mu, omega, alpha, gamma, beta, nu, "
             "next_variance, refits, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             &upsert_forecaster_) &&
         prep(
             "INSERT OR REPLACE INTO last_snapshot(underlying, seq, ts_ns, saved_unix_ms, "
             "premium_json) VALUES (?,?,?,?,?)",
             &upsert_snapshot_) &&
         columns_match();
}

void state_store::move_aside(const std::string& reason, const std::string& detail) {
  close_db();
  const auto stamp = std::to_string(unix_ms_now() / 1000);
  std::filesystem::path target = path_;
  target += ".corrupt-" + stamp;
  for (int i = 1; std::filesystem::exists(target); ++i) {
    target = path_;
    target += ".corrupt-" + stamp + "." + std::to_string(i);
  }
  std::error_code ec;
  std::filesystem::rename(path_, target, ec);
  // The WAL belongs to the bad file: it must never be applied to the clean one.
  std::error_code ec_wal;
  std::filesystem::path wal = path_;
  wal += "-wal";
  std::filesystem::path wal_target = target;
  wal_target += "-wal";
  if (std::filesystem::exists(wal)) std::filesystem::rename(wal, wal_target, ec_wal);
  std::filesystem::path shm = path_;
  shm += "-shm";
  std::filesystem::remove(shm, ec_wal);
  if (ec) {
    spdlog::error(
        "event=state_file_bad path=\"{}\" problem={} detail=\"{}\" action=none "
        "reason_not_moved=\"{}\"",
        path_.string(), reason, detail, ec.message());
  } else {
    spdlog::error(
        "event=state_file_bad path=\"{}\" problem={} detail=\"{}\" moved_to=\"{}\" "
        "action=start_clean",
        path_.string(), reason, detail, target.string());
    moved_aside_ = target;
  }
  open_error_reason_ = reason;
  count_error(reason);
  if (ec) std::filesystem::remove(path_, ec);  // cannot move it: start clean all the same
}

std::vector<history_point> state_store::load_history(std::string_view underlying, int tenor_days,
                                                     std::size_t limit) {
  std::vector<history_point> out;
  if (!enabled() || limit == 0) return out;
  std::lock_guard lock(db_mutex_);
  stmt_guard q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT ts_ms, atm_iv, mfiv, rv_forecast, premium_vol, premium_var, rr25, "
                         "bf25 FROM history_points WHERE underlying = ? AND tenor_days = ? ORDER "
                         "BY ts_ms DESC LIMIT ?",
                         -1, &q.st, nullptr) != SQLITE_OK) {
    spdlog::error("event=state_read_failed path=\"{}\" what=history detail=\"{}\"", path_.string(),
                  sqlite3_errmsg(db_));
    return out;
  }
  bind_text(q.st, 1, underlying);
  sqlite3_bind_int(q.st, 2, tenor_days);
  sqlite3_bind_int64(
      q.st, 3,
      static_cast<sqlite3_int64>(std::min<std::size_t>(limit, std::numeric_limits<int>::max())));
  int rc;
  while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
    history_point p{};
    p.ts_ms = sqlite3_column_int64(q.st, 0);
    p.atm_iv = column_double(q.st, 1);
    p.mfiv = column_double(q.st, 2);
    p.rv_forecast = column_double(q.st, 3);
    p.premium_vol = column_double(q.st, 4);
    p.premium_var = column_double(q.st, 5);
    p.rr25 = column_double(q.st, 6);
    p.bf25 = column_double(q.st, 7);
    out.push_back(p);
  }
  if (rc != SQLITE_DONE) {
    spdlog::error("event=state_read_failed path=\"{}\" what=history detail=\"{}\"", path_.string(),
                  sqlite3_errmsg(db_));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

bool state_store::load_forecaster(std::string_view underlying, engine::forecaster_state& out,
                                  std::string& error) {
  error.clear();
  if (!enabled()) return false;
  std::lock_guard lock(db_mutex_);
  stmt_guard q;
  if (sqlite3_prepare_v2(db_, "SELECT state FROM forecaster_state WHERE underlying = ?", -1, &q.st,
                         nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  bind_text(q.st, 1, underlying);
  if (sqlite3_step(q.st) != SQLITE_ROW) return false;
  const void* blob = sqlite3_column_blob(q.st, 0);
  const int size = sqlite3_column_bytes(q.st, 0);
  const std::string_view bytes(static_cast<const char*>(blob), blob != nullptr ? size : 0);
  return state::decode_forecaster(bytes, out, error);
}

std::optional<stored_snapshot> state_store::load_snapshot(std::string_view underlying) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(db_mutex_);
  stmt_guard q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, ts_ns, saved_unix_ms, premium_json FROM last_snapshot WHERE "
                         "underlying = ?",
                         -1, &q.st, nullptr) != SQLITE_OK) {
    return std::nullopt;
  }
  bind_text(q.st, 1, underlying);
  if (sqlite3_step(q.st) != SQLITE_ROW) return std::nullopt;
  stored_snapshot s;
  s.seq = static_cast<std::uint64_t>(sqlite3_column_int64(q.st, 0));
  s.ts_ns = sqlite3_column_int64(q.st, 1);
  s.saved_unix_ms = sqlite3_column_int64(q.st, 2);
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.st, 3));
  if (text != nullptr) s.premium_json = text;
  return s;
}

void state_store::append_history(std::string_view underlying, int tenor_days,
                                 const history_point& p) {
  if (!enabled()) return;
  std::lock_guard lock(queue_mutex_);
  if (ring_count_ == ring_.size()) {
    ring_head_ = (ring_head_ + 1) % ring_.size();  // drop the oldest
    --ring_count_;
    queue_dropped_.inc();
  }
  queued_point& slot = ring_[(ring_head_ + ring_count_) % ring_.size()];
  slot.underlying.assign(underlying);
  slot.tenor_days = tenor_days;
  slot.p = p;
  ++ring_count_;
  ++handed_seq_;
}

void state_store::save_forecaster(std::string_view underlying,
                                  std::unique_ptr<const engine::forecaster_state> s) {
  if (!enabled() || !s) return;
  std::unique_ptr<const engine::forecaster_state> old;  // freed outside the lock
  std::lock_guard lock(queue_mutex_);
  ++handed_seq_;
  for (auto& f : pending_forecasters_) {
    if (f.underlying == underlying) {
      old = std::exchange(f.state, std::move(s));
      return;
    }
  }
  pending_forecasters_.push_back({std::string(underlying), std::move(s)});
}

void state_store::save_snapshot(std::shared_ptr<const engine::underlying_snapshot> u) {
  if (!enabled() || !u) return;
  std::shared_ptr<const engine::underlying_snapshot> old;
  std::lock_guard lock(queue_mutex_);
  ++handed_seq_;
  for (auto& s : pending_snapshots_) {
    if (s->underlying == u->underlying) {
      old = std::exchange(s, std::move(u));
      return;
    }
  }
  pending_snapshots_.push_back(std::move(u));
}

std::size_t state_store::queue_depth() const {
  std::lock_guard lock(queue_mutex_);
  return ring_count_;
}

state_store_stats state_store::stats() const {
  state_store_stats s;
  s.writes_history = writes_history_.value();
  s.writes_forecaster = writes_forecaster_.value();
  s.writes_snapshot = writes_snapshot_.value();
  s.write_errors = write_errors_.value();
  s.queue_dropped = queue_dropped_.value();
  s.transactions = transactions_.value();
  return s;
}

bool state_store::take_batch(batch& b) {
  b.points.clear();
  b.forecasters.clear();
  b.snapshots.clear();
  for (std::size_t i = 0; i < ring_count_; ++i) {
    b.points.push_back(std::move(ring_[(ring_head_ + i) % ring_.size()]));
  }
  ring_head_ = 0;
  ring_count_ = 0;
  std::swap(b.forecasters, pending_forecasters_);
  std::swap(b.snapshots, pending_snapshots_);
  b.seq = handed_seq_;
  return !b.empty();
}

void state_store::write_batch(batch& b) {
  if (b.empty() || !enabled()) return;
  std::string json;
  std::string error;
  const auto started = steady::now();
  const std::int64_t now_ms = unix_ms_now();
  std::lock_guard lock(db_mutex_);
  const auto step = [this, &error](sqlite3_stmt* st) {
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) return true;
    error = sqlite3_errmsg(db_);
    return false;
  };
  bool ok = exec(db_, "BEGIN IMMEDIATE", error);
  for (std::size_t i = 0; ok && i < b.points.size(); ++i) {
    const queued_point& q = b.points[i];
    sqlite3_stmt* st = insert_point_;
    bind_text(st, 1, q.underlying);
    sqlite3_bind_int(st, 2, q.tenor_days);
    sqlite3_bind_int64(st, 3, q.p.ts_ms);
    const double values[] = {q.p.atm_iv,      q.p.mfiv, q.p.rv_forecast, q.p.premium_vol,
                             q.p.premium_var, q.p.rr25, q.p.bf25};
    for (int k = 0; k < 7; ++k) bind_double(st, 4 + k, values[k]);
    ok = step(st);
  }
  for (std::size_t i = 0; ok && i < b.forecasters.size(); ++i) {
    const engine::forecaster_state& f = *b.forecasters[i].state;
    const std::string blob = state::encode_forecaster(f);
    sqlite3_stmt* st = upsert_forecaster_;
    bind_text(st, 1, b.forecasters[i].underlying);
    sqlite3_bind_int64(st, 2, now_ms);
    const std::string model = std::string(quant::to_string(f.spec.model)) + "-" +
                              quant::to_string(f.spec.dist) + "-" + quant::to_string(f.spec.mean);
    bind_text(st, 3, model);
    sqlite3_bind_int(st, 4, f.garch.ready ? 1 : 0);
    sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(f.bars));
    sqlite3_bind_int64(st, 6, f.last_bar_close_ns);
    if (f.has_open)
      sqlite3_bind_int64(st, 7, f.open_bar * (f.bar_ns / 1'000'000));
    else
      sqlite3_bind_null(st, 7);
    const quant::garch_params& p = f.garch.params;
    const double values[] = {p.mu, p.omega, p.alpha, p.gamma, p.beta, p.nu, f.garch.next_variance};
    for (int k = 0; k < 7; ++k) bind_double(st, 8 + k, values[k]);
    sqlite3_bind_int64(st, 15, static_cast<sqlite3_int64>(f.refits));
    sqlite3_bind_blob(st, 16, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    ok = step(st);
  }
  for (std::size_t i = 0; ok && i < b.snapshots.size(); ++i) {
    const engine::underlying_snapshot& u = *b.snapshots[i];
    json.clear();
    render_premium(u, json);
    sqlite3_stmt* st = upsert_snapshot_;
    bind_text(st, 1, u.underlying);
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(u.seq));
    sqlite3_bind_int64(st, 3, u.ts_ns);
    sqlite3_bind_int64(st, 4, now_ms);
    bind_text(st, 5, json);
    ok = step(st);
  }
  ok = ok && exec(db_, "COMMIT", error);
  if (!ok) {
    std::string ignored;
    exec(db_, "ROLLBACK", ignored);
    write_errors_.inc();
    // Rate-limited: the first few, then one in a thousand.
    if (write_errors_logged_ < 10 || write_errors_logged_ % 1'000 == 0) {
      spdlog::error("event=state_write_failed path=\"{}\" points={} checkpoints={} detail=\"{}\"",
                    path_.string(), b.points.size(), b.forecasters.size() + b.snapshots.size(),
                    error);
    }
    ++write_errors_logged_;
    return;
  }
  writes_history_.inc(b.points.size());
  writes_forecaster_.inc(b.forecasters.size());
  writes_snapshot_.inc(b.snapshots.size());
  transactions_.inc();
  write_seconds_.observe(std::chrono::duration<double>(steady::now() - started).count());
}

void state_store::prune() {
  if (options_.history_keep == 0 || !enabled()) return;
  std::lock_guard lock(db_mutex_);
  std::vector<std::pair<std::string, int>> series;
  {
    stmt_guard q;
    if (sqlite3_prepare_v2(db_, "SELECT DISTINCT underlying, tenor_days FROM history_points", -1,
                           &q.st, nullptr) != SQLITE_OK) {
      return;
    }
    while (sqlite3_step(q.st) == SQLITE_ROW) {
      const auto* u = reinterpret_cast<const char*>(sqlite3_column_text(q.st, 0));
      series.emplace_back(u != nullptr ? u : "", sqlite3_column_int(q.st, 1));
    }
  }
  stmt_guard del;
  if (sqlite3_prepare_v2(db_,
                         "DELETE FROM history_points WHERE underlying = ?1 AND tenor_days = ?2 AND "
                         "ts_ms <= (SELECT ts_ms FROM history_points WHERE underlying = ?1 AND "
                         "tenor_days = ?2 ORDER BY ts_ms DESC LIMIT 1 OFFSET ?3)",
                         -1, &del.st, nullptr) != SQLITE_OK) {
    return;
  }
  for (const auto& [u, tenor] : series) {
    bind_text(del.st, 1, u);
    sqlite3_bind_int(del.st, 2, tenor);
    sqlite3_bind_int64(del.st, 3, static_cast<sqlite3_int64>(options_.history_keep));
    sqlite3_step(del.st);
    sqlite3_reset(del.st);
  }
}

void state_store::flush() {
  if (!enabled()) return;
  if (!writer_.joinable()) {
    batch b;
    {
      std::lock_guard lock(queue_mutex_);
      take_batch(b);
    }
    write_batch(b);
    std::lock_guard lock(queue_mutex_);
    written_seq_ = b.seq;
    return;
  }
  std::unique_lock lock(queue_mutex_);
  const std::uint64_t target = handed_seq_;
  const std::uint64_t pass = passes_;
  flush_requested_ = true;
  queue_cv_.notify_one();
  // Everything handed over so far is written, and a writer pass ended after this call.
  done_cv_.wait(lock, [&] { return written_seq_ >= target && passes_ > pass; });
}

void state_store::writer_loop() {
  batch b;
  b.points.reserve(ring_.size());
  next_prune_ = steady::now();
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    queue_cv_.wait_for(lock, options_.batch_interval, [this] { return stop_ || flush_requested_; });
    const bool stopping = stop_;
    flush_requested_ = false;
    take_batch(b);
    lock.unlock();
    write_batch(b);
    if (steady::now() >= next_prune_) {
      prune();
      next_prune_ = steady::now() + prune_period;
    }
    lock.lock();
    written_seq_ = b.seq;
    ++passes_;
    done_cv_.notify_all();
    if (stopping) break;
  }
}

}  // namespace vrp::service
