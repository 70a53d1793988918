#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace coinrelay::testing {

/// Kafka request types, for error injection (the protocol's ApiKey numbers).
enum KafkaApi : int16_t {
  kProduceApi = 0,
  kFetchApi = 1,
  kListOffsetsApi = 2,
  kOffsetCommitApi = 8,
  kHeartbeatApi = 12,
};

/// librdkafka's built-in mock cluster: brokers in this process, on loopback ports, that speak the
/// Kafka protocol to any client given brokers(), so coinrelay's own Kafka code runs unchanged in
/// hermetic tests. librdkafka 2.0.2's mock serves produce (idempotent and compressed batches
/// too), fetch, consumer groups (join, sync, heartbeats, leave, session expiry), offset commits
/// and fetches, and the earliest and latest offsets; it cannot create topics through the admin
/// API (create them here first: coinrelay leaves an existing topic alone) nor look offsets up by
/// time (it answers -1), and a group's first join waits 3 s (the broker's initial rebalance
/// delay). Brokers are numbered from 1.
class MockKafka {
 public:
  explicit MockKafka(int brokers = 1);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  /// The bootstrap servers of the mock (kafka.brokers).
  const std::string& brokers() const { return brokers_; }
  void createTopic(const std::string& topic, int partitions);

  /// A broker outage: connections are closed and new ones refused, until setUp().
  void setDown(int32_t broker = 1);
  void setUp(int32_t broker = 1);
  /// The next requests of type `api` get these errors, one each, in order.
  void failNext(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors);

  /// The offsets `group` committed on partitions [0, partitions) of `topic`; -1 where none.
  std::map<int32_t, int64_t> committed(const std::string& group, const std::string& topic,
                                       int partitions) const;

 private:
  rd_kafka_t* handle_ = nullptr;  ///< owns the cluster; never connects anywhere itself
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string brokers_;
};

}  // namespace coinrelay::testing
