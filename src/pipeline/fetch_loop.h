#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coingecko/budget.h"
#include "coingecko/coingecko_client.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "common/stop_signal.h"
#include "config/config.h"
#include "pipeline/fetch_planner.h"
#include "pipeline/fetch_state.h"
#include "sinks/sink.h"

namespace coinrelay::pipeline {

/// Where the upstream side stands, for logs, /healthz and metrics.
enum class UpstreamState {
  Healthy,          ///< the last cycle got every page
  BackingOff,       ///< requests fail; retries wait (backoff, retry-after, the rate limit)
  BudgetExhausted,  ///< the month's credits are used up: no request until the month turns
  Standby,          ///< another process is the active fetcher
};
const char* toString(UpstreamState state);

/// What one cycle did, for the console line, logs, /healthz and tests.
struct CycleReport {
  int64_t started_ms = 0;
  int64_t slot_ms = 0;    ///< the schedule slot (clock-aligned tick) the cycle covers
  size_t fetched = 0;     ///< valid quotes received
  size_t invalid = 0;     ///< items skipped because they failed validation
  size_t unchanged = 0;   ///< quotes whose last_updated was already published
  size_t delivered = 0;   ///< quotes every sink acknowledged (a cycle is delivered in batches)
  uint64_t requests = 0;  ///< upstream requests this cycle, retries included
  bool upstream_ok = true;
  bool sinks_ok = true;
  bool skipped = false;                 ///< not run: the monthly credits are used up
  CycleKind kind = CycleKind::Details;  ///< what the planner fetched
  std::string error;
  std::chrono::milliseconds duration{0};
};

/// What the loop publishes and how it hands the schedule over (the limits it fetches within are
/// its UpstreamBudget's).
struct FetchOptions {
  bool publish_unchanged = false;  ///< false: change detection on last_updated
  bool read_key_usage = false;     ///< paid plans: read the usage from CoinGecko's /key
  /// nullptr: always active, nothing persisted. Give the budget the same coordinator's
  /// leadership (leadershipOf), so that a lead lost within a cycle stops its requests.
  Coordinator* coordinator = nullptr;
  /// How often the upstream refreshes each endpoint: no endpoint is read more often.
  coingecko::CachePeriods cache;
  /// The strategy the budget plan chose (planBudget); nullopt: the cheaper one by the calls
  /// alone (coingecko::cheapestSchedule).
  std::optional<coingecko::Strategy> strategy;
};

/// The budget's leadership check for a process whose fetcher `coordinator` elects.
coingecko::UpstreamBudget::Leadership leadershipOf(const Coordinator& coordinator);

/// The options a configuration gives (the coordinator is the caller's).
FetchOptions fetchOptionsFor(const config::Config& config);

/// A consistent copy of the loop's state for /healthz (any thread).
struct FetchStatus {
  UpstreamState state = UpstreamState::Healthy;
  std::string role;
  uint64_t cycles = 0;
  uint64_t failed_cycles = 0;
  uint64_t upstream_requests = 0;
  std::string month;
  int64_t credits_used = 0;
  int64_t monthly_credits = 0;  ///< 0: no cap
  bool has_last = false;
  CycleReport last;
};

/// Runs fetch cycles on clock-aligned slots of the interval: the first at once (unless the
/// state says this slot already ran), the next ones on multiples of the interval. A cycle never
/// overlaps the next: its requests and retries stop at the next tick. Each request is a
/// scheduled admission of the UpstreamBudget (rate window, month's credits, leadership); each
/// cycle's changed quotes go to every sink, and the cycle counts as sent only when all
/// acknowledged. With a coordinator, only the leading process fetches, and a new leader
/// continues the schedule and the credit count. Slots, deadlines and waits are on the budget's
/// clock.
/// Threading: run() blocks the calling thread until `stop` or `max_cycles`; status() from any
/// thread.
class FetchLoop : private coingecko::RequestGate {
 public:
  /// `budget` must outlive the loop; other callers (the miss path) may share it.
  FetchLoop(const config::UpstreamConfig& config, std::vector<sinks::Sink*> sinks,
            const StopSignal& stop, coingecko::UpstreamBudget& budget, FetchOptions options = {});

  /// max_cycles == 0: until stopped. Returns the number of cycles that got every page and
  /// whose new quotes every sink acknowledged.
  int run(int max_cycles = 0);
  CycleReport runCycle(SystemTime deadline);

  const coingecko::ClientStats& upstreamStats() const { return client_.stats(); }
  const FetchPlanner& planner() const { return planner_; }
  const coingecko::UpstreamBudget& budget() const { return budget_; }
  FetchStatus status() const;
  void onCycle(std::function<void(const CycleReport&)> callback) {
    on_cycle_ = std::move(callback);
  }

 private:
  // coingecko::RequestGate: the budget's scheduled admissions, and the upstream state.
  Status admit(SystemTime deadline) override;
  void settle(int status, std::optional<std::chrono::milliseconds> pause) override;

  void setState(UpstreamState state, const std::string& why);
  void takeOver();
  void readKeyUsage();
  void saveState();
  /// Sleeps until `until`; returns early (false) when stopping or when the lead is lost.
  bool sleepUntil(SystemTime until);
  /// Delivers the quotes of `quotes` not published yet to every sink, as one batch; counts them
  /// in `report`; keeps the first few in `sample` for the cycle's log line.
  void publish(std::vector<SharedQuote>& quotes, CycleReport& report,
               std::vector<SharedQuote>& sample);
  void finish(const CycleReport& report);

  config::UpstreamConfig config_;
  std::vector<sinks::Sink*> sinks_;
  const StopSignal& stop_;
  coingecko::UpstreamBudget& budget_;
  const Clock& clock_;
  FetchOptions options_;
  coingecko::CoinGeckoClient client_;
  FetchPlanner planner_;
  std::function<void(const CycleReport&)> on_cycle_;

  /// (id, vs_currency) -> last_updated_ms of its last publication.
  std::unordered_map<std::string, int64_t> last_published_;
  bool missing_ids_logged_ = false;
  int64_t last_slot_ms_ = -1;  ///< last schedule slot a cycle covered
  uint64_t term_ = 0;
  SystemTime key_read_at_{};
  bool key_usage_unavailable_ = false;

  mutable std::mutex mutex_;  // guards the fields below (read by status())
  UpstreamState state_ = UpstreamState::Healthy;
  uint64_t cycles_ = 0;
  uint64_t failed_cycles_ = 0;
  bool has_last_ = false;
  CycleReport last_;
};

}  // namespace coinrelay::pipeline
