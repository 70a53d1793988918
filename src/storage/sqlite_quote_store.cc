#include "storage/sqlite_quote_store.h"

#include <algorithm>
#include <climits>
#include <functional>

#include <fmt/format.h>
#include <simdjson.h>

#include "model/quote_codec.h"
#include "telemetry/logging.h"

namespace coinrelay::storage {

namespace {

constexpr int kSchemaVersion = 2;

// Observations are keyed by (series, last_updated) in a WITHOUT ROWID table: the key is the
// row, so an observation costs its five values and SQLite's record header, about 46 bytes on
// disk (BENCHMARKS.md), instead of a row plus an index entry.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS series (
  series_id    INTEGER PRIMARY KEY,
  coin_id      TEXT    NOT NULL,
  vs_currency  TEXT    NOT NULL,
  UNIQUE (coin_id, vs_currency)
);
CREATE TABLE IF NOT EXISTS latest (
  series_id        INTEGER PRIMARY KEY,
  last_updated_ms  INTEGER NOT NULL,
  document         TEXT    NOT NULL  -- the full versioned quote document
);
CREATE TABLE IF NOT EXISTS observations (
  series_id   INTEGER NOT NULL,
  t_ms        INTEGER NOT NULL,  -- the quote's last_updated
  price       REAL,
  market_cap  REAL,
  volume      REAL,
  PRIMARY KEY (series_id, t_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets_5m (
  series_id INTEGER NOT NULL, start_ms INTEGER NOT NULL,
  first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  open REAL, high REAL, low REAL, close REAL, market_cap REAL, volume REAL,
  PRIMARY KEY (series_id, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets_1h (
  series_id INTEGER NOT NULL, start_ms INTEGER NOT NULL,
  first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  open REAL, high REAL, low REAL, close REAL, market_cap REAL, volume REAL,
  PRIMARY KEY (series_id, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets_1d (
  series_id INTEGER NOT NULL, start_ms INTEGER NOT NULL,
  first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  open REAL, high REAL, low REAL, close REAL, market_cap REAL, volume REAL,
  PRIMARY KEY (series_id, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_state (
  name   TEXT    PRIMARY KEY,
  value  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

/// The bucket tables by tier index (0: 5 minutes, 1: hourly, 2: daily).
constexpr std::array<const char*, 3> kBucketTables = {"buckets_5m", "buckets_1h", "buckets_1d"};
constexpr std::array<Granularity, 3> kTiers = {Granularity::FiveMinutes, Granularity::Hourly,
                                               Granularity::Daily};
constexpr std::array<const char*, 3> kRolledNames = {"rolled_5m", "rolled_1h", "rolled_1d"};

size_t tierIndex(Granularity granularity) {
  return static_cast<size_t>(granularity) - 1;
}

/// A prepared statement, finalised when it goes out of scope.
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

  /// Resets the statement and binds `values` from parameter 1.
  template <class... Values>
  Statement& bind(const Values&... values) {
    sqlite3_reset(stmt_);
    int index = 1;
    (bindOne(index++, values), ...);
    return *this;
  }
  bool row() { return sqlite3_step(stmt_) == SQLITE_ROW; }
  int done() { return sqlite3_step(stmt_); }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::optional<double> number(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL)
      return std::nullopt;
    return sqlite3_column_double(stmt_, column);
  }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return data ? std::string_view(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string_view();
  }

 private:
  void bindOne(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bindOne(int index, const std::optional<double>& value) {
    if (value)
      sqlite3_bind_double(stmt_, index, *value);
    else
      sqlite3_bind_null(stmt_, index);
  }
  void bindOne(int index, std::string_view value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  }
  void bindOne(int index, const std::string& value) { bindOne(index, std::string_view(value)); }

  sqlite3_stmt* stmt_ = nullptr;
};

Result<Statement> prepareOn(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("SQLite cannot prepare '{}': {}", sql, sqlite3_errmsg(db)));
  }
  return Statement(stmt);
}

Status execOn(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return makeError(ErrorCode::FailedPrecondition, "SQLite: " + text);
  }
  return {};
}

Error stepError(sqlite3* db, std::string_view what) {
  return makeError(ErrorCode::Unavailable, fmt::format("SQLite {}: {}", what, sqlite3_errmsg(db)));
}

/// Merges a bucket into a stored one by the rules of Bucket::merge (max() and min() of SQLite
/// return NULL when one side is NULL, hence the COALESCEs). The SET expressions all read the
/// stored row as it was.
std::string mergeSql(const char* table) {
  return fmt::format(
      "INSERT INTO {0} (series_id, start_ms, first_ms, last_ms, open, high, low, close, "
      "market_cap, volume) VALUES (?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT (series_id, start_ms) DO UPDATE SET "
      "open = CASE WHEN excluded.open IS NOT NULL AND (open IS NULL OR excluded.first_ms < "
      "first_ms) THEN excluded.open ELSE open END, "
      "close = CASE WHEN excluded.close IS NOT NULL AND (close IS NULL OR excluded.last_ms > "
      "last_ms) THEN excluded.close ELSE close END, "
      "market_cap = CASE WHEN excluded.market_cap IS NOT NULL AND (market_cap IS NULL OR "
      "excluded.last_ms > last_ms) THEN excluded.market_cap ELSE market_cap END, "
      "volume = CASE WHEN excluded.volume IS NOT NULL AND (volume IS NULL OR excluded.last_ms > "
      "last_ms) THEN excluded.volume ELSE volume END, "
      "first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms), "
      "high = coalesce(max(high, excluded.high), high, excluded.high), "
      "low = coalesce(min(low, excluded.low), low, excluded.low)",
      table);
}

std::string bucketSelectSql(const char* table) {
  return fmt::format(
      "SELECT start_ms, first_ms, last_ms, open, high, low, close, market_cap, volume FROM {} "
      "WHERE series_id = ? AND start_ms >= ? AND start_ms < ? ORDER BY start_ms",
      table);
}

Bucket bucketFromRow(const Statement& s) {
  Bucket b;
  b.start_ms = s.integer(0);
  b.first_ms = s.integer(1);
  b.last_ms = s.integer(2);
  b.open = s.number(3);
  b.high = s.number(4);
  b.low = s.number(5);
  b.close = s.number(6);
  b.market_cap = s.number(7);
  b.volume = s.number(8);
  b.complete = true;
  return b;
}

constexpr const char* kObservationRangeSql =
    "SELECT t_ms, price, market_cap, volume FROM observations WHERE series_id = ? AND t_ms >= ? "
    "AND t_ms <= ? ORDER BY t_ms";

HistoryPoint pointFromRow(const Statement& s) {
  return HistoryPoint{s.integer(0), s.number(1), s.number(2), s.number(3)};
}

std::string seriesKey(std::string_view id, std::string_view vs_currency) {
  std::string key;
  key.reserve(id.size() + vs_currency.size() + 1);
  key.append(id).push_back('\x1f');
  key.append(vs_currency);
  return key;
}

}  // namespace

struct SqliteQuoteStore::Statements {
  Statement insert_observation;
  Statement upsert_latest;
  Statement find_series;
  Statement insert_series;
  Statement set_state;
  std::array<Statement, 3> merge;           ///< per tier
  std::array<Statement, 3> select_buckets;  ///< per tier
  Statement select_observations;
  std::array<Statement, 4> trim;  ///< raw, then per tier
};

SqliteQuoteStore::SqliteQuoteStore(sqlite3* db, std::string path, Retention retention)
    : path_(std::move(path)), retention_(retention), db_(db) {}

Result<std::unique_ptr<SqliteQuoteStore>> SqliteQuoteStore::open(const std::string& path,
                                                                 Retention retention) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("cannot open SQLite database '{}': {}; check the directory "
                                 "exists and is writable, or set storage.sqlite_path",
                                 path, message));
  }
  std::unique_ptr<SqliteQuoteStore> store(new SqliteQuoteStore(db, path, retention));
  sqlite3_busy_timeout(db, 5000);
  CR_RETURN_IF_ERROR(store->exec("PRAGMA journal_mode=WAL"));
  CR_RETURN_IF_ERROR(store->exec("PRAGMA synchronous=NORMAL"));
  CR_RETURN_IF_ERROR(store->exec(kSchema));
  CR_RETURN_IF_ERROR(store->prepare());
  CR_RETURN_IF_ERROR(store->loadState());
  CR_RETURN_IF_ERROR(store->migrateFromVersion1());
  CR_RETURN_IF_ERROR(store->exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str()));
  return store;
}

SqliteQuoteStore::~SqliteQuoteStore() {
  statements_.reset();  // finalised before their connection closes
  for (sqlite3* reader : idle_readers_)
    sqlite3_close(reader);
  sqlite3_close(db_);
}

Status SqliteQuoteStore::exec(const char* sql) {
  return execOn(db_, sql);
}

Status SqliteQuoteStore::prepare() {
  auto s = std::make_unique<Statements>();
  CR_TRY(s->insert_observation,
         prepareOn(db_,
                   "INSERT OR IGNORE INTO observations (series_id, t_ms, price, market_cap, "
                   "volume) VALUES (?,?,?,?,?)"));
  CR_TRY(s->upsert_latest,
         prepareOn(db_,
                   "INSERT INTO latest (series_id, last_updated_ms, document) VALUES (?,?,?) "
                   "ON CONFLICT (series_id) DO UPDATE SET last_updated_ms = "
                   "excluded.last_updated_ms, document = excluded.document "
                   "WHERE excluded.last_updated_ms >= latest.last_updated_ms"));
  CR_TRY(s->find_series,
         prepareOn(db_, "SELECT series_id FROM series WHERE coin_id = ? AND vs_currency = ?"));
  CR_TRY(s->insert_series,
         prepareOn(db_, "INSERT INTO series (coin_id, vs_currency) VALUES (?,?)"));
  CR_TRY(s->set_state,
         prepareOn(db_, "INSERT OR REPLACE INTO rollup_state (name, value) VALUES (?,?)"));
  for (size_t i = 0; i < kBucketTables.size(); ++i) {
    CR_TRY(s->merge[i], prepareOn(db_, mergeSql(kBucketTables[i])));
    CR_TRY(s->select_buckets[i], prepareOn(db_, bucketSelectSql(kBucketTables[i])));
  }
  CR_TRY(s->select_observations, prepareOn(db_, kObservationRangeSql));
  CR_TRY(s->trim[0], prepareOn(db_, "DELETE FROM observations WHERE series_id = ? AND t_ms < ?"));
  for (size_t i = 0; i < kBucketTables.size(); ++i) {
    CR_TRY(s->trim[i + 1],
           prepareOn(db_, fmt::format("DELETE FROM {} WHERE series_id = ? AND start_ms < ?",
                                      kBucketTables[i])));
  }
  statements_ = std::move(s);
  return {};
}

Status SqliteQuoteStore::loadState() {
  CR_TRY(auto series, prepareOn(db_, "SELECT series_id, coin_id, vs_currency FROM series"));
  while (series.row()) {
    series_ids_[seriesKey(series.text(1), series.text(2))] = series.integer(0);
    series_list_.push_back(series.integer(0));
  }
  CR_TRY(auto state, prepareOn(db_, "SELECT name, value FROM rollup_state"));
  while (state.row()) {
    const std::string_view name = state.text(0);
    for (size_t i = 0; i < kRolledNames.size(); ++i) {
      if (name == kRolledNames[i])
        rolled_[i] = state.integer(1);
    }
    if (name == "watermark")
      watermark_ = state.integer(1);
    if (name == "retained_at")
      retained_at_ = state.integer(1);
  }
  return {};
}

Status SqliteQuoteStore::saveState() {
  auto& set = statements_->set_state;
  for (size_t i = 0; i < kRolledNames.size(); ++i) {
    if (set.bind(std::string_view(kRolledNames[i]), rolled_[i]).done() != SQLITE_DONE)
      return stepError(db_, "saving the rollup state");
  }
  if (set.bind(std::string_view("watermark"), watermark_.load()).done() != SQLITE_DONE ||
      set.bind(std::string_view("retained_at"), retained_at_).done() != SQLITE_DONE) {
    return stepError(db_, "saving the rollup state");
  }
  return {};
}

Result<int64_t> SqliteQuoteStore::seriesId(const std::string& id, const std::string& vs_currency) {
  std::string key = seriesKey(id, vs_currency);
  if (auto it = series_ids_.find(key); it != series_ids_.end())
    return it->second;
  auto& insert = statements_->insert_series;
  if (insert.bind(id, vs_currency).done() != SQLITE_DONE)
    return stepError(db_, "adding a series");
  const int64_t series = sqlite3_last_insert_rowid(db_);
  series_ids_.emplace(std::move(key), series);
  series_list_.push_back(series);
  return series;
}

Status SqliteQuoteStore::mergeInto(Granularity granularity, int64_t series, const Bucket& b) {
  auto& merge = statements_->merge[tierIndex(granularity)];
  if (merge
          .bind(series, b.start_ms, b.first_ms, b.last_ms, b.open, b.high, b.low, b.close,
                b.market_cap, b.volume)
          .done() != SQLITE_DONE) {
    return stepError(db_, "rolling up");
  }
  return {};
}

Result<size_t> SqliteQuoteStore::insert(std::span<const model::Quote> batch) {
  std::lock_guard lock(write_mutex_);
  CR_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Error error) -> Error {
    (void)exec("ROLLBACK");
    // The in-memory ids of series added by the failed transaction are gone with it.
    series_ids_.clear();
    series_list_.clear();
    rolled_ = {0, 0, 0};
    retained_at_ = 0;
    watermark_ = 0;
    (void)loadState();
    return error;
  };
  const bool first_batch = rolled_[0] == 0;
  int64_t watermark = watermark_.load();
  int64_t oldest = INT64_MAX;
  size_t inserted = 0;
  struct Late {
    int64_t series;
    HistoryPoint point;
  };
  std::vector<Late> late;
  std::unordered_map<int64_t, const model::Quote*> newest;  // per series, in this batch
  auto& insert_observation = statements_->insert_observation;
  for (const auto& q : batch) {
    auto series = seriesId(q.id, q.vs_currency);
    if (!series)
      return rollback(series.error());
    if (insert_observation.bind(*series, q.last_updated_ms, q.price, q.market_cap, q.volume_24h)
            .done() != SQLITE_DONE) {
      return rollback(stepError(db_, "insert failed"));
    }
    if (sqlite3_changes(db_) > 0) {
      ++inserted;
      if (q.last_updated_ms < rolled_[0])
        late.push_back({*series, {q.last_updated_ms, q.price, q.market_cap, q.volume_24h}});
    }
    watermark = std::max(watermark, q.fetched_ms > 0 ? q.fetched_ms : q.last_updated_ms);
    oldest = std::min(oldest, q.last_updated_ms);
    auto& slot = newest[*series];
    if (slot == nullptr || slot->last_updated_ms <= q.last_updated_ms)
      slot = &q;
  }
  std::string document;
  for (const auto& [series, quote] : newest) {
    document.clear();
    model::encodeQuote(*quote, document);
    if (statements_->upsert_latest.bind(series, quote->last_updated_ms, document).done() !=
        SQLITE_DONE) {
      return rollback(stepError(db_, "storing the latest quote"));
    }
  }
  if (first_batch && oldest != INT64_MAX) {
    for (size_t i = 0; i < kTiers.size(); ++i)
      rolled_[i] = windowStart(oldest, widthOf(kTiers[i]));
  }
  // Observations of windows already rolled up join them (unless retention dropped them).
  for (const auto& [series, point] : late) {
    for (size_t i = 0; i < kTiers.size(); ++i) {
      if (point.t_ms >= rolled_[i] || point.t_ms < watermark - retention_.of(kTiers[i]))
        continue;
      Bucket b = Bucket::of(point);
      b.start_ms = windowStart(point.t_ms, widthOf(kTiers[i]));
      if (auto merged = mergeInto(kTiers[i], series, b); !merged)
        return rollback(merged.error());
    }
    ++stats_.late_merges;
  }
  watermark_ = watermark;
  if (auto rolled = rollUp(); !rolled)
    return rollback(rolled.error());
  if (windowStart(watermark, kHourMs) > retained_at_) {
    if (auto retained = applyRetention(); !retained)
      return rollback(retained.error());
  }
  if (auto saved = saveState(); !saved)
    return rollback(saved.error());
  CR_RETURN_IF_ERROR(exec("COMMIT"));
  ++generation_;
  return inserted;
}

Status SqliteQuoteStore::rollUp() {
  const auto started = std::chrono::steady_clock::now();
  bool rolled_any = false;
  std::vector<Bucket> finer;
  for (size_t i = 0; i < kTiers.size(); ++i) {
    const int64_t width = widthOf(kTiers[i]);
    // Windows close with the watermark (5 minutes) or with the finer tier (hours, days).
    const int64_t until = windowStart(i == 0 ? watermark_.load() : rolled_[i - 1], width);
    if (until <= rolled_[i])
      continue;
    rolled_any = true;
    for (int64_t series : series_list_) {
      finer.clear();
      if (i == 0) {
        auto& read = statements_->select_observations;
        read.bind(series, rolled_[i], until - 1);
        while (read.row())
          finer.push_back(Bucket::of(pointFromRow(read)));
      } else {
        auto& read = statements_->select_buckets[i - 1];
        read.bind(series, rolled_[i], until);
        while (read.row())
          finer.push_back(bucketFromRow(read));
      }
      for (const auto& bucket : rebucket(finer, width))
        CR_RETURN_IF_ERROR(mergeInto(kTiers[i], series, bucket));
    }
    rolled_[i] = until;
  }
  if (rolled_any) {
    ++stats_.rollup_passes;
    stats_.rollup_time += std::chrono::steady_clock::now() - started;
  }
  return {};
}

Status SqliteQuoteStore::applyRetention() {
  const auto started = std::chrono::steady_clock::now();
  const int64_t watermark = watermark_.load();
  for (int64_t series : series_list_) {
    for (size_t level = 0; level < kGranularities.size(); ++level) {
      const int64_t cutoff = watermark - retention_.of(kGranularities[level]);
      if (statements_->trim[level].bind(series, cutoff).done() != SQLITE_DONE)
        return stepError(db_, "applying retention");
    }
  }
  retained_at_ = windowStart(watermark, kHourMs);
  ++stats_.retention_passes;
  stats_.retention_time += std::chrono::steady_clock::now() - started;
  return {};
}

int64_t SqliteQuoteStore::keptSince(Granularity granularity) const {
  const int64_t watermark = watermark_.load();
  if (watermark == 0)
    return INT64_MIN;
  return watermark - retention_.of(granularity);
}

SqliteQuoteStore::Stats SqliteQuoteStore::stats() const {
  std::lock_guard lock(write_mutex_);
  return stats_;
}

// ----- Migration from schema version 1 -------------------------------------------------------

Status SqliteQuoteStore::migrateFromVersion1() {
  {
    CR_TRY(auto old, prepareOn(db_,
                               "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                               "name = 'quotes'"));
    if (!old.row())
      return {};
  }
  auto log = telemetry::logger("storage");
  log->info("migrating {} from one row per observation (schema 1) to tiered history (schema {})",
            path_, kSchemaVersion);
  const auto started = std::chrono::steady_clock::now();
  std::lock_guard lock(write_mutex_);
  CR_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  auto failed = [&](Error error) -> Error {
    (void)exec("ROLLBACK");
    return makeError(error.code, "migrating " + path_ + " to schema 2: " + error.message);
  };
  int64_t watermark = 0;
  {
    CR_TRY(auto newest, prepareOn(db_, "SELECT max(fetched_ms), max(last_updated_ms) FROM quotes"));
    if (newest.row())
      watermark = std::max(newest.integer(0), newest.integer(1));
  }
  // Windows before these are complete; the ones after are rolled up by the next insert.
  std::array<int64_t, 3> rolled{};
  for (size_t i = 0; i < kTiers.size(); ++i)
    rolled[i] = windowStart(watermark, widthOf(kTiers[i]));

  uint64_t count = 0;
  {
    auto rows = prepareOn(db_,
                          "SELECT coin_id, vs_currency, last_updated_ms, price, market_cap, "
                          "volume_24h FROM quotes ORDER BY coin_id, vs_currency, last_updated_ms");
    if (!rows)
      return failed(rows.error());
    // The table's key order walks one series at a time, oldest first: three open windows (one
    // per tier) are all the state the migration holds.
    std::string current_key;
    int64_t series = 0;
    std::array<std::optional<Bucket>, 3> open;
    auto flush = [&](size_t i) -> Status {
      if (open[i] && open[i]->start_ms < rolled[i])
        CR_RETURN_IF_ERROR(mergeInto(kTiers[i], series, *open[i]));
      open[i].reset();
      return {};
    };
    while (rows->row()) {
      std::string key = seriesKey(rows->text(0), rows->text(1));
      if (key != current_key) {
        for (size_t i = 0; i < open.size(); ++i) {
          if (auto flushed = flush(i); !flushed)
            return failed(flushed.error());
        }
        auto id = seriesId(std::string(rows->text(0)), std::string(rows->text(1)));
        if (!id)
          return failed(id.error());
        series = *id;
        current_key = std::move(key);
      }
      const HistoryPoint point{rows->integer(2), rows->number(3), rows->number(4), rows->number(5)};
      if (statements_->insert_observation
              .bind(series, point.t_ms, point.price, point.market_cap, point.volume_24h)
              .done() != SQLITE_DONE) {
        return failed(stepError(db_, "copying an observation"));
      }
      for (size_t i = 0; i < kTiers.size(); ++i) {
        Bucket b = Bucket::of(point);
        b.start_ms = windowStart(point.t_ms, widthOf(kTiers[i]));
        if (open[i] && open[i]->start_ms != b.start_ms) {
          if (auto flushed = flush(i); !flushed)
            return failed(flushed.error());
        }
        if (open[i])
          open[i]->merge(b);
        else
          open[i] = b;
      }
      if (++count % 1'000'000 == 0)
        log->info("migrated {} observations", count);
    }
    for (size_t i = 0; i < open.size(); ++i) {
      if (auto flushed = flush(i); !flushed)
        return failed(flushed.error());
    }
  }
  // The newest document of every series becomes its latest quote.
  if (auto copied =
          exec("INSERT OR REPLACE INTO latest (series_id, last_updated_ms, document) "
               "SELECT s.series_id, q.last_updated_ms, q.document FROM series s JOIN quotes q "
               "ON q.coin_id = s.coin_id AND q.vs_currency = s.vs_currency AND q.last_updated_ms = "
               "(SELECT max(last_updated_ms) FROM quotes m WHERE m.coin_id = s.coin_id AND "
               "m.vs_currency = s.vs_currency)");
      !copied) {
    return failed(copied.error());
  }
  if (auto dropped = exec("DROP INDEX IF EXISTS quotes_by_time; DROP TABLE quotes"); !dropped)
    return failed(dropped.error());
  rolled_ = rolled;
  watermark_ = watermark;
  if (auto retained = applyRetention(); !retained)
    return failed(retained.error());
  if (auto saved = saveState(); !saved)
    return failed(saved.error());
  CR_RETURN_IF_ERROR(exec("COMMIT"));
  // The old rows' pages are free now: give them back to the file system (VACUUM writes only
  // what is left, which is small).
  CR_RETURN_IF_ERROR(exec("VACUUM"));
  stats_.migrated_rows = count;
  ++generation_;
  log->info("migrated {} observations of {} series in {} ms", count, series_list_.size(),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count());
  return {};
}

// ----- Reading ---------------------------------------------------------------------------------

sqlite3* SqliteQuoteStore::reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      sqlite3* connection = idle_readers_.back();
      idle_readers_.pop_back();
      return connection;
    }
  }
  sqlite3* connection = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &connection, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(connection);
    return nullptr;
  }
  sqlite3_busy_timeout(connection, 5000);
  return connection;
}

void SqliteQuoteStore::release(sqlite3* connection) {
  std::lock_guard lock(readers_mutex_);
  idle_readers_.push_back(connection);
}

namespace {

/// A read transaction on a pooled connection: every query in it sees the same state.
class ReadScope {
 public:
  ReadScope(sqlite3* db, std::function<void(sqlite3*)> release)
      : db_(db), release_(std::move(release)) {
    if (db_ != nullptr)
      ok_ = execOn(db_, "BEGIN").has_value();
  }
  ~ReadScope() {
    if (db_ == nullptr)
      return;
    (void)execOn(db_, "COMMIT");
    release_(db_);
  }
  bool ok() const { return ok_; }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  std::function<void(sqlite3*)> release_;
  bool ok_ = false;
};

/// Buckets of `granularity` with a start in [from, to]: rolled-up windows from its table, then
/// the windows not rolled up yet from the finer tiers (recursively down to observations).
Status readLevel(sqlite3* db, int64_t series, Granularity granularity,
                 const std::array<int64_t, 3>& rolled, int64_t from, int64_t to,
                 std::vector<Bucket>& out) {
  if (granularity == Granularity::Raw) {
    CR_TRY(auto read, prepareOn(db, kObservationRangeSql));
    read.bind(series, from, to);
    while (read.row())
      out.push_back(Bucket::of(pointFromRow(read)));
    return {};
  }
  const size_t tier = tierIndex(granularity);
  CR_TRY(auto read, prepareOn(db, bucketSelectSql(kBucketTables[tier])));
  read.bind(series, from, std::min(rolled[tier], to + 1));
  while (read.row())
    out.push_back(bucketFromRow(read));
  if (to >= rolled[tier]) {
    std::vector<Bucket> finer;
    const auto finer_level = finerThan(granularity);
    CR_RETURN_IF_ERROR(
        readLevel(db, series, finer_level, rolled, std::max(from, rolled[tier]), to, finer));
    for (auto& bucket : rebucket(finer, widthOf(granularity)))
      out.push_back(bucket);
  }
  return {};
}

}  // namespace

Result<ChartData> SqliteQuoteStore::chart(const ChartQuery& query) {
  ReadScope scope(reader(), [this](sqlite3* db) { release(db); });
  if (!scope.ok()) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("cannot read the SQLite history {}", path_));
  }
  sqlite3* db = scope.db();
  ChartData data;
  int64_t series = 0;
  {
    CR_TRY(auto find,
           prepareOn(db, "SELECT series_id FROM series WHERE coin_id = ? AND vs_currency = ?"));
    find.bind(query.id, query.vs_currency);
    if (!find.row())
      return data;
    series = find.integer(0);
  }
  data.known = true;
  std::array<int64_t, 3> rolled{};
  {
    CR_TRY(auto state, prepareOn(db, "SELECT name, value FROM rollup_state"));
    while (state.row()) {
      for (size_t i = 0; i < kRolledNames.size(); ++i) {
        if (state.text(0) == kRolledNames[i])
          rolled[i] = state.integer(1);
      }
    }
  }
  const int64_t from = windowStart(query.from_ms, widthOf(query.granularity));
  CR_RETURN_IF_ERROR(
      readLevel(db, series, query.granularity, rolled, from, query.to_ms, data.buckets));
  {
    CR_TRY(auto newest, prepareOn(db,
                                  "SELECT t_ms, price, market_cap, volume FROM observations "
                                  "WHERE series_id = ? AND t_ms <= ? ORDER BY t_ms DESC LIMIT 1"));
    newest.bind(series, query.to_ms);
    if (newest.row())
      data.latest = pointFromRow(newest);
  }
  // The oldest data at this granularity or finer (coarser tiers can reach further back).
  for (int level = 0; level <= static_cast<int>(query.granularity); ++level) {
    const std::string sql = level == 0
                                ? "SELECT min(t_ms) FROM observations WHERE series_id = ?"
                                : fmt::format("SELECT min(start_ms) FROM {} WHERE series_id = ?",
                                              kBucketTables[static_cast<size_t>(level - 1)]);
    CR_TRY(auto oldest, prepareOn(db, sql));
    oldest.bind(series);
    if (oldest.row() && sqlite3_column_type(oldest.get(), 0) != SQLITE_NULL) {
      const int64_t t = oldest.integer(0);
      data.first_ms = data.first_ms ? std::min(*data.first_ms, t) : t;
    }
  }
  return data;
}

Result<std::vector<model::Quote>> SqliteQuoteStore::latest() {
  ReadScope scope(reader(), [this](sqlite3* db) { release(db); });
  if (!scope.ok()) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("cannot read the SQLite history {}", path_));
  }
  CR_TRY(auto read, prepareOn(scope.db(), "SELECT document FROM latest"));
  std::vector<model::Quote> out;
  simdjson::dom::parser parser;
  while (read.row()) {
    auto quote = model::decodeQuote(read.text(0), parser);
    if (quote)
      out.push_back(std::move(quote).value());
  }
  return out;
}

Result<int64_t> SqliteQuoteStore::count() {
  ReadScope scope(reader(), [this](sqlite3* db) { release(db); });
  if (!scope.ok()) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("cannot read the SQLite history {}", path_));
  }
  CR_TRY(auto read, prepareOn(scope.db(), "SELECT count(*) FROM observations"));
  if (!read.row())
    return stepError(scope.db(), "counting");
  return read.integer(0);
}

}  // namespace coinrelay::storage
