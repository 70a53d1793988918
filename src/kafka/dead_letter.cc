#include "kafka/dead_letter.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "common/time_util.h"
#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"

namespace coinrelay::kafka {

namespace {

/// Keys are text by contract, but a broken producer may send any bytes: invalid sequences
/// become U+FFFD so the envelope stays valid JSON.
std::string lossyUtf8(std::string_view bytes) {
  if (isValidUtf8(bytes))
    return std::string(bytes);
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (length > 0 && i + length <= bytes.size() && isValidUtf8(bytes.substr(i, length))) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace

bool isValidUtf8(std::string_view bytes) {
  return simdjson::validate_utf8(bytes.data(), bytes.size());
}

std::string base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2)
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string encodeDeadLetter(const DeadLetter& letter) {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .field("schema_version", kDeadLetterSchemaVersion)
      .field("reason", letter.reason.empty() ? std::string("unknown") : lossyUtf8(letter.reason))
      .field("stage", letter.stage)
      .field("status", letter.status)
      .field("source_topic", letter.source_topic)
      .field("source_partition", static_cast<int64_t>(letter.source_partition))
      .field("source_offset", letter.source_offset)
      .key("source_key");
  if (letter.source_key)
    w.value(lossyUtf8(*letter.source_key));
  else
    w.null();
  w.key("source_timestamp");
  if (letter.source_timestamp_ms)
    w.value(formatIso8601Millis(*letter.source_timestamp_ms));
  else
    w.null();
  const bool utf8 = isValidUtf8(letter.original_value);
  w.field("original_value",
          utf8 ? std::string(letter.original_value) : base64Encode(letter.original_value))
      .field("original_encoding", utf8 ? "utf8" : "base64")
      .field("dead_lettered_at", formatIso8601Millis(letter.dead_lettered_ms))
      .endObject();
  return out;
}

class DeadLetterProducer::Reports final : public RdKafka::DeliveryReportCb {
 public:
  explicit Reports(DeliveryFn fn) : fn_(std::move(fn)) {}
  void dr_cb(RdKafka::Message& message) override {
    --outstanding;
    fn_(message.msg_opaque(), message.err() == RdKafka::ERR_NO_ERROR,
        message.err() == RdKafka::ERR_NO_ERROR ? std::string() : message.errstr());
  }
  int outstanding = 0;

 private:
  DeliveryFn fn_;
};

Result<std::unique_ptr<DeadLetterProducer>> DeadLetterProducer::create(
    const config::KafkaConfig& kafka, const std::string& topic, DeliveryFn on_delivery) {
  auto reports = std::make_unique<Reports>(std::move(on_delivery));
  Properties properties = producerProperties(kafka);
  properties.emplace_back("client.id", "coinrelay-index-dlq");
  CR_TRY(auto conf, makeConf(properties));
  std::string error;
  if (conf->set("dr_cb", reports.get(), error) != RdKafka::Conf::CONF_OK) {
    return makeError(ErrorCode::Internal, "cannot install the Kafka delivery callback: " + error);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    return makeError(ErrorCode::InvalidArgument,
                     "cannot create the dead-letter producer: " + error);
  }
  CR_RETURN_IF_ERROR(ensureTopic(*producer, kafka.brokers, deadLetterTopic(kafka, topic),
                                 std::chrono::seconds(10)));
  return std::unique_ptr<DeadLetterProducer>(
      new DeadLetterProducer(topic, std::move(reports), std::move(producer)));
}

DeadLetterProducer::DeadLetterProducer(std::string topic, std::unique_ptr<Reports> reports,
                                       std::unique_ptr<RdKafka::Producer> producer)
    : topic_(std::move(topic)), reports_(std::move(reports)), producer_(std::move(producer)) {}

DeadLetterProducer::~DeadLetterProducer() {
  if (producer_)
    producer_->flush(5000);
}

Status DeadLetterProducer::produce(std::optional<std::string_view> key, const std::string& value,
                                   void* opaque) {
  for (;;) {
    const RdKafka::ErrorCode err =
        producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           const_cast<char*>(value.data()), value.size(),
                           key ? key->data() : nullptr, key ? key->size() : 0, 0, opaque);
    if (err == RdKafka::ERR_NO_ERROR) {
      ++reports_->outstanding;
      return {};
    }
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(100);
      continue;
    }
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("Kafka refused a dead letter for topic {}: {}", topic_, RdKafka::err2str(err)));
  }
}

void DeadLetterProducer::poll(int timeout_ms) {
  producer_->poll(timeout_ms);
}

int DeadLetterProducer::outstanding() const {
  return reports_->outstanding;
}

}  // namespace coinrelay::kafka
