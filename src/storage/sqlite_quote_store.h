#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "common/result.h"
#include "model/quote.h"
#include "storage/history.h"

namespace coinrelay::storage {

/// The quote history of the embedded default: one row per observation (coin, vs_currency,
/// last_updated), so re-storing an unchanged quote is a no-op. WAL mode lets readers run while
/// the fetch loop writes.
/// Threading: all methods are safe to call from several threads (one connection, one mutex).
class SqliteQuoteStore final : public HistorySource {
 public:
  static Result<std::unique_ptr<SqliteQuoteStore>> open(const std::string& path);
  ~SqliteQuoteStore() override;

  /// Stores the batch in one transaction; returns how many rows were new.
  Result<size_t> insert(std::span<const model::Quote> batch);
  /// The latest quote per (coin, vs_currency), by market cap rank.
  Result<std::vector<model::Quote>> latest();
  Result<int64_t> count();
  /// One coin's quotes in one currency between two instants, oldest first.
  Result<std::vector<HistoryPoint>> points(const HistoryQuery& query) override;

 private:
  explicit SqliteQuoteStore(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);

  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace coinrelay::storage
