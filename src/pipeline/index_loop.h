#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include "common/clock.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/bulk_writer.h"
#include "kafka/dead_letter.h"
#include "kafka/kafka_config.h"
#include "pipeline/offset_tracker.h"

namespace coinrelay::pipeline {

/// Where `coinrelay index` starts reading.
struct IndexStart {
  enum class Mode { Committed, Beginning, Timestamp };
  Mode mode = Mode::Committed;  ///< Committed: the group's offsets (earliest when it has none)
  int64_t timestamp_ms = 0;     ///< Timestamp: the first message at or after it
};

/// What an indexer runs on besides its configuration (seams for tests).
struct IndexLoopOptions {
  Clock* clock = nullptr;  ///< null: systemClock(); batches, commits, pauses and the shutdown grace
  /// librdkafka properties of the group consumer set after coinrelay's own (tests: a short
  /// session timeout).
  kafka::Properties consumer_overrides;
};

/// A point-in-time view for /healthz and the logs.
struct IndexStatus {
  uint64_t consumed = 0;
  uint64_t indexed = 0;
  uint64_t dead_lettered = 0;
  uint64_t batches_in_flight = 0;  ///< dispatched and not yet durable
  uint64_t pending_messages = 0;   ///< consumed and not yet durable
  bool paused = false;
  bool engine_up = true;
  std::map<int32_t, int64_t> lag;  ///< per assigned partition: high watermark - commit point
};

/// Consumes the quotes topic as a consumer group and bulk-indexes it (see docs/indexing.md).
///
/// - Batches close at elasticsearch.bulk_max_docs, bulk_max_bytes or flush_interval_ms, and go
///   to elasticsearch.max_in_flight workers, each sending its own `_bulk` requests
///   (BulkWriter: per-item judgement, retries with backoff, splitting on 400/413).
/// - A message that is not a quote document, or whose document the engine refuses for good,
///   becomes a dead letter on index.dlq_topic (envelope v1, key = the original key).
/// - Offsets are committed per partition only up to the last message whose document, or dead
///   letter, is durable (OffsetTracker), so a crash at any moment redelivers what was not, and
///   the observation-key document ids turn the redelivery into overwrites.
/// - Memory is bounded: once 2 x max_in_flight batches are alive (queued, in flight or waiting
///   for their dead letters) the loop reads nothing more until one is durable (librdkafka's
///   prefetch queue, itself bounded, stops fetching by itself). If that lasts 5 s, or the engine
///   is down, every assigned partition is paused (resumed at max_in_flight) and the consumer
///   keeps polling, so it stays in its group. An engine that is down or refuses writes (429,
///   5xx, a cluster block) thus stops consumption without losing, skipping or buffering without
///   bound, and the indexer resumes on its own when it is back.
/// Threading: run() blocks the calling thread (the Kafka thread) until `stop` is requested;
/// workers are threads of their own; status() may be called from any thread.
class IndexLoop {
 public:
  static Result<std::unique_ptr<IndexLoop>> create(const config::Config& config,
                                                   const IndexStart& start, const StopSignal& stop,
                                                   const IndexLoopOptions& options = {});
  ~IndexLoop();

  Status run();
  IndexStatus status() const;

 private:
  struct Batch;
  struct Buffers;
  class Rebalancer;
  class CommitReports;

  IndexLoop(const config::Config& config, const IndexStart& start, const StopSignal& stop,
            Clock& clock);

  /// Waits at most until the filling batch is due for a message, adds it and those already
  /// prefetched (up to a batch), and dispatches the batch when it is full or due. An error only
  /// for a fatal Kafka error.
  Status read(std::chrono::milliseconds flush_interval, SteadyTime& last_warning);
  /// Wakes librdkafka's fetcher when its queue is half empty, or `dry`.
  void wakeFetcher(bool dry);
  void add(std::unique_ptr<RdKafka::Message> message);
  void dispatch();
  void work();
  void process(Batch& batch, elasticsearch::BulkWriter& writer);
  void drainCompletions();
  void produceDeadLetters(Batch& batch);
  void produceDeadLetter(Batch& batch, size_t letter);
  void onDeadLetterDelivered(void* opaque, bool ok, const std::string& error);
  void retryDeadLetters();
  void complete(uint64_t batch_id);
  void commit(bool sync);
  void updatePause();
  void updateLagAndLog(bool force);
  void onAssign(std::vector<RdKafka::TopicPartition*>& partitions);
  void onRevoke(const std::vector<RdKafka::TopicPartition*>& partitions);
  void shutdown();

  config::Config config_;
  IndexStart start_;
  const StopSignal& stop_;
  Clock& clock_;
  StopSignal abort_;  ///< stops the workers' retries (after the shutdown grace period)
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<CommitReports> commit_reports_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<kafka::DeadLetterProducer> dead_letters_;
  elasticsearch::EngineHealth health_;

  // Kafka thread only.
  simdjson::dom::parser parser_;  ///< of the messages read
  std::string id_;
  OffsetTracker tracker_;
  std::unique_ptr<Batch> filling_;
  uint64_t next_batch_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Batch>> alive_;  ///< dispatched, not yet durable
  std::vector<Buffers> spare_;                        ///< of completed batches, for the next
  std::string sort_spare_;  ///< the buffer a batch's body is sorted into (the last one's text)
  std::set<int32_t> assigned_;
  std::set<int32_t> started_;  ///< partitions already positioned by start_ in this process
  struct LetterRetry {
    Batch* batch;
    size_t letter;
    SteadyTime at;
  };
  std::vector<LetterRetry> letter_retries_;
  bool paused_ = false;
  rd_kafka_queue_t* consumer_queue_ = nullptr;  ///< librdkafka's queue of prefetched messages
  int64_t average_value_bytes_ = 1024;          ///< of recent messages (moving average)
  SteadyTime last_wake_;
  size_t wake_next_ = 0;
  std::optional<SteadyTime> full_since_;  ///< queue of batches full
  bool closed_ = false;
  SteadyTime last_commit_;
  SteadyTime last_report_;
  uint64_t reported_indexed_ = 0;

  // Shared with the workers.
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<std::shared_ptr<Batch>> todo_;
  std::vector<std::shared_ptr<Batch>> done_;
  std::vector<std::thread> workers_;

  // Read by status().
  mutable std::mutex status_mutex_;
  IndexStatus status_;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> indexed_{0};
  std::atomic<uint64_t> dead_lettered_{0};
};

}  // namespace coinrelay::pipeline
