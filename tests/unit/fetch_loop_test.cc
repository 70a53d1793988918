#include "pipeline/fetch_loop.h"

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "common/time_util.h"
#include "simulate/simulator.h"

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
    server_ = std::move(api::HttpServer::start("127.0.0.1:0", [this](const api::Request& r) {
                          return simulator_->handle(r);
                        }).value());
    config_.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v3";
    config_.plan = "public";
    config_.vs_currencies = {"usd"};
    config_.timeout_ms = 2000;
    config_.max_attempts = 4;
  }
  std::string stats() { return simulator_->statsJson(); }

  config::UpstreamConfig config_;
  StopSignal stop_;
  std::unique_ptr<simulate::Simulator> simulator_;
  std::unique_ptr<api::HttpServer> server_;
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
    EXPECT_EQ(report.delivered, 20u) << report.error;
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
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
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
  EXPECT_EQ(loop.run(2), 2);
  EXPECT_EQ(sink.batches.size(), 2u);
}

}  // namespace
}  // namespace coinrelay::pipeline
