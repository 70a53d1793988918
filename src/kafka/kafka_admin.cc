#include "kafka/kafka_admin.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

namespace coinrelay::kafka {

namespace {

/// The metadata of every topic; unreachable brokers are an error naming them and the setting.
Result<std::unique_ptr<RdKafka::Metadata>> readMetadata(RdKafka::Handle& handle,
                                                        const std::string& brokers,
                                                        std::chrono::milliseconds timeout) {
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode err =
      handle.metadata(true, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("Kafka at {} is unreachable ({}); start Kafka there or set "
                                 "kafka.brokers / COINRELAY_KAFKA_BROKERS to a running broker",
                                 brokers, RdKafka::err2str(err)));
  }
  return metadata;
}

}  // namespace

Status checkReachable(RdKafka::Handle& handle, const std::string& brokers,
                      std::chrono::milliseconds timeout) {
  CR_RETURN_IF_ERROR(readMetadata(handle, brokers, timeout));
  return {};
}

OffsetsForTimes brokerOffsetsForTimes() {
  return [](RdKafka::KafkaConsumer& consumer, std::vector<RdKafka::TopicPartition*>& partitions,
            std::chrono::milliseconds timeout) {
    return consumer.offsetsForTimes(partitions, static_cast<int>(timeout.count()));
  };
}

namespace {
// With acks=all, min.insync.replicas = 2 keeps every acknowledged message on two brokers; one
// broker (replication 1) cannot offer that.
std::string minInsync(const config::KafkaConfig& config) {
  return std::to_string(std::min(2, config.replication_factor));
}
}  // namespace

TopicSpec quotesTopic(const config::KafkaConfig& config) {
  return TopicSpec{config.topic,
                   config.partitions,
                   config.replication_factor,
                   {{"min.insync.replicas", minInsync(config)},
                    {"retention.ms", std::to_string(7LL * 86'400'000)}}};
}

TopicSpec deadLetterTopic(const config::KafkaConfig& config, const std::string& name) {
  return TopicSpec{name,
                   1,
                   config.replication_factor,
                   {{"min.insync.replicas", minInsync(config)},
                    {"retention.ms", std::to_string(30LL * 86'400'000)}}};
}

Status ensureTopic(RdKafka::Handle& handle, const config::KafkaConfig& config,
                   std::chrono::milliseconds timeout) {
  return ensureTopic(handle, config.brokers, quotesTopic(config), timeout);
}

Status ensureTopic(RdKafka::Handle& handle, const std::string& brokers, const TopicSpec& spec,
                   std::chrono::milliseconds timeout) {
  CR_TRY(auto metadata, readMetadata(handle, brokers, timeout));
  for (const RdKafka::TopicMetadata* listed : *metadata->topics()) {
    // An existing topic is left as it is: no CreateTopics request, which also serves brokers
    // that do not implement it (librdkafka's mock cluster).
    if (listed->topic() == spec.name && listed->err() == RdKafka::ERR_NO_ERROR)
      return {};
  }
  rd_kafka_t* rk = handle.c_ptr();
  char error[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                                     spec.replication_factor, error, sizeof(error));
  if (topic == nullptr) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("cannot describe topic {}: {}", spec.name, error));
  }
  for (const auto& [name, value] : spec.configs)
    rd_kafka_NewTopic_set_config(topic, name.c_str(), value.c_str());
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()), error,
                                              sizeof(error));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 2000);
  Status status;
  if (event == nullptr) {
    status =
        makeError(ErrorCode::Unavailable,
                  fmt::format("Kafka did not answer the creation of topic {} in time", spec.name));
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = makeError(
        ErrorCode::Unavailable,
        fmt::format("creating topic {} failed: {}", spec.name, rd_kafka_event_error_string(event)));
  } else {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t topic_err = rd_kafka_topic_result_error(topics[i]);
      if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR &&
          topic_err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* message = rd_kafka_topic_result_error_string(topics[i]);
        status = makeError(ErrorCode::FailedPrecondition,
                           fmt::format("creating topic {} ({} partitions, replication {}) failed: "
                                       "{}; create it by hand or fix kafka.partitions / "
                                       "kafka.replication_factor",
                                       spec.name, spec.partitions, spec.replication_factor,
                                       message ? message : rd_kafka_err2str(topic_err)));
      }
    }
  }
  if (event != nullptr)
    rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(topic);
  return status;
}

}  // namespace coinrelay::kafka
