#include "sinks/elasticsearch_sink.h"

#include "elasticsearch/layout_setup.h"
#include "model/quote_codec.h"
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
  std::vector<elasticsearch::BulkDoc> docs;
  docs.reserve(batch.size());
  for (const auto& quote : batch)
    docs.push_back({model::observationKey(quote), model::encodeQuote(quote)});
  auto outcomes = writer_.write(index_, docs);
  if (!outcomes)
    return makeError(ErrorCode::Unavailable, "stopped before the search engine accepted the batch");
  for (size_t i = 0; i < outcomes->size(); ++i) {
    const elasticsearch::DocOutcome& outcome = (*outcomes)[i];
    if (!outcome.indexed) {
      telemetry::logger("elasticsearch")
          ->error("document {} refused for good (HTTP {}): {}", docs[i].id, outcome.status,
                  outcome.reason);
    }
  }
  return {};
}

}  // namespace coinrelay::sinks
