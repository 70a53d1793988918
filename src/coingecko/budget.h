#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/time_util.h"
#include "config/config.h"

namespace coinrelay::coingecko {

/// What CoinGecko publishes for one plan (../shared FACTS §2, pricing page 2025). The figures
/// change often, so each can be overridden (budget.calls_per_minute, budget.monthly_credits,
/// budget.cache_period_s).
struct PlanFacts {
  std::string_view name;
  bool paid = false;         ///< x-cg-pro-api-key on pro-api.coingecko.com
  int calls_per_minute = 0;  ///< 0: unpublished (enterprise)
  int monthly_credits = 0;   ///< 0: no monthly cap (keyless) or unpublished (enterprise)
  int cache_period_s = 0;    ///< how often /coins/markets is refreshed
  std::string_view source;   ///< where the figures come from, for `coinrelay budget`
};

/// The plan named `name`, or nullptr (config validation keeps this from happening).
const PlanFacts* findPlan(std::string_view name);

constexpr int kMaxPerPage = 250;  ///< /coins/markets page size limit
/// Budgets are checked against the longest month, so a schedule that fits, fits every month.
constexpr int64_t kMonthSeconds = 31 * 86'400;

/// The calls one cycle needs at most for the tracked set: per currency, the pages of the top N
/// plus the pages of explicit ids (ids found in the top N cost nothing, but which ones are is
/// only known at run time).
struct CallsPerCycle {
  int top_pages = 0;  ///< per currency
  int id_pages = 0;   ///< per currency, worst case
  int currencies = 0;
  int total() const { return (top_pages + id_pages) * currencies; }
};
CallsPerCycle callsPerCycle(const config::UpstreamConfig& upstream);

/// The budget of a configuration: the plan's limits (published or overridden), what the
/// schedule needs, whether it fits, and the shortest interval that does. Pure arithmetic, shared
/// by `coinrelay budget` and the start-up check of `fetch` and `run`.
struct BudgetPlan {
  std::string plan;
  int calls_per_minute = 0;  ///< effective limit; 0: none
  bool calls_per_minute_overridden = false;
  int monthly_credits = 0;  ///< effective; 0: no monthly cap
  bool monthly_credits_overridden = false;
  int reserve_percent = 0;
  int cache_period_s = 0;
  std::string figures_source;

  std::string tracked;  ///< "top 50 + 3 ids in usd,eur"
  CallsPerCycle calls;
  int interval_s = 0;
  int64_t cycles_per_month = 0;
  int64_t calls_per_month = 0;
  int64_t usable_credits = 0;  ///< monthly credits less the retry reserve
  double needed_per_minute = 0;
  double usable_per_minute = 0;
  bool fits_month = true;
  bool fits_minute = true;
  /// The smallest interval (seconds) that fits both limits; nullopt when none up to a day does.
  std::optional<int64_t> shortest_interval_s;

  bool fits() const { return fits_month && fits_minute; }
  bool belowCachePeriod() const { return interval_s < cache_period_s; }
};

BudgetPlan planBudget(const config::Config& config);

/// The plan as `coinrelay budget` prints it: limits, arithmetic, verdict, margin, warnings.
std::string describeBudget(const BudgetPlan& plan);

/// One message for a refused configuration: the arithmetic and the setting that fixes it.
Error budgetRefusal(const BudgetPlan& plan);

/// The warning for an interval shorter than the cache period, or empty.
std::string cacheWarning(const BudgetPlan& plan);

/// "2025-07": credits are counted per UTC calendar month.
std::string monthOf(SystemTime t);
/// The first instant of the UTC calendar month after the one `t` is in: when credits reset.
SystemTime nextMonthStart(SystemTime t);

/// What CoinGecko's `/key` endpoint (paid plans) says about the key's usage.
struct KeyUsage {
  std::string plan;
  int64_t rate_limit_per_minute = 0;
  int64_t monthly_credits = 0;
  int64_t used = 0;
  int64_t remaining = 0;
};

/// Counts every upstream request against the month's credits, retries included, and keeps the
/// count across restarts and leaders through the state the fetch loop persists. The month
/// rolls over on the UTC calendar of `clock`; a paid plan's `/key` figures, when read, replace
/// the count.
/// Threading: thread-safe (the fetch thread charges; /healthz and metrics read).
class CreditLedger {
 public:
  explicit CreditLedger(int64_t monthly_credits, const Clock& clock = systemClock());

  /// Counts one request sent now.
  void charge();
  /// Takes over a persisted count: within the same month the larger count wins, so a count
  /// never goes backwards when two sources disagree.
  void restore(const std::string& month, int64_t used);
  void applyKeyUsage(const KeyUsage& usage);

  bool exhausted();
  std::string month() const;
  int64_t used() const;
  int64_t monthlyCredits() const;
  /// Credits left this month; nullopt without a monthly cap.
  std::optional<int64_t> left() const;

 private:
  void rollOver();  // mutex_ held
  void publish();   // mutex_ held: metrics

  const Clock& clock_;
  mutable std::mutex mutex_;
  int64_t monthly_credits_;
  std::string month_;
  int64_t used_ = 0;
};

}  // namespace coinrelay::coingecko
