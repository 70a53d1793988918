#include "pipeline/leader_election.h"

#include <fmt/format.h>

#include "kafka/kafka_admin.h"
#include "kafka/kafka_config.h"
#include "telemetry/logging.h"

namespace coinrelay::pipeline {

namespace {

constexpr const char* kStateKey = "fetch-state";
/// How often an isolated leader checks whether Kafka answers again.
constexpr std::chrono::seconds kProbeEvery{2};

}  // namespace

/// Applies assignments incrementally (cooperative-sticky) and tells the election whether
/// partition 0 came or went.
class KafkaLeaderElection::Rebalance final : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(KafkaLeaderElection& election) : election_(election) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    bool zero = false;
    for (auto* partition : partitions) {
      if (partition->topic() == election_.topic_ && partition->partition() == 0) {
        zero = true;
        // Only the last state record matters: start one before the end.
        partition->set_offset(RdKafka::Consumer::OffsetTail(1));
      }
    }
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    auto log = telemetry::logger("election");
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      RdKafka::Error* error = nullptr;
      if (cooperative) {
        error = consumer->incremental_assign(partitions);
      } else if (auto code = consumer->assign(partitions); code != RdKafka::ERR_NO_ERROR) {
        log->error("cannot take the assignment: {}", RdKafka::err2str(code));
      }
      if (error != nullptr) {
        log->error("cannot take the assignment: {}", error->str());
        delete error;
      }
      election_.onAssign(zero);
    } else {
      const bool lost = consumer->assignment_lost();
      if (cooperative) {
        if (RdKafka::Error* error = consumer->incremental_unassign(partitions)) {
          log->error("cannot give up the assignment: {}", error->str());
          delete error;
        }
      } else {
        consumer->unassign();
      }
      election_.onRevoke(zero, lost);
    }
  }

 private:
  KafkaLeaderElection& election_;
};

std::chrono::milliseconds KafkaLeaderElection::sessionTimeoutFor(int interval_s) {
  // Short enough for a standby to take over within two intervals, never below the broker's
  // default group.min.session.timeout.ms (6 s), and not so long that a dead leader goes unseen.
  return std::chrono::milliseconds(std::clamp<int64_t>(int64_t{interval_s} * 1000, 6000, 30'000));
}

KafkaLeaderElection::KafkaLeaderElection(const config::Config& config,
                                         const LeaderElectionOptions& options)
    : brokers_(config.kafka.brokers),
      group_id_(config.fetch.group_id),
      topic_(config.fetch.state_topic),
      replication_factor_(config.kafka.replication_factor),
      session_timeout_(options.session_timeout.count() > 0
                           ? options.session_timeout
                           : sessionTimeoutFor(config.upstream.interval_s)),
      rebalance_(std::make_unique<Rebalance>(*this)) {}

Result<std::unique_ptr<KafkaLeaderElection>> KafkaLeaderElection::create(
    const config::Config& config, const LeaderElectionOptions& options) {
  std::unique_ptr<KafkaLeaderElection> election(new KafkaLeaderElection(config, options));
  CR_RETURN_IF_ERROR(election->start());
  return election;
}

Status KafkaLeaderElection::start() {
  std::string error;
  CR_TRY(auto producer_conf, kafka::makeConf({
                                 {"bootstrap.servers", brokers_},
                                 {"client.id", "coinrelay-fetch-state"},
                                 {"acks", "all"},
                                 {"linger.ms", "0"},
                                 {"socket.keepalive.enable", "true"},
                             }));
  producer_.reset(RdKafka::Producer::create(producer_conf.get(), error));
  if (!producer_)
    return makeError(ErrorCode::InvalidArgument, "cannot create the state producer: " + error);
  CR_RETURN_IF_ERROR(kafka::ensureTopic(
      *producer_, brokers_,
      kafka::TopicSpec{topic_,
                       1,
                       replication_factor_,
                       {{"cleanup.policy", "compact"}, {"segment.ms", "3600000"}}},
      std::chrono::seconds(10)));

  const auto session = session_timeout_.count();
  CR_TRY(auto conf,
         kafka::makeConf({
             {"bootstrap.servers", brokers_},
             {"client.id", "coinrelay-fetch-election"},
             {"group.id", group_id_},
             {"partition.assignment.strategy", "cooperative-sticky"},
             {"session.timeout.ms", std::to_string(session)},
             {"heartbeat.interval.ms", std::to_string(std::max<int64_t>(500, session / 6))},
             {"enable.auto.commit", "false"},
             {"enable.auto.offset.store", "false"},
             {"auto.offset.reset", "earliest"},
             {"enable.partition.eof", "true"},
             {"socket.keepalive.enable", "true"},
         }));
  if (conf->set("rebalance_cb", rebalance_.get(), error) != RdKafka::Conf::CONF_OK)
    return makeError(ErrorCode::Internal, "cannot install the rebalance callback: " + error);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer_)
    return makeError(ErrorCode::InvalidArgument, "cannot create the election consumer: " + error);
  if (auto err = consumer_->subscribe({topic_}); err != RdKafka::ERR_NO_ERROR) {
    return makeError(
        ErrorCode::FailedPrecondition,
        fmt::format("cannot join the election on {}: {}", topic_, RdKafka::err2str(err)));
  }
  telemetry::logger("election")
      ->info(
          "joined group {} on {} (session timeout {} ms): the member assigned partition 0 "
          "fetches, the others stand by",
          group_id_, topic_, session);
  thread_ = std::thread([this] { run(); });
  return {};
}

KafkaLeaderElection::~KafkaLeaderElection() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
  if (consumer_) {
    // librdkafka 2.0.2 aborts the process when a cooperative-sticky member that joined is
    // destroyed before its first assignment (confluentinc/librdkafka#4312, fixed in 2.3.0): a
    // process stopped during its first join waits for that assignment (a rebalance: at most
    // about two sessions).
    if (!had_assignment_ && kafkaReachable(std::chrono::seconds(1))) {
      const auto deadline = std::chrono::steady_clock::now() + 2 * session_timeout_;
      while (!had_assignment_ && std::chrono::steady_clock::now() < deadline)
        std::unique_ptr<RdKafka::Message>(consumer_->consume(100));
    }
    consumer_->close();  // leaves the group: a standby is assigned the partition at once
  }
  if (producer_)
    producer_->flush(2000);
}

void KafkaLeaderElection::abandon() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
  // Destroyed without close(): no LeaveGroup is sent.
  consumer_.reset();
  if (producer_) {
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer_.reset();
  }
  leading_ = false;
}

bool KafkaLeaderElection::awaitLead(const StopSignal& stop, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (!leading_ && !stop.stopped() && std::chrono::steady_clock::now() < deadline) {
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return leading_;
}

std::optional<FetchState> KafkaLeaderElection::loadState() {
  std::lock_guard lock(mutex_);
  return state_;
}

void KafkaLeaderElection::saveState(const FetchState& state) {
  const std::string value = state.toJson();
  const RdKafka::ErrorCode err =
      producer_->produce(topic_, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                         value.size(), kStateKey, std::strlen(kStateKey), 0, nullptr);
  if (err != RdKafka::ERR_NO_ERROR) {
    telemetry::logger("election")
        ->warn("cannot queue the fetch state for {}: {}", topic_, RdKafka::err2str(err));
  }
  producer_->poll(0);
}

void KafkaLeaderElection::setLeading(bool leading, const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (leading && !leading_)
      ++term_;
    leading_ = leading;
  }
  changed_.notify_all();
  telemetry::logger("election")->info("{}: {}", leading ? "active fetcher" : "standby", why);
}

bool KafkaLeaderElection::kafkaReachable(std::chrono::milliseconds timeout) {
  RdKafka::Metadata* raw = nullptr;
  const auto err = producer_->metadata(false, nullptr, &raw, static_cast<int>(timeout.count()));
  delete raw;
  return err == RdKafka::ERR_NO_ERROR;
}

void KafkaLeaderElection::onAssign(bool has_partition_zero) {
  had_assignment_ = true;
  if (has_partition_zero) {
    owns_partition_ = true;
    state_read_ = false;  // leads once the last state record is read (run())
    return;
  }
  if (isolated_ && !owns_partition_) {
    // Back in the group after an outage, and another member holds the partition.
    isolated_ = false;
    setLeading(false, "Kafka is back and another process holds the election partition");
  }
}

void KafkaLeaderElection::onRevoke(bool has_partition_zero, bool lost) {
  if (!has_partition_zero)
    return;
  owns_partition_ = false;
  state_read_ = false;
  if (lost && leading_ && !kafkaReachable(std::chrono::seconds(2))) {
    isolated_ = true;
    reachable_since_ = {};
    telemetry::logger("election")
        ->warn(
            "the group session expired because Kafka is unreachable: this process keeps "
            "fetching on schedule (nobody else can be elected) and rejoins when Kafka is back");
    return;
  }
  if (leading_) {
    setLeading(false, stopping_ ? "leaving the group, a standby takes over"
                      : lost    ? "the group session expired"
                                : "the election partition moved");
  }
}

void KafkaLeaderElection::run() {
  auto log = telemetry::logger("election");
  RdKafka::ErrorCode last_error = RdKafka::ERR_NO_ERROR;
  while (!stopping_) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(200));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (message->partition() == 0) {
          auto state = FetchState::fromJson(
              std::string_view(static_cast<const char*>(message->payload()), message->len()),
              parser_);
          if (state) {
            std::lock_guard lock(mutex_);
            state_ = *state;
          } else {
            log->warn("skipping a fetch state record at offset {}: {}", message->offset(),
                      state.error().message);
          }
        }
        break;
      case RdKafka::ERR__PARTITION_EOF:
        if (message->partition() == 0 && owns_partition_ && !state_read_) {
          state_read_ = true;
          isolated_ = false;
          setLeading(true, fmt::format("this process holds partition 0 of {}", topic_));
        }
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      default:
        if (message->err() != last_error)
          log->warn("election consumer: {}", message->errstr());
        last_error = message->err();
        break;
    }
    if (message->err() == RdKafka::ERR_NO_ERROR || message->err() == RdKafka::ERR__PARTITION_EOF)
      last_error = RdKafka::ERR_NO_ERROR;
    producer_->poll(0);
    if (isolated_ && std::chrono::steady_clock::now() - last_probe_ > kProbeEvery) {
      last_probe_ = std::chrono::steady_clock::now();
      if (!kafkaReachable(std::chrono::seconds(1))) {
        reachable_since_ = {};
      } else if (reachable_since_ == std::chrono::steady_clock::time_point{}) {
        reachable_since_ = last_probe_;
      } else if (last_probe_ - reachable_since_ > session_timeout_ + std::chrono::seconds(10)) {
        // Kafka answers, the group had ample time to take us back, and it did not.
        isolated_ = false;
        setLeading(false, "Kafka is back but the election partition went to another process");
      }
    }
  }
}

}  // namespace coinrelay::pipeline
