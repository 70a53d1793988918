#pragma once

#include <optional>

#include "api/miss_fetcher.h"
#include "api/response_cache.h"
#include "net/http_server.h"
#include "pipeline/snapshot.h"

namespace coinrelay::api {

/// CoinGecko's /api/v3 endpoints answered from the snapshot, so a team switches by changing its
/// base URL. Answers for a normalised query are rendered once per snapshot version and then
/// served as bytes (with ETag/304 and gzip). A query the snapshot cannot answer (a coin or
/// currency outside the tracked set) is refused with a CoinGecko-shaped error, or, when a
/// MissFetcher is given, answered from one coalesced, cached upstream call.
/// Threading: handle() from any server thread; it never waits for a snapshot update.
class CoinGeckoRoutes {
 public:
  /// `cache_bytes` bounds the rendered answers kept (serve.response_cache_mib), half for each
  /// of the two caches.
  CoinGeckoRoutes(const pipeline::Snapshot& snapshot, MissFetcher* misses,
                  size_t cache_bytes = 2 * ResponseCache::kDefaultMaxBytes)
      : snapshot_(snapshot),
        misses_(misses),
        cache_(cache_bytes / 2, "by_query"),
        by_target_(cache_bytes / 2, "by_target") {}

  /// nullopt when the path is not one of ours.
  std::optional<net::Reply> handle(const net::Request& request);

 private:
  net::Reply coinsMarkets(const net::Request& request, const pipeline::SnapshotVersion& version);
  net::Reply simplePrice(const net::Request& request, const pipeline::SnapshotVersion& version);
  net::Reply cached(const net::Request& request, const pipeline::SnapshotVersion& version,
                    const std::string& key, const std::function<std::string()>& render);
  net::Reply miss(const std::string& upstream_path, const std::string& refusal);
  net::Reply answered(const CachedResponse& response, const net::Request& request);

  const pipeline::Snapshot& snapshot_;
  MissFetcher* misses_;
  ResponseCache cache_;      ///< by normalised query
  ResponseCache by_target_;  ///< by raw request target, the same answers: skips normalising
};

}  // namespace coinrelay::api
