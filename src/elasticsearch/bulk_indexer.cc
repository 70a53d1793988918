#include "elasticsearch/bulk_indexer.h"

#include "model/quote_codec.h"
#include "telemetry/logging.h"

namespace coinrelay::elasticsearch {

BulkIndexer::BulkIndexer(const config::ElasticsearchConfig& config, const StopSignal& stop)
    : config_(config), health_(config.url), writer_(config, stop, health_) {}

bool BulkIndexer::indexAll(std::vector<model::Quote> quotes) {
  std::vector<BulkDoc> docs;
  docs.reserve(quotes.size());
  for (const auto& quote : quotes)
    docs.push_back(BulkDoc{model::observationKey(quote), model::encodeQuote(quote)});
  ++stats_.bulks;
  auto outcomes = writer_.write(config_.index, docs);
  if (!outcomes)
    return false;
  for (size_t i = 0; i < outcomes->size(); ++i) {
    const DocOutcome& outcome = (*outcomes)[i];
    if (outcome.indexed) {
      ++stats_.indexed;
    } else {
      ++stats_.rejected;
      telemetry::logger("elasticsearch")
          ->error("document {} refused for good (HTTP {}): {}", docs[i].id, outcome.status,
                  outcome.reason);
    }
  }
  return true;
}

}  // namespace coinrelay::elasticsearch
