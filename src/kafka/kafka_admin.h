#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "common/result.h"
#include "config/config.h"

namespace coinrelay::kafka {

/// Checks that the brokers answer a metadata request within `timeout`; the error names the
/// brokers and the setting to change.
Status checkReachable(RdKafka::Handle& handle, const std::string& brokers,
                      std::chrono::milliseconds timeout);

/// Kafka's lookup of offsets by time (ListOffsets): sets each partition's offset, which holds
/// a timestamp in milliseconds on entry, to the first offset whose timestamp is at or after it,
/// or to -1 when no message is that recent. A seam: a test stands in for the broker's time index
/// when its broker has none (librdkafka's mock cluster answers -1 to every lookup).
using OffsetsForTimes = std::function<RdKafka::ErrorCode(
    RdKafka::KafkaConsumer& consumer, std::vector<RdKafka::TopicPartition*>& partitions,
    std::chrono::milliseconds timeout)>;
/// The broker's own lookup.
OffsetsForTimes brokerOffsetsForTimes();

/// A topic to create, with topic-level configs (e.g. cleanup.policy=compact).
struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};

/// The quotes topic (kafka.topic) as coinrelay creates it, whoever creates it first (`setup
/// kafka`, `fetch`, `run`): configured partitions and replication, 7 days of retention,
/// min.insync.replicas 2 when there are replicas for it.
TopicSpec quotesTopic(const config::KafkaConfig& config);
/// The dead-letter topic `name`: one partition, 30 days of retention.
TopicSpec deadLetterTopic(const config::KafkaConfig& config, const std::string& name);

/// Creates the quotes topic (quotesTopic) unless it exists (an existing topic is left as it
/// is, whatever its partition count).
Status ensureTopic(RdKafka::Handle& handle, const config::KafkaConfig& config,
                   std::chrono::milliseconds timeout);
Status ensureTopic(RdKafka::Handle& handle, const std::string& brokers, const TopicSpec& spec,
                   std::chrono::milliseconds timeout);

}  // namespace coinrelay::kafka
