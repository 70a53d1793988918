// `coinrelay setup kafka`: creates the topics of a deployment once, with its replication
// settings, so that no role has to guess them at first use.

#include <algorithm>
#include <chrono>

#include <librdkafka/rdkafkacpp.h>

#include "app/command_support.h"
#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

int setupKafkaCommand(const CommonOptions& options) {
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config) {
    return kExitUsage;
  }
  if (config->kafka.brokers.empty()) {
    return requireSetting("setup",
                          "kafka.brokers is empty: set COINRELAY_KAFKA_BROKERS=host:9092 "
                          "or --brokers");
  }
  auto conf = kafka::makeConf(
      {{"bootstrap.servers", config->kafka.brokers}, {"client.id", "coinrelay-setup"}});
  if (!conf) {
    return fail("setup", conf.error());
  }
  std::string error;
  std::unique_ptr<RdKafka::Producer> admin(RdKafka::Producer::create(conf->get(), error));
  if (!admin) {
    return fail("setup",
                makeError(ErrorCode::InvalidArgument, "cannot create a Kafka client: " + error));
  }
  const std::string min_insync = std::to_string(std::min(2, config->kafka.replication_factor));
  const std::vector<kafka::TopicSpec> topics = {
      kafka::quotesTopic(config->kafka),
      kafka::deadLetterTopic(config->kafka, config->kafka.topic + ".dlq"),
  };
  auto log = telemetry::logger("setup");
  for (const auto& topic : topics) {
    if (auto status =
            kafka::ensureTopic(*admin, config->kafka.brokers, topic, std::chrono::seconds(15));
        !status) {
      return fail("setup", status.error());
    }
    log->info("topic {} is ready ({} partitions, replication {}, min.insync.replicas {})",
              topic.name, topic.partitions, topic.replication_factor, min_insync);
  }
  return 0;
}

}  // namespace coinrelay::app
