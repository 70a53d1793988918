#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/bulk_writer.h"
#include "model/quote.h"

namespace coinrelay::elasticsearch {

struct IndexerStats {
  std::atomic<uint64_t> indexed{0};   ///< documents the engine accepted
  std::atomic<uint64_t> rejected{0};  ///< refused for good (mapping/parse errors)
  std::atomic<uint64_t> bulks{0};
};

/// Indexes quotes (the sink of `coinrelay run` with an Elasticsearch URL) through a BulkWriter:
/// retries until every quote is accepted or refused for good; refusals are logged (this path
/// has no Kafka, hence no dead-letter topic).
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
  EngineHealth health_;
  BulkWriter writer_;
  IndexerStats stats_;
};

}  // namespace coinrelay::elasticsearch
