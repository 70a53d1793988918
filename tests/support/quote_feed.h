#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "model/quote.h"

namespace coinrelay::testing {

/// Quote number i: coin `coin-<i % 500>` at minute i / 500, so every quote is a distinct
/// observation and N messages make exactly N documents.
model::Quote quoteNumber(int i);

/// A plain librdkafka producer for a test's own messages (acks=all, idempotent), recording
/// where each acknowledged message landed.
class TestProducer {
 public:
  explicit TestProducer(const std::string& brokers);
  ~TestProducer();

  /// Queues one message (waiting while the queue is full); timestamp 0: now; partition: by key
  /// unless given.
  void send(const std::string& topic, const std::optional<std::string>& key,
            const std::string& value, int64_t timestamp_ms = 0,
            int32_t partition = RdKafka::Topic::PARTITION_UA);
  /// Sends quotes [from, to) at `per_second`, in steps of 100 ms, then waits for every ack.
  void sendQuotes(const std::string& topic, int from, int to, int per_second);
  void flush();
  /// Creates the topic (3 partitions) unless it exists; returns an error message or "".
  std::string createTopic(const std::string& brokers, const std::string& topic);
  RdKafka::Producer& handle() { return *producer_; }
  /// (partition, offset) of every acknowledged message, by "key|value".
  std::map<std::string, std::pair<int32_t, int64_t>> placed() const;
  int failed() const;

 private:
  struct Reports;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

/// One message as read back.
struct Record {
  std::optional<std::string> key;
  std::string value;
};

/// Every message of a topic, read in a group of its own until `expected` arrived (or the
/// timeout), then 2 s more so that a duplicate would show. Copied out: librdkafka cannot
/// destroy a consumer while the application still holds one of its messages.
std::vector<Record> readAll(const std::string& brokers, const std::string& topic, size_t expected,
                            std::chrono::milliseconds timeout);

}  // namespace coinrelay::testing
