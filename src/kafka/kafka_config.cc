#include "kafka/kafka_config.h"

#include <fmt/format.h>

namespace coinrelay::kafka {

Properties producerProperties(const config::KafkaConfig& config) {
  return {
      {"bootstrap.servers", config.brokers},
      {"client.id", "coinrelay-fetch"},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"max.in.flight.requests.per.connection", "5"},
      {"compression.type", config.compression},
      {"linger.ms", std::to_string(config.linger_ms)},
      {"delivery.timeout.ms", std::to_string(config.delivery_timeout_ms)},
      {"socket.keepalive.enable", "true"},
  };
}

Properties consumerProperties(const config::KafkaConfig& config, const std::string& group_id) {
  return {
      {"bootstrap.servers", config.brokers},
      {"client.id", "coinrelay-index"},
      {"group.id", group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      {"isolation.level", "read_committed"},
      {"socket.keepalive.enable", "true"},
  };
}

Result<std::unique_ptr<RdKafka::Conf>> makeConf(const Properties& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : properties) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("Kafka property {}={} was refused: {}", name, value, error));
    }
  }
  return conf;
}

}  // namespace coinrelay::kafka
