#include "support/kafka_reader.h"

#include <memory>
#include <set>
#include <stdexcept>

#include <librdkafka/rdkafkacpp.h>

namespace coinrelay::testing {

std::vector<KafkaRecord> readTopic(const std::string& brokers, const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, error);
  conf->set("group.id", "coinrelay-test-reader", error);  // required; never joined (assign)
  conf->set("enable.auto.commit", "false", error);
  conf->set("enable.partition.eof", "true", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer)
    throw std::runtime_error("cannot create a Kafka consumer: " + error);
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(false, handle.get(), &raw, 10'000) != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("no metadata for " + topic);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto* t : *metadata->topics()) {
    for (const auto* p : *t->partitions()) {
      partitions.push_back(
          RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  if (partitions.empty())
    throw std::runtime_error("topic " + topic + " has no partitions");
  consumer->assign(partitions);
  std::set<int32_t> done;
  const size_t count = partitions.size();
  RdKafka::TopicPartition::destroy(partitions);
  std::vector<KafkaRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (done.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(500));
    if (message->err() == RdKafka::ERR__PARTITION_EOF) {
      done.insert(message->partition());
    } else if (message->err() == RdKafka::ERR_NO_ERROR) {
      KafkaRecord record;
      record.partition = message->partition();
      record.offset = message->offset();
      record.timestamp_ms = message->timestamp().timestamp;
      if (message->key() != nullptr)
        record.key = *message->key();
      record.value.assign(static_cast<const char*>(message->payload()), message->len());
      out.push_back(std::move(record));
    }
  }
  consumer->close();
  if (done.size() < count)
    throw std::runtime_error("timed out reading " + topic);
  return out;
}

}  // namespace coinrelay::testing
