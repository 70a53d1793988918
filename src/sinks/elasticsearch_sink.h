#pragma once

#include <memory>

#include "elasticsearch/bulk_indexer.h"
#include "sinks/sink.h"

namespace coinrelay::sinks {

/// Indexes each cycle straight into the search engine (used by `coinrelay run` when an
/// Elasticsearch URL is configured; the distributed deployment indexes from Kafka instead).
/// Lifecycle: create() probes the engine and installs the index template.
class ElasticsearchSink final : public Sink {
 public:
  static Result<std::unique_ptr<ElasticsearchSink>> create(
      const config::ElasticsearchConfig& config, const StopSignal& stop);

  // Sink
  std::string_view name() const override { return "elasticsearch"; }
  Status deliver(std::span<const model::Quote> batch) override;

 private:
  ElasticsearchSink(const config::ElasticsearchConfig& config, const StopSignal& stop)
      : indexer_(config, stop) {}
  elasticsearch::BulkIndexer indexer_;
};

}  // namespace coinrelay::sinks
