#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "config/config.h"
#include "elasticsearch/bulk_encoder.h"
#include "elasticsearch/lifecycle.h"
#include "net/http_client.h"

namespace coinrelay::elasticsearch {

/// Which engine answers.
struct EngineInfo {
  Engine engine = Engine::Elasticsearch;
  std::string distribution;  ///< "elasticsearch" or "opensearch"
  std::string version;       ///< e.g. "8.19.2" or "2.19.6"
  int major = 0;
};

/// Reads `GET /`: OpenSearch says `"distribution":"opensearch"` in its version block,
/// Elasticsearch does not. nullopt when the body is not such an answer.
std::optional<EngineInfo> parseRootInfo(std::string_view body, simdjson::dom::parser& parser);

/// The answer to one `_bulk` request, for the caller to judge.
struct BulkReply {
  int status = 0;                     ///< HTTP status
  std::string error_type;             ///< the top-level error type of a non-200 answer, if any
  std::string excerpt;                ///< the start of a non-200 body, for logs
  std::vector<BulkItemResult> items;  ///< status 200: one per action, in order
  bool itemsRead = false;             ///< status 200 and the items array was there
};

/// The REST calls coinrelay makes to Elasticsearch 8 or OpenSearch 2, with basic auth or an API
/// key and, for https, the configured CA bundle.
/// Threading: one instance per thread.
class ElasticsearchClient {
 public:
  explicit ElasticsearchClient(const config::ElasticsearchConfig& config);

  /// Which engine and version: from `GET /`, or, on an Elasticsearch whose build lacks that
  /// route (the integ-test distribution), from the X-Elastic-Product header and `_nodes/_local`.
  /// The error names the URL and the setting to change.
  Result<EngineInfo> probe();
  /// Any call. A transport failure is an Unavailable error naming the URL; every HTTP status
  /// comes back as a response.
  Result<net::HttpResponse> send(const std::string& method, const std::string& path,
                                 std::string body = {}, const char* content_type = nullptr,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Sends one NDJSON `_bulk` body. The body is lent, not copied (megabytes per request):
  /// the caller gets it back unchanged, to reuse its buffer.
  Result<BulkReply> bulk(std::string& body);

  const config::ElasticsearchConfig& config() const { return config_; }

 private:
  Result<net::HttpResponse> exchange(const net::HttpRequest& request);

  config::ElasticsearchConfig config_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
};

/// One line naming the failed call and what to check, for errors of setup calls.
Error callError(const config::ElasticsearchConfig& config, const std::string& what,
                const net::HttpResponse& response);

}  // namespace coinrelay::elasticsearch
