#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <librdkafka/rdkafkacpp.h>

#include "common/result.h"
#include "config/config.h"

namespace coinrelay::kafka {

/// One message of the quotes topic that `coinrelay index` sets aside, and why (the contract is
/// schemas/dlq.v1.json and docs/consuming.md).
struct DeadLetter {
  std::string reason;         ///< the decode error, or the engine's "type: reason"
  std::string stage;          ///< "decode" or "index"
  std::optional<int> status;  ///< the engine's HTTP status (stage index); none for decode
  std::string source_topic;
  int32_t source_partition = 0;
  int64_t source_offset = 0;
  std::optional<std::string_view> source_key;
  std::optional<int64_t> source_timestamp_ms;
  std::string_view original_value;
  int64_t dead_lettered_ms = 0;
};

/// Version of the envelope, independent of the quote document's.
inline constexpr int kDeadLetterSchemaVersion = 1;

/// The envelope, one line of JSON. The original value is carried as text when it is valid
/// UTF-8 and as standard padded base64 otherwise, so any bytes survive the trip.
std::string encodeDeadLetter(const DeadLetter& letter);

/// RFC 4648 base64 with padding.
std::string base64Encode(std::string_view bytes);
bool isValidUtf8(std::string_view bytes);

/// Publishes dead letters (key = the original key) with the same guarantees as quotes (acks=all,
/// idempotence), creating the topic when it is missing. Acknowledgements come back through
/// `on_delivery` inside poll(), with the opaque pointer given to produce(): the indexer commits
/// a message's offset only once its dead letter is acknowledged.
/// Threading: one thread (produce and poll from the same thread).
class DeadLetterProducer {
 public:
  using DeliveryFn = std::function<void(void* opaque, bool ok, const std::string& error)>;

  static Result<std::unique_ptr<DeadLetterProducer>> create(const config::KafkaConfig& kafka,
                                                            const std::string& topic,
                                                            DeliveryFn on_delivery);
  ~DeadLetterProducer();

  /// Queues one dead letter; while librdkafka's queue is full it serves acknowledgements and
  /// waits. Errors only for a message Kafka can never take (e.g. larger than its limit).
  Status produce(std::optional<std::string_view> key, const std::string& value, void* opaque);
  /// Serves acknowledgements for up to `timeout_ms`.
  void poll(int timeout_ms);
  /// Messages queued and not yet acknowledged (or failed).
  int outstanding() const;
  const std::string& topic() const { return topic_; }

 private:
  class Reports;
  DeadLetterProducer(std::string topic, std::unique_ptr<Reports> reports,
                     std::unique_ptr<RdKafka::Producer> producer);

  std::string topic_;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace coinrelay::kafka
