#include "pipeline/index_loop.h"

#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/strings.h"
#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "model/quote_codec.h"
#include "telemetry/logging.h"

namespace coinrelay::pipeline {

Result<std::unique_ptr<IndexLoop>> IndexLoop::create(const config::Config& config,
                                                     const StopSignal& stop) {
  auto log = telemetry::logger("index");
  elasticsearch::ElasticsearchClient es(config.elasticsearch);
  CR_TRY(auto engine, es.probe());
  log->info("search engine at {} is {} {}", net::redactUrl(config.elasticsearch.url),
            engine.distribution, engine.version);
  CR_RETURN_IF_ERROR(es.installTemplate());

  CR_TRY(auto conf,
         kafka::makeConf(kafka::consumerProperties(config.kafka, config.kafka.group_id)));
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) {
    return makeError(ErrorCode::InvalidArgument, "cannot create the Kafka consumer: " + error);
  }
  CR_RETURN_IF_ERROR(
      kafka::checkReachable(*consumer, config.kafka.brokers, std::chrono::seconds(10)));
  if (auto err = consumer->subscribe({config.kafka.topic}); err != RdKafka::ERR_NO_ERROR) {
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("cannot subscribe to {}: {}", config.kafka.topic, RdKafka::err2str(err)));
  }
  log->info("consuming {} as group {} into index {}", config.kafka.topic, config.kafka.group_id,
            config.elasticsearch.index);
  return std::unique_ptr<IndexLoop>(new IndexLoop(config, stop, std::move(consumer)));
}

IndexLoop::IndexLoop(const config::Config& config, const StopSignal& stop,
                     std::unique_ptr<RdKafka::KafkaConsumer> consumer)
    : config_(config),
      stop_(stop),
      consumer_(std::move(consumer)),
      indexer_(config.elasticsearch, stop) {}

IndexLoop::~IndexLoop() {
  if (consumer_)
    consumer_->close();
}

Status IndexLoop::run() {
  auto log = telemetry::logger("index");
  std::vector<std::unique_ptr<RdKafka::Message>> batch;
  size_t batch_bytes = 0;
  auto batch_started = std::chrono::steady_clock::now();
  const auto flush_interval = std::chrono::milliseconds(config_.elasticsearch.flush_interval_ms);
  while (!stop_.stopped()) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    if (message->err() == RdKafka::ERR_NO_ERROR) {
      if (batch.empty())
        batch_started = std::chrono::steady_clock::now();
      ++stats_.consumed;
      batch_bytes += message->len();
      batch.push_back(std::move(message));
    } else if (message->err() != RdKafka::ERR__TIMED_OUT &&
               message->err() != RdKafka::ERR__PARTITION_EOF) {
      log->warn("Kafka consumer: {}", message->errstr());
      if (message->err() == RdKafka::ERR__FATAL) {
        return makeError(ErrorCode::FailedPrecondition, "fatal Kafka error: " + message->errstr());
      }
    }
    const bool full = batch.size() >= static_cast<size_t>(config_.elasticsearch.bulk_max_docs) ||
                      batch_bytes >= static_cast<size_t>(config_.elasticsearch.bulk_max_bytes);
    const bool due =
        !batch.empty() && std::chrono::steady_clock::now() - batch_started >= flush_interval;
    if (full || due) {
      if (!flush(batch))
        break;
      commit(batch);
      batch.clear();
      batch_bytes = 0;
    }
  }
  if (!batch.empty() && flush(batch))
    commit(batch);  // drain what was read before stopping
  const auto& indexed = indexer_.stats();
  log->info("stopped: {} consumed, {} indexed, {} refused, {} undecodable, {} retried",
            stats_.consumed.load(), indexed.indexed.load(), indexed.rejected.load(),
            stats_.undecodable.load(), indexed.retried.load());
  return {};
}

bool IndexLoop::flush(std::vector<std::unique_ptr<RdKafka::Message>>& batch) {
  std::vector<model::Quote> quotes;
  quotes.reserve(batch.size());
  for (const auto& message : batch) {
    auto quote = model::decodeQuote(
        std::string_view(static_cast<const char*>(message->payload()), message->len()), parser_);
    if (!quote) {
      ++stats_.undecodable;
      telemetry::logger("index")->error("skipping undecodable message at {}[{}]@{}: {}",
                                        message->topic_name(), message->partition(),
                                        message->offset(), quote.error().message);
      continue;
    }
    quotes.push_back(std::move(quote).value());
  }
  const size_t count = quotes.size();
  if (!indexer_.indexAll(std::move(quotes)))
    return false;
  telemetry::logger("index")->info("bulk of {} documents indexed (total {})", count,
                                   indexer_.stats().indexed.load());
  return true;
}

void IndexLoop::commit(const std::vector<std::unique_ptr<RdKafka::Message>>& batch) {
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets;
  for (const auto& message : batch) {
    auto& offset = next_offsets[{message->topic_name(), message->partition()}];
    offset = std::max(offset, message->offset() + 1);
  }
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [key, offset] : next_offsets) {
    offsets.push_back(RdKafka::TopicPartition::create(key.first, key.second, offset));
  }
  if (auto err = consumer_->commitSync(offsets); err != RdKafka::ERR_NO_ERROR) {
    telemetry::logger("index")->warn(
        "offset commit failed ({}): the batch will be delivered again and overwrite itself",
        RdKafka::err2str(err));
  }
  RdKafka::TopicPartition::destroy(offsets);
}

}  // namespace coinrelay::pipeline
