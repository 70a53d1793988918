#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/elasticsearch_client.h"
#include "model/quote.h"

namespace coinrelay::elasticsearch {

struct IndexerStats {
  std::atomic<uint64_t> indexed{0};   ///< documents the engine accepted
  std::atomic<uint64_t> rejected{0};  ///< refused for good (mapping/parse errors)
  std::atomic<uint64_t> retried{0};   ///< item sends repeated after 429/5xx
  std::atomic<uint64_t> bulks{0};
};

/// Indexes quotes with `_bulk`, judging every item: accepted ones are done, 429/5xx ones are
/// sent again with jittered backoff, others are refused for good and logged. While the engine
/// is unreachable it waits and retries, logging once when it goes away and once when it is back.
/// Threading: one instance per thread.
class BulkIndexer {
 public:
  explicit BulkIndexer(const config::ElasticsearchConfig& config, const StopSignal& stop);

  /// Returns true when every quote was accepted or refused for good; false when stopping
  /// interrupted the retries (nothing may then be considered durable).
  bool indexAll(std::vector<model::Quote> quotes);
  const IndexerStats& stats() const { return stats_; }

 private:
  config::ElasticsearchConfig config_;
  const StopSignal& stop_;
  ElasticsearchClient client_;
  IndexerStats stats_;
};

}  // namespace coinrelay::elasticsearch
