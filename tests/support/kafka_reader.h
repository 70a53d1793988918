#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace coinrelay::testing {

/// One message as the broker stored it.
struct KafkaRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string key;
  std::string value;
};

/// Every message of `topic`, partition by partition from the first offset to the end, as a
/// consumer with no group would see them (tests: what really reached the broker).
std::vector<KafkaRecord> readTopic(const std::string& brokers, const std::string& topic,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace coinrelay::testing
