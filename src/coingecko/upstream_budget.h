#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "coingecko/budget.h"
#include "coingecko/rate_limiter.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "config/config.h"

namespace coinrelay::coingecko {

/// What one UpstreamBudget holds a process to.
struct BudgetLimits {
  int calls_per_minute = 0;  ///< requests per rate window; 0: no rate limit
  /// The window calls_per_minute applies to (a minute and a margin; shorter in tests).
  std::chrono::milliseconds rate_window = RateLimiter::kDefaultWindow;
  int monthly_credits = 0;  ///< 0: no monthly cap
  /// What the schedule needs: the most calls one cycle makes (the budget plan's heaviest
  /// cycle), every `interval_s`. On-demand requests leave calls_per_cycle free in the rate
  /// window, and the credits of every cycle left in the month at mean_calls_per_cycle.
  int calls_per_cycle = 0;
  /// The calls of a cycle on average (the cheapest mix reads /coins/markets only every so many
  /// cycles); 0: calls_per_cycle.
  double mean_calls_per_cycle = 0;
  int interval_s = 60;
  /// On-demand requests allowed in one rate window, within calls_per_minute
  /// (serve.miss_calls_per_minute); 0: no cap of their own.
  int on_demand_per_window = 0;
};

/// The limits a configuration and its budget plan give.
BudgetLimits budgetLimitsFor(const config::Config& config, const BudgetPlan& plan);

/// The one upstream budget of a process: every request to CoinGecko, whoever makes it, asks it
/// first. It owns the rate window (RateLimiter, retries and on-demand requests included), the
/// month's credits (CreditLedger), the leadership check (may this process call upstream at all:
/// not stopping, and the active fetcher) and the reserve the schedule needs. Two kinds of
/// admission:
/// - scheduled (the fetch loop's cycles): waits for a rate slot up to the caller's deadline;
/// - on-demand (misses of the serving layer, or any other caller outside the schedule): admitted
///   at once or refused, never waits, never takes what the schedule needs, and at most
///   on_demand_per_window of them in any rate window.
/// Threading: thread-safe; admissions from any thread.
class UpstreamBudget {
 public:
  /// True while this process may call the upstream (the elected fetcher); asked before every
  /// request. Empty: always.
  using Leadership = std::function<bool()>;

  UpstreamBudget(BudgetLimits limits, const StopSignal& stop, Leadership leading = {},
                 const Clock& clock = systemClock());

  /// The right to send one scheduled request before `deadline` (waiting on the clock for a rate
  /// slot), its credit charged. Refusals: stopping (Unavailable), not the active fetcher or the
  /// month's credits used up (FailedPrecondition), no slot before the deadline
  /// (ResourceExhausted).
  Status admitScheduled(SystemTime deadline);
  /// The right to send one on-demand request now, its credit charged; never waits. Refusals:
  /// stopping (Unavailable), not the active fetcher (FailedPrecondition), what is left is kept
  /// for the schedule, the on-demand cap, or a pause (ResourceExhausted).
  Status admitOnDemand();
  /// The upstream asked for a pause (a 429's retry-after): every request waits for its end.
  void holdFor(std::chrono::milliseconds pause);

  /// Whether this process may call the upstream now: not stopping, and the active fetcher.
  Status mayCall() const;
  /// True when the month's credits are used up (no request until the month turns).
  bool creditsExhausted();
  /// Takes over the count a previous process left (CreditLedger::restore).
  void restoreCredits(const std::string& month, int64_t used);
  /// What CoinGecko's /key says: its count and monthly credits replace ours, and a lower rate
  /// limit than the configured one applies.
  void applyKeyUsage(const KeyUsage& usage);

  /// The month's use, for /healthz, /v1/status and the state handed to the next leader (the
  /// credit gauges on /metrics are published by the ledger itself).
  const CreditLedger& credits() const { return ledger_; }
  int callsPerMinute() const { return limiter_.limit(); }
  /// Requests in the current rate window, and on-demand ones among them.
  int callsInWindow() const { return limiter_.inWindow(); }
  int onDemandInWindow() const { return limiter_.onDemandInWindow(); }
  const BudgetLimits& limits() const { return limits_; }
  const Clock& clock() const { return clock_; }

 private:
  BudgetLimits limits_;
  const StopSignal& stop_;
  Leadership leading_;
  const Clock& clock_;
  RateLimiter limiter_;
  CreditLedger ledger_;
};

}  // namespace coinrelay::coingecko
