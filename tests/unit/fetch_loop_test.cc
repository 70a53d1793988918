#include "pipeline/fetch_loop.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/miss_fetcher.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "simulate/simulator.h"
#include "support/fake_http_server.h"

namespace coinrelay::pipeline {
namespace {

using coingecko::BudgetLimits;
using coingecko::UpstreamBudget;
using std::chrono::milliseconds;
using std::chrono::seconds;

/// Polls `check` every few milliseconds until it holds or `timeout` passes (waits for an event
/// of another thread without a fixed sleep).
template <class Check>
bool pollUntil(Check check, milliseconds timeout = seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!check()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

/// A sink that keeps what it was given, and can be told to fail.
class RecordingSink final : public sinks::Sink {
 public:
  std::string_view name() const override { return "recording"; }
  Status deliver(std::span<const model::Quote> batch) override {
    if (fail || deliveries++ == refused_delivery)
      return makeError(ErrorCode::Unavailable, "told to fail");
    batches.emplace_back(batch.begin(), batch.end());
    return {};
  }
  std::vector<std::vector<model::Quote>> batches;
  bool fail = false;
  size_t deliveries = 0;
  size_t refused_delivery = SIZE_MAX;  ///< the one delivery (0: the first) refused
};

/// The simulator served on a loopback port picked by the kernel (a hermetic upstream), and a
/// clock in virtual time: every wait of the loop, the client and the budget (backoff,
/// retry-after, rate slots, the schedule) jumps the clock instead of sleeping.
class FetchLoopTest : public ::testing::Test {
 protected:
  void startUpstream(simulate::FaultOptions faults, int coins = 300) {
    simulate::MarketOptions market;
    market.coins = coins;
    market.update_interval_ms = 0;
    simulator_ = std::make_unique<simulate::Simulator>(market, faults);
    server_ = std::move(net::HttpServer::start("127.0.0.1:0", [this](const net::Request& r) {
                          if (!r.path.starts_with("/_sim")) {
                            std::lock_guard lock(times_mutex_);
                            times_.push_back(toUnixMillis(clock_.now()));
                          }
                          return simulator_->handle(r);
                        }).value());
    config_.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v3";
    config_.plan = "public";
    config_.vs_currencies = {"usd"};
    config_.timeout_ms = 2000;
    config_.max_attempts = 4;
  }
  std::string stats() { return simulator_->statsJson(); }
  /// When the upstream received each request, on the test's clock.
  std::vector<int64_t> requestTimes() {
    std::lock_guard lock(times_mutex_);
    return times_;
  }
  void post(const std::string& path, std::map<std::string, std::string> query) {
    net::Request request;
    request.method = "POST";
    request.path = path;
    request.query = std::move(query);
    simulator_->handle(request);
  }
  /// A budget on the test's clock (no limits by default), following `coordinator`'s lead.
  UpstreamBudget& budget(BudgetLimits limits = {}, const Coordinator* coordinator = nullptr) {
    budgets_.push_back(std::make_unique<UpstreamBudget>(
        limits, stop_, coordinator ? leadershipOf(*coordinator) : UpstreamBudget::Leadership{},
        clock_));
    return *budgets_.back();
  }
  SystemTime in(seconds from_now) const { return clock_.now() + from_now; }

  ManualClock clock_{fromUnixMillis(1'750'000'000'000), /*auto_advance=*/true};
  config::UpstreamConfig config_;
  StopSignal stop_;
  std::vector<std::unique_ptr<UpstreamBudget>> budgets_;
  std::unique_ptr<simulate::Simulator> simulator_;
  std::unique_ptr<net::HttpServer> server_;
  std::mutex times_mutex_;
  std::vector<int64_t> times_;
};

/// A miss fetcher whose calls are on-demand admissions of `budget`, as in `coinrelay run`.
std::unique_ptr<api::MissFetcher> missesThrough(UpstreamBudget& budget,
                                                const config::UpstreamConfig& upstream) {
  auto misses = std::make_unique<api::MissFetcher>(upstream, seconds(60), budget.clock());
  misses->setBudget(&budget);
  return misses;
}

BudgetLimits limits(int per_minute, int monthly, int per_cycle) {
  BudgetLimits out;
  out.calls_per_minute = per_minute;
  out.monthly_credits = monthly;
  out.calls_per_cycle = per_cycle;
  return out;
}

TEST_F(FetchLoopTest, OneCycleFetchesTheTopCoinsInOneCall) {
  startUpstream({});
  config_.top_n = 50;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  EXPECT_TRUE(report.upstream_ok && report.sinks_ok) << report.error;
  ASSERT_EQ(sink.batches.size(), 1u);
  ASSERT_EQ(sink.batches[0].size(), 50u);
  EXPECT_EQ(sink.batches[0][0].id, "bitcoin");
  EXPECT_EQ(sink.batches[0][49].market_cap_rank, 50);
  EXPECT_EQ(sink.batches[0][0].fetched_ms, toUnixMillis(clock_.now()))
      << "quotes carry the fetch time of the loop's clock";
  EXPECT_EQ(report.started_ms, toUnixMillis(clock_.now()));
  EXPECT_EQ(loop.upstreamStats().requests.load(), 1u);
  EXPECT_NE(stats().find(R"("/api/v3/coins/markets":{"200":1,"total":1})"), std::string::npos)
      << stats();
}

TEST_F(FetchLoopTest, TopNBeyondOnePageUsesTheFewestPages) {
  startUpstream({}, 600);
  config_.top_n = 260;  // 250 + 10: two calls, not three
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  ASSERT_EQ(report.delivered, 260u) << report.error;
  EXPECT_EQ(loop.upstreamStats().requests.load(), 2u);
  EXPECT_EQ(sink.batches[0].back().market_cap_rank, 260);
}

TEST_F(FetchLoopTest, RetriesRateLimitsAndServerErrorsWithinTheCycle) {
  simulate::FaultOptions faults;
  faults.rate_limited = 0.3;
  faults.server_error = 0.3;
  faults.retry_after_s = 0;
  startUpstream(faults);
  config_.top_n = 20;
  config_.max_attempts = 20;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  for (int cycle = 0; cycle < 3; ++cycle) {
    CycleReport report = loop.runCycle(in(seconds(60)));
    EXPECT_EQ(report.fetched, 20u) << report.error;
    EXPECT_TRUE(report.upstream_ok) << report.error;
  }
  EXPECT_GT(loop.upstreamStats().requests.load(), 3u) << "faults were retried";
  EXPECT_GT(loop.upstreamStats().failures.load(), 0u);
}

TEST_F(FetchLoopTest, SurvivesAnUpstreamThatOnlySendsGarbage) {
  simulate::FaultOptions faults;
  faults.truncated = 0.5;
  faults.html = 0.5;
  startUpstream(faults);
  config_.top_n = 20;
  config_.max_attempts = 3;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(30)));
  EXPECT_FALSE(report.upstream_ok);
  EXPECT_EQ(report.delivered, 0u);
  EXPECT_TRUE(sink.batches.empty()) << "nothing half-parsed is published";
  EXPECT_EQ(loop.upstreamStats().requests.load(), 3u) << "max_attempts bounds the retries";
}

TEST_F(FetchLoopTest, NeverRetriesPastTheCycleDeadline) {
  simulate::FaultOptions faults;
  faults.server_error = 1.0;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  const auto deadline = in(seconds(20));
  CycleReport report = loop.runCycle(deadline);
  EXPECT_FALSE(report.upstream_ok);
  // 20 attempts with backoff (0.5 s doubling to 30 s) would take minutes.
  EXPECT_LE(clock_.now(), deadline) << "the retries stopped before the deadline";
  EXPECT_GE(report.requests, 3u);
  EXPECT_LT(report.requests, 20u);
  for (int64_t at : requestTimes())
    EXPECT_LT(at, toUnixMillis(deadline));
}

TEST_F(FetchLoopTest, AnUnreachableUpstreamIsAFailedCycleNotACrash) {
  config_.base_url = "http://127.0.0.1:1/api/v3";
  config_.plan = "public";
  config_.vs_currencies = {"usd"};
  config_.top_n = 5;
  config_.timeout_ms = 500;
  config_.max_attempts = 2;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  EXPECT_FALSE(report.upstream_ok);
  EXPECT_NE(report.error.find("127.0.0.1:1"), std::string::npos) << report.error;
}

TEST_F(FetchLoopTest, AFailingSinkMarksTheCycleUndelivered) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink good, bad;
  bad.fail = true;
  FetchLoop loop(config_, {&good, &bad}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  EXPECT_FALSE(report.sinks_ok);
  EXPECT_EQ(report.delivered, 0u);
  EXPECT_NE(report.error.find("recording: told to fail"), std::string::npos);
}

// A cycle is delivered in batches (here one per currency): a batch every sink acknowledged is
// not sent again, a batch one sink refused is, in full, by the next cycle.
TEST_F(FetchLoopTest, ABatchASinkRefusedIsSentAgainByTheNextCycle) {
  startUpstream({});
  config_.top_n = 5;
  config_.vs_currencies = {"usd", "eur"};
  RecordingSink good, flaky;
  flaky.refused_delivery = 1;  // eur
  FetchLoop loop(config_, {&good, &flaky}, stop_, budget());
  CycleReport first = loop.runCycle(in(seconds(10)));
  EXPECT_FALSE(first.sinks_ok) << "the cycle is not delivered";
  EXPECT_EQ(first.delivered, 5u) << "usd, acknowledged by both sinks";
  CycleReport second = loop.runCycle(in(seconds(10)));
  EXPECT_TRUE(second.sinks_ok) << second.error;
  EXPECT_EQ(second.delivered, 5u);
  EXPECT_EQ(second.unchanged, 5u);
  ASSERT_EQ(flaky.batches.size(), 2u);
  for (const auto& quote : flaky.batches[1])
    EXPECT_EQ(quote.vs_currency, "eur");
  EXPECT_EQ(good.batches.size(), 3u) << "the sink that took eur gets it again (idempotent)";
}

TEST_F(FetchLoopTest, RunStopsAfterTheRequestedCycles) {
  startUpstream({});
  config_.top_n = 3;
  config_.interval_s = 60;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  EXPECT_EQ(loop.run(3), 3);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(sink.batches.size(), 1u) << "the frozen market's later cycles have nothing new";
  EXPECT_EQ(reports[1].unchanged, 3u);
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].slot_ms - reports[i - 1].slot_ms, 60'000) << "successive slots";
    EXPECT_EQ(reports[i].started_ms, reports[i].slot_ms) << "a cycle starts on its tick";
    EXPECT_EQ(reports[i].slot_ms % 60'000, 0) << "ticks are aligned on the wall clock";
  }
  const std::vector<int64_t> times = requestTimes();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[2] - times[1], 60'000);
}

TEST_F(FetchLoopTest, UnchangedQuotesAreNotPublishedAgain) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  EXPECT_EQ(loop.runCycle(in(seconds(10))).delivered, 5u);
  CycleReport second = loop.runCycle(in(seconds(10)));
  EXPECT_EQ(second.delivered, 0u);
  EXPECT_EQ(second.unchanged, 5u);
  EXPECT_TRUE(second.upstream_ok && second.sinks_ok);
  post("/_sim/price", {{"id", "bitcoin"}, {"usd", "70000"}});
  CycleReport third = loop.runCycle(in(seconds(10)));
  EXPECT_EQ(third.delivered, 1u) << "only bitcoin's last_updated moved";
  EXPECT_EQ(third.unchanged, 4u);
  ASSERT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(sink.batches[1][0].id, "bitcoin");
  EXPECT_EQ(*sink.batches[1][0].price, 70000);
}

TEST_F(FetchLoopTest, PublishUnchangedRepublishesEverything) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink sink;
  FetchOptions options;
  options.publish_unchanged = true;
  FetchLoop loop(config_, {&sink}, stop_, budget(), options);
  loop.runCycle(in(seconds(10)));
  CycleReport second = loop.runCycle(in(seconds(10)));
  EXPECT_EQ(second.delivered, 5u);
  EXPECT_EQ(second.unchanged, 0u);
}

TEST_F(FetchLoopTest, TopNAndIdsAndCurrenciesInTheFewestCalls) {
  startUpstream({}, 300);
  config_.top_n = 5;
  // bitcoin is already in the top 5 (no call for it); the rank-280 coin needs one more page.
  config_.ids = {"bitcoin", "simcoin-280", "no-such-coin"};
  config_.vs_currencies = {"usd", "eur"};
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  EXPECT_TRUE(report.upstream_ok) << report.error;
  EXPECT_EQ(report.requests, 4u) << "(1 top page + 1 ids page) x 2 currencies";
  ASSERT_EQ(sink.batches.size(), 2u) << "one delivery per currency, once its pages are read";
  std::set<std::string> ids_usd;
  size_t eur = 0;
  for (const auto& batch : sink.batches) {
    for (const auto& quote : batch) {
      if (quote.vs_currency == "usd")
        ids_usd.insert(quote.id);
      eur += quote.vs_currency == "eur";
    }
  }
  EXPECT_EQ(report.delivered, 12u);
  EXPECT_EQ(ids_usd.size(), 6u);
  EXPECT_TRUE(ids_usd.contains("simcoin-280"));
  EXPECT_EQ(eur, 6u);
}

TEST_F(FetchLoopTest, InvalidItemsAreSkippedAndTheRestPublished) {
  simulate::FaultOptions faults;
  faults.invalid_items = 0.2;
  startUpstream(faults);
  config_.top_n = 50;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  CycleReport report = loop.runCycle(in(seconds(10)));
  EXPECT_TRUE(report.upstream_ok) << "a page with some bad items is still a good page";
  EXPECT_GT(report.invalid, 0u);
  EXPECT_EQ(report.fetched + report.invalid, 50u);
  EXPECT_EQ(report.delivered, report.fetched);
}

TEST_F(FetchLoopTest, TheRateLimitHoldsUnderRetries) {
  simulate::FaultOptions faults;
  faults.server_error = 1.0;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  RecordingSink sink;
  // 2 calls per window of 61 s, the production window.
  FetchLoop loop(config_, {&sink}, stop_, budget(limits(2, 0, 1)));
  CycleReport report = loop.runCycle(in(seconds(300)));
  EXPECT_FALSE(report.upstream_ok);
  const std::vector<int64_t> times = requestTimes();
  ASSERT_GE(times.size(), 5u) << "the backoff retried past the first windows";
  // As the upstream received them: never more than 2 in any window, although the first
  // backoff waits are far shorter.
  for (size_t i = 2; i < times.size(); ++i)
    EXPECT_GE(times[i] - times[i - 2], 61'000) << "requests " << i - 2 << " and " << i;
  EXPECT_LT(times[1] - times[0], 2'000) << "the first two go at the backoff's pace";
  EXPECT_EQ(report.requests, times.size()) << "every request counts, retries included";
}

TEST_F(FetchLoopTest, RetryAfterHoldsEveryRequest) {
  simulate::FaultOptions faults;
  faults.rate_limited = 1.0;
  faults.retry_after_s = 40;  // longer than any backoff wait (at most 30 s)
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  loop.runCycle(in(seconds(180)));
  const std::vector<int64_t> times = requestTimes();
  ASSERT_GE(times.size(), 3u);
  for (size_t i = 1; i < times.size(); ++i)
    EXPECT_EQ(times[i] - times[i - 1], 40'000) << "retry-after: 40 was honoured, no longer";
  EXPECT_EQ(loop.status().state, UpstreamState::BackingOff);
}

TEST_F(FetchLoopTest, ARetryAfterOfTheScheduleHoldsOnDemandCallsToo) {
  simulate::FaultOptions faults;
  faults.rate_limited = 1.0;
  faults.retry_after_s = 40;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 1;
  RecordingSink sink;
  UpstreamBudget& shared = budget();
  FetchLoop loop(config_, {&sink}, stop_, shared);
  auto misses = missesThrough(shared, config_);
  loop.runCycle(in(seconds(60)));
  ASSERT_EQ(requestTimes().size(), 1u);
  clock_.advance(seconds(39));
  auto held = misses->ask("/simple/price?ids=simcoin-280&vs_currencies=usd");
  EXPECT_EQ(held.status, 429);
  EXPECT_NE(held.body.find("pause"), std::string::npos) << held.body;
  EXPECT_EQ(requestTimes().size(), 1u) << "nothing is sent during the pause";
  clock_.advance(seconds(1));
  misses->ask("/simple/price?ids=simcoin-281&vs_currencies=usd");
  EXPECT_EQ(requestTimes().size(), 2u) << "the pause is over after 40 s";
}

TEST_F(FetchLoopTest, ExhaustedCreditsStopEveryRequest) {
  simulate::FaultOptions faults;
  faults.server_error = 1.0;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  RecordingSink sink;
  UpstreamBudget& credits = budget(limits(0, 3, 1));
  FetchLoop loop(config_, {&sink}, stop_, credits);
  CycleReport first = loop.runCycle(in(seconds(60)));
  EXPECT_EQ(first.requests, 3u) << "the third credit was the last";
  CycleReport second = loop.runCycle(in(seconds(60)));
  EXPECT_EQ(second.requests, 0u);
  EXPECT_EQ(requestTimes().size(), 3u);
  EXPECT_EQ(loop.status().state, UpstreamState::BudgetExhausted);
  EXPECT_EQ(loop.status().credits_used, 3);
  EXPECT_EQ(credits.credits().left(), 0);
}

TEST_F(FetchLoopTest, ACycleWithNoCreditsLeftIsSkippedUntilTheMonthTurns) {
  startUpstream({});
  config_.top_n = 5;
  config_.interval_s = 3600;
  // 2025-06-30T22:00:00Z: the last two hours of June, its 2 credits used up.
  clock_.advanceTo(fromUnixMillis(1'751'320'800'000));
  UpstreamBudget& credits = budget(limits(0, 2, 1));
  credits.restoreCredits("2025-06", 2);
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, credits);
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  loop.run(3);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_TRUE(reports[0].skipped && reports[1].skipped) << "22:00 and 23:00 of June";
  EXPECT_FALSE(reports[2].skipped) << "midnight: July's credits";
  EXPECT_TRUE(reports[2].upstream_ok) << reports[2].error;
  EXPECT_EQ(requestTimes(), (std::vector<int64_t>{1'751'328'000'000}));
  EXPECT_EQ(credits.credits().month(), "2025-07");
  EXPECT_EQ(credits.credits().used(), 1);
}

/// The calls the simulator counted for `path` (its /_sim/stats), 0 when none.
int64_t countedCalls(const std::string& stats, const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(stats);
  int64_t total = 0;
  if (doc["paths"][path]["total"].get(total) != simdjson::SUCCESS)
    return 0;
  return total;
}

TEST_F(FetchLoopTest, TheTopFiftyInOneCurrencyStillCostsOneCallPerCycle) {
  startUpstream({});
  config_.top_n = 50;
  config_.interval_s = 60;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  EXPECT_EQ(loop.run(20), 20);
  EXPECT_EQ(countedCalls(stats(), "/api/v3/coins/markets"), 20) << stats();
  EXPECT_EQ(countedCalls(stats(), "/api/v3/simple/price"), 0) << stats();
}

TEST_F(FetchLoopTest, TheCheapestMixCountedUpstream) {
  startUpstream({}, 700);
  config_.top_n = 600;
  config_.vs_currencies = {"usd", "eur", "btc"};
  config_.interval_s = 60;
  config_.details_interval_s = 3600;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) {
    reports.push_back(report);
    if (reports.size() == 30)  // bitcoin moves: the next prices cycle publishes it
      post("/_sim/price", {{"id", "bitcoin"}, {"usd", "71234.5"}});
  });
  EXPECT_EQ(loop.run(61), 61);  // an hour and the next details cycle
  // Markets-only would be 3 pages x 3 currencies = 9 calls every cycle, 549 in all.
  EXPECT_EQ(countedCalls(stats(), "/api/v3/coins/markets"), 18) << "two details reads";
  EXPECT_EQ(countedCalls(stats(), "/api/v3/simple/price"), 59 * 2)
      << "2 batches of up to 515 coins, every currency at once";
  EXPECT_EQ(countedCalls(stats(), "/api/v3/coins/list"), 0)
      << "the top 600 of 700 coins is not the whole universe";
  EXPECT_EQ(reports[0].kind, CycleKind::Details);
  EXPECT_EQ(reports[1].kind, CycleKind::Prices);
  EXPECT_EQ(reports[60].kind, CycleKind::Details);
  for (const auto& report : reports)
    EXPECT_TRUE(report.upstream_ok && report.fetched == 1800) << report.error;

  // The frozen market's coins were published once; bitcoin again when it moved, in each
  // currency, from /simple/price with its details of the first cycle.
  ASSERT_EQ(sink.batches.size(), 4u) << "the details cycle's currencies, then bitcoin";
  for (size_t currency = 0; currency < 3; ++currency)
    EXPECT_EQ(sink.batches[currency].size(), 600u) << "each currency as soon as it is read";
  ASSERT_EQ(sink.batches[3].size(), 3u);
  const model::Quote& moved = sink.batches[3][0];
  EXPECT_EQ(moved.id, "bitcoin");
  EXPECT_EQ(moved.price, 71234.5);
  EXPECT_EQ(moved.price_fetched_ms, moved.fetched_ms);
  EXPECT_EQ(moved.details_fetched_ms, sink.batches[0][0].fetched_ms);
  EXPECT_EQ(*moved.price_fetched_ms - *moved.details_fetched_ms,
            reports[30].started_ms - reports[0].started_ms)
      << "the prices of cycle 30, the details of cycle 0";
  EXPECT_EQ(moved.name, "Bitcoin");
  EXPECT_EQ(moved.market_cap_rank, 1);
  EXPECT_EQ(moved.last_updated_ms % 1000, 0) << "/simple/price gives whole seconds";
}

TEST_F(FetchLoopTest, TheMixRetriesFaultsOfEveryEndpoint) {
  simulate::FaultOptions faults;
  faults.rate_limited = 0.15;
  faults.server_error = 0.1;
  faults.truncated = 0.05;
  faults.html = 0.05;
  faults.retry_after_s = 0;
  startUpstream(faults, 700);
  config_.top_n = 600;
  config_.vs_currencies = {"usd", "eur"};
  config_.interval_s = 300;  // room for the retries' backoff within each cycle
  config_.details_interval_s = 1500;
  config_.max_attempts = 20;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget());
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  EXPECT_EQ(loop.run(12), 12);
  for (const auto& report : reports) {
    EXPECT_TRUE(report.upstream_ok) << report.error;
    EXPECT_EQ(report.fetched, 1200u);
  }
  EXPECT_GT(loop.upstreamStats().failures.load(), 0u) << "faults were met, and retried";
  EXPECT_EQ(reports[5].kind, CycleKind::Details) << "details every 5 cycles";
}

TEST_F(FetchLoopTest, TheSimulatedUpstreamRefusesWhatCoinGeckoRefuses) {
  startUpstream({}, 600);
  net::HttpClient http;
  const auto get = [&](const std::string& path) { return http.get(config_.base_url + path); };
  std::string ids;
  for (int i = 1; i <= 516; ++i)
    ids += (i == 1 ? "simcoin-" : ",simcoin-") + std::to_string(i);
  auto price = get("/simple/price?vs_currencies=usd&ids=" + ids);
  ASSERT_TRUE(price);
  EXPECT_EQ(price->status, 400);
  EXPECT_EQ(price->body, R"j({"error":"too many ids (at most 515)"})j");
  ids.resize(ids.rfind(','));  // 515
  EXPECT_EQ(get("/simple/price?vs_currencies=usd&ids=" + ids)->status, 200);
  ids.resize(ids.find(",simcoin-252"));  // 251
  auto markets = get("/coins/markets?vs_currency=usd&ids=" + ids);
  EXPECT_EQ(markets->status, 400);
  EXPECT_EQ(markets->body, R"j({"error":"too many ids (at most 250)"})j");
  auto page = get("/coins/markets?vs_currency=usd&per_page=251");
  EXPECT_EQ(page->status, 400);
  EXPECT_EQ(page->body, R"({"error":"invalid per_page"})");
  EXPECT_EQ(get("/coins/markets?vs_currency=usd&per_page=250")->status, 200);
}

/// A coordinator driven by the test: the lead and the stored state are set by hand.
class FakeCoordinator final : public Coordinator {
 public:
  bool leading() const override { return leading_; }
  bool awaitLead(const StopSignal& stop, std::chrono::milliseconds timeout) override {
    ++awaits;
    stop.waitFor(std::min(timeout, std::chrono::milliseconds(5)));
    return leading_;
  }
  uint64_t term() const override { return term_; }
  std::optional<FetchState> loadState() override { return state; }
  void saveState(const FetchState& saved) override { this->saved.push_back(saved); }
  std::string role() const override { return leading_ ? "leader" : "standby"; }
  void lead() {
    ++term_;
    leading_ = true;
  }

  std::optional<FetchState> state;
  std::vector<FetchState> saved;
  std::atomic<int> awaits{0};

 private:
  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> term_{0};
};

TEST_F(FetchLoopTest, AStandbyNeverCallsAndANewLeaderContinuesTheScheduleAndTheCount) {
  startUpstream({});
  config_.top_n = 3;
  config_.interval_s = 60;
  FakeCoordinator coordinator;
  const auto now = clock_.now();
  const int64_t slot = toUnixMillis(nextAlignedTick(now, seconds(60))) - 60'000;
  // The previous leader already ran this slot, and spent 42 credits this month.
  coordinator.state = FetchState{coingecko::monthOf(now), 42, slot, 0, "other:1"};
  FetchOptions options;
  options.coordinator = &coordinator;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, budget({}, &coordinator), options);
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  std::thread runner([&] { loop.run(1); });
  // The standby waits for the lead several times over.
  EXPECT_TRUE(pollUntil([&] { return coordinator.awaits >= 5; }));
  EXPECT_TRUE(requestTimes().empty()) << "a standby never calls the upstream";
  EXPECT_EQ(loop.status().state, UpstreamState::Standby);
  coordinator.lead();
  runner.join();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].slot_ms, slot + 60'000)
      << "the slot the previous leader ran is not fetched twice: the next one is";
  EXPECT_EQ(loop.status().credits_used, 43) << "the count continues";
  ASSERT_FALSE(coordinator.saved.empty());
  EXPECT_EQ(coordinator.saved.back().credits_used, 43);
  EXPECT_EQ(coordinator.saved.back().last_cycle_ms, reports[0].slot_ms);
  EXPECT_EQ(coordinator.saved.back().updated_ms, toUnixMillis(clock_.now()));
}

TEST_F(FetchLoopTest, OnDemandCallsShareTheBudgetAndLeaveTheScheduleItsShare) {
  startUpstream({});
  config_.top_n = 5;
  UpstreamBudget& shared = budget(limits(5, 0, 2));  // the schedule keeps 2 in every window
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, shared);
  auto misses = missesThrough(shared, config_);
  std::vector<int> statuses;
  for (const char* id : {"simcoin-280", "simcoin-281", "simcoin-282", "simcoin-283"}) {
    statuses.push_back(
        misses->ask(std::string("/simple/price?ids=") + id + "&vs_currencies=usd").status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429}));
  auto refused = misses->ask("/simple/price?ids=simcoin-283&vs_currencies=usd");
  EXPECT_NE(refused.body.find("the schedule keeps 2 of the 5 calls per minute"), std::string::npos)
      << refused.body;
  EXPECT_EQ(misses->upstreamCalls(), 3u) << "a refused miss sends nothing";
  EXPECT_EQ(shared.credits().used(), 3) << "on-demand calls are charged to the month's credits";
  // The schedule still has its two calls in this window.
  CycleReport report = loop.runCycle(in(seconds(3)));
  EXPECT_TRUE(report.upstream_ok) << report.error;
  EXPECT_EQ(requestTimes().size(), 4u);
  EXPECT_EQ(shared.credits().used(), 4);
}

TEST_F(FetchLoopTest, OnDemandCallsNeverTakeTheCreditsTheScheduleNeeds) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink sink;
  // 1 credit: fewer than the cycles left in any month.
  UpstreamBudget& poor = budget(limits(0, 1, 1));
  FetchLoop loop(config_, {&sink}, stop_, poor);
  auto misses = missesThrough(poor, config_);
  auto refused = misses->ask("/simple/price?ids=simcoin-280&vs_currencies=usd");
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("are kept for the schedule"), std::string::npos) << refused.body;
  EXPECT_TRUE(requestTimes().empty());
  EXPECT_EQ(poor.credits().used(), 0);

  // With credits to spare the same miss goes through.
  UpstreamBudget& rich = budget(limits(0, 100'000'000, 1));
  EXPECT_EQ(
      missesThrough(rich, config_)->ask("/simple/price?ids=simcoin-280&vs_currencies=usd").status,
      200);
  EXPECT_EQ(requestTimes().size(), 1u);
}

TEST_F(FetchLoopTest, TheOnDemandCapRefusesMissesUntilTheWindowMovesOn) {
  startUpstream({});
  BudgetLimits capped = limits(100, 0, 1);
  capped.on_demand_per_window = 2;  // serve.miss_calls_per_minute
  UpstreamBudget& shared = budget(capped);
  auto misses = missesThrough(shared, config_);
  const auto ask = [&](const char* id) {
    return misses->ask(std::string("/simple/price?ids=") + id + "&vs_currencies=usd");
  };
  EXPECT_EQ(ask("simcoin-280").status, 200);
  EXPECT_EQ(ask("simcoin-281").status, 200);
  auto refused = ask("simcoin-282");
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("serve.miss_calls_per_minute"), std::string::npos) << refused.body;
  bool retry_after = false;
  for (const auto& [name, value] : refused.headers)
    retry_after = retry_after || name == "retry-after";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(requestTimes().size(), 2u);
  clock_.advance(coingecko::RateLimiter::kDefaultWindow);
  EXPECT_EQ(ask("simcoin-282").status, 200) << "the window moved on (and the refusal expired)";
  EXPECT_EQ(requestTimes().size(), 3u);
}

TEST_F(FetchLoopTest, MissAnswersAreKeptForTheirTtlOnTheClock) {
  startUpstream({});
  api::MissFetcher misses(config_, seconds(60), clock_);  // serve.miss_ttl_s = 60
  const std::string query = "/simple/price?ids=simcoin-280&vs_currencies=usd";
  EXPECT_EQ(misses.ask(query).status, 200);
  clock_.advance(seconds(59));
  EXPECT_EQ(misses.ask(query).status, 200);
  EXPECT_EQ(requestTimes().size(), 1u) << "answered from the cache within the TTL";
  clock_.advance(seconds(1));
  EXPECT_EQ(misses.ask(query).status, 200) << "the last answer, while one call refreshes it";
  EXPECT_TRUE(pollUntil([&] { return requestTimes().size() == 2u; }))
      << "asked again once the TTL is over";
}

TEST_F(FetchLoopTest, AStandbyFetcherSendsNoOnDemandCall) {
  startUpstream({});
  FakeCoordinator coordinator;
  FetchOptions options;
  options.coordinator = &coordinator;
  RecordingSink sink;
  UpstreamBudget& standby = budget({}, &coordinator);
  FetchLoop loop(config_, {&sink}, stop_, standby, options);
  auto misses = missesThrough(standby, config_);
  auto answer = misses->ask("/simple/price?ids=bitcoin&vs_currencies=usd");
  EXPECT_EQ(answer.status, 503);
  bool marked = false;
  for (const auto& [name, value] : answer.headers)
    marked = marked || name == api::MissFetcher::kStandbyHeader;
  EXPECT_TRUE(marked) << "serve replicas move on to the next fetcher";
  EXPECT_TRUE(requestTimes().empty());
}

TEST(MissFetcherTest, ForwardsToTheFirstFetchRoleThatIsNotStandby) {
  testing::FakeHttpServer standby([](const net::Request&) {
    net::Reply reply{503, "application/json", R"({"error":"standby"})"};
    reply.headers.emplace_back(api::MissFetcher::kStandbyHeader, "1");
    return reply;
  });
  testing::FakeHttpServer active([](const net::Request&) {
    return net::Reply{200, "application/json", R"({"simcoin-9":{"usd":1.5}})"};
  });
  config::UpstreamConfig upstream;
  upstream.base_url = "http://127.0.0.1:1/api/v3";  // never called: the fetch roles are
  upstream.timeout_ms = 2000;
  api::MissFetcher misses(upstream, std::chrono::seconds(60));
  misses.forwardTo({"http://127.0.0.1:1",  // down: skipped
                    standby.url(), active.url()});
  auto answer = misses.ask("/simple/price?ids=simcoin-9&vs_currencies=usd");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, R"({"simcoin-9":{"usd":1.5}})");
  EXPECT_EQ(misses.ask("/simple/price?ids=simcoin-9&vs_currencies=usd").status, 200);
  EXPECT_EQ(misses.upstreamCalls(), 0u) << "relayed by a fetch role, not called from here";
  const std::vector<std::string> once = {
      "GET /v1/upstream/simple/price?ids=simcoin-9&vs_currencies=usd"};
  EXPECT_EQ(standby.log(), once);
  EXPECT_EQ(active.log(), once) << "the second ask is answered from the TTL cache";

  api::MissFetcher nowhere(upstream, std::chrono::seconds(60));
  nowhere.forwardTo({"http://127.0.0.1:1"});
  auto refused = nowhere.ask("/coins/list");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("serve.miss_via"), std::string::npos) << refused.body;
  EXPECT_EQ(nowhere.upstreamCalls(), 0u);
  EXPECT_EQ(nowhere.ask("/simple/../key").status, 404) << "only paths of the API";
  EXPECT_EQ(nowhere.ask("/coins/markets?vs_currency=usd%26x%3D1").status, 400);
}

TEST(MissFetcherTest, ARefusalOfTheCallIsRelayedAndARefusalOfTheKeyIsNot) {
  // CoinGecko's bodies (FACTS §4): 10012 refuses a date beyond the plan's history, 10005 a path
  // above the plan; both are answers about the call. 10002 is about coinrelay's own key.
  auto upstream_server = net::HttpServer::start("127.0.0.1:0", [](const net::Request& request) {
    if (request.path.ends_with("/history"))
      return net::Reply{401, "application/json",
                        R"({"error":{"status":{"error_code":10012,"error_message":"range"}}})"};
    if (request.path.ends_with("/tickers"))
      return net::Reply{401, "application/json",
                        R"({"status":{"error_code":10005,"error_message":"plan"}})"};
    return net::Reply{401, "application/json",
                      R"({"status":{"error_code":10002,"error_message":"key missing"}})"};
  });
  ASSERT_TRUE(upstream_server);
  config::UpstreamConfig upstream;
  upstream.base_url = "http://127.0.0.1:" + std::to_string((*upstream_server)->port()) + "/api/v3";
  upstream.plan = "public";
  api::MissFetcher misses(upstream, std::chrono::seconds(60));
  const auto range = misses.ask("/coins/bitcoin/history?date=30-12-2017");
  EXPECT_EQ(range.status, 401);
  EXPECT_NE(range.body.find("10012"), std::string::npos) << range.body;
  const auto plan = misses.ask("/coins/bitcoin/tickers");
  EXPECT_EQ(plan.status, 401);
  EXPECT_NE(plan.body.find("10005"), std::string::npos) << plan.body;
  const auto key = misses.ask("/exchange_rates");
  EXPECT_EQ(key.status, 503);
  EXPECT_EQ(key.body.find("10002"), std::string::npos) << "the key's problem is coinrelay's";
  EXPECT_NE(key.body.find("coinrelay's configuration"), std::string::npos) << key.body;
}

TEST(MissFetcherTest, ASlowUpstreamNeverHoldsTheServer) {
  // An upstream that answers only when the test lets it, and a server with a single thread:
  // while the miss waits for the upstream, the server keeps answering everything else.
  std::mutex held_mutex;
  std::vector<std::function<void(net::Reply)>> held;  // the upstream's answers not yet sent
  auto slow = net::HttpServer::start("127.0.0.1:0", [&](const net::Request&) {
    net::Reply reply;
    reply.deferred = [&](std::function<void(net::Reply)> answer) {
      std::lock_guard lock(held_mutex);
      held.push_back(std::move(answer));
    };
    return reply;
  });
  ASSERT_TRUE(slow);
  const auto heldCalls = [&] {
    std::lock_guard lock(held_mutex);
    return held.size();
  };
  config::UpstreamConfig upstream;
  upstream.base_url = "http://127.0.0.1:" + std::to_string((*slow)->port()) + "/api/v3";
  upstream.plan = "public";
  upstream.timeout_ms = 10'000;
  api::MissFetcher misses(upstream, std::chrono::seconds(60));
  std::atomic<int> misses_asked{0};
  auto server = net::HttpServer::start(
      "127.0.0.1:0",
      [&](const net::Request& request) {
        if (request.path == "/miss") {
          ++misses_asked;
          return misses.deferred("/simple/price?ids=simcoin-9&vs_currencies=usd");
        }
        return net::Reply{200, "text/plain", "fast"};
      },
      1);
  ASSERT_TRUE(server);
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  std::vector<std::thread> clients;
  std::vector<int> miss_statuses(3, 0);
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      net::HttpClient http;
      auto answer = http.get(base + "/miss");
      miss_statuses[static_cast<size_t>(i)] = answer ? answer->status : -1;
    });
  }
  // The three misses reached the server, and one call is held by the upstream.
  EXPECT_TRUE(pollUntil([&] { return misses_asked == 3 && heldCalls() == 1; }));
  net::HttpClient http;
  auto fast = http.get(base + "/fast");
  EXPECT_TRUE(fast && fast->body == "fast");
  EXPECT_EQ(heldCalls(), 1u) << "answered while the miss still waits for the upstream";
  {
    std::lock_guard lock(held_mutex);
    for (auto& answer : held)
      answer(net::Reply{200, "application/json", R"({"simcoin-9":{"usd":2}})"});
    held.clear();  // each holds its connection: let go of them while the upstream server runs
  }
  for (auto& client : clients)
    client.join();
  EXPECT_EQ(miss_statuses, (std::vector<int>{200, 200, 200}));
  EXPECT_EQ(misses.upstreamCalls(), 1u) << "three identical misses, one upstream call";
}

}  // namespace
}  // namespace coinrelay::pipeline
