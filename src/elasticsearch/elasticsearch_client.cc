#include "elasticsearch/elasticsearch_client.h"

#include <charconv>

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

int majorOf(std::string_view version) {
  int major = 0;
  std::from_chars(version.data(), version.data() + version.size(), major);
  return major;
}

std::string topLevelErrorType(std::string_view body, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  std::string_view type;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
      doc["error"]["type"].get(type) == simdjson::SUCCESS) {
    return std::string(type);
  }
  return {};
}

/// The engine's own words for a refused call: "type: reason" from its error body (with the
/// credentials it tried and failed, for a 401), else an excerpt of whatever it sent.
std::string engineReason(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object error;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["error"].get_object().get(error) != simdjson::SUCCESS) {
    return excerpt(body, 300);
  }
  std::string ignored;
  std::string reason =
      fmt::format("{}: {}", json::optionalString(error, "type", &ignored).value_or("?"),
                  json::optionalString(error, "reason", &ignored).value_or("?"));
  if (auto tried = json::optionalString(error, "additional_unsuccessful_credentials", &ignored))
    reason += fmt::format(" ({})", *tried);
  return excerpt(reason, 300);
}

}  // namespace

std::optional<EngineInfo> parseRootInfo(std::string_view body, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  simdjson::dom::object version;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["version"].get_object().get(version) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string ignored;
  EngineInfo info;
  info.distribution = std::string(
      json::optionalString(version, "distribution", &ignored).value_or("elasticsearch"));
  info.engine = info.distribution == "opensearch" ? Engine::OpenSearch : Engine::Elasticsearch;
  info.version = std::string(json::optionalString(version, "number", &ignored).value_or("?"));
  info.major = majorOf(info.version);
  return info;
}

ElasticsearchClient::ElasticsearchClient(const config::ElasticsearchConfig& config)
    : config_(config), http_(authOf(config), config.ca_file) {}

Result<net::HttpResponse> ElasticsearchClient::send(const std::string& method,
                                                    const std::string& path, std::string body,
                                                    const char* content_type,
                                                    std::chrono::milliseconds timeout) {
  net::HttpRequest request;
  request.method = method;
  request.url = config_.url + path;
  request.body = std::move(body);
  request.timeout = timeout;
  if (content_type != nullptr)
    request.headers.emplace_back("Content-Type", content_type);
  return exchange(request);
}

Result<net::HttpResponse> ElasticsearchClient::exchange(const net::HttpRequest& request) {
  auto response = http_.send(request);
  if (!response) {
    const std::string url = net::redactUrl(config_.url);
    const std::string& why = response.error().message;
    return http_.failure(
        fmt::format("search engine at {}: {}; set elasticsearch.ca_file "
                    "(COINRELAY_ELASTICSEARCH_CA_FILE) to the CA bundle that signed its "
                    "certificate",
                    url, why),
        fmt::format("search engine at {} is unreachable ({}); start it or set elasticsearch.url "
                    "/ COINRELAY_ELASTICSEARCH_URL",
                    url, why));
  }
  return response;
}

Error callError(const config::ElasticsearchConfig& config, const std::string& what,
                const net::HttpResponse& response) {
  if (response.status == 401 || response.status == 403) {
    return Error{ErrorCode::FailedPrecondition,
                 fmt::format("search engine at {} refused {} with HTTP {}: '{}'; check "
                             "elasticsearch.username and the password, or elasticsearch.api_key, "
                             "and the privileges of that user or key",
                             net::redactUrl(config.url), what, response.status,
                             engineReason(response.body))};
  }
  return Error{
      ErrorCode::FailedPrecondition,
      fmt::format("search engine at {}: {} failed with HTTP {}: '{}'", net::redactUrl(config.url),
                  what, response.status, engineReason(response.body))};
}

Result<EngineInfo> ElasticsearchClient::probe() {
  CR_TRY(auto response, send("GET", "/"));
  if (response.status == 401 || response.status == 403)
    return callError(config_, "GET /", response);
  if (response.status == 200) {
    if (auto info = parseRootInfo(response.body, parser_))
      return *info;
  }
  // The integ-test distribution of Elasticsearch lacks the module of `GET /`, but every answer
  // of Elasticsearch 7.14+ carries this header.
  const auto product = response.header("x-elastic-product");
  if (product && *product == "Elasticsearch") {
    CR_TRY(auto nodes, send("GET", "/_nodes/_local?filter_path=nodes.*.version"));
    simdjson::dom::element doc;
    simdjson::dom::object node_map;
    if (nodes.status == 200 && parser_.parse(nodes.body).get(doc) == simdjson::SUCCESS &&
        doc["nodes"].get_object().get(node_map) == simdjson::SUCCESS &&
        node_map.begin() != node_map.end()) {
      std::string_view version;
      if ((*node_map.begin()).value["version"].get(version) == simdjson::SUCCESS) {
        EngineInfo info;
        info.distribution = "elasticsearch";
        info.version = std::string(version);
        info.major = majorOf(version);
        return info;
      }
    }
  }
  return makeError(
      ErrorCode::FailedPrecondition,
      fmt::format("{} does not look like Elasticsearch or OpenSearch (GET / answered HTTP {}: "
                  "'{}'); check elasticsearch.url",
                  net::redactUrl(config_.url), response.status, excerpt(response.body)));
}

Result<BulkReply> ElasticsearchClient::bulk(std::string& body) {
  net::HttpRequest request;
  request.method = "POST";
  // The engine shares the machine's CPU with the indexer more often than not; the answer is
  // asked for in its smallest form. Of each item only its status and error are read: the
  // default answer also repeats the index, id, version, shard counts and sequence numbers (a
  // hundred bytes per document for the engine to write and for coinrelay to read). Unfiltered
  // anyway: refusals of the whole request, which carry the error type.
  request.url = config_.url + "/_bulk?filter_path=items.*.status,items.*.error";
  request.body = std::move(body);
  request.timeout = std::chrono::seconds(60);
  request.headers.emplace_back("Content-Type", "application/x-ndjson");
  // What is left is a few dozen bytes per document: compressing it costs the engine more CPU
  // than the bytes cost the network (curl otherwise offers gzip, and Elasticsearch and
  // OpenSearch take the offer).
  request.headers.emplace_back("Accept-Encoding", "identity");
  auto exchanged = exchange(request);
  body = std::move(request.body);
  CR_TRY(auto response, std::move(exchanged));
  BulkReply reply;
  reply.status = response.status;
  if (response.status == 200) {
    auto items = parseBulkResponse(response.body, parser_);
    if (items) {
      reply.items = std::move(items).value();
      reply.itemsRead = true;
    } else {
      reply.excerpt = items.error().message;
    }
    return reply;
  }
  reply.error_type = topLevelErrorType(response.body, parser_);
  reply.excerpt = excerpt(response.body, 300);
  return reply;
}

}  // namespace coinrelay::elasticsearch
