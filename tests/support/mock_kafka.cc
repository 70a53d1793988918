#include "support/mock_kafka.h"

#include <memory>
#include <stdexcept>

#include <librdkafka/rdkafkacpp.h>

namespace coinrelay::testing {

MockKafka::MockKafka(int brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Only the mock's own warnings: the handle has no brokers to connect to, on purpose.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (handle_ == nullptr)
    throw std::runtime_error(std::string("cannot create the mock cluster's handle: ") + error);
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (cluster_ == nullptr)
    throw std::runtime_error("cannot create a librdkafka mock cluster");
  brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

MockKafka::~MockKafka() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

void MockKafka::createTopic(const std::string& topic, int partitions) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("cannot create mock topic " + topic + ": " + rd_kafka_err2str(err));
}

void MockKafka::setDown(int32_t broker) {
  rd_kafka_mock_broker_set_down(cluster_, broker);
}

void MockKafka::setUp(int32_t broker) {
  rd_kafka_mock_broker_set_up(cluster_, broker);
}

void MockKafka::failNext(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api, errors.size(), errors.data());
}

std::map<int32_t, int64_t> MockKafka::committed(const std::string& group, const std::string& topic,
                                                int partitions) const {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers_, error);
  conf->set("group.id", group, error);  // asks the group's coordinator; never joins
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer)
    throw std::runtime_error("cannot create a Kafka consumer: " + error);
  std::vector<RdKafka::TopicPartition*> list;
  for (int32_t p = 0; p < partitions; ++p)
    list.push_back(RdKafka::TopicPartition::create(topic, p));
  const RdKafka::ErrorCode err = consumer->committed(list, 5000);
  std::map<int32_t, int64_t> out;
  for (RdKafka::TopicPartition* tp : list)
    out[tp->partition()] = err == RdKafka::ERR_NO_ERROR && tp->offset() >= 0 ? tp->offset() : -1;
  RdKafka::TopicPartition::destroy(list);
  consumer->close();
  if (err != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("cannot read the offsets of group " + group + ": " +
                             RdKafka::err2str(err));
  return out;
}

}  // namespace coinrelay::testing
