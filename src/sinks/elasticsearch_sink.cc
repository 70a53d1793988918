#include "sinks/elasticsearch_sink.h"

#include "elasticsearch/layout_setup.h"
#include "net/http_client.h"
#include "telemetry/logging.h"

namespace coinrelay::sinks {

Result<std::unique_ptr<ElasticsearchSink>> ElasticsearchSink::create(
    const config::ElasticsearchConfig& config, const StopSignal& stop) {
  elasticsearch::ElasticsearchClient client(config);
  CR_TRY(auto engine, client.probe());
  telemetry::logger("elasticsearch")
      ->info("search engine at {} is {} {}", net::redactUrl(config.url), engine.distribution,
             engine.version);
  CR_TRY(auto steps, elasticsearch::ensureLayout(client, engine, elasticsearch::layoutOf(config)));
  for (const auto& step : steps)
    telemetry::logger("elasticsearch")->info("{}", step);
  return std::unique_ptr<ElasticsearchSink>(new ElasticsearchSink(config, stop));
}

Status ElasticsearchSink::deliver(std::span<const model::Quote> batch) {
  if (!indexer_.indexAll(std::vector<model::Quote>(batch.begin(), batch.end()))) {
    return makeError(ErrorCode::Unavailable, "stopped before the search engine accepted the batch");
  }
  return {};
}

}  // namespace coinrelay::sinks
