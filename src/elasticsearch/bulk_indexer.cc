#include "elasticsearch/bulk_indexer.h"

#include <fmt/format.h>

#include "common/backoff.h"
#include "telemetry/logging.h"

namespace coinrelay::elasticsearch {

BulkIndexer::BulkIndexer(const config::ElasticsearchConfig& config, const StopSignal& stop)
    : config_(config), stop_(stop), client_(config) {}

bool BulkIndexer::indexAll(std::vector<model::Quote> quotes) {
  auto log = telemetry::logger("elasticsearch");
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(30));
  bool was_down = false;
  std::string body;
  while (!quotes.empty()) {
    body.clear();
    for (const auto& quote : quotes)
      appendIndexAction(body, config_.index, quote);
    ++stats_.bulks;
    auto results = client_.bulk(body);
    if (!results || results->size() != quotes.size()) {
      const std::string why =
          results ? fmt::format("{} results for {} documents", results->size(), quotes.size())
                  : results.error().message;
      if (!was_down)
        log->error("bulk of {} documents failed, retrying until it passes: {}", quotes.size(), why);
      was_down = true;
      if (stop_.waitFor(backoff.next()))
        return false;
      continue;
    }
    if (was_down)
      log->info("search engine accepts bulk requests again");
    was_down = false;
    std::vector<model::Quote> again;
    for (size_t i = 0; i < quotes.size(); ++i) {
      const BulkItemResult& item = (*results)[i];
      if (item.ok()) {
        ++stats_.indexed;
      } else if (item.retryable()) {
        ++stats_.retried;
        again.push_back(std::move(quotes[i]));
      } else {
        ++stats_.rejected;
        log->error("document {} refused for good (HTTP {}): {}", model::observationKey(quotes[i]),
                   item.status, item.error);
      }
    }
    quotes = std::move(again);
    if (!quotes.empty() && stop_.waitFor(backoff.next()))
      return false;
  }
  return true;
}

}  // namespace coinrelay::elasticsearch
