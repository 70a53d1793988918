#pragma once

#include <string>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "config/config.h"
#include "elasticsearch/bulk_encoder.h"
#include "net/http_client.h"

namespace coinrelay::elasticsearch {

/// Which engine answers, from `GET /`.
struct EngineInfo {
  std::string distribution;  ///< "elasticsearch" or "opensearch"
  std::string version;
};

/// The REST calls coinrelay makes to Elasticsearch 8 or OpenSearch 2.
/// Threading: one instance per thread.
class ElasticsearchClient {
 public:
  explicit ElasticsearchClient(const config::ElasticsearchConfig& config);

  /// `GET /`: which engine and version; the error names the URL and the setting to change.
  Result<EngineInfo> probe();
  /// Installs (or replaces) the composable index template for the quote index.
  Status installTemplate();
  /// Sends one NDJSON `_bulk` body; returns one result per action, in order.
  Result<std::vector<BulkItemResult>> bulk(const std::string& body);

 private:
  Result<net::HttpResponse> call(const std::string& method, const std::string& path,
                                 std::string body, const char* content_type);

  config::ElasticsearchConfig config_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
};

}  // namespace coinrelay::elasticsearch
