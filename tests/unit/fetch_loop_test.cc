#include "pipeline/fetch_loop.h"

#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/miss_fetcher.h"
#include "common/time_util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "simulate/simulator.h"
#include "support/fake_http_server.h"

namespace coinrelay::pipeline {
namespace {

/// A sink that keeps what it was given, and can be told to fail.
class RecordingSink final : public sinks::Sink {
 public:
  std::string_view name() const override { return "recording"; }
  Status deliver(std::span<const model::Quote> batch) override {
    if (fail)
      return makeError(ErrorCode::Unavailable, "told to fail");
    batches.emplace_back(batch.begin(), batch.end());
    return {};
  }
  std::vector<std::vector<model::Quote>> batches;
  bool fail = false;
};

/// The simulator served on a loopback port picked by the kernel (a hermetic upstream).
class FetchLoopTest : public ::testing::Test {
 protected:
  void startUpstream(simulate::FaultOptions faults, int coins = 300) {
    simulate::MarketOptions market;
    market.coins = coins;
    market.update_interval_ms = 0;
    simulator_ = std::make_unique<simulate::Simulator>(market, faults);
    server_ = std::move(net::HttpServer::start("127.0.0.1:0", [this](const net::Request& r) {
                          return simulator_->handle(r);
                        }).value());
    config_.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v3";
    config_.plan = "public";
    config_.vs_currencies = {"usd"};
    config_.timeout_ms = 2000;
    config_.max_attempts = 4;
  }
  std::string stats() { return simulator_->statsJson(); }
  /// Send times of the requests the upstream saw, as it counted them.
  std::vector<int64_t> requestTimes() {
    net::Request request;
    request.method = "GET";
    request.path = "/_sim/requests";
    const std::string body = simulator_->handle(request).body;
    simdjson::dom::parser parser;
    std::vector<int64_t> times;
    for (simdjson::dom::element entry : simdjson::dom::array(parser.parse(body))) {
      times.push_back(int64_t(entry.at(0)));
    }
    return times;
  }
  void post(const std::string& path, std::map<std::string, std::string> query) {
    net::Request request;
    request.method = "POST";
    request.path = path;
    request.query = std::move(query);
    simulator_->handle(request);
  }

  config::UpstreamConfig config_;
  StopSignal stop_;
  std::unique_ptr<simulate::Simulator> simulator_;
  std::unique_ptr<net::HttpServer> server_;
};

std::chrono::system_clock::time_point inSeconds(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

TEST_F(FetchLoopTest, OneCycleFetchesTheTopCoinsInOneCall) {
  startUpstream({});
  config_.top_n = 50;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
  EXPECT_TRUE(report.upstream_ok && report.sinks_ok) << report.error;
  ASSERT_EQ(sink.batches.size(), 1u);
  ASSERT_EQ(sink.batches[0].size(), 50u);
  EXPECT_EQ(sink.batches[0][0].id, "bitcoin");
  EXPECT_EQ(sink.batches[0][49].market_cap_rank, 50);
  EXPECT_EQ(loop.upstreamStats().requests.load(), 1u);
  EXPECT_NE(stats().find(R"("/api/v3/coins/markets":{"200":1,"total":1})"), std::string::npos)
      << stats();
}

TEST_F(FetchLoopTest, TopNBeyondOnePageUsesTheFewestPages) {
  startUpstream({}, 600);
  config_.top_n = 260;  // 250 + 10: two calls, not three
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
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
  FetchLoop loop(config_, {&sink}, stop_);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CycleReport report = loop.runCycle(inSeconds(60));
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
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(30));
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
  FetchLoop loop(config_, {&sink}, stop_);
  const auto started = std::chrono::steady_clock::now();
  CycleReport report = loop.runCycle(inSeconds(2));
  // 20 attempts with backoff would take far longer; the margin is for a loaded CI machine.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(3000));
  EXPECT_FALSE(report.upstream_ok);
}

TEST_F(FetchLoopTest, AnUnreachableUpstreamIsAFailedCycleNotACrash) {
  config_.base_url = "http://127.0.0.1:1/api/v3";
  config_.plan = "public";
  config_.vs_currencies = {"usd"};
  config_.top_n = 5;
  config_.timeout_ms = 500;
  config_.max_attempts = 2;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
  EXPECT_FALSE(report.upstream_ok);
  EXPECT_NE(report.error.find("127.0.0.1:1"), std::string::npos) << report.error;
}

TEST_F(FetchLoopTest, AFailingSinkMarksTheCycleUndelivered) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink good, bad;
  bad.fail = true;
  FetchLoop loop(config_, {&good, &bad}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
  EXPECT_FALSE(report.sinks_ok);
  EXPECT_EQ(report.delivered, 0u);
  EXPECT_NE(report.error.find("recording: told to fail"), std::string::npos);
}

TEST_F(FetchLoopTest, RunStopsAfterTheRequestedCycles) {
  startUpstream({});
  config_.top_n = 3;
  config_.interval_s = 1;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_);
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  EXPECT_EQ(loop.run(2), 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(sink.batches.size(), 1u) << "the frozen market's second cycle has nothing new";
  EXPECT_EQ(reports[1].unchanged, 3u);
  EXPECT_GT(reports[1].slot_ms, reports[0].slot_ms) << "cycles cover successive slots";
}

TEST_F(FetchLoopTest, UnchangedQuotesAreNotPublishedAgain) {
  startUpstream({});
  config_.top_n = 5;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_);
  EXPECT_EQ(loop.runCycle(inSeconds(10)).delivered, 5u);
  CycleReport second = loop.runCycle(inSeconds(10));
  EXPECT_EQ(second.delivered, 0u);
  EXPECT_EQ(second.unchanged, 5u);
  EXPECT_TRUE(second.upstream_ok && second.sinks_ok);
  post("/_sim/price", {{"id", "bitcoin"}, {"usd", "70000"}});
  CycleReport third = loop.runCycle(inSeconds(10));
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
  FetchLoop loop(config_, {&sink}, stop_, options);
  loop.runCycle(inSeconds(10));
  CycleReport second = loop.runCycle(inSeconds(10));
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
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
  EXPECT_TRUE(report.upstream_ok) << report.error;
  EXPECT_EQ(report.requests, 4u) << "(1 top page + 1 ids page) x 2 currencies";
  ASSERT_EQ(sink.batches.size(), 1u);
  std::set<std::string> ids_usd;
  size_t eur = 0;
  for (const auto& quote : sink.batches[0]) {
    if (quote.vs_currency == "usd")
      ids_usd.insert(quote.id);
    eur += quote.vs_currency == "eur";
  }
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
  FetchLoop loop(config_, {&sink}, stop_);
  CycleReport report = loop.runCycle(inSeconds(10));
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
  FetchOptions options;
  options.calls_per_minute = 2;  // per window, here 2 s
  options.rate_window = std::chrono::milliseconds(2000);
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  CycleReport report = loop.runCycle(inSeconds(7));
  EXPECT_FALSE(report.upstream_ok);
  const std::vector<int64_t> times = requestTimes();
  ASSERT_GE(times.size(), 4u) << "the backoff retried past the first windows";
  // As the upstream counted them: never more than 2 in any 1.9 s (a little under the window,
  // for the time a request takes to arrive), although the first backoff waits are shorter.
  for (size_t i = 2; i < times.size(); ++i)
    EXPECT_GE(times[i] - times[i - 2], 1900) << "requests " << i - 2 << " and " << i;
  EXPECT_EQ(report.requests, times.size()) << "every request counts, retries included";
}

TEST_F(FetchLoopTest, RetryAfterHoldsEveryRequest) {
  simulate::FaultOptions faults;
  faults.rate_limited = 1.0;
  faults.retry_after_s = 1;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  FetchOptions options;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  loop.runCycle(inSeconds(4));
  const std::vector<int64_t> times = requestTimes();
  ASSERT_GE(times.size(), 2u);
  for (size_t i = 1; i < times.size(); ++i)
    EXPECT_GE(times[i] - times[i - 1], 990) << "retry-after: 1 was honoured";
  EXPECT_EQ(loop.status().state, UpstreamState::BackingOff);
}

TEST_F(FetchLoopTest, ExhaustedCreditsStopEveryRequest) {
  simulate::FaultOptions faults;
  faults.server_error = 1.0;
  startUpstream(faults);
  config_.top_n = 5;
  config_.max_attempts = 20;
  FetchOptions options;
  options.monthly_credits = 3;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  CycleReport first = loop.runCycle(inSeconds(8));
  EXPECT_EQ(first.requests, 3u) << "the third credit was the last";
  CycleReport second = loop.runCycle(inSeconds(2));
  EXPECT_EQ(second.requests, 0u);
  EXPECT_EQ(requestTimes().size(), 3u);
  EXPECT_EQ(loop.status().state, UpstreamState::BudgetExhausted);
  EXPECT_EQ(loop.ledger().used(), 3);
  EXPECT_EQ(loop.ledger().left(), 0);
}

/// A coordinator driven by the test: the lead and the stored state are set by hand.
class FakeCoordinator final : public Coordinator {
 public:
  bool leading() const override { return leading_; }
  bool awaitLead(const StopSignal& stop, std::chrono::milliseconds timeout) override {
    stop.waitFor(std::min(timeout, std::chrono::milliseconds(50)));
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

 private:
  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> term_{0};
};

TEST_F(FetchLoopTest, AStandbyNeverCallsAndANewLeaderContinuesTheScheduleAndTheCount) {
  startUpstream({});
  config_.top_n = 3;
  config_.interval_s = 1;
  FakeCoordinator coordinator;
  const auto now = std::chrono::system_clock::now();
  const int64_t slot = toUnixMillis(nextAlignedTick(now, std::chrono::seconds(1))) - 1000;
  // The previous leader already ran this slot, and spent 42 credits this month.
  coordinator.state = FetchState{coingecko::monthOf(now), 42, slot, 0, "other:1"};
  FetchOptions options;
  options.coordinator = &coordinator;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  std::vector<CycleReport> reports;
  loop.onCycle([&](const CycleReport& report) { reports.push_back(report); });
  std::thread runner([&] { loop.run(1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(requestTimes().empty()) << "a standby never calls the upstream";
  EXPECT_EQ(loop.status().state, UpstreamState::Standby);
  coordinator.lead();
  runner.join();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_GT(reports[0].slot_ms, slot) << "the slot the previous leader ran is not fetched twice";
  EXPECT_EQ(loop.ledger().used(), 43) << "the count continues";
  ASSERT_FALSE(coordinator.saved.empty());
  EXPECT_EQ(coordinator.saved.back().credits_used, 43);
  EXPECT_EQ(coordinator.saved.back().last_cycle_ms, reports[0].slot_ms);
}

/// A miss fetcher whose calls go through `loop`'s on-demand gate, as in `coinrelay run`.
std::unique_ptr<api::MissFetcher> missesThrough(FetchLoop& loop,
                                                const config::UpstreamConfig& upstream) {
  auto misses = std::make_unique<api::MissFetcher>(upstream, std::chrono::seconds(60), 1000);
  misses->setGate(&loop.onDemandGate());
  return misses;
}

TEST_F(FetchLoopTest, OnDemandCallsShareTheBudgetAndLeaveTheScheduleItsShare) {
  startUpstream({});
  config_.top_n = 5;
  FetchOptions options;
  options.calls_per_minute = 5;
  options.calls_per_cycle = 2;  // what the schedule keeps free in every window
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  auto misses = missesThrough(loop, config_);
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
  EXPECT_EQ(loop.ledger().used(), 3) << "on-demand calls are charged to the month's credits";
  // The schedule still has its two calls in this window.
  CycleReport report = loop.runCycle(inSeconds(3));
  EXPECT_TRUE(report.upstream_ok) << report.error;
  EXPECT_EQ(requestTimes().size(), 4u);
  EXPECT_EQ(loop.ledger().used(), 4);
}

TEST_F(FetchLoopTest, OnDemandCallsNeverTakeTheCreditsTheScheduleNeeds) {
  startUpstream({});
  config_.top_n = 5;
  FetchOptions options;
  options.calls_per_cycle = 1;
  options.monthly_credits = 1;  // fewer than the cycles left in any month
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  auto misses = missesThrough(loop, config_);
  auto refused = misses->ask("/simple/price?ids=simcoin-280&vs_currencies=usd");
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("are kept for the schedule"), std::string::npos) << refused.body;
  EXPECT_TRUE(requestTimes().empty());
  EXPECT_EQ(loop.ledger().used(), 0);

  // With credits to spare the same miss goes through.
  options.monthly_credits = 100'000'000;
  FetchLoop rich(config_, {&sink}, stop_, options);
  EXPECT_EQ(
      missesThrough(rich, config_)->ask("/simple/price?ids=simcoin-280&vs_currencies=usd").status,
      200);
  EXPECT_EQ(requestTimes().size(), 1u);
}

TEST_F(FetchLoopTest, AStandbyFetcherSendsNoOnDemandCall) {
  startUpstream({});
  FakeCoordinator coordinator;
  FetchOptions options;
  options.coordinator = &coordinator;
  RecordingSink sink;
  FetchLoop loop(config_, {&sink}, stop_, options);
  auto misses = missesThrough(loop, config_);
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
  api::MissFetcher misses(upstream, std::chrono::seconds(60), 1000);
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

  api::MissFetcher nowhere(upstream, std::chrono::seconds(60), 1000);
  nowhere.forwardTo({"http://127.0.0.1:1"});
  auto refused = nowhere.ask("/coins/list");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("serve.miss_via"), std::string::npos) << refused.body;
  EXPECT_EQ(nowhere.upstreamCalls(), 0u);
  EXPECT_TRUE(api::MissFetcher::forwardable("/coins/markets?vs_currency=usd"));
  EXPECT_FALSE(api::MissFetcher::forwardable("/key"));
  EXPECT_FALSE(api::MissFetcher::forwardable("/simple/../key"));
}

TEST(MissFetcherTest, ASlowUpstreamNeverHoldsTheServer) {
  // An upstream that takes 2 s to answer, and a server with a single thread: while the miss
  // waits for the upstream, the server keeps answering everything else at once.
  testing::FakeHttpServer slow([](const net::Request&) {
    net::Reply reply{200, "application/json", R"({"simcoin-9":{"usd":2}})"};
    reply.delay = std::chrono::milliseconds(2000);
    return reply;
  });
  config::UpstreamConfig upstream;
  upstream.base_url = slow.url() + "/api/v3";
  upstream.plan = "public";
  upstream.timeout_ms = 10'000;
  api::MissFetcher misses(upstream, std::chrono::seconds(60), 1000);
  auto server = net::HttpServer::start(
      "127.0.0.1:0",
      [&](const net::Request& request) {
        if (request.path == "/miss")
          return misses.deferred("/simple/price?ids=simcoin-9&vs_currencies=usd");
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
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the misses are waiting
  net::HttpClient http;
  const auto started = std::chrono::steady_clock::now();
  auto fast = http.get(base + "/fast");
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->body, "fast");
  EXPECT_LT(waited, std::chrono::milliseconds(1000)) << "the server's only thread was free";
  for (auto& client : clients)
    client.join();
  EXPECT_EQ(miss_statuses, (std::vector<int>{200, 200, 200}));
  EXPECT_EQ(misses.upstreamCalls(), 1u) << "three identical misses, one upstream call";
}

}  // namespace
}  // namespace coinrelay::pipeline
