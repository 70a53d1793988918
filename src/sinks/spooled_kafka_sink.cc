#include "sinks/spooled_kafka_sink.h"

#include <cstring>

#include <fmt/format.h>

#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "model/quote_codec.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::sinks {

namespace {

constexpr size_t kWindowRecords = 2000;
constexpr size_t kWindowBytes = 8 << 20;
/// Without any confirmation for this long, Kafka counts as unavailable (logs, /healthz).
constexpr std::chrono::seconds kStallAfter{5};
constexpr std::chrono::seconds kDrainAtExit{5};

enum : uint8_t { kPending, kAcked, kFailed };

struct SinkMetrics {
  telemetry::Gauge& records;
  telemetry::Gauge& bytes;
  telemetry::Counter& dropped;
  telemetry::Counter& delivered;
  telemetry::Gauge& up;
};

SinkMetrics& sinkMetrics() {
  auto& r = telemetry::metrics();
  static SinkMetrics m{
      r.gauge("coinrelay_spool_records", "Quotes in the on-disk spool, not yet confirmed by Kafka"),
      r.gauge("coinrelay_spool_bytes", "Size of the unconfirmed spool records"),
      r.counter("coinrelay_spool_dropped_total",
                "Quotes dropped because the spool was full (fetch.spool_max_mib)"),
      r.counter("coinrelay_kafka_messages_delivered_total", "Messages Kafka acknowledged"),
      r.gauge("coinrelay_kafka_up", "1 while Kafka confirms what the fetcher sends"),
  };
  return m;
}

void putU16(std::string& out, size_t value) {
  out.push_back(static_cast<char>(value & 0xFF));
  out.push_back(static_cast<char>((value >> 8) & 0xFF));
}

}  // namespace

/// Marks the records of the window in flight as the broker acknowledges them. Reports of an
/// older attempt (another generation) are ignored. Runs inside poll(), on the drainer thread.
class SpooledKafkaSink::ReportCallback final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    const auto tag = reinterpret_cast<uintptr_t>(message.msg_opaque());
    const auto generation = static_cast<uint32_t>(tag >> 32);
    const auto index = static_cast<size_t>(tag & 0xFFFFFFFFu);
    if (generation != generation_ || index >= status.size() || status[index] != kPending)
      return;
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      status[index] = kAcked;
    } else {
      status[index] = kFailed;
      if (first_error.empty())
        first_error = message.errstr();
    }
    ++reports;
  }
  void startAttempt() {
    ++generation_;
    reports = 0;
    first_error.clear();
  }
  void* tag(size_t index) const {
    return reinterpret_cast<void*>((static_cast<uintptr_t>(generation_) << 32) | index);
  }

  std::vector<uint8_t> status;
  size_t reports = 0;
  std::string first_error;

 private:
  uint32_t generation_ = 0;  // 0 is never used, so a message without a tag matches nothing
};

std::string SpooledKafkaSink::encode(const Message& message) {
  std::string out;
  out.reserve(12 + message.topic.size() + message.key.size() + message.value.size());
  putU16(out, message.topic.size());
  out += message.topic;
  putU16(out, message.key.size());
  out += message.key;
  char ts[8];
  std::memcpy(ts, &message.timestamp_ms, 8);
  out.append(ts, 8);
  out += message.value;
  return out;
}

std::optional<SpooledKafkaSink::Message> SpooledKafkaSink::decode(std::string_view payload) {
  Message m;
  auto u16 = [&payload](size_t at) {
    return static_cast<size_t>(static_cast<uint8_t>(payload[at])) |
           static_cast<size_t>(static_cast<uint8_t>(payload[at + 1])) << 8;
  };
  size_t at = 0;
  if (payload.size() < 2)
    return std::nullopt;
  const size_t topic = u16(at);
  at += 2;
  if (payload.size() < at + topic + 2)
    return std::nullopt;
  m.topic = std::string(payload.substr(at, topic));
  at += topic;
  const size_t key = u16(at);
  at += 2;
  if (payload.size() < at + key + 8)
    return std::nullopt;
  m.key = std::string(payload.substr(at, key));
  at += key;
  std::memcpy(&m.timestamp_ms, payload.data() + at, 8);
  at += 8;
  m.value = std::string(payload.substr(at));
  return m;
}

Result<std::unique_ptr<SpooledKafkaSink>> SpooledKafkaSink::create(
    const config::KafkaConfig& config, const std::string& spool_dir, uint64_t spool_max_bytes,
    Clock& clock) {
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
  CR_TRY(auto spool, Spool::open(spool_dir, spool_max_bytes));
  return std::unique_ptr<SpooledKafkaSink>(new SpooledKafkaSink(
      config, clock, std::move(spool), std::move(callback), std::move(producer)));
}

SpooledKafkaSink::SpooledKafkaSink(const config::KafkaConfig& config, Clock& clock,
                                   std::unique_ptr<Spool> spool,
                                   std::unique_ptr<ReportCallback> callback,
                                   std::unique_ptr<RdKafka::Producer> producer)
    : config_(config),
      clock_(clock),
      spool_(std::move(spool)),
      callback_(std::move(callback)),
      producer_(std::move(producer)) {
  sinkMetrics().up.set(1);
  drainer_ = std::thread([this] { drain(); });
}

SpooledKafkaSink::~SpooledKafkaSink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_deadline_ = clock_.steadyNow() + kDrainAtExit;
  }
  wake_.notify_all();
  if (drainer_.joinable())
    drainer_.join();
  const SpoolStats left = spool_->stats();
  if (left.records > 0) {
    telemetry::logger("kafka")->warn(
        "{} quotes Kafka has not confirmed stay in the spool {}; they go out at the next start",
        left.records, spool_->dir());
  }
  // What is still in flight stays in the spool: drop librdkafka's copies so that destroying the
  // producer does not wait for an unreachable broker.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->flush(1000);
}

Status SpooledKafkaSink::deliver(std::span<const model::Quote> batch) {
  std::vector<std::string> payloads;
  payloads.reserve(batch.size());
  Message message;
  message.topic = config_.topic;
  for (const model::Quote& quote : batch) {
    message.key = quote.id;
    message.timestamp_ms = quote.fetched_ms;
    message.value.clear();
    model::encodeQuote(quote, message.value);
    payloads.push_back(encode(message));
  }
  const uint64_t dropped_before = spool_->stats().dropped;
  auto status = spool_->append(payloads);
  const SpoolStats after = spool_->stats();
  auto& metrics = sinkMetrics();
  metrics.records.set(static_cast<double>(after.records));
  metrics.bytes.set(static_cast<double>(after.bytes));
  if (after.dropped > dropped_before)
    metrics.dropped.inc(after.dropped - dropped_before);
  if (!status)
    return status;
  wake_.notify_all();
  return {};
}

SpooledKafkaSink::Stats SpooledKafkaSink::stats() const {
  const SpoolStats spool = spool_->stats();
  return Stats{spool.records, spool.bytes, spool.dropped, delivered_.load(), kafka_ok_.load()};
}

bool SpooledKafkaSink::waitDrained(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return drained_.wait_for(lock, timeout, [this] { return spool_->stats().records == 0; });
}

void SpooledKafkaSink::setKafkaOk(bool ok, const std::string& why) {
  if (kafka_ok_.exchange(ok) == ok)
    return;
  sinkMetrics().up.set(ok ? 1 : 0);
  auto log = telemetry::logger("kafka");
  const SpoolStats spool = spool_->stats();
  if (ok) {
    log->info("Kafka confirms again; {} quotes still in the spool go out in order", spool.records);
  } else {
    log->warn(
        "Kafka is not confirming ({}); the schedule goes on and quotes wait in the spool "
        "{} ({} so far)",
        why, spool_->dir(), spool.records);
  }
}

bool SpooledKafkaSink::sendWindow(const std::vector<SpoolRecord>& window) {
  auto log = telemetry::logger("kafka");
  auto must_stop = [this] {
    std::lock_guard lock(mutex_);
    return stopping_ && clock_.steadyNow() >= stop_deadline_;
  };
  std::vector<std::optional<Message>> messages;
  messages.reserve(window.size());
  auto& status = callback_->status;
  status.assign(window.size(), kPending);
  for (size_t i = 0; i < window.size(); ++i) {
    messages.push_back(decode(window[i].payload));
    if (!messages.back()) {
      log->error("spool record {} cannot be decoded; skipped", window[i].seq);
      status[i] = kAcked;
    }
  }
  for (;;) {
    callback_->startAttempt();
    size_t produced = 0;
    for (size_t i = 0; i < window.size(); ++i) {
      if (status[i] == kAcked)
        continue;
      status[i] = kPending;
      Message& m = *messages[i];
      for (;;) {
        const RdKafka::ErrorCode err = producer_->produce(
            m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, m.value.data(),
            m.value.size(), m.key.data(), m.key.size(), m.timestamp_ms, nullptr, callback_->tag(i));
        if (err == RdKafka::ERR_NO_ERROR) {
          ++produced;
          break;
        }
        if (err == RdKafka::ERR__QUEUE_FULL) {
          producer_->poll(100);  // wait for acknowledgements to make room
          if (must_stop())
            return false;
          continue;
        }
        status[i] = kFailed;
        if (callback_->first_error.empty())
          callback_->first_error = RdKafka::err2str(err);
        break;
      }
    }
    const auto started = clock_.steadyNow();
    while (callback_->reports < produced) {
      producer_->poll(100);
      if (must_stop())
        return false;
      if (clock_.steadyNow() - started > kStallAfter) {
        setKafkaOk(false, fmt::format("no acknowledgement for {} s", kStallAfter.count()));
      }
    }
    if (std::all_of(status.begin(), status.end(), [](uint8_t s) { return s == kAcked; })) {
      setKafkaOk(true, "");
      return true;
    }
    setKafkaOk(false, callback_->first_error);
    // The failed records are sent again, in order, the acknowledged ones are not.
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    if (stopping_ && clock_.steadyNow() >= stop_deadline_)
      return false;
  }
}

void SpooledKafkaSink::drain() {
  auto log = telemetry::logger("kafka");
  auto& metrics = sinkMetrics();
  for (;;) {
    auto window = spool_->peek(kWindowRecords, kWindowBytes);
    if (!window) {
      log->error("{}", window.error().message);
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; }))
        return;
      continue;
    }
    if (window->empty()) {
      drained_.notify_all();
      std::unique_lock lock(mutex_);
      if (stopping_)
        return;
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      lock.unlock();
      producer_->poll(0);
      continue;
    }
    if (!sendWindow(*window))
      return;
    if (auto status = spool_->ack(window->back().seq); !status)
      log->error("{}", status.error().message);
    delivered_ += window->size();
    metrics.delivered.inc(window->size());
    const SpoolStats spool = spool_->stats();
    metrics.records.set(static_cast<double>(spool.records));
    metrics.bytes.set(static_cast<double>(spool.bytes));
  }
}

}  // namespace coinrelay::sinks
