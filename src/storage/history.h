#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"

namespace coinrelay::storage {

/// The resolutions history is kept at: every observation for a short while, then 5-minute,
/// hourly and daily windows (CoinGecko's own granularities for market_chart), each with its own
/// retention.
enum class Granularity { Raw = 0, FiveMinutes = 1, Hourly = 2, Daily = 3 };
inline constexpr std::array<Granularity, 4> kGranularities = {
    Granularity::Raw, Granularity::FiveMinutes, Granularity::Hourly, Granularity::Daily};
/// The next finer tier (Raw has none: it is returned as it is).
inline constexpr Granularity finerThan(Granularity granularity) {
  return granularity == Granularity::Raw
             ? granularity
             : static_cast<Granularity>(static_cast<int>(granularity) - 1);
}

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 3'600'000;
inline constexpr int64_t kDayMs = 86'400'000;

/// The window of a granularity in ms; 0 for Raw (one observation each).
int64_t widthOf(Granularity granularity);
std::string_view nameOf(Granularity granularity);
/// The start of the window of `width` holding `t_ms` (windows are aligned on the epoch, so
/// daily ones start at 00:00 UTC).
int64_t windowStart(int64_t t_ms, int64_t width);

/// How long each granularity is kept, in ms (storage.*_retention_*).
struct Retention {
  int64_t raw_ms = 48 * kHourMs;
  int64_t five_minutes_ms = 10 * kDayMs;
  int64_t hourly_ms = 100 * kDayMs;
  int64_t daily_ms = 366 * kDayMs;

  static Retention of(const config::StorageConfig& config);
  int64_t of(Granularity granularity) const;
};

struct HistoryQuery {
  std::string id;
  std::string vs_currency;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  size_t max_points = 5000;
};

struct HistoryPoint {
  int64_t t_ms = 0;  ///< the quote's last_updated, or the end of a window
  std::optional<double> price;
  std::optional<double> market_cap;
  std::optional<double> volume_24h;
};

/// The observations of one window: open/high/low/close of the price, and the market cap and
/// volume of the last observation. Values absent from every observation stay null.
struct Bucket {
  int64_t start_ms = 0;
  int64_t first_ms = 0;  ///< the first observation in the window
  int64_t last_ms = 0;   ///< the last one
  std::optional<double> open;
  std::optional<double> high;
  std::optional<double> low;
  std::optional<double> close;
  std::optional<double> market_cap;
  std::optional<double> volume;
  bool complete = false;  ///< the window has ended and was rolled up

  /// One observation as a bucket of its own.
  static Bucket of(const HistoryPoint& point);
  /// Folds another bucket (or observation) of the same window in: first and last by time, so
  /// the order of merging does not matter and merging the same data twice changes nothing.
  void merge(const Bucket& other);
};

/// Buckets of `width` from finer, time-ordered buckets (or observations as buckets).
std::vector<Bucket> rebucket(const std::vector<Bucket>& finer, int64_t width);

struct ChartQuery {
  std::string id;
  std::string vs_currency;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  Granularity granularity = Granularity::Hourly;
};

struct ChartData {
  bool known = false;  ///< the source has this coin in this currency
  /// Windows of the granularity from the one holding from_ms to the one holding to_ms, oldest
  /// first, without empty ones; the last may be incomplete (built from finer data). For Raw,
  /// one per observation.
  std::vector<Bucket> buckets;
  /// The newest observation at or before to_ms.
  std::optional<HistoryPoint> latest;
  /// The oldest time this granularity holds data for, for the coin (null: none).
  std::optional<int64_t> first_ms;
};

/// Where /v1/history and the chart endpoints read the past: SQLite in `run`, Elasticsearch in
/// `serve`.
/// Threading: every method may be called from several threads at once.
class HistorySource {
 public:
  virtual ~HistorySource() = default;
  virtual Result<ChartData> chart(const ChartQuery& query) = 0;
  /// Changes whenever answers may have changed: an answer computed under one generation can be
  /// served again while the generation stays.
  virtual uint64_t generation() const = 0;
  /// The oldest instant `granularity` is kept back to at the moment (the rest was deleted by
  /// retention); INT64_MIN when it keeps everything it was given.
  virtual int64_t keptSince(Granularity granularity) const = 0;

  /// /v1/history: the points of [from, to] at the finest granularity kept that far back which
  /// gives at most 4 x max_points points (renderHistory thins them evenly to max_points): the
  /// end of every complete window with its close, market cap and volume, then the newest
  /// observation.
  Result<std::vector<HistoryPoint>> points(const HistoryQuery& query);
};

/// The granularity points() reads for `query` from `source`.
Granularity historyGranularity(const HistorySource& source, const HistoryQuery& query);

/// {"id","vs_currency","prices":[[ms,price]...],"market_caps":[...],"total_volumes":[...]} in
/// the shape of CoinGecko's market_chart, thinned evenly to at most query.max_points.
std::string renderHistory(const HistoryQuery& query, const std::vector<HistoryPoint>& points);

/// Reads history from the search engine's quote index: date_histogram aggregations at the
/// requested granularity over the documents of one coin, so replicas keep no state.
class ElasticsearchHistory final : public HistorySource {
 public:
  explicit ElasticsearchHistory(const config::ElasticsearchConfig& config,
                                const Clock& clock = systemClock())
      : config_(config), clock_(clock) {}
  Result<ChartData> chart(const ChartQuery& query) override;
  /// Moves every 30 s: CoinGecko's own cache period for market_chart.
  uint64_t generation() const override;
  int64_t keptSince(Granularity) const override { return INT64_MIN; }

 private:
  Result<ChartData> rawChart(const ChartQuery& query);
  config::ElasticsearchConfig config_;
  const Clock& clock_;
};

}  // namespace coinrelay::storage
