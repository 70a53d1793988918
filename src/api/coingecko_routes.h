#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/coingecko_paths.h"
#include "api/miss_fetcher.h"
#include "api/query_grammar.h"
#include "api/response_cache.h"
#include "api/universe.h"
#include "net/http_server.h"
#include "pipeline/snapshot.h"

namespace coinrelay::api {

/// CoinGecko's /api/v3, every path of it, so a team switches by changing its base URL. Each
/// request is first parsed against the path table and the parameter grammars (query_grammar.h);
/// then:
/// - ping, simple/price, coins/markets, coins/list and simple/supported_vs_currencies are
///   answered from the snapshot and the Universe when they hold the answer, rendered once per
///   snapshot version and served as bytes (with ETag/304 and gzip);
/// - the history paths (market_chart, ohlc...) by the history handler once one is installed;
/// - everything else, and what the snapshot lacks, is relayed (MissFetcher) when misses are
///   fetched. When they are refused, the tracked part of an answer is given with a header
///   naming what was left out (x-coinrelay-left-out), and a path coinrelay cannot answer itself
///   gets a 404 naming serve.on_miss.
/// A path above the configured plan gets CoinGecko's own refusal (10005).
/// Threading: handle() from any server thread; it never waits for a snapshot update.
class CoinGeckoRoutes {
 public:
  struct Options {
    bool fetch_misses = true;  ///< serve.on_miss = fetch
    PlanTier tier = PlanTier::Demo;
    /// Bounds the rendered answers kept (serve.response_cache_mib), half for each of the two
    /// caches.
    size_t cache_bytes = 2 * ResponseCache::kDefaultMaxBytes;
  };
  /// `relay` null: nothing is relayed (misses refused); `universe` null: ids and currencies are
  /// known only as far as the snapshot holds them.
  CoinGeckoRoutes(const pipeline::Snapshot& snapshot, MissFetcher* relay,
                  Universe* universe = nullptr);
  CoinGeckoRoutes(const pipeline::Snapshot& snapshot, MissFetcher* relay, Universe* universe,
                  Options options);

  /// nullopt when the path is not under /api/v3/. `client` names who asks, for the fair share
  /// of upstream calls ("team:<name>" or "address:<ip>"; empty: not limited). `route`, when
  /// given, receives the path template answered ("unknown" for no path of the API), a label
  /// with static storage.
  std::optional<net::Reply> handle(const net::Request& request, const std::string& client = {},
                                   std::string_view* route = nullptr);

  /// Answers a history path (market_chart, market_chart/range, ohlc, ohlc/range) from
  /// coinrelay's own history; nullopt: it cannot, and the call is relayed.
  /// `client` names who asks, for the fair share of what is relayed.
  using HistoryHandler = std::function<std::optional<net::Reply>(
      const ApiCall& call, const net::Request& request, const std::string& client)>;
  void setHistoryHandler(HistoryHandler handler) { history_ = std::move(handler); }

  /// The name of the header that lists what a refused miss left out of an answer.
  static constexpr const char* kLeftOutHeader = "x-coinrelay-left-out";

 private:
  net::Reply coinsMarkets(const ApiCall& call, const net::Request& request,
                          const pipeline::SnapshotVersion& version, const std::string& client);
  net::Reply simplePrice(const ApiCall& call, const net::Request& request,
                         const pipeline::SnapshotVersion& version, const std::string& client);
  net::Reply coinsList(const ApiCall& call, const net::Request& request,
                       const pipeline::SnapshotVersion& version, const std::string& client);
  net::Reply currencies(const ApiCall& call, const net::Request& request,
                        const pipeline::SnapshotVersion& version, const std::string& client);
  net::Reply cached(const net::Request& request, const pipeline::SnapshotVersion& version,
                    const ApiPath& path, const std::string& key,
                    const std::function<std::string()>& render, bool by_target = true);
  /// Relays `call`, or, when misses are refused, says why coinrelay cannot answer it.
  net::Reply relay(const ApiCall& call, const std::string& client, const std::string& why);
  net::Reply answered(const CachedResponse& response, const net::Request& request,
                      const ApiPath* path);

  const pipeline::Snapshot& snapshot_;
  MissFetcher* relay_;
  Universe* universe_;
  Options options_;
  HistoryHandler history_;
  ResponseCache cache_;      ///< by normalised query
  ResponseCache by_target_;  ///< by raw request target, the same answers: skips parsing
};

/// The options `config` gives: serve.on_miss and the plan's tier.
CoinGeckoRoutes::Options routeOptionsFor(const config::Config& config);

}  // namespace coinrelay::api
