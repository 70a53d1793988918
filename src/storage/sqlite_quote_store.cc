#include "storage/sqlite_quote_store.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "model/quote_codec.h"

namespace coinrelay::storage {

namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS quotes (
  coin_id          TEXT    NOT NULL,
  vs_currency      TEXT    NOT NULL,
  last_updated_ms  INTEGER NOT NULL,
  fetched_ms       INTEGER NOT NULL,
  symbol           TEXT    NOT NULL,
  name             TEXT    NOT NULL,
  price            REAL,
  market_cap       REAL,
  market_cap_rank  INTEGER,
  volume_24h       REAL,
  change_24h       REAL,
  document         TEXT    NOT NULL,  -- the full versioned quote document
  PRIMARY KEY (coin_id, vs_currency, last_updated_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quotes_by_time ON quotes (last_updated_ms);
)sql";

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

void bindOptional(sqlite3_stmt* stmt, int index, const std::optional<double>& value) {
  if (value) {
    sqlite3_bind_double(stmt, index, *value);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

}  // namespace

Result<std::unique_ptr<SqliteQuoteStore>> SqliteQuoteStore::open(const std::string& path) {
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
  std::unique_ptr<SqliteQuoteStore> store(new SqliteQuoteStore(db));
  sqlite3_busy_timeout(db, 5000);
  CR_RETURN_IF_ERROR(store->exec("PRAGMA journal_mode=WAL"));
  CR_RETURN_IF_ERROR(store->exec("PRAGMA synchronous=NORMAL"));
  CR_RETURN_IF_ERROR(store->exec(kSchema));
  CR_RETURN_IF_ERROR(store->exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str()));
  return store;
}

SqliteQuoteStore::~SqliteQuoteStore() {
  sqlite3_close(db_);
}

Status SqliteQuoteStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return makeError(ErrorCode::FailedPrecondition, "SQLite: " + text);
  }
  return {};
}

Result<size_t> SqliteQuoteStore::insert(std::span<const model::Quote> batch) {
  std::lock_guard lock(mutex_);
  CR_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  Statement s;
  sqlite3_prepare_v2(db_,
                     "INSERT OR IGNORE INTO quotes (coin_id, vs_currency, last_updated_ms, "
                     "fetched_ms, symbol, name, price, market_cap, market_cap_rank, volume_24h, "
                     "change_24h, document) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     -1, &s.stmt, nullptr);
  size_t inserted = 0;
  std::string document;
  for (const auto& q : batch) {
    document.clear();
    model::encodeQuote(q, document);
    sqlite3_reset(s.stmt);
    sqlite3_bind_text(s.stmt, 1, q.id.data(), static_cast<int>(q.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(s.stmt, 2, q.vs_currency.data(), static_cast<int>(q.vs_currency.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(s.stmt, 3, q.last_updated_ms);
    sqlite3_bind_int64(s.stmt, 4, q.fetched_ms);
    sqlite3_bind_text(s.stmt, 5, q.symbol.data(), static_cast<int>(q.symbol.size()), SQLITE_STATIC);
    sqlite3_bind_text(s.stmt, 6, q.name.data(), static_cast<int>(q.name.size()), SQLITE_STATIC);
    bindOptional(s.stmt, 7, q.price);
    bindOptional(s.stmt, 8, q.market_cap);
    if (q.market_cap_rank) {
      sqlite3_bind_int64(s.stmt, 9, *q.market_cap_rank);
    } else {
      sqlite3_bind_null(s.stmt, 9);
    }
    bindOptional(s.stmt, 10, q.volume_24h);
    bindOptional(s.stmt, 11, q.change_24h);
    sqlite3_bind_text(s.stmt, 12, document.data(), static_cast<int>(document.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(s.stmt) != SQLITE_DONE) {
      std::string message = sqlite3_errmsg(db_);
      (void)exec("ROLLBACK");
      return makeError(ErrorCode::Unavailable, "SQLite insert failed: " + message);
    }
    inserted += static_cast<size_t>(sqlite3_changes(db_));
  }
  CR_RETURN_IF_ERROR(exec("COMMIT"));
  return inserted;
}

Result<std::vector<model::Quote>> SqliteQuoteStore::latest() {
  std::lock_guard lock(mutex_);
  Statement s;
  // SQLite returns the bare column of the row holding MAX() (documented behaviour).
  sqlite3_prepare_v2(db_,
                     "SELECT document, MAX(last_updated_ms) FROM quotes "
                     "GROUP BY coin_id, vs_currency",
                     -1, &s.stmt, nullptr);
  std::vector<model::Quote> out;
  simdjson::dom::parser parser;
  while (sqlite3_step(s.stmt) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
    const int size = sqlite3_column_bytes(s.stmt, 0);
    auto quote = model::decodeQuote(std::string_view(text, static_cast<size_t>(size)), parser);
    if (quote)
      out.push_back(std::move(quote).value());
  }
  return out;
}

Result<std::vector<HistoryPoint>> SqliteQuoteStore::points(const HistoryQuery& query) {
  std::lock_guard lock(mutex_);
  Statement s;
  sqlite3_prepare_v2(db_,
                     "SELECT last_updated_ms, price, market_cap, volume_24h FROM quotes "
                     "WHERE coin_id = ? AND vs_currency = ? AND last_updated_ms BETWEEN ? AND ? "
                     "ORDER BY last_updated_ms LIMIT 200000",
                     -1, &s.stmt, nullptr);
  sqlite3_bind_text(s.stmt, 1, query.id.data(), static_cast<int>(query.id.size()), SQLITE_STATIC);
  sqlite3_bind_text(s.stmt, 2, query.vs_currency.data(), static_cast<int>(query.vs_currency.size()),
                    SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 3, query.from_ms);
  sqlite3_bind_int64(s.stmt, 4, query.to_ms);
  auto column = [&](int index) -> std::optional<double> {
    if (sqlite3_column_type(s.stmt, index) == SQLITE_NULL)
      return std::nullopt;
    return sqlite3_column_double(s.stmt, index);
  };
  std::vector<HistoryPoint> out;
  while (sqlite3_step(s.stmt) == SQLITE_ROW) {
    out.push_back(HistoryPoint{sqlite3_column_int64(s.stmt, 0), column(1), column(2), column(3)});
  }
  return out;
}

Result<int64_t> SqliteQuoteStore::count() {
  std::lock_guard lock(mutex_);
  Statement s;
  sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM quotes", -1, &s.stmt, nullptr);
  if (sqlite3_step(s.stmt) != SQLITE_ROW) {
    return makeError(ErrorCode::Unavailable, std::string("SQLite: ") + sqlite3_errmsg(db_));
  }
  return sqlite3_column_int64(s.stmt, 0);
}

}  // namespace coinrelay::storage
