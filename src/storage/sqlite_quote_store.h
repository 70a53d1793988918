#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <sqlite3.h>

#include "common/result.h"
#include "model/quote.h"
#include "storage/history.h"

namespace coinrelay::storage {

/// The quote history of the embedded default, tiered (schema version 2):
/// - `series`: one row per (coin, vs_currency), a small integer id used everywhere else;
/// - `latest`: the latest full v1 document per series, the only place a quote's metadata
///   (name, symbol, image...) is kept, so a restart serves the last known quotes at once;
/// - `observations`: price, market cap and volume per (series, last_updated), typed columns,
///   kept for Retention::raw_ms; re-storing an unchanged quote is a no-op;
/// - `buckets_5m`, `buckets_1h`, `buckets_1d`: open/high/low/close of the price with the last
///   market cap and volume of each window, each kept for its own retention.
/// Rollups run inside the insert that closes a window (one pass over the windows closed since
/// the last one, one indexed range read per series), never over the whole history: 5-minute
/// windows from observations, hours from 5-minute windows, days from hours. An observation that
/// arrives after its window was rolled up is merged into the rolled windows. Time is the data's
/// own: windows close and retention counts from the newest `fetched_ms` stored (the watermark),
/// so a simulated year can be written as fast as the disk allows.
/// A database written by schema version 1 (one row per observation with the full document) is
/// migrated when opened, keeping every observation within retention and rolling up the rest.
/// Threading: insert() serialises writers on one connection; readers (chart(), points(),
/// latest()) use connections of their own from a pool, so a chart never waits for a write (WAL).
class SqliteQuoteStore final : public HistorySource {
 public:
  static Result<std::unique_ptr<SqliteQuoteStore>> open(const std::string& path,
                                                        Retention retention = {});
  ~SqliteQuoteStore() override;
  SqliteQuoteStore(const SqliteQuoteStore&) = delete;
  SqliteQuoteStore& operator=(const SqliteQuoteStore&) = delete;

  /// Stores the batch in one transaction (rolling up and applying retention when a window
  /// closed); returns how many observations were new.
  Result<size_t> insert(std::span<const model::Quote> batch);
  /// The latest quote per (coin, vs_currency).
  Result<std::vector<model::Quote>> latest();
  /// Observations held (raw tier).
  Result<int64_t> count();

  // HistorySource
  Result<ChartData> chart(const ChartQuery& query) override;
  uint64_t generation() const override { return generation_.load(); }
  int64_t keptSince(Granularity granularity) const override;

  struct Stats {
    uint64_t rollup_passes = 0;
    std::chrono::nanoseconds rollup_time{0};
    uint64_t late_merges = 0;
    uint64_t retention_passes = 0;
    std::chrono::nanoseconds retention_time{0};
    uint64_t migrated_rows = 0;  ///< observations read from a schema 1 database
  };
  Stats stats() const;

 private:
  struct Statements;
  SqliteQuoteStore(sqlite3* db, std::string path, Retention retention);
  Status exec(const char* sql);
  Status prepare();
  Status loadState();
  Status saveState();
  Status migrateFromVersion1();
  Result<int64_t> seriesId(const std::string& id, const std::string& vs_currency);
  Status mergeInto(Granularity granularity, int64_t series, const Bucket& bucket);
  Status rollUp();
  Status applyRetention();

  sqlite3* reader();
  void release(sqlite3* connection);

  std::string path_;
  Retention retention_;
  mutable std::mutex write_mutex_;  ///< the writer connection and the state below
  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
  std::unordered_map<std::string, int64_t> series_ids_;  ///< "id\x1fvs_currency"
  std::vector<int64_t> series_list_;
  /// Per tier (5m, 1h, 1d): every window starting before this was rolled up.
  std::array<int64_t, 3> rolled_{0, 0, 0};
  int64_t retained_at_ = 0;  ///< the watermark's hour at the last retention pass
  std::atomic<int64_t> watermark_{0};
  std::atomic<uint64_t> generation_{0};
  Stats stats_;

  std::mutex readers_mutex_;
  std::vector<sqlite3*> idle_readers_;
};

}  // namespace coinrelay::storage
