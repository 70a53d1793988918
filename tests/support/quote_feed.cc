#include "support/quote_feed.h"

#include <thread>

#include "config/config.h"
#include "kafka/kafka_admin.h"
#include "model/quote_codec.h"
#include "support/process.h"

namespace coinrelay::testing {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int64_t kBaseMs = 1718150400000;  // 2024-06-12T00:00:00Z
constexpr int kCoins = 500;

}  // namespace

model::Quote quoteNumber(int i) {
  model::Quote q;
  const int coin = i % kCoins;
  q.id = "coin-" + std::to_string(coin);
  q.symbol = "c" + std::to_string(coin);
  q.name = "Coin " + std::to_string(coin);
  q.vs_currency = "usd";
  q.last_updated_ms = kBaseMs + (i / kCoins) * 60'000 + coin;
  q.fetched_ms = q.last_updated_ms + 30'000;
  q.price = 1.0 + coin * 0.5 + (i % 97) * 0.001;
  q.market_cap = 1e9 - coin * 1e5;
  q.market_cap_rank = coin + 1;
  q.volume_24h = 1e7;
  q.change_24h = 0.5;
  return q;
}

struct TestProducer::Reports : RdKafka::DeliveryReportCb {
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      ++failed;
      return;
    }
    const std::string key = message.key() ? *message.key() : std::string();
    std::string value;
    if (message.len() > 0)
      value.assign(static_cast<const char*>(message.payload()), message.len());
    placed[key + "|" + value] = {message.partition(), message.offset()};
  }
  std::map<std::string, std::pair<int32_t, int64_t>> placed;
  int failed = 0;
};

TestProducer::TestProducer(const std::string& brokers) : reports_(std::make_unique<Reports>()) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", brokers, error);
  conf->set("acks", "all", error);
  conf->set("enable.idempotence", "true", error);
  conf->set("linger.ms", "5", error);
  conf->set("compression.type", "zstd", error);
  conf->set("dr_cb", reports_.get(), error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
}

TestProducer::~TestProducer() {
  flush();
}

void TestProducer::send(const std::string& topic, const std::optional<std::string>& key,
                        const std::string& value, int64_t timestamp_ms, int32_t partition) {
  for (;;) {
    const auto err = producer_->produce(
        topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
        value.size(), key ? key->data() : nullptr, key ? key->size() : 0, timestamp_ms, nullptr);
    if (err == RdKafka::ERR_NO_ERROR)
      break;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      ++reports_->failed;
      return;
    }
    producer_->poll(50);
  }
  producer_->poll(0);
}

void TestProducer::sendQuotes(const std::string& topic, int from, int to, int per_second) {
  const int per_step = std::max(1, per_second / 10);
  auto next = Clock::now();
  for (int i = from; i < to; ++i) {
    const model::Quote q = quoteNumber(i);
    // Record time now, not the quote's 2024 time: the broker's time-based retention (7 days)
    // would otherwise delete the messages under the test's feet.
    send(topic, q.id, model::encodeQuote(q));
    if ((i - from + 1) % per_step == 0) {
      next += 100ms;
      std::this_thread::sleep_until(next);
    }
  }
  flush();
}

void TestProducer::flush() {
  while (producer_ && producer_->outq_len() > 0)
    producer_->flush(1000);
}

std::string TestProducer::createTopic(const std::string& brokers, const std::string& topic) {
  config::KafkaConfig kafka;
  kafka.brokers = brokers;
  kafka.topic = topic;
  kafka.partitions = 3;
  auto status = kafka::ensureTopic(*producer_, kafka, 10s);
  return status ? std::string() : status.error().message;
}

std::map<std::string, std::pair<int32_t, int64_t>> TestProducer::placed() const {
  return reports_->placed;
}

int TestProducer::failed() const {
  return reports_->failed;
}

std::vector<Record> readAll(const std::string& brokers, const std::string& topic, size_t expected,
                            std::chrono::milliseconds timeout) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", brokers, error);
  conf->set("group.id", "test-reader-" + uniqueSuffix(), error);
  conf->set("enable.auto.commit", "false", error);
  conf->set("auto.offset.reset", "earliest", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  consumer->subscribe({topic});
  std::vector<Record> out;
  auto take = [&] {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(200));
    if (message->err() != RdKafka::ERR_NO_ERROR)
      return;
    Record record;
    if (message->key())
      record.key = *message->key();
    if (message->len() > 0)
      record.value.assign(static_cast<const char*>(message->payload()), message->len());
    out.push_back(std::move(record));
  };
  const auto deadline = Clock::now() + timeout;
  while (out.size() < expected && Clock::now() < deadline)
    take();
  const auto extra = Clock::now() + 2s;
  while (Clock::now() < extra)
    take();
  consumer->close();
  return out;
}

}  // namespace coinrelay::testing
