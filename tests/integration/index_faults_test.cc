// Fault tests of `coinrelay index` against a real Kafka 3.9 and a real OpenSearch 2.19 of its
// own (a named tools/testenv instance on free ports: these tests stop servers, which must never
// disturb the shared default instance). Quotes are written to Kafka directly, as fast or as
// slowly as a test needs, and the index is then read back whole: exactly the distinct quotes,
// no duplicate, no gap, whatever was killed or stopped on the way.

#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include "common/time_util.h"
#include "model/quote.h"
#include "model/quote_codec.h"
#include "net/http_client.h"
#include "support/process.h"
#include "support/quote_feed.h"
#include "support/search_count.h"
#include "support/temp_dir.h"
#include "support/testenv.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// What every indexer test needs: where Kafka and the engine are, a topic, an indexer, and
/// reading the index back whole.
class IndexTestBase : public ::testing::Test {
 protected:
  virtual std::string brokers() const = 0;
  virtual std::string engine() const = 0;

  void createTopic(const std::string& topic) {
    TestProducer producer(brokers());
    const std::string error = producer.createTopic(brokers(), topic);
    ASSERT_EQ(error, "");
  }

  /// `coinrelay index` on this instance; `extra` are more arguments.
  std::unique_ptr<Process> startIndexer(const std::string& topic, const std::string& index,
                                        const std::string& log_name,
                                        std::vector<std::string> extra = {}) {
    metrics_port_ = freePortWith(0);
    std::vector<std::string> argv = {
        kBinary,           "index",
        "--brokers",       brokers(),
        "--topic",         topic,
        "--elasticsearch", engine(),
        "--index",         index,
        "--set",           "kafka.group_id=group-" + topic,
        "--set",           "index.metrics_listen=127.0.0.1:" + std::to_string(metrics_port_),
        "--set",           "elasticsearch.retry_max_backoff_ms=2000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, std::vector<std::string>{}, dir_.path(log_name));
  }

  std::string healthz() {
    auto response = http_.get("http://127.0.0.1:" + std::to_string(metrics_port_) + "/healthz", 2s);
    return response && response->status == 200 ? response->body : std::string();
  }

  int64_t countDocuments(const std::string& index) {
    return coinrelay::testing::countDocuments(http_, engine(), index);
  }

  /// Every document id of the index, page by page (search_after on a unique sort key).
  std::vector<std::string> allIds(const std::string& index) {
    std::vector<std::string> ids;
    std::string after;
    for (;;) {
      net::HttpRequest search;
      search.method = "POST";
      search.url = engine() + "/" + index + "/_search";
      search.headers.emplace_back("Content-Type", "application/json");
      search.timeout = 60s;
      search.body = R"({"size":10000,"_source":false,"track_total_hits":false,)"
                    R"("sort":[{"last_updated":"asc"},{"id":"asc"}])" +
                    (after.empty() ? std::string() : ",\"search_after\":" + after) + "}";
      auto response = http_.send(search);
      if (!response || response->status != 200) {
        ADD_FAILURE() << "search failed: "
                      << (response ? response->body : response.error().message);
        return ids;
      }
      simdjson::dom::element doc = parser_.parse(response->body);
      simdjson::dom::array hits = doc["hits"]["hits"];
      if (hits.size() == 0)
        return ids;
      for (simdjson::dom::element hit : hits) {
        ids.emplace_back(std::string_view(hit["_id"]));
        after = simdjson::minify(hit["sort"]);
      }
    }
  }

  /// The index holds exactly quotes [0, n): as many documents as distinct quotes, each once.
  void expectExactly(const std::string& index, int n, std::chrono::seconds timeout) {
    const auto started = Clock::now();
    EXPECT_TRUE(eventually([&] { return countDocuments(index) >= n; }, timeout, 500ms))
        << "count is " << countDocuments(index) << " of " << n;
    std::this_thread::sleep_for(3s);  // nothing late may arrive on top
    EXPECT_EQ(countDocuments(index), n);
    const std::vector<std::string> ids = allIds(index);
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(ids.size(), static_cast<size_t>(n)) << "documents read back";
    EXPECT_EQ(unique.size(), ids.size()) << "duplicate document ids";
    std::set<std::string> expected;
    for (int i = 0; i < n; ++i)
      expected.insert(model::observationKey(quoteNumber(i)));
    EXPECT_TRUE(unique == expected) << "the index differs from the quotes sent";
    std::printf("[ verified ] %s: %zu documents, %zu distinct, all %d quotes present (%.1f s)\n",
                index.c_str(), ids.size(), unique.size(), n,
                std::chrono::duration<double>(Clock::now() - started).count());
  }

  int metrics_port_ = 0;
  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
};

/// Tests that stop servers, or load them heavily: a Kafka and an OpenSearch of their own.
class IndexFaultsTest : public IndexTestBase {
 protected:
  static void SetUpTestSuite() {
    env_ = std::make_unique<OwnTestenv>("index-faults");
    ASSERT_TRUE(env_->portsFound());
    auto up = testenv({"up"}, 300s);
    ASSERT_EQ(up.exit_code, 0) << "testenv up (instance " << env_->instance() << ") failed:\n"
                               << up.output;
  }
  static void TearDownTestSuite() {
    // A named instance: `down` removes only its own servers and data.
    auto down = env_->down();
    EXPECT_EQ(down.exit_code, 0) << down.output;
    env_.reset();
  }
  static CommandResult testenv(std::vector<std::string> args, std::chrono::milliseconds timeout) {
    return env_->testenv(args, timeout);
  }

  std::string brokers() const override { return env_->brokers(); }
  std::string engine() const override { return env_->openSearch(); }

  static inline std::unique_ptr<OwnTestenv> env_;
};

/// Light tests that stop nothing: the shared default testenv instance (unique names only).
class IndexTest : public IndexTestBase {
 protected:
  static void SetUpTestSuite() {
    auto up = runCommand({kTestenv, "up"}, 300s);
    ASSERT_EQ(up.exit_code, 0) << "tools/testenv/testenv up failed:\n" << up.output;
  }
  std::string brokers() const override { return kSharedBrokers; }
  std::string engine() const override { return kSharedOpenSearch; }
};

// (a) SIGKILL at 5 random moments while 100 000 quotes flow.
TEST_F(IndexFaultsTest, KilledFiveTimesWhileQuotesFlowTheIndexHoldsEveryQuoteOnce) {
  constexpr int kQuotes = 100'000;
  const std::string topic = "faults-kill-" + uniqueSuffix();
  const std::string index = "kill-" + uniqueSuffix();
  createTopic(topic);
  TestProducer producer(brokers());
  const auto started = Clock::now();
  std::thread flow([&] { producer.sendQuotes(topic, 0, kQuotes, 2500); });  // ~40 s

  std::mt19937 rng(std::random_device{}());
  std::vector<double> moments;  // seconds after the start, inside the flow
  for (int k = 0; k < 5; ++k)
    moments.push_back(std::uniform_real_distribution<double>(2.0, 36.0)(rng));
  std::sort(moments.begin(), moments.end());
  // Static membership: a restarted indexer gets its partitions back at once.
  const std::vector<std::string> extra = {"--set", "index.instance_id=kill-test"};
  auto indexer = startIndexer(topic, index, "index-0.log", extra);
  std::vector<int64_t> counts_at_kill;
  for (size_t k = 0; k < moments.size(); ++k) {
    std::this_thread::sleep_until(
        started + std::chrono::milliseconds(static_cast<int64_t>(moments[k] * 1000)));
    ASSERT_TRUE(indexer->running()) << indexer->output();
    indexer->kill9();
    counts_at_kill.push_back(countDocuments(index));
    std::printf("[ kill %zu   ] SIGKILL at %.1f s, %lld documents indexed so far\n", k + 1,
                moments[k], static_cast<long long>(counts_at_kill.back()));
    indexer = startIndexer(topic, index, "index-" + std::to_string(k + 1) + ".log", extra);
  }
  flow.join();
  ASSERT_EQ(producer.failed(), 0);
  EXPECT_LT(counts_at_kill.back(), kQuotes) << "every kill happened while quotes still flowed";
  expectExactly(index, kQuotes, 180s);
  EXPECT_EQ(indexer->terminate(), 0) << indexer->output();
  std::printf("[ done     ] 100000 quotes, 5 kills, %.1f s in all\n",
              std::chrono::duration<double>(Clock::now() - started).count());
}

// (b) OpenSearch stopped for 30 s mid-stream, then started again.
TEST_F(IndexFaultsTest, OpenSearchDownForThirtySecondsLosesAndDuplicatesNothing) {
  constexpr int kQuotes = 100'000;
  const std::string topic = "faults-engine-" + uniqueSuffix();
  const std::string index = "engine-" + uniqueSuffix();
  createTopic(topic);
  TestProducer producer(brokers());
  const auto started = Clock::now();
  std::thread flow([&] { producer.sendQuotes(topic, 0, kQuotes, 2500); });  // ~40 s
  auto indexer = startIndexer(topic, index, "index.log");
  std::this_thread::sleep_for(8s);
  const int64_t before = countDocuments(index);
  EXPECT_GT(before, 0);

  auto stop = testenv({"stop-opensearch"}, 60s);
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  const auto down_at = Clock::now();
  // While it is down: the indexer says so, pauses consumption and holds a bounded amount.
  EXPECT_TRUE(eventually(
      [&] { return indexer->output().find("is not accepting writes") != std::string::npos; }, 15s))
      << indexer->output();
  EXPECT_TRUE(eventually(
      [&] {
        const std::string health = healthz();
        return health.find(R"("engine_up":false)") != std::string::npos &&
               health.find(R"("paused":true)") != std::string::npos;
      },
      20s))
      << healthz();
  int64_t peak_rss_kb = 0;
  while (Clock::now() - down_at < 30s) {
    std::ifstream status("/proc/" + std::to_string(indexer->pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0)
        peak_rss_kb = std::max<int64_t>(peak_rss_kb, std::stoll(line.substr(6)));
    }
    std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(indexer->running()) << "it waits, it does not give up";
  std::printf(
      "[ outage   ] OpenSearch down for 30 s after %lld documents; indexer RSS at most %lld MB; "
      "%s\n",
      static_cast<long long>(before), static_cast<long long>(peak_rss_kb / 1024),
      healthz().c_str());
  EXPECT_LT(peak_rss_kb, 400 * 1024) << "memory stays bounded while the engine is away";

  auto start = testenv({"start-opensearch"}, 180s);
  ASSERT_EQ(start.exit_code, 0) << start.output;
  flow.join();
  ASSERT_EQ(producer.failed(), 0);
  expectExactly(index, kQuotes, 180s);
  EXPECT_NE(indexer->output().find("accepts writes again"), std::string::npos) << indexer->output();
  EXPECT_EQ(indexer->terminate(), 0) << indexer->output();
  std::printf("[ done     ] 100000 quotes across a 30 s outage, %.1f s in all\n",
              std::chrono::duration<double>(Clock::now() - started).count());
}

// Reindex and backfill: --from-beginning and --from <time> into a chosen index.
TEST_F(IndexTest, ReindexFromTheBeginningAndBackfillFromATime) {
  const std::string topic = "faults-backfill-" + uniqueSuffix();
  createTopic(topic);
  TestProducer producer(brokers());
  // Two halves an hour apart in Kafka time (the record timestamp).
  const int64_t t0 = toUnixMillis(std::chrono::system_clock::now()) - 2 * 3600'000;
  const int64_t t1 = t0 + 3600'000;
  for (int i = 0; i < 2000; ++i) {
    const model::Quote q = quoteNumber(i);
    producer.send(topic, q.id, model::encodeQuote(q), i < 1000 ? t0 + i : t1 + i);
  }
  producer.flush();

  // The live indexer reads everything and commits.
  const std::string live = "live-" + uniqueSuffix();
  auto indexer = startIndexer(topic, live, "live.log");
  expectExactly(live, 2000, 120s);
  EXPECT_EQ(indexer->terminate(), 0);

  // A reindex reads it all again, in its own group, whatever the live group committed.
  const std::string copy = "copy-" + uniqueSuffix();
  auto reindex = startIndexer(topic, copy, "reindex.log", {"--from-beginning"});
  expectExactly(copy, 2000, 120s);
  EXPECT_NE(reindex->output().find("as group group-" + topic + "-backfill-" + copy),
            std::string::npos)
      << reindex->output();
  EXPECT_EQ(reindex->terminate(), 0);

  // A backfill from t1 reads only the second half.
  const std::string recent = "recent-" + uniqueSuffix();
  auto backfill = startIndexer(topic, recent, "backfill.log", {"--from", formatIso8601Millis(t1)});
  EXPECT_TRUE(eventually([&] { return countDocuments(recent) == 1000; }, 120s))
      << countDocuments(recent) << "\n"
      << backfill->output();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(countDocuments(recent), 1000);
  EXPECT_EQ(backfill->terminate(), 0);

  auto bad = runCommand({kBinary, "index", "--brokers", brokers(), "--elasticsearch", engine(),
                         "--from", "yesterday"},
                        30s);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--from 'yesterday' is not a time"), std::string::npos) << bad.output;
}

TEST_F(IndexTest, SetupInstallsThePlainLayoutAndRefusesRolloverWithoutIsm) {
  const std::string index = "setup-" + uniqueSuffix();
  auto plain = runCommand(
      {kBinary, "setup", "elasticsearch", "--elasticsearch", engine(), "--index", index}, 60s);
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("index template " + index + " installed"), std::string::npos)
      << plain.output;
  auto again = runCommand(
      {kBinary, "setup", "elasticsearch", "--elasticsearch", engine(), "--index", index}, 60s);
  EXPECT_EQ(again.exit_code, 0) << "safe to run again: " << again.output;

  // The testenv OpenSearch has no ISM plugin (it is not on Maven Central): one clear line.
  auto rollover =
      runCommand({kBinary, "setup", "elasticsearch", "--elasticsearch", engine(), "--index",
                  "rolled-" + uniqueSuffix(), "--set", "elasticsearch.lifecycle=rollover"},
                 60s);
  EXPECT_EQ(rollover.exit_code, 1) << rollover.output;
  EXPECT_NE(rollover.output.find("has no Index State Management (ISM) plugin"), std::string::npos)
      << rollover.output;
}

}  // namespace
}  // namespace coinrelay::testing
