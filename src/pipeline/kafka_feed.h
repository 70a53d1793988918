#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include "common/clock.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "config/config.h"
#include "kafka/kafka_admin.h"
#include "sinks/sink.h"

namespace coinrelay::pipeline {

/// What a feed runs on besides its configuration (seams for tests).
struct KafkaFeedOptions {
  Clock* clock = nullptr;  ///< null: systemClock(); the lookback's start and the flushes
  /// null: the broker's own lookup (kafka::brokerOffsetsForTimes()).
  kafka::OffsetsForTimes offsets_for_times;
};

/// Feeds a sink (the snapshot of a `serve` replica) from the quotes topic. Each replica reads
/// every partition on its own (assigned, not a consumer group, and it commits nothing), starting
/// at the offsets of `lookback` ago (offsetsForTimes). Since the fetcher publishes every tracked
/// coin each cycle, a lookback of a few intervals holds a complete snapshot: a new replica is
/// complete within seconds, without any upstream call, and any number of replicas can run.
/// Threading: run() blocks its thread until `stop`.
class KafkaFeed {
 public:
  static Result<std::unique_ptr<KafkaFeed>> create(const config::Config& config, sinks::Sink& sink,
                                                   const StopSignal& stop,
                                                   const KafkaFeedOptions& options = {});
  ~KafkaFeed();

  Status run();
  bool caughtUp() const { return caught_up_.load(); }
  uint64_t consumed() const { return consumed_.load(); }
  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  KafkaFeed(const config::Config& config, sinks::Sink& sink, const StopSignal& stop, Clock& clock,
            std::unique_ptr<RdKafka::KafkaConsumer> consumer, std::vector<int64_t> end_offsets);

  config::Config config_;
  sinks::Sink& sink_;
  const StopSignal& stop_;
  Clock& clock_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<int64_t> end_offsets_;  ///< per partition, at start: reached = caught up
  simdjson::dom::parser parser_;
  std::atomic<bool> caught_up_{false};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> undecodable_{0};
};

}  // namespace coinrelay::pipeline
