#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "net/http_server.h"

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
/// first insert that carries it). Readers share a lock; rendering happens outside it.
class ResponseCache {
 public:
  explicit ResponseCache(size_t max_entries = 10'000) : max_entries_(max_entries) {}

  std::shared_ptr<const CachedResponse> find(uint64_t version, std::string_view key) const;
  std::shared_ptr<const CachedResponse> insert(uint64_t version, const std::string& key,
                                               std::shared_ptr<const CachedResponse> response);

 private:
  size_t max_entries_;
  mutable std::shared_mutex mutex_;
  uint64_t version_ = 0;
  /// Transparent hashing: lookups by string_view allocate nothing.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, std::shared_ptr<const CachedResponse>, Hash, std::equal_to<>>
      entries_;
};

/// Builds a CachedResponse: computes the ETag and, for bodies worth it, the gzip form.
std::shared_ptr<const CachedResponse> makeCachedResponse(
    int status, std::string body, std::string content_type = "application/json");

/// Turns a cached answer into a reply for this request: 304 when If-None-Match matches,
/// the gzip bytes when the client accepts gzip.
net::Reply replyFrom(const CachedResponse& cached, const net::Request& request);

/// gzip (RFC 1952) of `data` with zlib.
std::string gzipCompress(std::string_view data);

}  // namespace coinrelay::api
