#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include "config/config.h"
#include "pipeline/fetch_state.h"

namespace coinrelay::pipeline {

/// What an election runs on besides its configuration (seams for tests).
struct LeaderElectionOptions {
  /// Zero: sessionTimeoutFor(upstream.interval_s). Tests shorten it (librdkafka's mock cluster
  /// has no minimum, a broker has group.min.session.timeout.ms).
  std::chrono::milliseconds session_timeout{0};
};

/// Elects the one `coinrelay fetch` process that calls the upstream, through Kafka's own group
/// membership: every fetcher joins one consumer group (fetch.group_id) on a compacted state
/// topic (fetch.state_topic), and whoever is assigned its partition 0 leads. No consensus of our
/// own: the group coordinator decides, cooperative-sticky assignment keeps the leader in place
/// when others join, and when the leader dies its session expires (session timeout: the
/// interval, 6 to 30 s) and a standby is assigned the partition.
///
/// The same partition carries the fetch state (credits used this month, last schedule slot):
/// the leader appends one record after each cycle, and a new leader reads the last record before
/// its first request, so it continues the schedule and the budget count.
///
/// When the group is lost because Kafka itself is unreachable (a broker outage), the leader
/// keeps leading: nobody else can be elected through an unreachable Kafka, and the schedule must
/// go on. Once Kafka answers again it rejoins; if another process got the partition meanwhile it
/// steps down.
///
/// Lifecycle: create() makes sure the topic exists, joins the group and starts the membership
/// thread; the destructor leaves the group, so a standby takes over at once.
/// Threading: Coordinator methods from any thread; librdkafka callbacks run on the membership
/// thread.
class KafkaLeaderElection final : public Coordinator {
 public:
  static Result<std::unique_ptr<KafkaLeaderElection>> create(
      const config::Config& config, const LeaderElectionOptions& options = {});
  ~KafkaLeaderElection() override;

  // Coordinator
  bool leading() const override { return leading_.load(); }
  bool awaitLead(const StopSignal& stop, std::chrono::milliseconds timeout) override;
  uint64_t term() const override { return term_.load(); }
  std::optional<FetchState> loadState() override;
  void saveState(const FetchState& state) override;
  std::string role() const override { return leading() ? "leader" : "standby"; }

  /// The session timeout the group uses for an interval (exposed for tests and docs).
  static std::chrono::milliseconds sessionTimeoutFor(int interval_s);

  /// Stops at once as a killed process would: the membership thread ends, the group is not left
  /// and nothing queued is sent, so the other members see this one gone only when its session
  /// expires (tests of that failover). Does nothing more afterwards.
  void abandon();

 private:
  class Rebalance;
  KafkaLeaderElection(const config::Config& config, const LeaderElectionOptions& options);
  Status start();
  void run();
  void onAssign(bool has_partition_zero);
  void onRevoke(bool has_partition_zero, bool lost);
  void setLeading(bool leading, const std::string& why);
  bool kafkaReachable(std::chrono::milliseconds timeout);

  std::string brokers_;
  std::string group_id_;
  std::string topic_;
  int replication_factor_;
  std::chrono::milliseconds session_timeout_;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> producer_;
  simdjson::dom::parser parser_;  // membership thread only

  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> term_{0};
  std::atomic<bool> stopping_{false};
  // Membership thread only (and the destructor, once it has stopped):
  bool had_assignment_ = false;  ///< an assignment (possibly empty) came since joining
  bool owns_partition_ = false;
  bool state_read_ = false;
  bool isolated_ = false;  ///< leading without the partition, because Kafka is unreachable
  std::chrono::steady_clock::time_point reachable_since_{};
  std::chrono::steady_clock::time_point last_probe_{};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<FetchState> state_;  ///< the last record read from the partition
  std::thread thread_;
};

}  // namespace coinrelay::pipeline
