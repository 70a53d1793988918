#pragma once

#include <memory>

#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/bulk_writer.h"
#include "sinks/sink.h"

namespace coinrelay::sinks {

/// Indexes each cycle straight into the search engine (used by `coinrelay run` when an
/// Elasticsearch URL is configured; the distributed deployment indexes from Kafka instead),
/// through a BulkWriter: retries until every quote is accepted or refused for good. Refusals
/// are logged, since this path has no Kafka, hence no dead-letter topic.
/// Lifecycle: create() probes the engine and installs the index template.
class ElasticsearchSink final : public Sink {
 public:
  static Result<std::unique_ptr<ElasticsearchSink>> create(
      const config::ElasticsearchConfig& config, const StopSignal& stop);

  // Sink
  std::string_view name() const override { return "elasticsearch"; }
  /// Fails only when stopping interrupted the retries (nothing may then be taken as durable).
  Status deliver(std::span<const model::Quote> batch) override;

 private:
  ElasticsearchSink(const config::ElasticsearchConfig& config, const StopSignal& stop)
      : index_(config.index), health_(config.url), writer_(config, stop, health_) {}

  std::string index_;
  elasticsearch::EngineHealth health_;
  elasticsearch::BulkWriter writer_;
};

}  // namespace coinrelay::sinks
