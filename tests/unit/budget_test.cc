#include "coingecko/budget.h"

#include <gtest/gtest.h>

#include "coingecko/rate_limiter.h"

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
  EXPECT_EQ(plan.calls_per_month, 4 * 44'640);
  EXPECT_FALSE(plan.fits());
  // At most 9000 / 4 = 2250 cycles: s >= ceil(2678400 / 2250) = 1191.
  ASSERT_TRUE(plan.shortest_interval_s);
  EXPECT_EQ(*plan.shortest_interval_s, 1191);
  const std::string text = describeBudget(plan);
  EXPECT_NE(text.find("verdict: DOES NOT FIT"), std::string::npos) << text;
  EXPECT_NE(text.find("shortest interval that fits: 1191 s (19 min 51 s)"), std::string::npos)
      << text;
  const Error refusal = budgetRefusal(plan);
  EXPECT_EQ(refusal.code, ErrorCode::InvalidArgument);
  EXPECT_NE(refusal.message.find("4 calls x 44640 cycles (31-day month) = 178560 calls a month, "
                                 "but plan demo gives 10000 credits, 9000 after the 10% retry "
                                 "reserve"),
            std::string::npos)
      << refusal.message;
  EXPECT_NE(refusal.message.find("set upstream.interval_s = 1191"), std::string::npos);
  // The shortest interval really fits, and one second less does not.
  auto at = [](int interval) { return planBudget(withPlan("demo", 1000, interval)).fits(); };
  EXPECT_TRUE(at(1191));
  EXPECT_FALSE(at(1190));
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
  EXPECT_EQ(faster.shortest_interval_s, 14) << "ceil(60 / 4.5)";
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
  const BudgetPlan plan = planBudget(withPlan("pro", 10, 20));
  EXPECT_EQ(plan.cache_period_s, 45);
  EXPECT_NE(cacheWarning(plan).find("shorter than the 45 s"), std::string::npos);
  EXPECT_NE(describeBudget(plan).find("warning: "), std::string::npos);
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
  CreditLedger ledger(3);
  const auto july = fromUnixMillis(1'753'455'000'000);    // 2025-07-25
  const auto august = fromUnixMillis(1'754'006'400'000);  // 2025-08-01 00:00 UTC
  ledger.restore("2025-07", 2, july);
  EXPECT_EQ(ledger.used(), 2);
  ledger.restore("2025-07", 1, july);
  EXPECT_EQ(ledger.used(), 2) << "an older count does not lower it";
  ledger.restore("2025-06", 9, july);
  EXPECT_EQ(ledger.used(), 2) << "another month's count does not apply";
  ledger.charge(july);
  EXPECT_TRUE(ledger.exhausted(july));
  EXPECT_EQ(ledger.left(), 0);
  EXPECT_FALSE(ledger.exhausted(august)) << "credits come back with the month";
  EXPECT_EQ(ledger.month(), "2025-08");
  EXPECT_EQ(ledger.used(), 0);
  ledger.applyKeyUsage(KeyUsage{"Other", 500, 1000, 120, 880}, august);
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
  RateLimiter limiter(1, std::chrono::milliseconds(60'000));
  StopSignal stop;
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(limiter.acquire(now + std::chrono::seconds(1), stop));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(limiter.acquire(now + std::chrono::seconds(1), stop));
  // Waiting would take the whole second to the deadline; 500 ms leaves room for a loaded CI.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
}

}  // namespace
}  // namespace coinrelay::coingecko
