// What the cheapest plan costs, counted by the upstream: the fetch loop against the simulator
// (in this process, on a loopback port), in virtual time, so that an hour or a whole month of
// cycles runs in seconds. The calls are the simulator's own count (/_sim/stats), never
// coinrelay's; every quote published is checked against schemas/quote.v1.json by a real JSON
// Schema validator (tests/contract/validate_json.py).

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "coingecko/budget.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "config/config.h"
#include "model/quote_codec.h"
#include "net/http_server.h"
#include "pipeline/fetch_loop.h"
#include "simulate/simulator.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace coinrelay::testing {
namespace {

using std::chrono::seconds;

const std::string kSource = COINRELAY_SOURCE_DIR;

/// Keeps every quote it is given as its v1 document.
class DocumentSink final : public sinks::Sink {
 public:
  std::string_view name() const override { return "documents"; }
  Status deliver(std::span<const model::Quote> batch) override {
    for (const auto& quote : batch)
      documents.push_back(model::encodeQuote(quote));
    return {};
  }
  std::vector<std::string> documents;
};

/// What one run cost, as the simulator counted it.
struct Counted {
  int64_t markets = 0;
  int64_t price = 0;
  int64_t list = 0;
  int64_t total() const { return markets + price + list; }
};

class PlannerRunTest : public ::testing::Test {
 protected:
  void startUpstream(int coins) {
    simulate::MarketOptions market;
    market.coins = coins;
    market.update_interval_ms = 0;  // frozen: prices move only when the test moves them
    simulator_ = std::make_unique<simulate::Simulator>(market, simulate::FaultOptions{});
    server_ = std::move(net::HttpServer::start("127.0.0.1:0", [this](const net::Request& r) {
                          return simulator_->handle(r);
                        }).value());
  }

  /// A configuration against the simulator with CoinGecko's figures for `plan` set by hand
  /// (they bind only CoinGecko's own hosts).
  config::Config configFor(const std::string& plan, int top_n,
                           std::vector<std::string> currencies) {
    config::Config c;
    c.upstream.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v3";
    c.upstream.plan = "public";
    c.upstream.top_n = top_n;
    c.upstream.vs_currencies = std::move(currencies);
    c.upstream.timeout_ms = 10'000;
    c.budget.retry_reserve_percent = 10;
    const coingecko::PlanFacts* facts = coingecko::findPlan(plan);
    c.budget.calls_per_minute = facts->calls_per_minute;
    c.budget.monthly_credits = facts->monthly_credits;
    c.budget.cache_period_s = facts->cache_period_s;
    c.budget.price_cache_period_s = facts->price_cache_period_s;
    c.budget.list_cache_period_s = facts->list_cache_period_s;
    return c;
  }

  /// Moves the price of coin `id` (its last_updated becomes now). At a price as high as the
  /// tests give, it becomes the first by market cap: the tracked set does not change.
  void move(const std::string& id, double usd) {
    net::Request request;
    request.method = "POST";
    request.path = "/_sim/price";
    request.query = {{"id", id}, {"usd", std::to_string(usd)}};
    simulator_->handle(request);
  }

  Counted counted() {
    simdjson::dom::parser parser;
    simdjson::dom::element paths = parser.parse(simulator_->statsJson())["paths"];
    Counted out;
    int64_t n = 0;
    if (paths["/api/v3/coins/markets"]["total"].get(n) == simdjson::SUCCESS)
      out.markets = n;
    if (paths["/api/v3/simple/price"]["total"].get(n) == simdjson::SUCCESS)
      out.price = n;
    if (paths["/api/v3/coins/list"]["total"].get(n) == simdjson::SUCCESS)
      out.list = n;
    return out;
  }

  /// Validates `documents` against the quote schema; "" when all are valid, else the verdict.
  static std::string invalidOnes(const std::vector<std::string>& documents) {
    TempDir dir;
    std::string lines;
    for (const auto& document : documents)
      lines += document + "\n";
    const char* python = std::getenv("JSONSCHEMA_PYTHON");
    auto verdict = runCommand(
        {python ? python : "/usr/bin/python3", kSource + "/tests/contract/validate_json.py",
         kSource + "/schemas/quote.v1.json", dir.write("quotes.jsonl", lines)},
        std::chrono::minutes(5));
    return verdict.exit_code == 0 ? std::string() : verdict.output;
  }

  ManualClock clock_{fromUnixMillis(1'751'328'000'000), /*auto_advance=*/true};  // 2025-07-01
  StopSignal stop_;
  std::unique_ptr<simulate::Simulator> simulator_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(PlannerRunTest, TheWholeUniverseInThreeCurrenciesCostsAtMost45CallsPerCycle) {
  startUpstream(20'000);
  config::Config config = configFor("pro", 20'000, {"usd", "eur", "btc"});
  config.upstream.interval_s = 60;
  const coingecko::BudgetPlan plan = coingecko::planBudget(config);
  ASSERT_EQ(plan.planned.strategy, coingecko::Strategy::CheapestMix) << describeBudget(plan);
  coingecko::UpstreamBudget budget(coingecko::budgetLimitsFor(config, plan), stop_, {}, clock_);
  DocumentSink sink;
  pipeline::FetchLoop loop(config.upstream, {&sink}, stop_, budget,
                           pipeline::fetchOptionsFor(config));
  std::vector<pipeline::CycleReport> reports;
  loop.onCycle([&](const pipeline::CycleReport& report) {
    reports.push_back(report);
    if (reports.size() % 10 == 0)  // a coin moves now and then
      move("simcoin-" + std::to_string(1000 + reports.size()), 1e7);
  });
  EXPECT_EQ(loop.run(60), 60);  // an hour of cycles
  const Counted hour = counted();
  const double per_cycle = static_cast<double>(hour.total()) / 60;
  std::printf(
      "[ numbers  ] top 20000 x usd,eur,btc every 60 s for an hour: %lld calls (%lld "
      "/coins/markets, %lld /simple/price, %lld /coins/list) = %.2f per cycle; "
      "markets-only: %d per cycle\n",
      static_cast<long long>(hour.total()), static_cast<long long>(hour.markets),
      static_cast<long long>(hour.price), static_cast<long long>(hour.list), per_cycle,
      plan.calls.total());
  EXPECT_LE(per_cycle, 45.0);
  EXPECT_EQ(plan.calls.total(), 240) << "markets-only: 80 pages x 3 currencies";
  EXPECT_EQ(hour.markets, 240) << "one details read in the hour";
  EXPECT_EQ(hour.price, 59 * 39) << "39 batches of up to 515 coins in the 59 other cycles";
  for (const auto& report : reports)
    EXPECT_TRUE(report.upstream_ok && report.fetched == 60'000) << report.error;

  // Every quote is valid: the first cycle's 60000 (a sample: every 20th, and all of bitcoin,
  // whose roi is set) and every one the prices cycles published.
  ASSERT_EQ(sink.documents.size(), 60'000u + 5 * 3) << "5 coins moved, in 3 currencies";
  std::vector<std::string> sample;
  for (size_t i = 0; i < sink.documents.size(); ++i) {
    if (i % 20 == 0 || i < 3 || i >= 60'000)
      sample.push_back(sink.documents[i]);
  }
  EXPECT_EQ(invalidOnes(sample), "");
  EXPECT_NE(sink.documents.back().find(R"("details_fetched":"2025-07-01T00:00:00.000Z")"),
            std::string::npos)
      << sink.documents.back();
}

/// A month of the cheapest plan on Demo at the shortest interval `coinrelay budget` names: the
/// simulator's count of the month's calls stays within the credits.
struct MonthRun {
  int interval_s = 0;
  int64_t markets_only_interval_s = 0;
  int cycles = 0;
  Counted calls;
  int64_t credits_used = 0;
};

class DemoMonthTest : public PlannerRunTest {
 protected:
  MonthRun runMonth(int top_n, std::vector<std::string> currencies, DocumentSink& sink) {
    startUpstream(top_n + 100);
    config::Config config = configFor("demo", top_n, std::move(currencies));
    coingecko::BudgetPlan plan = coingecko::planBudget(config);
    MonthRun run;
    EXPECT_TRUE(plan.shortest_interval_s && plan.markets_only_shortest_s);
    run.interval_s = static_cast<int>(plan.shortest_interval_s.value_or(86'400));
    run.markets_only_interval_s = plan.markets_only_shortest_s.value_or(86'400);
    config.upstream.interval_s = run.interval_s;
    plan = coingecko::planBudget(config);
    EXPECT_TRUE(plan.fits()) << describeBudget(plan);
    coingecko::UpstreamBudget budget(coingecko::budgetLimitsFor(config, plan), stop_, {}, clock_);
    pipeline::FetchLoop loop(config.upstream, {&sink}, stop_, budget,
                             pipeline::fetchOptionsFor(config));
    const auto august = fromUnixMillis(1'754'006'400'000);  // 2025-08-01T00:00:00Z
    loop.onCycle([&](const pipeline::CycleReport& report) {
      ++run.cycles;
      EXPECT_TRUE(!report.skipped && report.upstream_ok) << report.error;
      if (run.cycles % 500 == 0)  // a coin moves now and then: its prices cycle publishes it
        move("simcoin-" + std::to_string(60 + run.cycles / 500), 1e7);
      if (clock_.now() + seconds(run.interval_s) >= august)
        stop_.request();  // July is over
    });
    loop.run();
    run.calls = counted();
    run.credits_used = budget.credits().used();
    EXPECT_EQ(budget.credits().month(), "2025-07");
    std::printf(
        "[ numbers  ] demo, top %d x %zu currencies every %d s for July: %d cycles, %lld "
        "calls (%lld /coins/markets, %lld /simple/price) of 9000 usable credits; "
        "markets-only needs %lld s\n",
        top_n, config.upstream.vs_currencies.size(), run.interval_s, run.cycles,
        static_cast<long long>(run.calls.total()), static_cast<long long>(run.calls.markets),
        static_cast<long long>(run.calls.price),
        static_cast<long long>(run.markets_only_interval_s));
    return run;
  }
};

TEST_F(DemoMonthTest, TheTopThousandInUsdFitsEveryFifteenMinutesOrLess) {
  DocumentSink sink;
  const MonthRun run = runMonth(1000, {"usd"}, sink);
  EXPECT_LE(run.interval_s, 900);
  EXPECT_EQ(run.markets_only_interval_s, 1191);
  EXPECT_LE(run.calls.total(), 9000) << "within the month's credits less the retry reserve";
  EXPECT_EQ(run.calls.total(), run.credits_used) << "every call was charged to the month";
  EXPECT_EQ(run.cycles, 3849);
  EXPECT_EQ(invalidOnes(sink.documents), "");
  EXPECT_EQ(sink.documents.size(), 1000u + 7) << "the first cycle, and the 7 coins moved";
}

TEST_F(DemoMonthTest, TheTopTwoHundredFiftyInThreeCurrenciesIsTwoAndAHalfTimesFaster) {
  DocumentSink sink;
  const MonthRun run = runMonth(250, {"usd", "eur", "btc"}, sink);
  EXPECT_GE(static_cast<double>(run.markets_only_interval_s) / run.interval_s, 2.5)
      << run.markets_only_interval_s << " s against " << run.interval_s << " s";
  EXPECT_LE(run.calls.total(), 9000);
  EXPECT_EQ(run.calls.total(), run.credits_used);
  EXPECT_EQ(invalidOnes(sink.documents), "");
  EXPECT_EQ(sink.documents.size(), 750u + 15 * 3) << "the first cycle, and 15 coins moved";
}

}  // namespace
}  // namespace coinrelay::testing
