#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "common/result.h"
#include "common/stop_signal.h"

namespace coinrelay::pipeline {

/// What a fetcher must hand over to the next one (a restart, or another process after a
/// failover) to continue the schedule and the budget count.
struct FetchState {
  std::string month;          ///< "2025-07": the month credits_used counts in
  int64_t credits_used = 0;   ///< upstream requests this month, retries included
  int64_t last_cycle_ms = 0;  ///< start of the last schedule slot a cycle covered
  int64_t updated_ms = 0;
  std::string owner;  ///< host:pid of the writer, for people reading the topic

  std::string toJson() const;
  static Result<FetchState> fromJson(std::string_view text, simdjson::dom::parser& parser);
};

/// Decides whether this process may call the upstream, and carries the FetchState across
/// processes. `coinrelay run` is alone (FileCoordinator); `coinrelay fetch` elects one active
/// process through Kafka (KafkaLeaderElection).
/// Threading: leading(), term() and awaitLead() from any thread; the rest from the fetch thread.
class Coordinator {
 public:
  virtual ~Coordinator() = default;
  /// True while this process is the active fetcher. Checked before every upstream request.
  virtual bool leading() const = 0;
  /// Waits up to `timeout` for the lead; true when leading.
  virtual bool awaitLead(const StopSignal& stop, std::chrono::milliseconds timeout) = 0;
  /// Grows each time the lead is (re)gained: the fetch loop then reloads the state.
  virtual uint64_t term() const = 0;
  /// The latest state the previous leader (or run) left, when leading.
  virtual std::optional<FetchState> loadState() = 0;
  /// Records the state after a cycle; failures are logged, never fatal (the next save retries).
  virtual void saveState(const FetchState& state) = 0;
  /// "leader", "standby" or "active" (alone), for logs and /healthz.
  virtual std::string role() const = 0;
};

/// The coordinator of a process that is alone by construction (`coinrelay run`): always
/// leading, the state in a small JSON file replaced atomically (write, fsync, rename).
class FileCoordinator final : public Coordinator {
 public:
  explicit FileCoordinator(std::string path) : path_(std::move(path)) {}

  // Coordinator
  bool leading() const override { return true; }
  bool awaitLead(const StopSignal&, std::chrono::milliseconds) override { return true; }
  uint64_t term() const override { return 1; }
  std::optional<FetchState> loadState() override;
  void saveState(const FetchState& state) override;
  std::string role() const override { return "active"; }

 private:
  std::string path_;
  simdjson::dom::parser parser_;
};

/// "host:pid" of this process.
std::string processIdentity();

}  // namespace coinrelay::pipeline
