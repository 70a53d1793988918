#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

#include "common/clock.h"
#include "config/config.h"
#include "sinks/sink.h"
#include "sinks/spool.h"

namespace coinrelay::sinks {

/// Publishes each quote as one message on the quotes topic (key = coin id, value = the
/// versioned JSON document) through an on-disk spool, so that the fetch schedule never waits for
/// Kafka and a broker outage loses nothing: deliver() returns once the batch is durable in the
/// spool; a drainer thread sends the spool to Kafka in order, a window at a time, and forgets
/// each record only once the broker acknowledged it (acks=all, idempotent producer). While Kafka
/// is unreachable the spool grows up to its bound (oldest dropped, counted); when Kafka is back
/// the backlog goes out oldest first. A record acknowledged but not yet marked in the spool when
/// the process dies is sent again at the next start (at-least-once across crashes; consumers
/// are idempotent by observation key).
/// Lifecycle: create() checks the brokers, creates the topic if missing, opens the spool (left
/// over records are delivered first) and starts the drainer; the destructor gives the drainer a
/// few seconds to empty the spool, then leaves the rest on disk for the next start.
/// Threading: deliver() and stats() from any thread; the producer is used by the drainer only.
class SpooledKafkaSink final : public Sink {
 public:
  struct Stats {
    uint64_t pending = 0;  ///< records in the spool, not yet confirmed by Kafka
    uint64_t pending_bytes = 0;
    uint64_t dropped = 0;    ///< dropped because the spool was full
    uint64_t delivered = 0;  ///< confirmed by Kafka since start
    bool kafka_ok = true;    ///< false while Kafka leaves records unconfirmed
  };

  /// `clock` times the stall before Kafka counts as unavailable and the drain at exit.
  static Result<std::unique_ptr<SpooledKafkaSink>> create(const config::KafkaConfig& config,
                                                          const std::string& spool_dir,
                                                          uint64_t spool_max_bytes,
                                                          Clock& clock = systemClock());
  ~SpooledKafkaSink() override;

  // Sink
  std::string_view name() const override { return "kafka"; }
  Status deliver(std::span<const model::Quote> batch) override;

  Stats stats() const;
  /// Waits until Kafka confirmed every spooled record; false on timeout.
  bool waitDrained(std::chrono::milliseconds timeout);

  /// Spool record <-> Kafka message (exposed for tests).
  struct Message {
    std::string topic;
    std::string key;
    int64_t timestamp_ms = 0;
    std::string value;
  };
  static std::string encode(const Message& message);
  static std::optional<Message> decode(std::string_view payload);

 private:
  class ReportCallback;
  SpooledKafkaSink(const config::KafkaConfig& config, Clock& clock, std::unique_ptr<Spool> spool,
                   std::unique_ptr<ReportCallback> callback,
                   std::unique_ptr<RdKafka::Producer> producer);
  void drain();
  /// Sends one window until Kafka confirmed all of it; false when stopping first.
  bool sendWindow(const std::vector<SpoolRecord>& window);
  void setKafkaOk(bool ok, const std::string& why);

  config::KafkaConfig config_;
  Clock& clock_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<ReportCallback> callback_;
  std::unique_ptr<RdKafka::Producer> producer_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     ///< new records, or stopping
  std::condition_variable drained_;  ///< the spool emptied
  bool stopping_ = false;
  SteadyTime stop_deadline_{};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<bool> kafka_ok_{true};
  std::thread drainer_;
};

}  // namespace coinrelay::sinks
