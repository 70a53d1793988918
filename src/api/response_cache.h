#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "net/http_server.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

/// One rendered answer: the bytes, their gzip form and their ETag, computed once.
struct CachedResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::shared_ptr<const std::string> body;
  std::shared_ptr<const std::string> gzip;  ///< null when not worth compressing
  std::string etag;                         ///< a strong validator: a hash of the body
  /// The serialised heads of the 200 answer, plain and gzip (see Reply::head).
  std::shared_ptr<const std::string> head;
  std::shared_ptr<const std::string> gzip_head;
  /// What it answers, for per-route metrics (a string with static storage, or empty).
  std::string_view route;
};

/// Answers for normalised queries, valid for one snapshot version: the first request renders,
/// every later one is served the same bytes. A new version empties the cache (lazily, on the
/// first insert that carries it): its entries have expired. Within a version the cache holds
/// at most `max_bytes` of answers and keys; beyond, the least recently used go first (CLOCK, a
/// second chance for entries read since the hand last passed), so a client sending endless
/// distinct queries only pushes out its own and the coldest answers. An answer larger than the
/// whole bound is served but not kept. Readers share a lock; rendering happens outside it.
/// /metrics: coinrelay_response_cache_{bytes,max_bytes,entries,evictions_total}{cache=<name>}.
class ResponseCache {
 public:
  static constexpr size_t kDefaultMaxBytes = 16 << 20;

  explicit ResponseCache(size_t max_bytes = kDefaultMaxBytes,
                         const std::string& name = "responses");
  ~ResponseCache();
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;

  std::shared_ptr<const CachedResponse> find(uint64_t version, std::string_view key) const;
  std::shared_ptr<const CachedResponse> insert(uint64_t version, const std::string& key,
                                               std::shared_ptr<const CachedResponse> response);
  size_t bytes() const;    ///< accounted bytes of the answers and keys held
  size_t entries() const;  ///< answers held

 private:
  struct Entry {
    std::shared_ptr<const CachedResponse> response;
    size_t bytes = 0;
    mutable std::atomic<bool> used{false};  ///< read since the clock hand last passed
  };
  /// Transparent hashing: lookups by string_view allocate nothing.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
  void clear();                  // mutex_ held
  void evictFor(size_t needed);  // mutex_ held

  size_t max_bytes_;
  mutable std::shared_mutex mutex_;
  uint64_t version_ = 0;
  Map entries_;
  std::list<Map::value_type*> ring_;  ///< every entry once, in the clock's order (nodes are stable)
  std::list<Map::value_type*>::iterator hand_ = ring_.end();
  size_t bytes_ = 0;
  telemetry::Gauge& bytes_gauge_;
  telemetry::Gauge& max_gauge_;
  telemetry::Gauge& entries_gauge_;
  telemetry::Counter& evictions_;
};

/// Whether an Accept-Encoding value allows gzip (RFC 9110 12.5.3): gzip (or x-gzip) with a
/// q-value above 0, or else `*` with one; `gzip;q=0` refuses it.
bool acceptsGzip(std::string_view accept_encoding);

/// Builds a CachedResponse: computes the ETag and, for bodies worth it, the gzip form.
std::shared_ptr<const CachedResponse> makeCachedResponse(
    int status, std::string body, std::string content_type = "application/json");

/// Turns a cached answer into a reply for this request: 304 when If-None-Match matches,
/// the gzip bytes when the client accepts gzip.
net::Reply replyFrom(const CachedResponse& cached, const net::Request& request);

/// gzip (RFC 1952) of `data` with zlib.
std::string gzipCompress(std::string_view data);

}  // namespace coinrelay::api
