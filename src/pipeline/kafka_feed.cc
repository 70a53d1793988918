#include "pipeline/kafka_feed.h"

#include <chrono>

#include <fmt/format.h>
#include <unistd.h>

#include "common/time_util.h"
#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "model/quote_codec.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::pipeline {

Result<std::unique_ptr<KafkaFeed>> KafkaFeed::create(const config::Config& config,
                                                     sinks::Sink& sink, const StopSignal& stop,
                                                     const KafkaFeedOptions& options) {
  Clock& clock = options.clock ? *options.clock : systemClock();
  auto properties = kafka::consumerProperties(
      config.kafka, fmt::format("coinrelay-serve-{}-{}", ::getpid(),
                                toUnixMillis(std::chrono::system_clock::now())));
  CR_TRY(auto conf, kafka::makeConf(properties));
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) {
    return makeError(ErrorCode::InvalidArgument, "cannot create the Kafka consumer: " + error);
  }
  CR_RETURN_IF_ERROR(
      kafka::checkReachable(*consumer, config.kafka.brokers, std::chrono::seconds(10)));

  // Partitions of the topic, from the broker's metadata.
  std::unique_ptr<RdKafka::Topic> topic(
      RdKafka::Topic::create(consumer.get(), config.kafka.topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(false, topic.get(), &raw, 10'000) != RdKafka::ERR_NO_ERROR) {
    return makeError(ErrorCode::Unavailable, "cannot read the partitions of " + config.kafka.topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<int32_t> partitions;
  for (const auto* t : *metadata->topics()) {
    if (t->err() != RdKafka::ERR_NO_ERROR) {
      return makeError(ErrorCode::FailedPrecondition,
                       fmt::format("topic {} is not readable ({}); start `coinrelay fetch` first "
                                   "or set kafka.topic",
                                   config.kafka.topic, RdKafka::err2str(t->err())));
    }
    for (const auto* p : *t->partitions())
      partitions.push_back(p->id());
  }
  // Start where the lookback window begins; offsetsForTimes answers the end when nothing is
  // newer, so an idle topic costs nothing.
  const int64_t since = toUnixMillis(clock.now()) - config.serve.bootstrap_lookback_s * 1000LL;
  std::vector<RdKafka::TopicPartition*> assignment;
  std::vector<int64_t> ends(partitions.size(), 0);
  for (int32_t p : partitions) {
    assignment.push_back(RdKafka::TopicPartition::create(config.kafka.topic, p, since));
  }
  const kafka::OffsetsForTimes offsets_for_times =
      options.offsets_for_times ? options.offsets_for_times : kafka::brokerOffsetsForTimes();
  if (auto err = offsets_for_times(*consumer, assignment, std::chrono::seconds(10));
      err != RdKafka::ERR_NO_ERROR) {
    RdKafka::TopicPartition::destroy(assignment);
    return makeError(ErrorCode::Unavailable,
                     "cannot look up start offsets: " + RdKafka::err2str(err));
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    int64_t low = 0, high = 0;
    consumer->query_watermark_offsets(config.kafka.topic, partitions[i], &low, &high, 10'000);
    if (assignment[i]->offset() < 0)
      assignment[i]->set_offset(high);                     // nothing that recent
    ends[i] = assignment[i]->offset() >= high ? 0 : high;  // 0: nothing to catch up on
  }
  const auto err = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (err != RdKafka::ERR_NO_ERROR) {
    return makeError(ErrorCode::Unavailable, "cannot assign partitions: " + RdKafka::err2str(err));
  }
  return std::unique_ptr<KafkaFeed>(
      new KafkaFeed(config, sink, stop, clock, std::move(consumer), std::move(ends)));
}

KafkaFeed::KafkaFeed(const config::Config& config, sinks::Sink& sink, const StopSignal& stop,
                     Clock& clock, std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                     std::vector<int64_t> end_offsets)
    : config_(config),
      sink_(sink),
      stop_(stop),
      clock_(clock),
      consumer_(std::move(consumer)),
      end_offsets_(std::move(end_offsets)) {}

KafkaFeed::~KafkaFeed() {
  if (consumer_)
    consumer_->close();
}

Status KafkaFeed::run() {
  auto log = telemetry::logger("serve");
  const auto started = clock_.steadyNow();
  std::vector<model::Quote> batch;
  std::vector<int64_t> positions(end_offsets_.size(), -1);
  auto last_flush = clock_.steadyNow();
  auto& consumed_metric = telemetry::metrics().counter("coinrelay_serve_quotes_consumed_total",
                                                       "Quotes read from Kafka into the snapshot.");
  auto checkCaughtUp = [&] {
    if (caught_up_)
      return;
    for (size_t i = 0; i < end_offsets_.size(); ++i) {
      if (end_offsets_[i] > 0 && positions[i] + 1 < end_offsets_[i])
        return;
    }
    caught_up_ = true;
    log->info("snapshot complete: {} quotes from the last {} s of {} in {} ms", consumed_.load(),
              config_.serve.bootstrap_lookback_s, config_.kafka.topic,
              std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steadyNow() - started)
                  .count());
  };
  while (!stop_.stopped()) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    if (message->err() == RdKafka::ERR_NO_ERROR) {
      const int32_t partition = message->partition();
      if (partition >= 0 && static_cast<size_t>(partition) < positions.size()) {
        positions[static_cast<size_t>(partition)] = message->offset();
      }
      auto quote = model::decodeQuote(
          std::string_view(static_cast<const char*>(message->payload()), message->len()), parser_);
      if (quote) {
        batch.push_back(std::move(quote).value());
        ++consumed_;
        consumed_metric.inc();
      } else {
        ++undecodable_;
        log->warn("skipping undecodable message at {}[{}]@{}: {}", message->topic_name(),
                  message->partition(), message->offset(), quote.error().message);
      }
    } else if (message->err() != RdKafka::ERR__TIMED_OUT &&
               message->err() != RdKafka::ERR__PARTITION_EOF) {
      log->warn("Kafka: {}", message->errstr());
    }
    const auto now = clock_.steadyNow();
    if (!batch.empty() &&
        (batch.size() >= 2000 || now - last_flush >= std::chrono::milliseconds(100))) {
      (void)sink_.deliver(batch);
      batch.clear();
      last_flush = now;
    }
    if (batch.empty())
      checkCaughtUp();
  }
  return {};
}

}  // namespace coinrelay::pipeline
