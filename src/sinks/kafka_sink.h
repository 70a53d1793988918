#pragma once

#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "config/config.h"
#include "sinks/sink.h"

namespace coinrelay::sinks {

/// Publishes each quote as one message on the quotes topic, key = coin id (so a coin's quotes
/// stay ordered in one partition), value = the versioned JSON document.
/// Lifecycle: create() checks the brokers and creates the topic if missing; the destructor
/// flushes what is still queued.
/// Threading: deliver() from one thread; delivery reports arrive inside its poll/flush calls.
class KafkaSink final : public Sink {
 public:
  static Result<std::unique_ptr<KafkaSink>> create(const config::KafkaConfig& config);
  ~KafkaSink() override;

  // Sink
  std::string_view name() const override { return "kafka"; }
  Status deliver(std::span<const model::Quote> batch) override;

 private:
  class ReportCallback;
  KafkaSink(const config::KafkaConfig& config, std::unique_ptr<ReportCallback> callback,
            std::unique_ptr<RdKafka::Producer> producer);

  config::KafkaConfig config_;
  std::unique_ptr<ReportCallback> callback_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace coinrelay::sinks
