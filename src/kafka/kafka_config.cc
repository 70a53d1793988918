#include "kafka/kafka_config.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include "telemetry/logging.h"

namespace coinrelay::kafka {

namespace {

/// librdkafka's own log lines and error events, into the process log (component "kafka") with
/// its levels, instead of raw "%3|...|FAIL|..." lines on stderr. Errors librdkafka recovers from
/// by itself (a broker down, a reconnect) also appear as log lines, so error events are logged
/// at debug unless fatal: coinrelay reports what they mean for its own work in one line.
class LogEvents final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    const auto log = telemetry::logger("kafka");
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG: {
        const int severity = static_cast<int>(event.severity());
        const auto level = severity <= 2   ? spdlog::level::err
                           : severity <= 4 ? spdlog::level::warn
                           : severity <= 6 ? spdlog::level::info
                                           : spdlog::level::debug;
        log->log(level, "{}: {}", event.fac(), event.str());
        break;
      }
      case RdKafka::Event::EVENT_ERROR:
        log->log(event.fatal() ? spdlog::level::err : spdlog::level::debug, "{}: {}",
                 RdKafka::err2str(event.err()), event.str());
        break;
      default:
        break;
    }
  }
};

LogEvents& logEvents() {
  static LogEvents events;  // lives as long as the process: handles keep a pointer to it
  return events;
}

}  // namespace

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
  if (conf->set("event_cb", &logEvents(), error) != RdKafka::Conf::CONF_OK)
    return makeError(ErrorCode::Internal, "cannot install the Kafka log callback: " + error);
  for (const auto& [name, value] : properties) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("Kafka property {}={} was refused: {}", name, value, error));
    }
  }
  return conf;
}

}  // namespace coinrelay::kafka
