#include "coingecko/upstream_budget.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace coinrelay::coingecko {

BudgetLimits budgetLimitsFor(const config::Config& config, const BudgetPlan& plan) {
  BudgetLimits limits;
  limits.calls_per_minute = plan.calls_per_minute;
  limits.monthly_credits = plan.monthly_credits;
  limits.calls_per_cycle = plan.planned.peak_per_cycle;
  limits.mean_calls_per_cycle = plan.planned.perCycle();
  limits.interval_s = config.upstream.interval_s;
  limits.on_demand_per_window = config.serve.miss_calls_per_minute;
  return limits;
}

UpstreamBudget::UpstreamBudget(BudgetLimits limits, const StopSignal& stop, Leadership leading,
                               const Clock& clock)
    : limits_(limits),
      stop_(stop),
      leading_(std::move(leading)),
      clock_(clock),
      limiter_(limits.calls_per_minute, limits.rate_window, clock),
      ledger_(limits.monthly_credits, clock) {}

Status UpstreamBudget::mayCall() const {
  if (stop_.stopped())
    return makeError(ErrorCode::Unavailable, "stopping");
  if (leading_ && !leading_())
    return makeError(ErrorCode::FailedPrecondition, "this process is not the active fetcher");
  return {};
}

bool UpstreamBudget::creditsExhausted() {
  return ledger_.exhausted();
}

Status UpstreamBudget::admitScheduled(SystemTime deadline) {
  CR_RETURN_IF_ERROR(mayCall());
  if (ledger_.exhausted()) {
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("the {} credits of {} are used up; no upstream request until the "
                                 "month turns (raise budget.monthly_credits if the plan allows "
                                 "more)",
                                 ledger_.monthlyCredits(), ledger_.month()));
  }
  if (!limiter_.acquire(deadline, stop_)) {
    if (stop_.stopped())
      return makeError(ErrorCode::Unavailable, "stopping");
    return makeError(ErrorCode::ResourceExhausted,
                     fmt::format("no upstream request slot before the cycle deadline ({} calls "
                                 "per minute, budget.calls_per_minute, or a retry-after pause)",
                                 limiter_.limit()));
  }
  ledger_.charge();
  return {};
}

Status UpstreamBudget::admitOnDemand() {
  CR_RETURN_IF_ERROR(mayCall());
  const int per_cycle = limits_.calls_per_cycle;
  if (ledger_.exhausted()) {  // also turns the month over when it ended
    return makeError(
        ErrorCode::ResourceExhausted,
        fmt::format("the {} credits of {} are used up", ledger_.monthlyCredits(), ledger_.month()));
  }
  if (auto left = ledger_.left()) {
    // Credits for every cycle still to come this month stay with the schedule.
    const SystemTime now = clock_.now();
    const int64_t interval_s = std::max(1, limits_.interval_s);
    const auto month_left = nextMonthStart(now) - now;
    const int64_t cycles_left =
        std::chrono::duration_cast<std::chrono::seconds>(month_left).count() / interval_s + 1;
    const double mean = limits_.mean_calls_per_cycle > 0 ? limits_.mean_calls_per_cycle : per_cycle;
    const auto reserved = static_cast<int64_t>(std::ceil(static_cast<double>(cycles_left) * mean));
    if (*left <= reserved) {
      return makeError(ErrorCode::ResourceExhausted,
                       fmt::format("the {} credits left in {} are kept for the schedule ({} "
                                   "cycles x {:g} calls until the month ends)",
                                   *left, ledger_.month(), cycles_left, mean));
    }
  }
  switch (limiter_.tryAcquireOnDemand(per_cycle, limits_.on_demand_per_window)) {
    case RateLimiter::OnDemand::Taken:
      break;
    case RateLimiter::OnDemand::Paused:
      return makeError(ErrorCode::ResourceExhausted,
                       "the upstream asked for a pause (429 retry-after); no call until it ends");
    case RateLimiter::OnDemand::CapReached:
      return makeError(ErrorCode::ResourceExhausted,
                       fmt::format("the {} on-demand calls of this minute are spent "
                                   "(serve.miss_calls_per_minute)",
                                   limits_.on_demand_per_window));
    case RateLimiter::OnDemand::WindowFull:
      return makeError(ErrorCode::ResourceExhausted,
                       fmt::format("no upstream call free this minute: the schedule keeps {} of "
                                   "the {} calls per minute (budget.calls_per_minute)",
                                   per_cycle, limiter_.limit()));
  }
  ledger_.charge();
  return {};
}

void UpstreamBudget::holdFor(std::chrono::milliseconds pause) {
  limiter_.holdUntil(clock_.now() + pause);
}

void UpstreamBudget::restoreCredits(const std::string& month, int64_t used) {
  ledger_.restore(month, used);
}

void UpstreamBudget::applyKeyUsage(const KeyUsage& usage) {
  ledger_.applyKeyUsage(usage);
  const int limit = limiter_.limit();
  if (usage.rate_limit_per_minute > 0 && (limit == 0 || usage.rate_limit_per_minute < limit))
    limiter_.setLimit(static_cast<int>(usage.rate_limit_per_minute));
}

}  // namespace coinrelay::coingecko
