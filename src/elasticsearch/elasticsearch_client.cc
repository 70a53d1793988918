#include "elasticsearch/elasticsearch_client.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/strings.h"

namespace coinrelay::elasticsearch {

namespace {

net::HttpAuth authOf(const config::ElasticsearchConfig& config) {
  net::HttpAuth auth;
  auth.username = config.username;
  auth.password = config.password;
  if (!config.api_key.empty())
    auth.authorization = "ApiKey " + config.api_key;
  return auth;
}

}  // namespace

ElasticsearchClient::ElasticsearchClient(const config::ElasticsearchConfig& config)
    : config_(config), http_(authOf(config), config.ca_file) {}

Result<net::HttpResponse> ElasticsearchClient::call(const std::string& method,
                                                    const std::string& path, std::string body,
                                                    const char* content_type) {
  net::HttpRequest request;
  request.method = method;
  request.url = config_.url + path;
  request.body = std::move(body);
  request.timeout = std::chrono::seconds(60);
  if (content_type != nullptr)
    request.headers.emplace_back("Content-Type", content_type);
  auto response = http_.send(request);
  if (!response) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("search engine at {} is unreachable ({}); start it or set "
                                 "elasticsearch.url / COINRELAY_ELASTICSEARCH_URL",
                                 net::redactUrl(config_.url), response.error().message));
  }
  if (response->status == 401 || response->status == 403) {
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("search engine at {} refused {} {} with HTTP {}: '{}'; check "
                                 "elasticsearch.username/password or elasticsearch.api_key",
                                 net::redactUrl(config_.url), method, path, response->status,
                                 excerpt(response->body)));
  }
  return response;
}

Result<EngineInfo> ElasticsearchClient::probe() {
  CR_TRY(auto response, call("GET", "/", {}, nullptr));
  simdjson::dom::element doc;
  simdjson::dom::object version;
  if (response.status != 200 || parser_.parse(response.body).get(doc) != simdjson::SUCCESS ||
      doc["version"].get_object().get(version) != simdjson::SUCCESS) {
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("{} does not look like Elasticsearch or OpenSearch (HTTP {}: "
                    "'{}'); check elasticsearch.url",
                    net::redactUrl(config_.url), response.status, excerpt(response.body)));
  }
  std::string ignored;
  EngineInfo info;
  info.distribution = std::string(
      json::optionalString(version, "distribution", &ignored).value_or("elasticsearch"));
  info.version = std::string(json::optionalString(version, "number", &ignored).value_or("?"));
  return info;
}

Status ElasticsearchClient::installTemplate() {
  CR_TRY(auto response, call("PUT", "/_index_template/" + config_.index,
                             indexTemplateBody(config_.index, config_.number_of_shards,
                                               config_.number_of_replicas),
                             "application/json"));
  if (response.status != 200) {
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("installing index template {} failed with HTTP {}: '{}'",
                                 config_.index, response.status, excerpt(response.body, 300)));
  }
  return {};
}

Result<std::vector<BulkItemResult>> ElasticsearchClient::bulk(const std::string& body) {
  CR_TRY(auto response, call("POST", "/_bulk", body, "application/x-ndjson"));
  if (response.status == 429 || response.status >= 500) {
    return makeError(
        response.status == 429 ? ErrorCode::ResourceExhausted : ErrorCode::Unavailable,
        fmt::format("_bulk answered HTTP {}: '{}'", response.status, excerpt(response.body)));
  }
  if (response.status != 200) {
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("_bulk answered HTTP {}: '{}'", response.status, excerpt(response.body, 300)));
  }
  return parseBulkResponse(response.body, parser_);
}

}  // namespace coinrelay::elasticsearch
