#include "sinks/kafka_sink.h"

#include <chrono>

#include <fmt/format.h>

#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "model/quote_codec.h"
#include "telemetry/logging.h"

namespace coinrelay::sinks {

/// Counts the broker's acknowledgements of the batch in flight.
class KafkaSink::ReportCallback final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++acked;
    } else {
      ++failed;
      if (first_error.empty())
        first_error = message.errstr();
    }
  }
  void reset() {
    acked = 0;
    failed = 0;
    first_error.clear();
  }
  size_t acked = 0;
  size_t failed = 0;
  std::string first_error;
};

Result<std::unique_ptr<KafkaSink>> KafkaSink::create(const config::KafkaConfig& config) {
  auto callback = std::make_unique<ReportCallback>();
  CR_TRY(auto conf, kafka::makeConf(kafka::producerProperties(config)));
  std::string error;
  if (conf->set("dr_cb", callback.get(), error) != RdKafka::Conf::CONF_OK) {
    return makeError(ErrorCode::Internal, "cannot install the Kafka delivery callback: " + error);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    return makeError(ErrorCode::InvalidArgument, "cannot create the Kafka producer: " + error);
  }
  CR_RETURN_IF_ERROR(kafka::ensureTopic(*producer, config, std::chrono::seconds(10)));
  return std::unique_ptr<KafkaSink>(
      new KafkaSink(config, std::move(callback), std::move(producer)));
}

KafkaSink::KafkaSink(const config::KafkaConfig& config, std::unique_ptr<ReportCallback> callback,
                     std::unique_ptr<RdKafka::Producer> producer)
    : config_(config), callback_(std::move(callback)), producer_(std::move(producer)) {}

KafkaSink::~KafkaSink() {
  if (producer_ && producer_->flush(10'000) != RdKafka::ERR_NO_ERROR) {
    telemetry::logger("kafka")->error("{} messages were still unacknowledged at shutdown",
                                      producer_->outq_len());
  }
}

Status KafkaSink::deliver(std::span<const model::Quote> batch) {
  callback_->reset();
  std::string value;
  for (const model::Quote& quote : batch) {
    value.clear();
    model::encodeQuote(quote, value);
    for (;;) {
      const RdKafka::ErrorCode err = producer_->produce(
          config_.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, value.data(),
          value.size(), quote.id.data(), quote.id.size(), quote.fetched_ms, nullptr);
      if (err == RdKafka::ERR_NO_ERROR)
        break;
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer_->poll(100);  // wait for acknowledgements to make room
        continue;
      }
      return makeError(ErrorCode::Unavailable, fmt::format("Kafka refused a message for {}: {}",
                                                           quote.id, RdKafka::err2str(err)));
    }
    producer_->poll(0);
  }
  // Wait for every acknowledgement; the producer retries internally up to delivery.timeout.ms.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(config_.delivery_timeout_ms + 5000);
  while (callback_->acked + callback_->failed < batch.size() &&
         std::chrono::steady_clock::now() < deadline) {
    producer_->flush(1000);
  }
  if (callback_->failed > 0 || callback_->acked < batch.size()) {
    return makeError(
        ErrorCode::Unavailable,
        fmt::format("Kafka acknowledged {} of {} messages ({})", callback_->acked, batch.size(),
                    callback_->first_error.empty() ? "timed out" : callback_->first_error));
  }
  return {};
}

}  // namespace coinrelay::sinks
