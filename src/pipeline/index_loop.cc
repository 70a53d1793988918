#include "pipeline/index_loop.h"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/time_util.h"
#include "elasticsearch/bulk_source.h"
#include "elasticsearch/layout_setup.h"
#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "model/quote_codec.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::pipeline {

namespace {

using namespace std::chrono_literals;

/// Commits are cheap but not free: at most this often while documents flow.
constexpr auto kCommitEvery = 200ms;
/// On SIGTERM, batches in flight get this long to become durable before the workers stop.
constexpr auto kShutdownGrace = 10s;
/// A full queue of batches first just stops reading: librdkafka's bounded prefetch queue fills
/// and its fetcher stops by itself. Pausing the partitions would purge that queue and cost a
/// refetch (about half a second per pause with librdkafka 2.0), so it is kept for blockages
/// longer than this, or an engine that is down, when the consumer must poll to stay in its
/// group (max.poll.interval.ms) without reading.
constexpr auto kHoldBeforePause = 5s;

struct LoopMetrics {
  telemetry::Counter& consumed;
  telemetry::Counter& dead_decode;
  telemetry::Counter& dead_index;
  telemetry::Counter& pauses;
  telemetry::Counter& reencoded;
  telemetry::Gauge& batches_alive;
  telemetry::Gauge& pending_messages;
  telemetry::Gauge& paused;
};

LoopMetrics& loopMetrics() {
  auto& r = telemetry::metrics();
  const std::string dlq_help =
      "Messages sent to the dead-letter topic, by stage: decode (not a quote document) or index "
      "(refused for good by the search engine).";
  static LoopMetrics m{
      r.counter("coinrelay_index_messages_consumed_total", "Messages read from the quotes topic."),
      r.counter("coinrelay_index_dead_letters_total", dlq_help, {{"stage", "decode"}}),
      r.counter("coinrelay_index_dead_letters_total", dlq_help, {{"stage", "index"}}),
      r.counter("coinrelay_index_pauses_total",
                "Times consumption paused because the bounded queue of batches was full."),
      r.counter("coinrelay_index_documents_reencoded_total",
                "Documents decoded and encoded again because their message was not the document "
                "as coinrelay's encoder writes it (the others go into the bulk body as they are)."),
      r.gauge("coinrelay_index_batches_in_flight",
              "Batches dispatched and not yet durable (queued, in a bulk request, or waiting for "
              "their dead letters)."),
      r.gauge("coinrelay_index_pending_messages",
              "Messages consumed whose document or dead letter is not yet durable (their offsets "
              "are not committed)."),
      r.gauge("coinrelay_index_paused", "1 while consumption is paused (back-pressure)."),
  };
  return m;
}

telemetry::Gauge& lagGauge(int32_t partition) {
  return telemetry::metrics().gauge(
      "coinrelay_index_consumer_lag",
      "Messages of the partition not yet durable in the search engine: high watermark minus the "
      "commit point.",
      {{"partition", std::to_string(partition)}});
}

}  // namespace

/// A run of consumed messages, indexed by one worker with one or more bulk requests. The
/// messages themselves are released as soon as they are read: the batch holds its bulk body
/// (each document once, as the engine will get it) and what a dead letter would need, so its
/// memory is its body's size, not that of librdkafka's decompressed fetch buffers.
struct IndexLoop::Batch {
  /// Where a message came from, and what became of it.
  struct Origin {
    int32_t partition = 0;
    int64_t offset = 0;
    std::optional<int64_t> timestamp_ms;
    std::optional<std::string> key;
    /// Its document in `body`, or -1 when it has none (not a quote document).
    int64_t doc = -1;
    /// Whether `body` holds the value as it is; if not (a message re-encoded, or not a quote
    /// document), the original is kept in `value` for its dead letter.
    bool as_is = false;
    std::string value;
    // Its fate: set when read (not a quote) or by the worker, read by the Kafka thread after
    // the hand-over through done_.
    bool indexed = false;
    const char* stage = "decode";
    std::optional<int> status;
    std::string reason;
  };
  struct Letter {
    Batch* batch = nullptr;
    size_t origin = 0;
    std::string value;
  };

  uint64_t id = 0;
  SteadyTime opened;
  elasticsearch::BulkBody body;
  std::vector<Origin> origins;
  bool interrupted = false;  ///< by the worker
  // Kafka thread.
  std::vector<Letter> letters;
  int letters_pending = 0;

  std::string_view originalValue(const Origin& origin) const {
    return origin.as_is ? body.source(static_cast<size_t>(origin.doc))
                        : std::string_view(origin.value);
  }
};

/// The buffers of a completed batch, kept for a next one.
struct IndexLoop::Buffers {
  elasticsearch::BulkBody body;
  std::vector<Batch::Origin> origins;
};

class IndexLoop::Rebalancer final : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(IndexLoop& loop) : loop_(loop) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      loop_.onAssign(partitions);
    } else {
      loop_.onRevoke(partitions);
      consumer->unassign();
    }
  }

 private:
  IndexLoop& loop_;
};

class IndexLoop::CommitReports final : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& /*offsets*/) override {
    if (err != RdKafka::ERR_NO_ERROR && err != RdKafka::ERR__NO_OFFSET) {
      telemetry::logger("index")->warn(
          "offset commit failed ({}): the messages since the last commit will be read again and "
          "overwrite their own documents",
          RdKafka::err2str(err));
    }
  }
};

Result<std::unique_ptr<IndexLoop>> IndexLoop::create(const config::Config& config,
                                                     const IndexStart& start,
                                                     const StopSignal& stop,
                                                     const IndexLoopOptions& options) {
  auto log = telemetry::logger("index");
  elasticsearch::ElasticsearchClient es(config.elasticsearch);
  CR_TRY(auto engine, es.probe());
  log->info("search engine at {} is {} {}", net::redactUrl(config.elasticsearch.url),
            engine.distribution, engine.version);
  CR_TRY(auto steps,
         elasticsearch::ensureLayout(es, engine, elasticsearch::layoutOf(config.elasticsearch)));
  for (const auto& step : steps)
    log->info("{}", step);

  std::unique_ptr<IndexLoop> loop(
      new IndexLoop(config, start, stop, options.clock ? *options.clock : systemClock()));
  kafka::Properties properties = kafka::consumerProperties(config.kafka, config.kafka.group_id);
  // The prefetch is part of the memory budget (docs/indexing.md): librdkafka's queue of fetched
  // messages, and each fetch response (a partition's first record batch comes whole, however
  // large).
  const int fetch_bytes = config.index.fetch_kbytes * 1024;
  properties.emplace_back("queued.max.messages.kbytes",
                          std::to_string(config.index.prefetch_kbytes));
  properties.emplace_back("max.partition.fetch.bytes", std::to_string(fetch_bytes));
  properties.emplace_back("fetch.max.bytes", std::to_string(std::max(fetch_bytes, 1 << 20)));
  if (!config.index.instance_id.empty())
    properties.emplace_back("group.instance.id", config.index.instance_id);
  properties.insert(properties.end(), options.consumer_overrides.begin(),
                    options.consumer_overrides.end());
  CR_TRY(auto conf, kafka::makeConf(properties));
  std::string error;
  if (conf->set("rebalance_cb", loop->rebalancer_.get(), error) != RdKafka::Conf::CONF_OK ||
      conf->set("offset_commit_cb", loop->commit_reports_.get(), error) != RdKafka::Conf::CONF_OK) {
    return makeError(ErrorCode::Internal, "cannot install the Kafka consumer callbacks: " + error);
  }
  loop->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!loop->consumer_) {
    return makeError(ErrorCode::InvalidArgument, "cannot create the Kafka consumer: " + error);
  }
  loop->consumer_queue_ = rd_kafka_queue_get_consumer(loop->consumer_->c_ptr());
  CR_RETURN_IF_ERROR(
      kafka::checkReachable(*loop->consumer_, config.kafka.brokers, std::chrono::seconds(10)));
  IndexLoop* raw = loop.get();
  CR_TRY(loop->dead_letters_,
         kafka::DeadLetterProducer::create(config.kafka, config.index.dlq_topic,
                                           [raw](void* opaque, bool ok, const std::string& why) {
                                             raw->onDeadLetterDelivered(opaque, ok, why);
                                           }));
  if (auto err = loop->consumer_->subscribe({config.kafka.topic}); err != RdKafka::ERR_NO_ERROR) {
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("cannot subscribe to {}: {}", config.kafka.topic, RdKafka::err2str(err)));
  }
  const char* from = start.mode == IndexStart::Mode::Beginning   ? "from its beginning"
                     : start.mode == IndexStart::Mode::Timestamp ? "from a timestamp"
                                                                 : "from the committed offsets";
  log->info(
      "consuming {} {} as group {} into {} ({} bulk requests in flight, batches of up to {} "
      "documents / {} bytes / {} ms); dead letters to {}",
      config.kafka.topic, from, config.kafka.group_id, config.elasticsearch.index,
      config.elasticsearch.max_in_flight, config.elasticsearch.bulk_max_docs,
      config.elasticsearch.bulk_max_bytes, config.elasticsearch.flush_interval_ms,
      config.index.dlq_topic);
  return loop;
}

IndexLoop::IndexLoop(const config::Config& config, const IndexStart& start, const StopSignal& stop,
                     Clock& clock)
    : config_(config),
      start_(start),
      stop_(stop),
      clock_(clock),
      rebalancer_(std::make_unique<Rebalancer>(*this)),
      commit_reports_(std::make_unique<CommitReports>()),
      health_(config.elasticsearch.url) {}

IndexLoop::~IndexLoop() {
  abort_.request();
  { std::lock_guard lock(mutex_); }
  work_ready_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable())
      worker.join();
  }
  // Its last delivery reports reach batches that must still exist.
  dead_letters_.reset();
  if (consumer_queue_ != nullptr)
    rd_kafka_queue_destroy(consumer_queue_);
  if (consumer_ && !closed_)
    consumer_->close();
}

IndexStatus IndexLoop::status() const {
  std::lock_guard lock(status_mutex_);
  IndexStatus out = status_;
  out.consumed = consumed_.load();
  out.indexed = indexed_.load();
  out.dead_lettered = dead_lettered_.load();
  out.engine_up = health_.up();
  return out;
}

Status IndexLoop::run() {
  for (int i = 0; i < config_.elasticsearch.max_in_flight; ++i)
    workers_.emplace_back([this] { work(); });
  const auto flush_interval = std::chrono::milliseconds(config_.elasticsearch.flush_interval_ms);
  last_commit_ = last_report_ = clock_.steadyNow();
  auto last_warning = clock_.steadyNow() - 1h;
  while (!stop_.stopped()) {
    const bool full = alive_.size() >= 2 * static_cast<size_t>(config_.elasticsearch.max_in_flight);
    if (!full)
      full_since_.reset();
    else if (!full_since_)
      full_since_ = clock_.steadyNow();
    const bool hold =
        full && !paused_ && health_.up() && clock_.steadyNow() - *full_since_ < kHoldBeforePause;
    if (hold) {
      stop_.waitFor(5ms);  // short back-pressure: read nothing until a batch is durable
    } else {
      CR_RETURN_IF_ERROR(read(flush_interval, last_warning));
    }
    drainCompletions();
    dead_letters_->poll(0);
    retryDeadLetters();
    commit(false);
    updatePause();
    updateLagAndLog(false);
  }
  shutdown();
  return {};
}

Status IndexLoop::read(std::chrono::milliseconds flush_interval, SteadyTime& last_warning) {
  auto timeout = 100ms;
  if (filling_ && !filling_->origins.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        flush_interval - (clock_.steadyNow() - filling_->opened));
    timeout = std::clamp(left, 0ms, timeout);
  }
  if (!alive_.empty())
    timeout = std::min(timeout, 20ms);  // notice finished batches soon
  // What librdkafka already holds is taken in one go (up to a batch), so the housekeeping of
  // the loop runs once per run of messages rather than once per message.
  for (size_t taken = 0; taken < static_cast<size_t>(config_.elasticsearch.bulk_max_docs);
       ++taken) {
    std::unique_ptr<RdKafka::Message> message(
        consumer_->consume(taken == 0 ? static_cast<int>(timeout.count()) : 0));
    const RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      add(std::move(message));
      if (filling_->origins.size() >= static_cast<size_t>(config_.elasticsearch.bulk_max_docs) ||
          filling_->body.bytes() >= static_cast<size_t>(config_.elasticsearch.bulk_max_bytes)) {
        break;
      }
      continue;
    }
    if (err == RdKafka::ERR__FATAL)
      return makeError(ErrorCode::FailedPrecondition, "fatal Kafka error: " + message->errstr());
    if (err == RdKafka::ERR__TIMED_OUT && taken == 0 && timeout >= 5ms) {
      wakeFetcher(true);
    } else if (err != RdKafka::ERR__TIMED_OUT && err != RdKafka::ERR__PARTITION_EOF &&
               clock_.steadyNow() - last_warning >= 30s) {
      last_warning = clock_.steadyNow();  // librdkafka reconnects by itself; say so now and then
      telemetry::logger("index")->warn("Kafka consumer: {}", message->errstr());
    }
    break;
  }
  if (filling_ &&
      (filling_->origins.size() >= static_cast<size_t>(config_.elasticsearch.bulk_max_docs) ||
       filling_->body.bytes() >= static_cast<size_t>(config_.elasticsearch.bulk_max_bytes) ||
       clock_.steadyNow() - filling_->opened >= flush_interval)) {
    dispatch();
    wakeFetcher(false);
  }
  return {};
}

void IndexLoop::wakeFetcher(bool dry) {
  // librdkafka 2.0 stops fetching once its prefetch queue holds queued.max.messages.kbytes, and
  // looks again only when the broker thread next wakes up, up to a second later (2.1 added
  // fetch.queue.backoff.ms for this). With a small queue the indexer would then wait for most
  // of that second after each drain: read at a small queue's size per second. Any request
  // through that broker thread wakes it: a watermark query, sent when the queue is half empty
  // (or dry) while a partition still has messages to read. One partition per call, in turn,
  // so each broker of a larger cluster gets woken.
  if (!dry && static_cast<int64_t>(rd_kafka_queue_length(consumer_queue_)) * average_value_bytes_ >=
                  int64_t{config_.index.prefetch_kbytes} * 1024 / 2) {
    return;
  }
  if (paused_ || assigned_.empty() || clock_.steadyNow() - last_wake_ < 20ms)
    return;
  last_wake_ = clock_.steadyNow();
  std::vector<RdKafka::TopicPartition*> positions;
  for (int32_t partition : assigned_)
    positions.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition));
  consumer_->position(positions);
  for (size_t i = 0; i < positions.size(); ++i) {
    RdKafka::TopicPartition* tp = positions[(wake_next_ + i) % positions.size()];
    int64_t low = 0, high = 0;
    if (tp->offset() < 0 ||
        consumer_->get_watermark_offsets(config_.kafka.topic, tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high <= tp->offset()) {
      continue;
    }
    wake_next_ = (wake_next_ + i + 1) % positions.size();
    consumer_->query_watermark_offsets(config_.kafka.topic, tp->partition(), &low, &high, 200);
    break;
  }
  RdKafka::TopicPartition::destroy(positions);
}

void IndexLoop::add(std::unique_ptr<RdKafka::Message> message) {
  if (!filling_) {
    filling_ = std::make_unique<Batch>();
    filling_->id = next_batch_id_++;
    filling_->opened = clock_.steadyNow();
    if (!spare_.empty()) {
      filling_->body = std::move(spare_.back().body);
      filling_->origins = std::move(spare_.back().origins);
      spare_.pop_back();
    }
  }
  Batch& batch = *filling_;
  tracker_.consumed(message->partition(), message->offset(), batch.id);
  ++consumed_;
  loopMetrics().consumed.inc();

  Batch::Origin& origin = batch.origins.emplace_back();
  origin.partition = message->partition();
  origin.offset = message->offset();
  const RdKafka::MessageTimestamp timestamp = message->timestamp();
  if (timestamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE &&
      timestamp.timestamp >= 0) {
    origin.timestamp_ms = timestamp.timestamp;
  }
  if (message->key_pointer() != nullptr)
    origin.key.emplace(static_cast<const char*>(message->key_pointer()), message->key_len());
  const std::string_view value(static_cast<const char*>(message->payload()), message->len());
  average_value_bytes_ += (static_cast<int64_t>(value.size()) - average_value_bytes_) / 64;
  const std::string_view index = config_.elasticsearch.index;
  if (value.empty()) {
    origin.reason = "empty message value (a quote document was expected)";
    return;
  }
  // The usual case: the message is the document as the encoder writes it, and goes into the
  // bulk body as it is.
  if (elasticsearch::passesAsIs(value, parser_, id_)) {
    origin.doc = static_cast<int64_t>(batch.body.add(index, id_, value));
    origin.as_is = true;
    return;
  }
  origin.value = std::string(value);
  auto quote = model::decodeQuote(value, parser_);
  if (!quote) {
    origin.reason = "not a quote document: " + quote.error().message;
    return;
  }
  const std::string id = model::observationKey(*quote);
  if (id.size() > elasticsearch::kMaxDocumentIdBytes) {
    origin.reason =
        fmt::format("observation key of {} bytes, longer than the {} bytes a document id may have",
                    id.size(), elasticsearch::kMaxDocumentIdBytes);
    return;
  }
  // Re-encoded rather than copied: the one encoder guarantees one line of JSON with exactly
  // the mapped fields, whatever whitespace or extra fields the message carried.
  origin.doc = static_cast<int64_t>(batch.body.add(index, id, model::encodeQuote(*quote)));
  loopMetrics().reencoded.inc();
}

void IndexLoop::dispatch() {
  if (!filling_ || filling_->origins.empty())
    return;
  std::shared_ptr<Batch> batch(std::move(filling_));
  // In id order, the engine's id lookups walk its terms dictionaries forwards (see
  // BulkBody::sortByAction); the origins follow their documents.
  const std::vector<size_t> moved = batch->body.sortByAction(sort_spare_);
  for (Batch::Origin& origin : batch->origins) {
    if (origin.doc >= 0)
      origin.doc = static_cast<int64_t>(moved[static_cast<size_t>(origin.doc)]);
  }
  alive_[batch->id] = batch;
  {
    std::lock_guard lock(mutex_);
    todo_.push_back(std::move(batch));
  }
  work_ready_.notify_one();
}

void IndexLoop::work() {
  elasticsearch::BulkWriter writer(config_.elasticsearch, abort_, health_);
  for (;;) {
    std::shared_ptr<Batch> batch;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return !todo_.empty() || abort_.stopped(); });
      if (abort_.stopped())
        return;
      batch = std::move(todo_.front());
      todo_.pop_front();
    }
    process(*batch, writer);
    std::lock_guard lock(mutex_);
    done_.push_back(std::move(batch));
  }
}

void IndexLoop::process(Batch& batch, elasticsearch::BulkWriter& writer) {
  auto outcomes = writer.write(batch.body);
  if (!outcomes) {
    batch.interrupted = true;
    return;
  }
  for (Batch::Origin& origin : batch.origins) {
    if (origin.doc < 0)
      continue;
    const elasticsearch::DocOutcome& outcome = (*outcomes)[static_cast<size_t>(origin.doc)];
    if (outcome.indexed) {
      origin.indexed = true;
    } else {
      origin.stage = "index";
      origin.status = outcome.status;
      origin.reason = outcome.reason;
    }
  }
}

void IndexLoop::drainCompletions() {
  std::vector<std::shared_ptr<Batch>> finished;
  {
    std::lock_guard lock(mutex_);
    finished.swap(done_);
  }
  for (auto& batch : finished) {
    if (batch->interrupted)
      continue;  // stopping: nothing of it counts as durable, its offsets stay uncommitted
    uint64_t indexed = 0;
    for (const auto& origin : batch->origins)
      indexed += origin.indexed ? 1 : 0;
    indexed_ += indexed;
    produceDeadLetters(*batch);
    if (batch->letters_pending == 0)
      complete(batch->id);
  }
}

void IndexLoop::produceDeadLetters(Batch& batch) {
  const int64_t now = toUnixMillis(clock_.now());
  size_t count = 0;
  for (const auto& origin : batch.origins)
    count += origin.indexed ? 0 : 1;
  if (count == 0)
    return;
  // Reserved once: each letter's address is the opaque of its delivery report.
  batch.letters.reserve(count);
  for (size_t i = 0; i < batch.origins.size(); ++i) {
    const Batch::Origin& origin = batch.origins[i];
    if (origin.indexed)
      continue;
    kafka::DeadLetter letter;
    letter.reason = origin.reason;
    letter.stage = origin.stage;
    letter.status = origin.status;
    letter.source_topic = config_.kafka.topic;
    letter.source_partition = origin.partition;
    letter.source_offset = origin.offset;
    if (origin.key)
      letter.source_key = *origin.key;
    letter.source_timestamp_ms = origin.timestamp_ms;
    letter.original_value = batch.originalValue(origin);
    letter.dead_lettered_ms = now;
    batch.letters.push_back(Batch::Letter{&batch, i, kafka::encodeDeadLetter(letter)});
    telemetry::logger("index")->warn("dead-lettering {}[{}]@{} ({}): {}", letter.source_topic,
                                     letter.source_partition, letter.source_offset, origin.stage,
                                     origin.reason);
  }
  // Counted before the first produce: acknowledgements may arrive while the others are queued.
  batch.letters_pending = static_cast<int>(batch.letters.size());
  for (size_t k = 0; k < batch.letters.size(); ++k)
    produceDeadLetter(batch, k);
}

void IndexLoop::produceDeadLetter(Batch& batch, size_t k) {
  Batch::Letter& letter = batch.letters[k];
  const std::optional<std::string>& key = batch.origins[letter.origin].key;
  if (auto status = dead_letters_->produce(
          key ? std::optional<std::string_view>(*key) : std::nullopt, letter.value, &letter);
      !status) {
    telemetry::logger("index")->error("{}; trying again in 1 s", status.error().message);
    letter_retries_.push_back(LetterRetry{&batch, k, clock_.steadyNow() + 1s});
  }
}

void IndexLoop::onDeadLetterDelivered(void* opaque, bool ok, const std::string& error) {
  auto* letter = static_cast<Batch::Letter*>(opaque);
  Batch& batch = *letter->batch;
  const Batch::Origin& origin = batch.origins[letter->origin];
  if (!ok) {
    // The offset must not be committed before its dead letter is stored: send it again.
    telemetry::logger("index")->error(
        "dead letter for {}[{}]@{} not stored by Kafka ({}); trying again in 1 s",
        config_.kafka.topic, origin.partition, origin.offset, error);
    letter_retries_.push_back(LetterRetry{
        &batch, static_cast<size_t>(letter - batch.letters.data()), clock_.steadyNow() + 1s});
    return;
  }
  ++dead_lettered_;
  (std::string_view(origin.stage) == "index" ? loopMetrics().dead_index : loopMetrics().dead_decode)
      .inc();
  if (--batch.letters_pending == 0)
    complete(batch.id);
}

void IndexLoop::retryDeadLetters() {
  if (letter_retries_.empty())
    return;
  const auto now = clock_.steadyNow();
  // produce() may serve delivery reports, whose failures append to letter_retries_.
  std::vector<LetterRetry> due;
  due.swap(letter_retries_);
  for (const LetterRetry& retry : due) {
    if (retry.at > now)
      letter_retries_.push_back(retry);
    else
      produceDeadLetter(*retry.batch, retry.letter);
  }
}

void IndexLoop::complete(uint64_t batch_id) {
  tracker_.completed(batch_id);
  auto it = alive_.find(batch_id);
  if (it == alive_.end())
    return;
  // Its buffers serve a next batch: a body of a few megabytes and thousands of origins are not
  // allocated, grown and freed again for every batch. At most as many as can be alive at once.
  Batch& batch = *it->second;
  if (spare_.size() <= 2 * static_cast<size_t>(config_.elasticsearch.max_in_flight)) {
    batch.body.clear();
    batch.origins.clear();
    spare_.push_back(Buffers{std::move(batch.body), std::move(batch.origins)});
  }
  alive_.erase(it);
}

void IndexLoop::commit(bool sync) {
  const auto now = clock_.steadyNow();
  if (!sync && now - last_commit_ < kCommitEvery)
    return;
  last_commit_ = now;
  const std::map<int32_t, int64_t> offsets = tracker_.takeCommittable();
  if (offsets.empty())
    return;
  std::vector<RdKafka::TopicPartition*> list;
  for (const auto& [partition, offset] : offsets) {
    if (assigned_.contains(partition))
      list.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition, offset));
  }
  if (!list.empty()) {
    const RdKafka::ErrorCode err =
        sync ? consumer_->commitSync(list) : consumer_->commitAsync(list);
    if (err != RdKafka::ERR_NO_ERROR) {
      telemetry::logger("index")->warn(
          "offset commit failed ({}): those messages will be read again and overwrite their own "
          "documents",
          RdKafka::err2str(err));
    }
  }
  RdKafka::TopicPartition::destroy(list);
}

void IndexLoop::updatePause() {
  const size_t high = 2 * static_cast<size_t>(config_.elasticsearch.max_in_flight);
  const size_t low = static_cast<size_t>(config_.elasticsearch.max_in_flight);
  const bool pause =
      !paused_ && alive_.size() >= high &&
      (!health_.up() || (full_since_ && clock_.steadyNow() - *full_since_ >= kHoldBeforePause));
  const bool resume = paused_ && alive_.size() <= low;
  if (!pause && !resume)
    return;
  std::vector<RdKafka::TopicPartition*> list;
  for (int32_t partition : assigned_)
    list.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition));
  if (pause) {
    consumer_->pause(list);
    loopMetrics().pauses.inc();
  } else {
    consumer_->resume(list);
  }
  RdKafka::TopicPartition::destroy(list);
  paused_ = pause;
  loopMetrics().paused.set(paused_ ? 1 : 0);
  telemetry::logger("index")->debug("{} consumption: {} batches not yet durable",
                                    pause ? "pausing" : "resuming", alive_.size());
}

void IndexLoop::updateLagAndLog(bool force) {
  const auto now = clock_.steadyNow();
  if (!force && now - last_report_ < 1s)
    return;
  const double seconds = std::chrono::duration<double>(now - last_report_).count();
  last_report_ = now;
  std::map<int32_t, int64_t> lag;
  std::vector<RdKafka::TopicPartition*> positions;
  for (int32_t partition : assigned_)
    positions.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition));
  consumer_->position(positions);
  for (RdKafka::TopicPartition* tp : positions) {
    int64_t low = 0, high = 0;
    // The cached high watermark comes with fetch responses, and a paused partition fetches
    // nothing: ask the broker then, so the lag keeps growing while the engine is away.
    const RdKafka::ErrorCode err =
        paused_
            ? consumer_->query_watermark_offsets(config_.kafka.topic, tp->partition(), &low, &high,
                                                 500)
            : consumer_->get_watermark_offsets(config_.kafka.topic, tp->partition(), &low, &high);
    if (err != RdKafka::ERR_NO_ERROR || high < 0)
      continue;
    // The commit point of this process when it has one, else how far it has read.
    std::optional<int64_t> point = tracker_.durableNext(tp->partition());
    if (!point && tp->offset() >= 0)
      point = tp->offset();
    if (!point)
      continue;
    lag[tp->partition()] = std::max<int64_t>(0, high - *point);
    lagGauge(tp->partition()).set(static_cast<double>(lag[tp->partition()]));
  }
  RdKafka::TopicPartition::destroy(positions);
  LoopMetrics& m = loopMetrics();
  m.batches_alive.set(static_cast<double>(alive_.size()));
  m.pending_messages.set(static_cast<double>(tracker_.pendingMessages()));
  {
    std::lock_guard lock(status_mutex_);
    status_.batches_in_flight = alive_.size();
    status_.pending_messages = tracker_.pendingMessages();
    status_.paused = paused_;
    status_.lag = lag;
  }
  const uint64_t indexed = indexed_.load();
  if (indexed != reported_indexed_) {
    int64_t total_lag = 0;
    for (const auto& [partition, n] : lag)
      total_lag += n;
    telemetry::logger("index")->info(
        "indexed {} documents in {:.1f} s (total {}); {} dead-lettered, lag {}",
        indexed - reported_indexed_, seconds, indexed, dead_lettered_.load(), total_lag);
    reported_indexed_ = indexed;
  }
}

void IndexLoop::onAssign(std::vector<RdKafka::TopicPartition*>& partitions) {
  auto log = telemetry::logger("index");
  std::vector<RdKafka::TopicPartition*> to_position;
  for (RdKafka::TopicPartition* tp : partitions) {
    if (start_.mode == IndexStart::Mode::Committed || started_.contains(tp->partition()))
      continue;
    started_.insert(tp->partition());
    if (start_.mode == IndexStart::Mode::Beginning) {
      tp->set_offset(RdKafka::Topic::OFFSET_BEGINNING);
    } else {
      tp->set_offset(start_.timestamp_ms);  // offsetsForTimes reads the timestamp from here
      to_position.push_back(tp);
    }
  }
  if (!to_position.empty()) {
    const RdKafka::ErrorCode err = consumer_->offsetsForTimes(to_position, 10'000);
    if (err != RdKafka::ERR_NO_ERROR) {
      // Reading too much is safe (overwrites), too little is not: fall back to the beginning.
      log->warn("cannot look up offsets for {} ({}); reading those partitions from the beginning",
                formatIso8601Millis(start_.timestamp_ms), RdKafka::err2str(err));
      for (RdKafka::TopicPartition* tp : to_position)
        tp->set_offset(RdKafka::Topic::OFFSET_BEGINNING);
    }
    for (RdKafka::TopicPartition* tp : to_position) {
      if (tp->offset() < 0)
        tp->set_offset(RdKafka::Topic::OFFSET_END);  // nothing that recent yet
    }
  }
  consumer_->assign(partitions);
  std::string names;
  for (RdKafka::TopicPartition* tp : partitions) {
    assigned_.insert(tp->partition());
    names += (names.empty() ? "" : ",") + std::to_string(tp->partition());
  }
  if (paused_)
    consumer_->pause(partitions);
  log->info("assigned partitions [{}] of {}", names, config_.kafka.topic);
}

void IndexLoop::onRevoke(const std::vector<RdKafka::TopicPartition*>& partitions) {
  // What is durable is committed before another member takes over; what is not will be read
  // again by that member (and overwrite its own documents if it was indexed meanwhile).
  commit(true);
  std::string names;
  for (RdKafka::TopicPartition* tp : partitions) {
    tracker_.forget(tp->partition());
    assigned_.erase(tp->partition());
    lagGauge(tp->partition()).set(0);
    names += (names.empty() ? "" : ",") + std::to_string(tp->partition());
  }
  telemetry::logger("index")->info("partitions [{}] of {} revoked", names, config_.kafka.topic);
}

void IndexLoop::shutdown() {
  auto log = telemetry::logger("index");
  dispatch();
  if (!alive_.empty() && health_.up()) {
    log->info("stopping: letting {} batches become durable (up to {} s)", alive_.size(),
              kShutdownGrace.count());
    const auto deadline = clock_.steadyNow() + kShutdownGrace;
    while (!alive_.empty() && clock_.steadyNow() < deadline && health_.up()) {
      drainCompletions();
      dead_letters_->poll(20);
      retryDeadLetters();
    }
  }
  abort_.request();
  { std::lock_guard lock(mutex_); }
  work_ready_.notify_all();
  for (auto& worker : workers_)
    worker.join();
  workers_.clear();
  drainCompletions();
  for (int i = 0; i < 50 && dead_letters_->outstanding() > 0; ++i)
    dead_letters_->poll(100);
  commit(true);
  updateLagAndLog(true);
  const uint64_t pending = tracker_.pendingMessages();
  rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
  consumer_->close();
  closed_ = true;
  dead_letters_.reset();
  log->info(
      "stopped: {} consumed, {} indexed, {} dead-lettered; {} not yet durable will be read "
      "again",
      consumed_.load(), indexed_.load(), dead_lettered_.load(), pending);
}

}  // namespace coinrelay::pipeline
