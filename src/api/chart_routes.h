#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/miss_fetcher.h"
#include "api/response_cache.h"
#include "common/clock.h"
#include "net/http_server.h"
#include "storage/history.h"

namespace coinrelay::api {

/// What a chart request asks for, validated, with its times resolved against the clock.
struct ChartRequest {
  enum class Kind { MarketChart, MarketChartRange, Ohlc, OhlcRange, History };
  Kind kind = Kind::MarketChart;
  std::string id;
  std::string vs_currency;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  bool from_origin = false;  ///< days=max: from the coin's first data
  storage::Granularity source = storage::Granularity::Hourly;  ///< the tier read
  int64_t step_ms = 0;  ///< market_chart: point spacing; ohlc: candle width
  std::optional<int> precision;
  std::string upstream;           ///< the same request to CoinGecko (path and query after /api/v3)
  std::string cache_key;          ///< empty: not cached
  storage::HistoryQuery history;  ///< Kind::History
};

/// Parses a chart request (path under /api/v3 or /v1/history), CoinGecko's rules: granularity
/// by range (market_chart: 5-minutely within 1 day, hourly up to 90 days, daily beyond; ohlc
/// candles: 30 minutes for 1-2 days, 4 hours for 3-30 days, 4 days beyond), `interval` and
/// `precision`. On a bad request returns nullopt with CoinGecko's message in `error`.
std::optional<ChartRequest> parseChartRequest(const net::Request& request, int64_t now_ms,
                                              std::string* error);

/// CoinGecko's answers from coinrelay's history: {"prices":[[ms,v]...],"market_caps":[...],
/// "total_volumes":[...]} or [[ms,open,high,low,close]...].
std::string renderChart(const ChartRequest& request, const storage::ChartData& data,
                        int64_t now_ms);

/// CoinGecko's /coins/{id}/market_chart, /market_chart/range, /ohlc and /ohlc/range, and
/// coinrelay's /v1/history, answered from the history (SQLite in run, the search engine in
/// serve) on a small pool of worker threads of their own: a query that reads a year of data, or
/// waits for the engine, never holds the HTTP threads that answer cached requests (the reply is
/// deferred). Answers are cached for 30 s and until the history changes, and identical queries
/// in flight share one computation. A range that starts before coinrelay's history of the coin
/// (or a coin it never tracked) is relayed whole to CoinGecko through the MissFetcher, when
/// there is one (serve.on_miss = fetch): one budgeted, coalesced and cached upstream call.
/// Threading: handle() from any server thread.
class ChartRoutes {
 public:
  struct Options {
    int workers = 2;
    size_t queue_per_worker = 32;     ///< beyond this, queries are refused (503)
    size_t cache_bytes = 16u << 20u;  ///< 0: no cache
  };
  /// `history` may be null (serve without a search engine): charts are then relayed upstream
  /// when `misses` is given, and refused otherwise.
  ChartRoutes(storage::HistorySource* history, MissFetcher* misses, Options options,
              const Clock& clock = systemClock());
  ~ChartRoutes();
  ChartRoutes(const ChartRoutes&) = delete;
  ChartRoutes& operator=(const ChartRoutes&) = delete;

  /// The metrics label of `path` when this class answers it, nullopt otherwise.
  static std::optional<std::string> routeOf(std::string_view path);
  /// `client` names who asks, for the fair share of relayed calls (MissFetcher::askAsync).
  net::Reply handle(const net::Request& request, const std::string& client = {});

  struct Stats {
    uint64_t computed = 0;  ///< answers computed from the history
    uint64_t relayed = 0;   ///< requests relayed upstream
    uint64_t refused_busy = 0;
  };
  Stats stats() const;

 private:
  struct Waiter {
    std::function<void(net::Reply)> done;
    net::Request conditions;  ///< the headers replyFrom() reads (gzip, If-None-Match)
  };
  struct Job {
    ChartRequest request;
    std::string key;          ///< cache and in-flight key
    uint64_t generation = 0;  ///< of the history when asked: the answer's cache version
    std::string client;       ///< who asked first: a relayed call is charged to its share
  };
  void work();
  void run(const Job& job);
  void finish(const std::string& key, const std::function<net::Reply(const net::Request&)>& reply);
  std::string cacheKey(const ChartRequest& request, int64_t now_ms) const;

  storage::HistorySource* history_;
  MissFetcher* misses_;
  Options options_;
  const Clock& clock_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Job> jobs_;
  std::unordered_map<std::string, std::vector<Waiter>> inflight_;
  /// Answers of the history's current generation (the cache version: new data empties it), each
  /// for its cache period (in the key); beyond options.cache_bytes the least recently used go
  /// first, and answers of a past period are never read again.
  ResponseCache cache_;
  Stats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace coinrelay::api
