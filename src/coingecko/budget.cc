#include "coingecko/budget.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "telemetry/metrics.h"

namespace coinrelay::coingecko {

namespace {

// Published figures, 2025 (pricing page, docs): demo's per-minute limit is given as 30 on the
// pricing page and 100 on the newest errors page; the lower one is the safe default. "pro" has
// no primary figure; the /key documentation's example (1000/min, 1M credits) stands in. Cache
// periods (FACTS §2.2): /simple/price 20 s paid, 60 s demo and keyless; /coins/markets 45 s
// paid, 60 s otherwise; /coins/list 5 min paid, 30 min otherwise.
constexpr std::array<PlanFacts, 7> kPlans = {{
    {"public", false, 5, 0, 60, 60, 1800,
     "docs: keyless, 5-15 calls/min shared per IP, no monthly credits"},
    {"demo", false, 30, 10'000, 60, 60, 1800,
     "pricing page: demo 30 calls/min, 10000 credits/month"},
    {"basic", true, 250, 100'000, 45, 20, 300,
     "pricing page: basic 250 calls/min, 100000 credits/month"},
    {"analyst", true, 500, 500'000, 45, 20, 300,
     "pricing page: analyst 500 calls/min, 500000 credits/month"},
    {"lite", true, 500, 2'000'000, 45, 20, 300,
     "pricing page: lite 500 calls/min, 2000000 credits/month"},
    {"pro", true, 1000, 1'000'000, 45, 20, 300,
     "/key docs example: 1000 calls/min, 1000000 credits/month"},
    {"enterprise", true, 0, 0, 45, 20, 300,
     "custom contract: set budget.calls_per_minute and "
     "budget.monthly_credits"},
}};

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

/// A read every this many cycles, so that reads are at least `period_s` apart.
int everyCycles(int period_s, int interval_s) {
  return period_s <= interval_s ? 1 : static_cast<int>(ceilDiv(period_s, interval_s));
}

std::string duration(int64_t seconds) {
  if (seconds < 60)
    return fmt::format("{} s", seconds);
  if (seconds < 3600)
    return seconds % 60 ? fmt::format("{} min {} s", seconds / 60, seconds % 60)
                        : fmt::format("{} min", seconds / 60);
  const int64_t minutes = (seconds + 59) / 60;
  return minutes % 60 ? fmt::format("{} h {} min", minutes / 60, minutes % 60)
                      : fmt::format("{} h", minutes / 60);
}

std::string calls(int64_t count) {
  return fmt::format("{} call{}", count, count == 1 ? "" : "s");
}

std::string percent(double share) {
  return fmt::format("{:.1f}%", share * 100);
}

std::string every(int cycles) {
  return cycles == 1 ? std::string("every cycle") : fmt::format("every {} cycles", cycles);
}

/// Whether `cost` fits the plan's usable credits and rate.
bool fitsLimits(const BudgetPlan& p, const ScheduleCost& cost) {
  const bool month = p.monthly_credits == 0 || cost.per_month <= p.usable_credits;
  const bool minute = p.calls_per_minute == 0 ||
                      cost.peak_per_cycle * 60.0 / cost.interval_s <= p.usable_per_minute;
  return month && minute;
}

/// Seconds between two reads of the prices (a details read brings them too).
int64_t priceAge(const ScheduleCost& cost) {
  int every = cost.endpoints.front().every;
  if (cost.strategy == Strategy::CheapestMix)
    every = std::min(every, cost.endpoints[1].every);
  return int64_t{every} * cost.interval_s;
}

/// The strategy that runs at the configured interval: the cheaper one, or the mix when it costs
/// more but brings fresher prices (/simple/price is refreshed more often than /coins/markets)
/// and the plan can afford it.
const ScheduleCost& chosen(const BudgetPlan& p, const ScheduleCost& markets,
                           const ScheduleCost& mix) {
  if (mix.per_month < markets.per_month)
    return mix;
  if (priceAge(mix) < priceAge(markets) && fitsLimits(p, mix))
    return mix;
  return markets;
}

/// The cache period of the endpoint `cost` reads every cycle.
int everyCycleCache(const CachePeriods& cache, const ScheduleCost& cost) {
  return cost.strategy == Strategy::CheapestMix ? cache.price_s : cache.markets_s;
}

/// The smallest interval at which the cheapest strategy (or `only`) fits; nullopt when none up
/// to a day does. Intervals shorter than the cache period of the endpoint read every cycle are
/// left out: their extra cycles would fetch nothing. A scan, not a formula: the cadences round
/// to whole cycles.
std::optional<int64_t> shortestInterval(const BudgetPlan& p, std::optional<Strategy> only) {
  for (int s = 1; s <= 86'400; ++s) {
    const ScheduleCost cost = only ? scheduleCost(*only, p.shape, p.cache, p.details_interval_s, s)
                                   : cheapestSchedule(p.shape, p.cache, p.details_interval_s, s);
    if (s >= everyCycleCache(p.cache, cost) && cost.per_month > 0 && fitsLimits(p, cost))
      return s;
  }
  return std::nullopt;
}

}  // namespace

const PlanFacts* findPlan(std::string_view name) {
  for (const auto& plan : kPlans) {
    if (plan.name == name)
      return &plan;
  }
  return nullptr;
}

const char* toString(Strategy strategy) {
  return strategy == Strategy::CheapestMix ? "cheapest mix" : "markets-only";
}

CallsPerCycle callsPerCycle(const config::UpstreamConfig& upstream) {
  CallsPerCycle calls;
  calls.currencies = static_cast<int>(upstream.vs_currencies.size());
  if (upstream.top_n > 0) {
    const int per_page = std::min(upstream.top_n, kMaxPerPage);
    calls.top_pages = static_cast<int>(ceilDiv(upstream.top_n, per_page));
  }
  calls.id_pages =
      static_cast<int>(ceilDiv(static_cast<int64_t>(upstream.ids.size()), kMaxPerPage));
  return calls;
}

int TrackedShape::marketsPages() const {
  const int top_pages =
      top_n > 0 ? static_cast<int>(ceilDiv(top_n, std::min(top_n, kMaxPerPage))) : 0;
  return (top_pages + static_cast<int>(ceilDiv(ids, kMaxPerPage))) * currencies;
}

int TrackedShape::priceBatches() const {
  return static_cast<int>(ceilDiv(int64_t{top_n} + ids, kMaxPriceIds));
}

TrackedShape trackedShapeOf(const config::UpstreamConfig& upstream) {
  TrackedShape shape;
  shape.top_n = upstream.top_n;
  shape.ids = static_cast<int>(upstream.ids.size());
  shape.currencies = static_cast<int>(upstream.vs_currencies.size());
  shape.whole_universe = upstream.top_n >= kUniverseCoins;
  return shape;
}

double ScheduleCost::perCycle() const {
  return cycles_per_month > 0 ? static_cast<double>(per_month) / cycles_per_month : 0;
}

double ScheduleCost::perHour() const {
  return static_cast<double>(per_month) * 3600.0 / static_cast<double>(kMonthSeconds);
}

ScheduleCost scheduleCost(Strategy strategy, const TrackedShape& tracked, const CachePeriods& cache,
                          int details_interval_s, int interval_s) {
  ScheduleCost out;
  out.strategy = strategy;
  out.interval_s = std::max(1, interval_s);
  const int s = out.interval_s;
  const int64_t cycles = ceilDiv(kMonthSeconds, s);
  out.cycles_per_month = cycles;
  const int pages = tracked.marketsPages();
  if (strategy == Strategy::MarketsOnly) {
    const int k = everyCycles(cache.markets_s, s);
    out.endpoints.push_back(
        {"/coins/markets", "every field", pages, k, ceilDiv(cycles, k) * pages});
    out.peak_per_cycle = pages;
  } else {
    // A details cycle reads /coins/markets (prices included) every k cycles; the cycles in
    // between read /simple/price, at most every j cycles. Counted per whole period of k cycles
    // (the month's last one counts whole): an upper bound.
    const int k = everyCycles(std::max(details_interval_s, cache.markets_s), s);
    const int j = everyCycles(cache.price_s, s);
    const int batches = tracked.priceBatches();
    const int64_t refreshes = ceilDiv(cycles, k);
    out.endpoints.push_back(
        {"/simple/price", "prices", batches, j, refreshes * ((k - 1) / j) * batches});
    out.endpoints.push_back({"/coins/markets", "ranking and details", pages, k, refreshes * pages});
    out.peak_per_cycle = std::max(pages, batches);
    if (tracked.whole_universe) {
      // The universe is read at its cache period; each read may bring coins new to it, whose
      // details take one /coins/markets page per currency (up to 250 of them; more wait).
      const int l = everyCycles(cache.list_s, s);
      const int64_t reads = ceilDiv(cycles, l);
      out.endpoints.push_back({"/coins/list", "the universe", 1, l, reads});
      out.endpoints.push_back({"/coins/markets", "coins new in the universe (at most)",
                               tracked.currencies, l, reads * tracked.currencies});
      out.peak_per_cycle = std::max(pages, batches + 1 + tracked.currencies);
    }
  }
  for (const auto& endpoint : out.endpoints)
    out.per_month += endpoint.per_month;
  return out;
}

ScheduleCost cheapestSchedule(const TrackedShape& tracked, const CachePeriods& cache,
                              int details_interval_s, int interval_s) {
  ScheduleCost markets =
      scheduleCost(Strategy::MarketsOnly, tracked, cache, details_interval_s, interval_s);
  ScheduleCost mix =
      scheduleCost(Strategy::CheapestMix, tracked, cache, details_interval_s, interval_s);
  return mix.per_month < markets.per_month ? mix : markets;
}

int BudgetPlan::everyCycleCachePeriod() const {
  return planned.strategy == Strategy::CheapestMix ? cache.price_s : cache.markets_s;
}

BudgetPlan planBudget(const config::Config& config) {
  BudgetPlan out;
  const PlanFacts* facts = findPlan(config.upstream.plan);
  static const PlanFacts kUnknown{"unknown", false, 0, 0, 60, 60, 1800, "no published figures"};
  if (facts == nullptr)
    facts = &kUnknown;
  out.plan = config.upstream.plan;
  out.figures_source = std::string(facts->source);
  // CoinGecko's figures bind CoinGecko's hosts; another upstream (`coinrelay simulate`, a
  // mirror) has only the limits configured for it.
  const bool coingecko = config.upstream.base_url.find("coingecko.com") != std::string::npos;
  static const PlanFacts kOther{"other", false, 0, 0, 0, 0, 0, ""};
  if (!coingecko) {
    facts = &kOther;
    out.figures_source = "none: the upstream is not coingecko.com (budget.* set its limits)";
  }
  const auto& b = config.budget;
  out.calls_per_minute = b.calls_per_minute > 0 ? b.calls_per_minute : facts->calls_per_minute;
  out.calls_per_minute_overridden = b.calls_per_minute > 0;
  out.monthly_credits = b.monthly_credits > 0 ? b.monthly_credits : facts->monthly_credits;
  out.monthly_credits_overridden = b.monthly_credits > 0;
  out.reserve_percent = b.retry_reserve_percent;
  out.cache.markets_s = b.cache_period_s > 0 ? b.cache_period_s : facts->cache_period_s;
  out.cache.price_s =
      b.price_cache_period_s > 0 ? b.price_cache_period_s : facts->price_cache_period_s;
  out.cache.list_s = b.list_cache_period_s > 0 ? b.list_cache_period_s : facts->list_cache_period_s;
  out.cache_period_s = out.cache.markets_s;
  out.details_interval_s = config.upstream.details_interval_s;

  const auto& up = config.upstream;
  std::string set;
  if (up.top_n > 0)
    set = fmt::format("top {}", up.top_n);
  if (!up.ids.empty())
    set += fmt::format("{}{} ids", set.empty() ? "" : " + ", up.ids.size());
  out.tracked = fmt::format("{} in {}", set, fmt::join(up.vs_currencies, ","));
  out.shape = trackedShapeOf(up);
  out.calls = callsPerCycle(up);
  out.interval_s = up.interval_s;
  out.usable_credits =
      static_cast<int64_t>(out.monthly_credits) * (100 - out.reserve_percent) / 100;
  out.usable_per_minute = out.calls_per_minute * (100 - out.reserve_percent) / 100.0;

  out.markets_only = scheduleCost(Strategy::MarketsOnly, out.shape, out.cache,
                                  out.details_interval_s, up.interval_s);
  const ScheduleCost mix = scheduleCost(Strategy::CheapestMix, out.shape, out.cache,
                                        out.details_interval_s, up.interval_s);
  out.planned = chosen(out, out.markets_only, mix);
  out.cycles_per_month = out.planned.cycles_per_month;
  out.calls_per_month = out.planned.per_month;
  out.needed_per_minute =
      static_cast<double>(out.planned.peak_per_cycle) * 60.0 / std::max(1, up.interval_s);
  out.fits_month = out.monthly_credits == 0 || out.calls_per_month <= out.usable_credits;
  out.fits_minute = out.calls_per_minute == 0 || out.needed_per_minute <= out.usable_per_minute;
  out.shortest_interval_s = shortestInterval(out, std::nullopt);
  out.markets_only_shortest_s = shortestInterval(out, Strategy::MarketsOnly);
  return out;
}

std::string cacheWarning(const BudgetPlan& plan) {
  if (!plan.belowCachePeriod())
    return {};
  const bool mix = plan.planned.strategy == Strategy::CheapestMix;
  return fmt::format(
      "upstream.interval_s = {} is shorter than the {} s in which CoinGecko refreshes {} on "
      "plan {}: coinrelay reads it at most that often, so the cycles in between fetch nothing; "
      "set upstream.interval_s to {} or more",
      plan.interval_s, plan.everyCycleCachePeriod(), mix ? "/simple/price" : "/coins/markets",
      plan.plan, plan.everyCycleCachePeriod());
}

std::string describeBudget(const BudgetPlan& p) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  const std::string rpm = p.calls_per_minute > 0 ? fmt::format("{} calls/min", p.calls_per_minute)
                                                 : std::string("no per-minute limit");
  const std::string credits = p.monthly_credits > 0
                                  ? fmt::format("{} credits/month", p.monthly_credits)
                                  : std::string("no monthly credit cap");
  line(fmt::format("plan {}: {}{}, {}{}", p.plan, rpm,
                   p.calls_per_minute_overridden ? " (budget.calls_per_minute)" : "", credits,
                   p.monthly_credits_overridden ? " (budget.monthly_credits)" : ""));
  line(fmt::format("  published figures: {}", p.figures_source));
  line(
      fmt::format("  {}% of both kept for retries (budget.retry_reserve_percent); every request "
                  "counts, retries included",
                  p.reserve_percent));
  auto cachePeriod = [](int seconds) {
    return seconds > 0 ? duration(seconds) : std::string("any time (no cache period)");
  };
  line(fmt::format(
      "  read at most every: /simple/price {}, /coins/markets {}, /coins/list {} "
      "(the upstream's cache periods)",
      cachePeriod(p.cache.price_s), cachePeriod(p.cache.markets_s), cachePeriod(p.cache.list_s)));
  line(fmt::format("tracked: {}, every {} s = at most {} cycles in a 31-day month", p.tracked,
                   p.interval_s, p.cycles_per_month));
  const ScheduleCost& plan = p.planned;
  if (plan.strategy == Strategy::CheapestMix) {
    line(
        fmt::format("planned: cheapest mix: prices from /simple/price (up to {} coins, every "
                    "currency, per call), ranking and details from /coins/markets every {} "
                    "(upstream.details_interval_s)",
                    kMaxPriceIds, duration(int64_t{plan.endpoints[1].every} * plan.interval_s)));
  } else {
    line(fmt::format(
        "planned: markets-only: every field from /coins/markets ({} page{} of up to "
        "{} coins x {} currenc{}){}",
        p.calls.top_pages + p.calls.id_pages, p.calls.top_pages + p.calls.id_pages == 1 ? "" : "s",
        kMaxPerPage, p.calls.currencies, p.calls.currencies == 1 ? "y" : "ies",
        p.details_interval_s <= p.interval_s
            ? " (upstream.details_interval_s asks for details every cycle)"
            : ": the mix would cost as much or more"));
  }
  for (const auto& e : plan.endpoints) {
    line(fmt::format("  {:<15} {:<36} {:<26} {:>8.2f}/cycle {:>9.1f}/hour {:>9}/month", e.endpoint,
                     e.purpose, calls(e.calls) + " " + every(e.every),
                     static_cast<double>(e.per_month) / plan.cycles_per_month,
                     static_cast<double>(e.per_month) * 3600.0 / kMonthSeconds, e.per_month));
  }
  line(fmt::format("  {:<15} {:<36} {:<26} {:>8.2f}/cycle {:>9.1f}/hour {:>9}/month", "total", "",
                   "", plan.perCycle(), plan.perHour(), plan.per_month));
  const ScheduleCost& markets = p.markets_only;
  if (plan.strategy == Strategy::CheapestMix) {
    line(fmt::format("markets-only would need: {} {} = {:.2f}/cycle, {:.1f}/hour, {}/month",
                     calls(markets.endpoints[0].calls), every(markets.endpoints[0].every),
                     markets.perCycle(), markets.perHour(), markets.per_month));
    const int64_t saved = markets.per_month - plan.per_month;
    line(saved >= 0
             ? fmt::format("saving: {} calls a month ({} of markets-only)", saved,
                           percent(static_cast<double>(saved) / markets.per_month))
             : fmt::format("costs {} calls a month more than markets-only, for prices every {} s "
                           "instead of every {} s",
                           -saved, priceAge(plan), priceAge(markets)));
  }
  if (p.monthly_credits > 0) {
    line(fmt::format("month: {} calls {} {} credits ({} less {}% reserve): {}", p.calls_per_month,
                     p.fits_month ? "<=" : ">", p.usable_credits, p.monthly_credits,
                     p.reserve_percent, p.fits_month ? "fits" : "DOES NOT FIT"));
  } else {
    line(fmt::format("month: {} calls; the plan has no monthly cap", p.calls_per_month));
  }
  if (p.calls_per_minute > 0) {
    line(
        fmt::format("minute: {} in the heaviest cycle x 60 / {} s = {:.1f} calls/min {} {:.1f} "
                    "({} less {}% reserve): {}",
                    calls(plan.peak_per_cycle), p.interval_s, p.needed_per_minute,
                    p.fits_minute ? "<=" : ">", p.usable_per_minute, p.calls_per_minute,
                    p.reserve_percent, p.fits_minute ? "fits" : "DOES NOT FIT"));
  }
  if (p.fits()) {
    std::string margin;
    if (p.monthly_credits > 0) {
      const int64_t spare = p.usable_credits - p.calls_per_month;
      margin = fmt::format(
          "; margin {} credits a month ({} of the plan) on top of the {}% reserve; uses {} of "
          "the plan",
          spare, percent(static_cast<double>(spare) / p.monthly_credits), p.reserve_percent,
          percent(static_cast<double>(p.calls_per_month) / p.monthly_credits));
    } else if (p.calls_per_minute > 0) {
      margin = fmt::format("; margin {:.1f} calls/min", p.usable_per_minute - p.needed_per_minute);
    }
    line(fmt::format("verdict: FITS{}", margin));
  } else {
    line("verdict: DOES NOT FIT");
  }
  auto shortest = [&](const std::optional<int64_t>& s, std::optional<Strategy> only) {
    if (!s)
      return std::string("none up to a day; track fewer coins or currencies, or raise the budget");
    const ScheduleCost cost =
        only ? scheduleCost(*only, p.shape, p.cache, p.details_interval_s, static_cast<int>(*s))
             : cheapestSchedule(p.shape, p.cache, p.details_interval_s, static_cast<int>(*s));
    return fmt::format("{} s{}: {}, {} calls a month{}", *s,
                       *s >= 60 ? " (" + duration(*s) + ")" : "", toString(cost.strategy),
                       cost.per_month,
                       p.monthly_credits > 0 ? fmt::format(" <= {}", p.usable_credits) : "");
  };
  line("shortest interval that fits: " + shortest(p.shortest_interval_s, std::nullopt));
  line("  markets-only: " + shortest(p.markets_only_shortest_s, Strategy::MarketsOnly));
  if (auto warning = cacheWarning(p); !warning.empty())
    line("warning: " + warning);
  return out;
}

Error budgetRefusal(const BudgetPlan& p) {
  std::vector<std::string> reasons;
  if (!p.fits_month) {
    reasons.push_back(fmt::format(
        "{} every {} s needs {} calls a month ({}, {:.2f} calls per cycle x {} cycles of a 31-day "
        "month), but plan {} gives {} credits, {} after the {}% retry reserve",
        p.tracked, p.interval_s, p.calls_per_month, toString(p.planned.strategy),
        p.planned.perCycle(), p.cycles_per_month, p.plan, p.monthly_credits, p.usable_credits,
        p.reserve_percent));
  }
  if (!p.fits_minute) {
    reasons.push_back(fmt::format(
        "{} every {} s needs {} calls x 60 / {} s = {:.1f} calls/min, but plan {} allows {} "
        "calls/min, {:.1f} after the {}% retry reserve",
        p.tracked, p.interval_s, p.planned.peak_per_cycle, p.interval_s, p.needed_per_minute,
        p.plan, p.calls_per_minute, p.usable_per_minute, p.reserve_percent));
  }
  std::string fix =
      p.shortest_interval_s
          ? fmt::format("the shortest interval that fits is {} s: set upstream.interval_s = {}",
                        *p.shortest_interval_s, *p.shortest_interval_s)
          : std::string("no interval up to a day fits: track fewer coins or currencies");
  return makeError(
      ErrorCode::InvalidArgument,
      fmt::format("the schedule does not fit the upstream budget: {}; {} (or track fewer coins or "
                  "currencies, or raise budget.monthly_credits / budget.calls_per_minute if your "
                  "plan allows more; `coinrelay budget` shows the arithmetic)",
                  fmt::join(reasons, "; and "), fix));
}

std::string monthOf(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}", utc.tm_year + 1900, utc.tm_mon + 1);
}

SystemTime nextMonthStart(SystemTime t) {
  const std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(t)};
  return std::chrono::sys_days{day.year() / day.month() / 1 + std::chrono::months{1}};
}

CreditLedger::CreditLedger(int64_t monthly_credits, const Clock& clock)
    : clock_(clock), monthly_credits_(monthly_credits) {
  std::lock_guard lock(mutex_);
  month_ = monthOf(clock_.now());
  publish();
}

void CreditLedger::rollOver() {
  const std::string month = monthOf(clock_.now());
  if (month != month_) {
    month_ = month;
    used_ = 0;
  }
}

void CreditLedger::publish() {
  auto& registry = telemetry::metrics();
  static auto& used = registry.gauge("coinrelay_budget_credits_used",
                                     "Upstream credits used this month, retries included");
  static auto& monthly = registry.gauge("coinrelay_budget_credits_monthly",
                                        "Monthly upstream credits of the plan (0: no cap)");
  static auto& left = registry.gauge("coinrelay_budget_credits_left",
                                     "Upstream credits left this month (-1: no cap)");
  used.set(static_cast<double>(used_));
  monthly.set(static_cast<double>(monthly_credits_));
  left.set(monthly_credits_ > 0
               ? static_cast<double>(std::max<int64_t>(0, monthly_credits_ - used_))
               : -1.0);
}

void CreditLedger::charge() {
  std::lock_guard lock(mutex_);
  rollOver();
  ++used_;
  publish();
}

void CreditLedger::restore(const std::string& month, int64_t used) {
  std::lock_guard lock(mutex_);
  rollOver();
  if (month == month_)
    used_ = std::max(used_, used);
  publish();
}

void CreditLedger::applyKeyUsage(const KeyUsage& usage) {
  std::lock_guard lock(mutex_);
  rollOver();
  // CoinGecko's own count is the truth for the key (other tools may share it), in both
  // directions.
  if (usage.monthly_credits > 0)
    monthly_credits_ = usage.monthly_credits;
  if (usage.used >= 0)
    used_ = usage.used;
  publish();
}

bool CreditLedger::exhausted() {
  std::lock_guard lock(mutex_);
  rollOver();
  return monthly_credits_ > 0 && used_ >= monthly_credits_;
}

std::string CreditLedger::month() const {
  std::lock_guard lock(mutex_);
  return month_;
}

int64_t CreditLedger::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

int64_t CreditLedger::monthlyCredits() const {
  std::lock_guard lock(mutex_);
  return monthly_credits_;
}

std::optional<int64_t> CreditLedger::left() const {
  std::lock_guard lock(mutex_);
  if (monthly_credits_ <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, monthly_credits_ - used_);
}

}  // namespace coinrelay::coingecko
