#include "coingecko/budget.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "coingecko/rate_limiter.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"

namespace coinrelay::coingecko {
namespace {

config::Config withPlan(const std::string& plan, int top_n, int interval_s,
                        std::vector<std::string> currencies = {"usd"}) {
  config::Config c;
  c.upstream.plan = plan;
  c.upstream.base_url = "https://api.coingecko.com/api/v3";
  c.upstream.top_n = top_n;
  c.upstream.interval_s = interval_s;
  c.upstream.vs_currencies = std::move(currencies);
  c.budget.retry_reserve_percent = 10;
  return c;
}

TEST(BudgetTest, TheSeedScheduleDoesNotFitTheDemoPlan) {
  // Top 50 every 60 s: 44640 calls in a 31-day month against 10000 credits.
  const BudgetPlan plan = planBudget(withPlan("demo", 50, 60));
  EXPECT_EQ(plan.calls.total(), 1);
  EXPECT_EQ(plan.cycles_per_month, 44'640);
  EXPECT_EQ(plan.calls_per_month, 44'640);
  EXPECT_EQ(plan.usable_credits, 9000);
  EXPECT_FALSE(plan.fits_month);
  EXPECT_TRUE(plan.fits_minute);
  // ceil(2678400 / 9000) = 298 s: 8988 cycles of one call.
  EXPECT_EQ(plan.shortest_interval_s, 298);
}

TEST(BudgetTest, AThousandCoinsOnDemoNeedTheShortestIntervalThatFits) {
  const BudgetPlan plan = planBudget(withPlan("demo", 1000, 60));
  EXPECT_EQ(plan.calls.top_pages, 4);
  EXPECT_EQ(plan.planned.strategy, Strategy::CheapestMix);
  // Markets-only: 4 pages every cycle.
  EXPECT_EQ(plan.markets_only.per_month, 4 * 44'640);
  // The mix: a details read (4 pages) every 60 cycles, 2 price batches in the 59 between.
  EXPECT_EQ(plan.calls_per_month, 744 * (4 + 59 * 2));
  ASSERT_EQ(plan.planned.endpoints.size(), 2u);
  EXPECT_EQ(plan.planned.endpoints[0].endpoint, "/simple/price");
  EXPECT_EQ(plan.planned.endpoints[0].per_month, 744 * 59 * 2);
  EXPECT_EQ(plan.planned.endpoints[1].endpoint, "/coins/markets");
  EXPECT_EQ(plan.planned.endpoints[1].every, 60);
  EXPECT_FALSE(plan.fits());
  // Markets-only fits at most 9000 / 4 = 2250 cycles: s >= ceil(2678400 / 2250) = 1191. The mix
  // fits at 696 s: 3849 cycles, a details read every 6 of them.
  EXPECT_EQ(plan.markets_only_shortest_s, 1191);
  ASSERT_TRUE(plan.shortest_interval_s);
  EXPECT_EQ(*plan.shortest_interval_s, 696);
  const std::string text = describeBudget(plan);
  EXPECT_NE(text.find("verdict: DOES NOT FIT"), std::string::npos) << text;
  EXPECT_NE(text.find("shortest interval that fits: 696 s (11 min 36 s): cheapest mix, 8988 "
                      "calls a month <= 9000"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("markets-only: 1191 s (19 min 51 s)"), std::string::npos) << text;
  EXPECT_NE(text.find("saving: 87792 calls a month (49.2% of markets-only)"), std::string::npos)
      << text;
  const Error refusal = budgetRefusal(plan);
  EXPECT_EQ(refusal.code, ErrorCode::InvalidArgument);
  EXPECT_NE(refusal.message.find("needs 90768 calls a month (cheapest mix, 2.03 calls per cycle x "
                                 "44640 cycles of a 31-day month), but plan demo gives 10000 "
                                 "credits, 9000 after the 10% retry reserve"),
            std::string::npos)
      << refusal.message;
  EXPECT_NE(refusal.message.find("set upstream.interval_s = 696"), std::string::npos);
  // The shortest interval really fits, and one second less does not.
  auto at = [](int interval) { return planBudget(withPlan("demo", 1000, interval)).fits(); };
  EXPECT_TRUE(at(696));
  EXPECT_FALSE(at(695));
}

TEST(BudgetTest, TheMixIsAtLeastTwoAndAHalfTimesFasterForThreeCurrenciesOnDemo) {
  const BudgetPlan plan = planBudget(withPlan("demo", 250, 60, {"usd", "eur", "btc"}));
  ASSERT_TRUE(plan.shortest_interval_s && plan.markets_only_shortest_s);
  EXPECT_EQ(*plan.markets_only_shortest_s, 893) << "3 pages a cycle: 3000 cycles";
  EXPECT_EQ(*plan.shortest_interval_s, 352) << "1 price call a cycle, 3 pages every 11";
  EXPECT_GE(static_cast<double>(*plan.markets_only_shortest_s) / *plan.shortest_interval_s, 2.5);
}

TEST(BudgetTest, TheCheapestPlanOfEachTrackedSet) {
  // The whole universe (top 20000) in three currencies on a paid plan, every 60 s.
  const BudgetPlan universe = planBudget(withPlan("pro", 20'000, 60, {"usd", "eur", "btc"}));
  EXPECT_EQ(universe.planned.strategy, Strategy::CheapestMix);
  EXPECT_EQ(universe.markets_only.perCycle(), 240);
  EXPECT_LE(universe.planned.perCycle(), 45) << describeBudget(universe);
  EXPECT_EQ(universe.planned.endpoints.size(), 4u) << "and /coins/list, for coins new to it";
  EXPECT_EQ(universe.planned.peak_per_cycle, 240) << "the details cycle";
  // The top 50 in one currency: one page is as cheap as it gets.
  const BudgetPlan fifty = planBudget(withPlan("pro", 50, 60));
  EXPECT_EQ(fifty.planned.strategy, Strategy::MarketsOnly);
  EXPECT_EQ(fifty.planned.perCycle(), 1);
  // Details every cycle (upstream.details_interval_s at or below the interval): markets-only.
  config::Config every = withPlan("pro", 1000, 60);
  every.upstream.details_interval_s = 60;
  EXPECT_EQ(planBudget(every).planned.strategy, Strategy::MarketsOnly);
}

TEST(BudgetTest, FreshPricesAreBoughtWhenThePlanAffordsThem) {
  // Every 20 s on a paid plan: /coins/markets is refreshed every 45 s, /simple/price every 20 s.
  // Markets-only reads one page every 3 cycles; the mix reads prices every cycle, for more calls
  // that the plan can afford.
  const BudgetPlan plan = planBudget(withPlan("pro", 10, 20));
  EXPECT_EQ(plan.markets_only.endpoints[0].every, 3);
  EXPECT_EQ(plan.planned.strategy, Strategy::CheapestMix);
  EXPECT_GT(plan.calls_per_month, plan.markets_only.per_month);
  EXPECT_TRUE(plan.fits());
  EXPECT_NE(describeBudget(plan).find("more than markets-only, for prices every 20 s instead of "
                                      "every 60 s"),
            std::string::npos)
      << describeBudget(plan);
  // On demo both are refreshed every 60 s: nothing fresher to buy.
  EXPECT_EQ(planBudget(withPlan("demo", 10, 20)).planned.strategy, Strategy::MarketsOnly);
}

TEST(BudgetTest, FiftyCoinsOnAnalystFitWithAMargin) {
  const BudgetPlan plan = planBudget(withPlan("analyst", 50, 60));
  EXPECT_TRUE(plan.fits());
  EXPECT_EQ(plan.calls_per_minute, 500);
  EXPECT_EQ(plan.monthly_credits, 500'000);
  const std::string text = describeBudget(plan);
  EXPECT_NE(text.find("verdict: FITS; margin 405360 credits a month (81.1% of the plan)"),
            std::string::npos)
      << text;
  EXPECT_TRUE(cacheWarning(plan).empty());
}

TEST(BudgetTest, ThePerMinuteLimitBindsLargeSetsAndShortIntervals) {
  // The whole universe on demo: 68 pages a cycle at 27 usable calls a minute.
  config::Config c = withPlan("demo", 17'000, 120);
  c.budget.monthly_credits = 2'000'000'000;
  const BudgetPlan plan = planBudget(c);
  EXPECT_EQ(plan.calls.top_pages, 68);
  EXPECT_TRUE(plan.fits_month);
  EXPECT_FALSE(plan.fits_minute) << "68 calls every 120 s is 34 a minute";
  EXPECT_EQ(plan.shortest_interval_s, 152) << "ceil(68 x 60 / 27)";
  const BudgetPlan faster = planBudget(withPlan("public", 50, 5));
  EXPECT_FALSE(faster.fits_minute) << "12 calls a minute against keyless 5";
  EXPECT_EQ(faster.shortest_interval_s, 60)
      << "ceil(60 / 4.5) = 14 s would fit, but /coins/markets is refreshed every 60 s";
  config::Config mirror = withPlan("public", 50, 5);
  mirror.upstream.base_url = "http://127.0.0.1:8090/api/v3";
  mirror.budget.calls_per_minute = 5;
  EXPECT_EQ(planBudget(mirror).shortest_interval_s, 14)
      << "ceil(60 / 4.5) where no cache period is known";
}

TEST(BudgetTest, IdsAndCurrenciesMultiplyThePages) {
  config::Config c = withPlan("basic", 300, 60, {"usd", "eur", "btc"});
  c.upstream.ids = std::vector<std::string>(260, "x");
  const CallsPerCycle calls = callsPerCycle(c.upstream);
  EXPECT_EQ(calls.top_pages, 2);
  EXPECT_EQ(calls.id_pages, 2);
  EXPECT_EQ(calls.total(), 12);
}

TEST(BudgetTest, OverridesReplaceThePublishedFigures) {
  config::Config c = withPlan("demo", 50, 60);
  c.budget.monthly_credits = 50'000;
  c.budget.calls_per_minute = 100;
  c.budget.retry_reserve_percent = 0;
  const BudgetPlan plan = planBudget(c);
  EXPECT_TRUE(plan.fits());
  EXPECT_EQ(plan.usable_credits, 50'000);
  EXPECT_NE(describeBudget(plan).find("(budget.monthly_credits)"), std::string::npos);
}

TEST(BudgetTest, PollingFasterThanTheCacheDrawsAWarning) {
  const BudgetPlan markets = planBudget(withPlan("demo", 10, 20));
  EXPECT_EQ(markets.cache_period_s, 60);
  EXPECT_NE(cacheWarning(markets).find("shorter than the 60 s in which CoinGecko refreshes "
                                       "/coins/markets"),
            std::string::npos)
      << cacheWarning(markets);
  EXPECT_NE(describeBudget(markets).find("warning: "), std::string::npos);
  const BudgetPlan prices = planBudget(withPlan("pro", 10, 10));
  EXPECT_EQ(prices.planned.strategy, Strategy::CheapestMix);
  EXPECT_NE(cacheWarning(prices).find("shorter than the 20 s in which CoinGecko refreshes "
                                      "/simple/price"),
            std::string::npos)
      << cacheWarning(prices);
  EXPECT_TRUE(cacheWarning(planBudget(withPlan("pro", 10, 20))).empty());
}

TEST(BudgetTest, PaidPlansAndKeylessHaveTheirFacts) {
  ASSERT_NE(findPlan("basic"), nullptr);
  EXPECT_TRUE(findPlan("basic")->paid);
  EXPECT_FALSE(findPlan("demo")->paid);
  EXPECT_EQ(findPlan("public")->monthly_credits, 0) << "keyless: no monthly credits";
  EXPECT_EQ(findPlan("nope"), nullptr);
  EXPECT_TRUE(planBudget(withPlan("public", 50, 60)).fits()) << "the seed's default still runs";
}

TEST(BudgetTest, AnotherUpstreamHasOnlyTheConfiguredLimits) {
  config::Config c = withPlan("demo", 1000, 1);
  c.upstream.base_url = "http://127.0.0.1:8090/api/v3";
  BudgetPlan plan = planBudget(c);
  EXPECT_TRUE(plan.fits()) << "CoinGecko's figures do not bind coinrelay simulate";
  EXPECT_EQ(plan.calls_per_minute, 0);
  c.budget.calls_per_minute = 100;
  plan = planBudget(c);
  EXPECT_EQ(plan.calls_per_minute, 100);
  EXPECT_FALSE(plan.fits()) << "4 pages a second against 90 usable calls a minute";
}

TEST(CreditLedgerTest, CountsRollOverAndNeverGoBackwards) {
  ManualClock clock(fromUnixMillis(1'753'455'000'000));   // 2025-07-25
  const auto august = fromUnixMillis(1'754'006'400'000);  // 2025-08-01 00:00 UTC
  CreditLedger ledger(3, clock);
  ledger.restore("2025-07", 2);
  EXPECT_EQ(ledger.used(), 2);
  ledger.restore("2025-07", 1);
  EXPECT_EQ(ledger.used(), 2) << "an older count does not lower it";
  ledger.restore("2025-06", 9);
  EXPECT_EQ(ledger.used(), 2) << "another month's count does not apply";
  ledger.charge();
  EXPECT_TRUE(ledger.exhausted());
  EXPECT_EQ(ledger.left(), 0);
  clock.advanceTo(august - std::chrono::milliseconds(1));
  EXPECT_TRUE(ledger.exhausted()) << "the last millisecond of July is still July";
  clock.advanceTo(august);
  EXPECT_FALSE(ledger.exhausted()) << "credits come back with the month";
  EXPECT_EQ(ledger.month(), "2025-08");
  EXPECT_EQ(ledger.used(), 0);
  ledger.applyKeyUsage(KeyUsage{"Other", 500, 1000, 120, 880});
  EXPECT_EQ(ledger.used(), 120) << "CoinGecko's own count wins";
  EXPECT_EQ(ledger.left(), 880);
  EXPECT_FALSE(CreditLedger(0).left()) << "no cap, nothing left to count";
}

TEST(MonthTest, IsTheUtcCalendarMonth) {
  EXPECT_EQ(monthOf(fromUnixMillis(1'754'006'399'999)), "2025-07");
  EXPECT_EQ(monthOf(fromUnixMillis(1'754'006'400'000)), "2025-08");
}

TEST(MonthTest, CreditsResetAtTheStartOfTheNextUtcMonth) {
  // 2025-07-31T23:59:59.999Z -> 2025-08-01T00:00:00Z; the month's first instant counts as in it.
  EXPECT_EQ(nextMonthStart(fromUnixMillis(1'754'006'399'999)), fromUnixMillis(1'754'006'400'000));
  EXPECT_EQ(nextMonthStart(fromUnixMillis(1'754'006'400'000)), fromUnixMillis(1'756'684'800'000));
  // December rolls into January of the next year: 2025-12-15 -> 2026-01-01.
  EXPECT_EQ(nextMonthStart(fromUnixMillis(1'765'756'800'000)), fromUnixMillis(1'767'225'600'000));
}

TEST(RateLimiterTest, AllowsTheLimitInAnyWindowAndNoMore) {
  RateLimiter limiter(3, std::chrono::milliseconds(60'000));
  const auto t0 = fromUnixMillis(1'700'000'000'000);
  using std::chrono::milliseconds;
  EXPECT_EQ(limiter.nextSlot(t0), t0);
  limiter.record(t0);
  limiter.record(t0 + milliseconds(10'000));
  limiter.record(t0 + milliseconds(20'000));
  // The fourth must wait until the first left the window.
  EXPECT_EQ(limiter.nextSlot(t0 + milliseconds(30'000)), t0 + milliseconds(60'000));
  limiter.record(t0 + milliseconds(60'000));
  EXPECT_EQ(limiter.nextSlot(t0 + milliseconds(60'000)), t0 + milliseconds(70'000));
  // A full minute followed by a burst is what a token bucket would allow; a window does not.
  EXPECT_EQ(limiter.nextSlot(t0 + milliseconds(61'000)), t0 + milliseconds(70'000));
}

TEST(RateLimiterTest, AHoldDelaysEverything) {
  RateLimiter limiter(0);
  const auto t0 = fromUnixMillis(1'700'000'000'000);
  EXPECT_EQ(limiter.nextSlot(t0), t0) << "0: no limit";
  limiter.holdUntil(t0 + std::chrono::seconds(5));
  EXPECT_EQ(limiter.nextSlot(t0), t0 + std::chrono::seconds(5));
  limiter.holdUntil(t0 + std::chrono::seconds(2));
  EXPECT_EQ(limiter.nextSlot(t0), t0 + std::chrono::seconds(5)) << "holds only extend";
}

TEST(RateLimiterTest, AcquireGivesUpAtOnceWhenNoSlotOpensBeforeTheDeadline) {
  // In virtual time: any wait would move the clock.
  ManualClock clock(fromUnixMillis(1'700'000'000'000), /*auto_advance=*/true);
  RateLimiter limiter(1, std::chrono::milliseconds(60'000), clock);
  StopSignal stop;
  const auto t0 = clock.now();
  EXPECT_TRUE(limiter.acquire(t0 + std::chrono::seconds(1), stop));
  EXPECT_FALSE(limiter.acquire(t0 + std::chrono::seconds(59), stop));
  EXPECT_EQ(clock.now(), t0) << "no slot before the deadline: nothing was waited for";
}

TEST(RateLimiterTest, AcquireWaitsOnTheClockForTheNextSlot) {
  ManualClock clock(fromUnixMillis(1'700'000'000'000), /*auto_advance=*/true);
  RateLimiter limiter(2, std::chrono::milliseconds(60'000), clock);
  StopSignal stop;
  const auto t0 = clock.now();
  const auto deadline = t0 + std::chrono::minutes(5);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(limiter.acquire(deadline, stop));
  // 2 at t0, 2 at t0 + 60 s, the fifth at t0 + 120 s.
  EXPECT_EQ(clock.now(), t0 + std::chrono::seconds(120));
  EXPECT_EQ(limiter.inWindow(), 1);
}

TEST(RateLimiterTest, AStopEndsTheWaitForASlot) {
  ManualClock clock(fromUnixMillis(1'700'000'000'000));  // moves only when told
  RateLimiter limiter(1, std::chrono::milliseconds(60'000), clock);
  StopSignal stop;
  const auto deadline = clock.now() + std::chrono::minutes(5);
  ASSERT_TRUE(limiter.acquire(deadline, stop));
  std::atomic<int> second{-1};
  std::thread waiter([&] { second = limiter.acquire(deadline, stop) ? 1 : 0; });
  for (int i = 0; i < 5000 && clock.sleepers() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(clock.sleepers(), 1) << "the second acquire waits for its slot";
  stop.request();
  waiter.join();
  EXPECT_EQ(second, 0) << "a stop ends the wait";
  EXPECT_EQ(limiter.inWindow(), 1) << "and takes no slot";
}

// The upstream budget, in virtual time.

constexpr auto kJuly25 = 1'753'455'000'000;  // 2025-07-25T14:50:00Z

BudgetLimits limits(int per_minute, int monthly, int per_cycle, int on_demand_cap,
                    int interval_s = 60) {
  BudgetLimits out;
  out.calls_per_minute = per_minute;
  out.monthly_credits = monthly;
  out.calls_per_cycle = per_cycle;
  out.interval_s = interval_s;
  out.on_demand_per_window = on_demand_cap;
  return out;
}

TEST(UpstreamBudgetTest, ScheduledCallsWaitForTheWindowAndNeverPassTheDeadline) {
  ManualClock clock(fromUnixMillis(kJuly25), /*auto_advance=*/true);
  StopSignal stop;
  UpstreamBudget budget(limits(3, 0, 3, 0), stop, {}, clock);
  const auto t0 = clock.now();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(budget.admitScheduled(t0 + std::chrono::seconds(30)));
  EXPECT_EQ(clock.now(), t0) << "three calls fit the window at once";
  auto refused = budget.admitScheduled(t0 + std::chrono::seconds(30));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::ResourceExhausted);
  EXPECT_NE(refused.error().message.find("3 calls per minute"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(clock.now(), t0) << "a slot after the deadline is not waited for";
  ASSERT_TRUE(budget.admitScheduled(t0 + std::chrono::minutes(2)));
  EXPECT_EQ(clock.now(), t0 + RateLimiter::kDefaultWindow) << "the first call left the window";
  EXPECT_EQ(budget.credits().used(), 4) << "every admitted call is charged";
}

TEST(UpstreamBudgetTest, APauseTheUpstreamAskedForHoldsBothKinds) {
  ManualClock clock(fromUnixMillis(kJuly25), /*auto_advance=*/true);
  StopSignal stop;
  UpstreamBudget budget(limits(0, 0, 1, 0), stop, {}, clock);
  const auto t0 = clock.now();
  budget.holdFor(std::chrono::seconds(30));
  auto on_demand = budget.admitOnDemand();
  ASSERT_FALSE(on_demand);
  EXPECT_NE(on_demand.error().message.find("pause"), std::string::npos);
  ASSERT_TRUE(budget.admitScheduled(t0 + std::chrono::minutes(1)));
  EXPECT_EQ(clock.now(), t0 + std::chrono::seconds(30)) << "the scheduled call waited";
  EXPECT_TRUE(budget.admitOnDemand()) << "and the pause is over for everyone";
}

TEST(UpstreamBudgetTest, OnDemandCallsLeaveTheScheduleItsShareOfTheWindow) {
  ManualClock clock(fromUnixMillis(kJuly25));
  StopSignal stop;
  UpstreamBudget budget(limits(5, 0, 2, 0), stop, {}, clock);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(budget.admitOnDemand()) << i;
  auto refused = budget.admitOnDemand();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::ResourceExhausted);
  EXPECT_NE(refused.error().message.find("the schedule keeps 2 of the 5 calls per minute"),
            std::string::npos)
      << refused.error().message;
  // The schedule's two calls are there without waiting.
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
  EXPECT_EQ(budget.callsInWindow(), 5);
  EXPECT_EQ(budget.onDemandInWindow(), 3);
  clock.advance(RateLimiter::kDefaultWindow);
  EXPECT_TRUE(budget.admitOnDemand()) << "the window moved on";
}

TEST(UpstreamBudgetTest, TheOnDemandCapCountsInTheSameWindowAsTheSchedule) {
  ManualClock clock(fromUnixMillis(kJuly25));
  StopSignal stop;
  UpstreamBudget budget(limits(10, 0, 1, 2), stop, {}, clock);
  EXPECT_TRUE(budget.admitOnDemand());
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(budget.admitOnDemand());
  auto capped = budget.admitOnDemand();
  ASSERT_FALSE(capped);
  EXPECT_NE(capped.error().message.find("the 2 on-demand calls of this minute are spent "
                                        "(serve.miss_calls_per_minute)"),
            std::string::npos)
      << capped.error().message;
  // The cap is the on-demand share only: scheduled calls still fit the window.
  for (int i = 0; i < 8; ++i)
    EXPECT_TRUE(budget.admitScheduled(clock.now())) << i;
  EXPECT_FALSE(budget.admitScheduled(clock.now())) << "10 calls are the window's limit";
  // 31 s later the first on-demand call has left the window (61 s): one more on-demand call,
  // if the window has room for it and the schedule's one call.
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(budget.onDemandInWindow(), 1);
  EXPECT_FALSE(budget.admitOnDemand()) << "9 calls in the window, 1 kept for the schedule";
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(budget.admitOnDemand());
}

TEST(UpstreamBudgetTest, OnDemandCallsNeverTakeTheCreditsOfTheCyclesLeftInTheMonth) {
  // 2025-07-31T23:00:00Z: one hour, so 60 cycles of 2 calls (and the current one), are left.
  ManualClock clock(fromUnixMillis(1'754'002'800'000));
  StopSignal stop;
  UpstreamBudget budget(limits(0, 100'000, 2, 0), stop, {}, clock);
  budget.restoreCredits("2025-07", 100'000 - 123);  // 123 left: 61 cycles x 2 = 122 kept
  EXPECT_TRUE(budget.admitOnDemand());
  auto refused = budget.admitOnDemand();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("the 122 credits left in 2025-07 are kept for the "
                                         "schedule (61 cycles x 2 calls"),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(budget.admitScheduled(clock.now())) << "the schedule may spend them";
  EXPECT_EQ(budget.credits().used(), 100'000 - 121);
  // The month turns: the count starts again, and August's 44641 cycles x 2 calls leave room.
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(budget.admitOnDemand());
  EXPECT_EQ(budget.credits().month(), "2025-08");
  EXPECT_EQ(budget.credits().used(), 1);
}

TEST(UpstreamBudgetTest, ExhaustedCreditsRefuseScheduledCallsUntilTheMonthTurns) {
  ManualClock clock(fromUnixMillis(1'754'002'800'000));  // 2025-07-31T23:00:00Z
  StopSignal stop;
  UpstreamBudget budget(limits(0, 2, 1, 0), stop, {}, clock);
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
  auto refused = budget.admitScheduled(clock.now() + std::chrono::minutes(1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::FailedPrecondition);
  EXPECT_NE(refused.error().message.find("the 2 credits of 2025-07 are used up"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(budget.creditsExhausted());
  clock.advance(std::chrono::hours(1));
  EXPECT_FALSE(budget.creditsExhausted());
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
}

TEST(UpstreamBudgetTest, OnlyTheLeaderAndNeverAStoppingProcessCalls) {
  ManualClock clock(fromUnixMillis(kJuly25));
  StopSignal stop;
  std::atomic<bool> leading{false};
  UpstreamBudget budget(
      limits(0, 0, 1, 0), stop, [&] { return leading.load(); }, clock);
  for (auto admitted : {budget.admitScheduled(clock.now()), budget.admitOnDemand()}) {
    ASSERT_FALSE(admitted);
    EXPECT_EQ(admitted.error().code, ErrorCode::FailedPrecondition);
    EXPECT_NE(admitted.error().message.find("not the active fetcher"), std::string::npos);
  }
  leading = true;
  EXPECT_TRUE(budget.admitScheduled(clock.now()));
  EXPECT_TRUE(budget.admitOnDemand());
  stop.request();
  for (auto admitted : {budget.admitScheduled(clock.now()), budget.admitOnDemand()}) {
    ASSERT_FALSE(admitted);
    EXPECT_EQ(admitted.error().code, ErrorCode::Unavailable);
  }
  EXPECT_EQ(budget.credits().used(), 2) << "refused calls cost nothing";
}

TEST(UpstreamBudgetTest, TheKeysFiguresReplaceTheCountAndLowerTheRate) {
  ManualClock clock(fromUnixMillis(kJuly25));
  StopSignal stop;
  UpstreamBudget budget(limits(500, 10'000, 1, 0), stop, {}, clock);
  budget.applyKeyUsage(KeyUsage{"Analyst", 250, 500'000, 1234, 498'766});
  EXPECT_EQ(budget.callsPerMinute(), 250);
  EXPECT_EQ(budget.credits().used(), 1234);
  EXPECT_EQ(budget.credits().monthlyCredits(), 500'000);
  budget.applyKeyUsage(KeyUsage{"Analyst", 1000, 500'000, 1300, 498'700});
  EXPECT_EQ(budget.callsPerMinute(), 250) << "a higher figure never raises the limit";
}

TEST(UpstreamBudgetTest, TheConfigurationGivesTheLimits) {
  auto c = withPlan("demo", 300, 300, {"usd", "eur"});
  c.serve.miss_calls_per_minute = 7;
  const BudgetLimits l = budgetLimitsFor(c, planBudget(c));
  EXPECT_EQ(l.calls_per_minute, 30);
  EXPECT_EQ(l.monthly_credits, 10'000);
  EXPECT_EQ(l.calls_per_cycle, 4) << "2 pages x 2 currencies";
  EXPECT_NEAR(l.mean_calls_per_cycle, (4 + 11 * 1) / 12.0, 0.01)
      << "the mix: details every 12 cycles, one price call in the 11 between";
  auto mix = withPlan("demo", 1000, 700);
  const BudgetLimits m = budgetLimitsFor(mix, planBudget(mix));
  EXPECT_EQ(m.calls_per_cycle, 4) << "the details cycle is the heaviest";
  EXPECT_NEAR(m.mean_calls_per_cycle, (4 + 5 * 2) / 6.0, 0.01) << "details every 6 cycles";
  EXPECT_EQ(l.interval_s, 300);
  EXPECT_EQ(l.on_demand_per_window, 7);
}

}  // namespace
}  // namespace coinrelay::coingecko
