#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include "common/result.h"
#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/bulk_indexer.h"

namespace coinrelay::pipeline {

struct IndexStats {
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> undecodable{0};  ///< messages that are not a quote document
};

/// Consumes the quotes topic as a consumer group and bulk-indexes into the quote index.
/// A batch closes at bulk_max_docs, bulk_max_bytes or flush_interval_ms; items refused with
/// 429/5xx are sent again with backoff; offsets are committed only once every document of the
/// batch was accepted (or refused for good and logged), so a crash redelivers and the
/// observation-key document ids turn redelivery into overwrites.
/// Threading: run() blocks the calling thread until `stop` is requested.
class IndexLoop {
 public:
  static Result<std::unique_ptr<IndexLoop>> create(const config::Config& config,
                                                   const StopSignal& stop);
  ~IndexLoop();

  Status run();
  const IndexStats& stats() const { return stats_; }
  const elasticsearch::IndexerStats& indexerStats() const { return indexer_.stats(); }

 private:
  IndexLoop(const config::Config& config, const StopSignal& stop,
            std::unique_ptr<RdKafka::KafkaConsumer> consumer);
  /// Indexes the batch until accepted; returns false when stopping interrupted it.
  bool flush(std::vector<std::unique_ptr<RdKafka::Message>>& batch);
  void commit(const std::vector<std::unique_ptr<RdKafka::Message>>& batch);

  config::Config config_;
  const StopSignal& stop_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  elasticsearch::BulkIndexer indexer_;
  simdjson::dom::parser parser_;
  IndexStats stats_;
};

}  // namespace coinrelay::pipeline
