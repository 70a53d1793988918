#include "coingecko/budget.h"

#include <array>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "telemetry/metrics.h"

namespace coinrelay::coingecko {

namespace {

// Published figures, 2025 (pricing page, docs): demo's per-minute limit is given as 30 on the
// pricing page and 100 on the newest errors page; the lower one is the safe default. "pro" has
// no primary figure; the /key documentation's example (1000/min, 1M credits) stands in.
constexpr std::array<PlanFacts, 7> kPlans = {{
    {"public", false, 5, 0, 60, "docs: keyless, 5-15 calls/min shared per IP, no monthly credits"},
    {"demo", false, 30, 10'000, 60, "pricing page: demo 30 calls/min, 10000 credits/month"},
    {"basic", true, 250, 100'000, 45, "pricing page: basic 250 calls/min, 100000 credits/month"},
    {"analyst", true, 500, 500'000, 45,
     "pricing page: analyst 500 calls/min, 500000 credits/month"},
    {"lite", true, 500, 2'000'000, 45, "pricing page: lite 500 calls/min, 2000000 credits/month"},
    {"pro", true, 1000, 1'000'000, 45, "/key docs example: 1000 calls/min, 1000000 credits/month"},
    {"enterprise", true, 0, 0, 45,
     "custom contract: set budget.calls_per_minute and "
     "budget.monthly_credits"},
}};

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
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

}  // namespace

const PlanFacts* findPlan(std::string_view name) {
  for (const auto& plan : kPlans) {
    if (plan.name == name)
      return &plan;
  }
  return nullptr;
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

BudgetPlan planBudget(const config::Config& config) {
  BudgetPlan out;
  const PlanFacts* facts = findPlan(config.upstream.plan);
  static const PlanFacts kUnknown{"unknown", false, 0, 0, 60, "no published figures"};
  if (facts == nullptr)
    facts = &kUnknown;
  out.plan = config.upstream.plan;
  out.figures_source = std::string(facts->source);
  // CoinGecko's figures bind CoinGecko's hosts; another upstream (`coinrelay simulate`, a
  // mirror) has only the limits configured for it.
  const bool coingecko = config.upstream.base_url.find("coingecko.com") != std::string::npos;
  static const PlanFacts kOther{"other", false, 0, 0, 0, ""};
  if (!coingecko) {
    facts = &kOther;
    out.figures_source = "none: the upstream is not coingecko.com (budget.* set its limits)";
  }
  out.calls_per_minute =
      config.budget.calls_per_minute > 0 ? config.budget.calls_per_minute : facts->calls_per_minute;
  out.calls_per_minute_overridden = config.budget.calls_per_minute > 0;
  out.monthly_credits =
      config.budget.monthly_credits > 0 ? config.budget.monthly_credits : facts->monthly_credits;
  out.monthly_credits_overridden = config.budget.monthly_credits > 0;
  out.reserve_percent = config.budget.retry_reserve_percent;
  out.cache_period_s =
      config.budget.cache_period_s > 0 ? config.budget.cache_period_s : facts->cache_period_s;

  const auto& up = config.upstream;
  std::string set;
  if (up.top_n > 0)
    set = fmt::format("top {}", up.top_n);
  if (!up.ids.empty())
    set += fmt::format("{}{} ids", set.empty() ? "" : " + ", up.ids.size());
  out.tracked = fmt::format("{} in {}", set, fmt::join(up.vs_currencies, ","));
  out.calls = callsPerCycle(up);
  out.interval_s = up.interval_s;

  const int64_t per_cycle = out.calls.total();
  out.cycles_per_month = ceilDiv(kMonthSeconds, std::max(1, up.interval_s));
  out.calls_per_month = per_cycle * out.cycles_per_month;
  out.usable_credits =
      static_cast<int64_t>(out.monthly_credits) * (100 - out.reserve_percent) / 100;
  out.needed_per_minute = static_cast<double>(per_cycle) * 60.0 / std::max(1, up.interval_s);
  out.usable_per_minute = out.calls_per_minute * (100 - out.reserve_percent) / 100.0;
  out.fits_month = out.monthly_credits == 0 || out.calls_per_month <= out.usable_credits;
  out.fits_minute = out.calls_per_minute == 0 || out.needed_per_minute <= out.usable_per_minute;

  // Shortest interval: the month needs ceil(M / s) cycles of `per_cycle` calls within the usable
  // credits, i.e. at most k = usable / per_cycle cycles, i.e. s >= ceil(M / k); the minute needs
  // per_cycle * 60 / s <= usable per minute.
  int64_t shortest = 1;
  bool possible = per_cycle > 0;
  if (out.monthly_credits > 0 && per_cycle > 0) {
    const int64_t k = out.usable_credits / per_cycle;
    if (k == 0)
      possible = false;
    else
      shortest = std::max(shortest, ceilDiv(kMonthSeconds, k));
  }
  if (out.calls_per_minute > 0 && per_cycle > 0) {
    if (out.usable_per_minute <= 0) {
      possible = false;
    } else {
      shortest = std::max(
          shortest, static_cast<int64_t>(std::ceil(per_cycle * 60.0 / out.usable_per_minute)));
    }
  }
  if (possible && shortest <= 86'400)
    out.shortest_interval_s = shortest;
  return out;
}

std::string cacheWarning(const BudgetPlan& plan) {
  if (!plan.belowCachePeriod())
    return {};
  return fmt::format(
      "upstream.interval_s = {} is shorter than the {} s in which CoinGecko refreshes "
      "/coins/markets on plan {}: cycles in between pay for no fresher data; set "
      "upstream.interval_s to {} or more",
      plan.interval_s, plan.cache_period_s, plan.plan, plan.cache_period_s);
}

std::string describeBudget(const BudgetPlan& p) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  const int64_t per_cycle = p.calls.total();
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
  line(fmt::format("tracked: {} = {} call{} per cycle ({} page{} of up to {} coins x {} currenc{})",
                   p.tracked, per_cycle, per_cycle == 1 ? "" : "s",
                   p.calls.top_pages + p.calls.id_pages,
                   p.calls.top_pages + p.calls.id_pages == 1 ? "" : "s", kMaxPerPage,
                   p.calls.currencies, p.calls.currencies == 1 ? "y" : "ies"));
  line(fmt::format("schedule: every {} s = at most {} cycles in a 31-day month", p.interval_s,
                   p.cycles_per_month));
  if (p.monthly_credits > 0) {
    line(
        fmt::format("month: {} x {} cycles = {} calls {} {} credits ({} less {}% "
                    "reserve): {}",
                    calls(per_cycle), p.cycles_per_month, p.calls_per_month,
                    p.fits_month ? "<=" : ">", p.usable_credits, p.monthly_credits,
                    p.reserve_percent, p.fits_month ? "fits" : "DOES NOT FIT"));
  } else {
    line(fmt::format("month: {} x {} cycles = {} calls; the plan has no monthly cap",
                     calls(per_cycle), p.cycles_per_month, p.calls_per_month));
  }
  if (p.calls_per_minute > 0) {
    line(
        fmt::format("minute: {} x 60 / {} s = {:.1f} calls/min {} {:.1f} ({} less {}% "
                    "reserve): {}",
                    calls(per_cycle), p.interval_s, p.needed_per_minute, p.fits_minute ? "<=" : ">",
                    p.usable_per_minute, p.calls_per_minute, p.reserve_percent,
                    p.fits_minute ? "fits" : "DOES NOT FIT"));
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
  if (p.shortest_interval_s) {
    const int64_t s = *p.shortest_interval_s;
    const int64_t cycles = ceilDiv(kMonthSeconds, s);
    line(fmt::format(
        "shortest interval that fits: {} s{}: {} x {} cycles = {} calls a month{}{}", s,
        s >= 60 ? " (" + duration(s) + ")" : "", calls(per_cycle), cycles, per_cycle * cycles,
        p.monthly_credits > 0 ? fmt::format(" <= {}", p.usable_credits) : "",
        s < p.cache_period_s ? fmt::format("; CoinGecko refreshes every {} s, so {} s is the "
                                           "shortest useful one",
                                           p.cache_period_s, p.cache_period_s)
                             : ""));
  } else {
    line(
        "shortest interval that fits: none up to a day; track fewer coins or currencies, or "
        "raise the budget");
  }
  if (auto warning = cacheWarning(p); !warning.empty())
    line("warning: " + warning);
  return out;
}

Error budgetRefusal(const BudgetPlan& p) {
  std::vector<std::string> reasons;
  if (!p.fits_month) {
    reasons.push_back(fmt::format(
        "{} every {} s needs {} calls x {} cycles (31-day month) = {} calls a month, but plan {} "
        "gives {} credits, {} after the {}% retry reserve",
        p.tracked, p.interval_s, p.calls.total(), p.cycles_per_month, p.calls_per_month, p.plan,
        p.monthly_credits, p.usable_credits, p.reserve_percent));
  }
  if (!p.fits_minute) {
    reasons.push_back(fmt::format(
        "{} every {} s needs {} calls x 60 / {} s = {:.1f} calls/min, but plan {} allows {} "
        "calls/min, {:.1f} after the {}% retry reserve",
        p.tracked, p.interval_s, p.calls.total(), p.interval_s, p.needed_per_minute, p.plan,
        p.calls_per_minute, p.usable_per_minute, p.reserve_percent));
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
