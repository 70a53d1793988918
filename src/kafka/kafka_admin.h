#pragma once

#include <chrono>
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

/// Creates the topic with the configured partitions and replication factor unless it exists
/// (an existing topic is left as it is, whatever its partition count).
Status ensureTopic(RdKafka::Handle& handle, const config::KafkaConfig& config,
                   std::chrono::milliseconds timeout);

/// The same for any topic, with topic-level configs (e.g. cleanup.policy=compact).
struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};
Status ensureTopic(RdKafka::Handle& handle, const std::string& brokers, const TopicSpec& spec,
                   std::chrono::milliseconds timeout);

}  // namespace coinrelay::kafka
