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
/// budget.*cache_period_s).
struct PlanFacts {
  std::string_view name;
  bool paid = false;             ///< x-cg-pro-api-key on pro-api.coingecko.com
  int calls_per_minute = 0;      ///< 0: unpublished (enterprise)
  int monthly_credits = 0;       ///< 0: no monthly cap (keyless) or unpublished (enterprise)
  int cache_period_s = 0;        ///< how often /coins/markets is refreshed
  int price_cache_period_s = 0;  ///< how often /simple/price is refreshed
  int list_cache_period_s = 0;   ///< how often /coins/list is refreshed
  std::string_view source;       ///< where the figures come from, for `coinrelay budget`
};

/// The plan named `name`, or nullptr (config validation keeps this from happening).
const PlanFacts* findPlan(std::string_view name);

constexpr int kMaxPerPage = 250;   ///< /coins/markets: per_page 1..250, and at most 250 ids
constexpr int kMaxPriceIds = 515;  ///< /simple/price: ids per request (FACTS §3.2)
/// CoinGecko lists about 17 000 to 18 000 active coins (FACTS §3.5): a top N this large is
/// taken to reach the end of the universe, which the planner then watches through /coins/list.
constexpr int kUniverseCoins = 17'000;
/// Budgets are checked against the longest month, so a schedule that fits, fits every month.
constexpr int64_t kMonthSeconds = 31 * 86'400;

/// The calls one full /coins/markets read of the tracked set needs at most: per currency, the
/// pages of the top N plus the pages of explicit ids (ids found in the top N cost nothing, but
/// which ones are is only known at run time).
struct CallsPerCycle {
  int top_pages = 0;  ///< per currency
  int id_pages = 0;   ///< per currency, worst case
  int currencies = 0;
  int total() const { return (top_pages + id_pages) * currencies; }
};
CallsPerCycle callsPerCycle(const config::UpstreamConfig& upstream);

/// How the fetcher gets its quotes.
enum class Strategy {
  MarketsOnly,  ///< every field from /coins/markets, one page per 250 coins per currency
  CheapestMix,  ///< prices from /simple/price (515 coins, every currency, per call); ranking and
                ///< details from /coins/markets at their own, slower cadence
};
const char* toString(Strategy strategy);

/// The tracked set as the cost model sees it.
struct TrackedShape {
  int top_n = 0;
  int ids = 0;  ///< explicit ids, counted as if none were in the top N (worst case)
  int currencies = 1;
  bool whole_universe = false;  ///< the top N reaches the end of the universe
  int marketsPages() const;     ///< one full /coins/markets read, every currency
  int priceBatches() const;     ///< one /simple/price read, every currency at once
};
TrackedShape trackedShapeOf(const config::UpstreamConfig& upstream);

/// How often CoinGecko refreshes each endpoint (seconds; 0: no limit, as for another upstream).
/// Polling faster pays for no new data, so the planner never does.
struct CachePeriods {
  int price_s = 0;    ///< /simple/price
  int markets_s = 0;  ///< /coins/markets
  int list_s = 0;     ///< /coins/list
};

/// One endpoint's share of a schedule.
struct EndpointCost {
  std::string_view endpoint;  ///< "/simple/price"
  std::string_view purpose;   ///< "prices", "ranking and details"...
  int calls = 0;              ///< per read
  int every = 1;              ///< a read every this many cycles (at most)
  int64_t per_month = 0;
};

/// What one strategy costs at one interval, as an upper bound over a 31-day month.
struct ScheduleCost {
  Strategy strategy = Strategy::MarketsOnly;
  int interval_s = 0;
  int64_t cycles_per_month = 0;
  std::vector<EndpointCost> endpoints;
  int64_t per_month = 0;    ///< every endpoint
  int peak_per_cycle = 0;   ///< the heaviest cycle (the rate limit must carry it)
  double perCycle() const;  ///< on average
  double perHour() const;
};

/// The cost of `strategy` for `tracked` every `interval_s`, with details refreshed every
/// `details_interval_s` (the mix) and no endpoint polled faster than its cache period.
ScheduleCost scheduleCost(Strategy strategy, const TrackedShape& tracked, const CachePeriods& cache,
                          int details_interval_s, int interval_s);
/// The cheaper of the two strategies (markets-only when they cost the same: it has every field
/// fresh every cycle).
ScheduleCost cheapestSchedule(const TrackedShape& tracked, const CachePeriods& cache,
                              int details_interval_s, int interval_s);

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
  int cache_period_s = 0;  ///< /coins/markets
  CachePeriods cache;      ///< every endpoint's (cache.markets_s == cache_period_s)
  int details_interval_s = 0;
  std::string figures_source;

  std::string tracked;  ///< "top 50 + 3 ids in usd,eur"
  TrackedShape shape;
  CallsPerCycle calls;  ///< the /coins/markets pages of one full read
  int interval_s = 0;
  int64_t cycles_per_month = 0;
  ScheduleCost planned;         ///< what runs: the cheaper strategy at interval_s
  ScheduleCost markets_only;    ///< every field from /coins/markets every cycle, for comparison
  int64_t calls_per_month = 0;  ///< planned.per_month
  int64_t usable_credits = 0;   ///< monthly credits less the retry reserve
  double needed_per_minute = 0;
  double usable_per_minute = 0;
  bool fits_month = true;
  bool fits_minute = true;
  /// The smallest interval (seconds) that fits both limits with the cheapest strategy at that
  /// interval; nullopt when none up to a day does.
  std::optional<int64_t> shortest_interval_s;
  /// The same for markets-only.
  std::optional<int64_t> markets_only_shortest_s;

  bool fits() const { return fits_month && fits_minute; }
  /// The cache period of the endpoint the plan reads every cycle.
  int everyCycleCachePeriod() const;
  bool belowCachePeriod() const { return interval_s < everyCycleCachePeriod(); }
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
