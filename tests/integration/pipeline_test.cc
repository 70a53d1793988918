// End-to-end tests of the real `coinrelay` binary: simulate -> fetch -> real Kafka 3.9 -> index
// -> real OpenSearch 2.19, and `run` on its embedded default. CoinGecko itself is unreachable
// here, so `coinrelay simulate` stands in for it (the only mock). Kafka and OpenSearch are
// started by tools/testenv/testenv (idempotent; a no-op when they are already up).

#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/time_util.h"
#include "net/http_client.h"
#include "support/kafka_reader.h"
#include "support/process.h"
#include "support/quote_mapping.h"
#include "support/temp_dir.h"
#include "support/testenv.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;

const std::string& kBrokers = kSharedBrokers;
const std::string& kOpenSearch = kSharedOpenSearch;

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto up = runCommand({kTestenv, "up"}, 300s);
    ASSERT_EQ(up.exit_code, 0) << "tools/testenv/testenv up failed:\n" << up.output;
  }

  /// Starts `coinrelay simulate` on a free port and waits until it answers.
  std::unique_ptr<Process> startSimulator(const std::string& update_interval) {
    sim_port_ = freePort();
    auto process = std::make_unique<Process>(
        std::vector<std::string>{kBinary, "simulate", "--listen",
                                 "127.0.0.1:" + std::to_string(sim_port_), "--coins", "100",
                                 "--update-interval", update_interval},
        std::vector<std::string>{}, dir_.path("simulate.log"));
    EXPECT_TRUE(eventually([&] { return httpGet(simUrl("/api/v3/ping")).status == 200; }, 10s))
        << process->output();
    return process;
  }

  std::string simUrl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(sim_port_) + path;
  }
  std::string upstream() const { return simUrl("/api/v3"); }

  net::HttpResponse httpGet(const std::string& url) {
    auto response = http_.get(url, 5s);
    return response ? *response : net::HttpResponse{};
  }

  int64_t countDocuments(const std::string& index) {
    net::HttpRequest refresh;
    refresh.method = "POST";
    refresh.url = kOpenSearch + "/" + index + "/_refresh";
    (void)http_.send(refresh);
    auto response = httpGet(kOpenSearch + "/" + index + "/_count");
    simdjson::dom::element doc;
    int64_t count = -1;
    if (response.status == 200 && parser_.parse(response.body).get(doc) == simdjson::SUCCESS) {
      if (doc["count"].get(count) != simdjson::SUCCESS)
        count = -1;
    }
    return count;
  }

  /// Runs fetch for two cycles of the top 50 into `topic`; returns its output.
  std::string fetchTwoCycles(const std::string& topic) {
    // A 2 s interval is far above the public plan's budget: the test raises it, and publishes
    // unchanged quotes too so that redelivery of identical observations is exercised.
    Process fetch({kBinary,      "fetch",
                   "--upstream", upstream(),
                   "--brokers",  kBrokers,
                   "--topic",    topic,
                   "--top",      "50",
                   "--interval", "2",
                   "--cycles",   "2",
                   "--set",      "budget.calls_per_minute=600",
                   "--set",      "budget.monthly_credits=100000000",
                   "--set",      "fetch.publish_unchanged=true",
                   "--set",      "fetch.metrics_listen=127.0.0.1:" + std::to_string(freePort())},
                  {}, dir_.path("fetch-" + topic + ".log"));
    const auto code = fetch.wait(90s);
    EXPECT_EQ(code, 0) << fetch.output();
    return fetch.output();
  }

  std::unique_ptr<Process> startIndexer(const std::string& topic, const std::string& index,
                                        const std::string& group) {
    return std::make_unique<Process>(
        std::vector<std::string>{kBinary, "index", "--brokers", kBrokers, "--topic", topic,
                                 "--elasticsearch", kOpenSearch, "--index", index, "--set",
                                 "kafka.group_id=" + group, "--set",
                                 "elasticsearch.flush_interval_ms=200"},
        std::vector<std::string>{}, dir_.path("index-" + group + ".log"));
  }

  struct Relay {
    std::unique_ptr<Process> process;
    std::string base;  ///< its URL
  };
  /// `coinrelay run` against the simulator on a free port, with extra arguments, once it serves
  /// the first cycle's 50 quotes.
  Relay startRun(const std::string& name, std::vector<std::string> extra) {
    const int port = freePort();
    std::vector<std::string> argv = {kBinary,      "run",
                                     "--upstream", upstream(),
                                     "--listen",   "127.0.0.1:" + std::to_string(port),
                                     "--sqlite",   dir_.path(name + ".db")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto run =
        std::make_unique<Process>(argv, std::vector<std::string>{}, dir_.path(name + ".log"));
    std::string base = "http://127.0.0.1:" + std::to_string(port);
    EXPECT_TRUE(eventually(
        [&] { return httpGet(base + "/v1/quotes").body.find("\"count\":50") != std::string::npos; },
        30s))
        << run->output();
    return {std::move(run), base};
  }

  /// Counts stay at `expected` for a while: nothing late, nothing duplicated.
  void expectSettledCount(const std::string& index, int64_t expected) {
    EXPECT_TRUE(eventually([&] { return countDocuments(index) == expected; }, 60s))
        << "count is " << countDocuments(index);
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(countDocuments(index), expected);
  }

  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
  int sim_port_ = 0;
};

TEST_F(PipelineTest, TwoCyclesWithAdvancingPricesMakeOneHundredDocuments) {
  const std::string suffix = uniqueSuffix();
  const std::string topic = "crypto-data-it-" + suffix;
  const std::string index = "crypto-prices-it-" + suffix;
  // Cycles run on ticks aligned to the interval, so the first two can be as little as a quarter
  // interval (0.5 s) apart: prices move every 0.25 s so that each cycle sees new ones.
  auto simulator = startSimulator("0.25");
  const std::string fetch_output = fetchTwoCycles(topic);
  EXPECT_NE(fetch_output.find("sent 50 quotes to kafka"), std::string::npos) << fetch_output;

  // One upstream call per cycle, counted by the upstream itself.
  auto stats = httpGet(simUrl("/_sim/stats"));
  EXPECT_NE(stats.body.find(R"("requests_total":3)"), std::string::npos)
      << "1 ping from the test + 2 cycles: " << stats.body;
  EXPECT_NE(stats.body.find(R"("/api/v3/coins/markets":{"200":2,"total":2})"), std::string::npos)
      << stats.body;

  auto indexer = startIndexer(topic, index, "it-" + suffix);
  expectSettledCount(index, 100);

  // The documents hold what the upstream sent, under ids derived from the quote.
  auto search =
      httpGet(kOpenSearch + "/" + index + "/_search?q=id:bitcoin&size=10&sort=last_updated:asc");
  simdjson::dom::element doc = parser_.parse(search.body);
  simdjson::dom::array hits = doc["hits"]["hits"];
  ASSERT_EQ(hits.size(), 2u) << search.body;
  std::set<double> prices;
  for (simdjson::dom::element hit : hits) {
    simdjson::dom::object source = hit["_source"];
    EXPECT_EQ(std::string_view(source["symbol"]), "BTC");
    EXPECT_EQ(std::string_view(source["name"]), "Bitcoin");
    EXPECT_EQ(std::string_view(source["vs_currency"]), "usd");
    EXPECT_EQ(int64_t(source["schema_version"]), 1);
    EXPECT_EQ(int64_t(source["market_cap_rank"]), 1);
    const std::string last_updated{std::string_view(source["last_updated"])};
    EXPECT_EQ(std::string_view(hit["_id"]),
              "bitcoin:usd:" + std::to_string(*parseIso8601Millis(last_updated)));
    EXPECT_TRUE(parseIso8601Millis(std::string_view(source["timestamp"])).has_value());
    prices.insert(double(source["price"]));
  }
  EXPECT_EQ(prices.size(), 2u) << "the price moved between the cycles";

  // Explicit, strict mapping from the index template.
  auto mapping = httpGet(kOpenSearch + "/" + index + "/_mapping");
  simdjson::dom::element mapped = parser_.parse(mapping.body);
  expectStrictQuoteMapping(mapped[index]["mappings"]);

  EXPECT_EQ(indexer->terminate(), 0) << indexer->output();

  // Redelivery of everything (a new consumer group reads from the start) overwrites, never
  // duplicates: the document ids come from the quotes.
  auto again = startIndexer(topic, index, "it-again-" + suffix);
  EXPECT_TRUE(
      eventually([&] { return again->output().find("(total 100)") != std::string::npos; }, 60s))
      << again->output();
  EXPECT_EQ(countDocuments(index), 100);
  EXPECT_EQ(again->terminate(), 0);
  EXPECT_EQ(simulator->terminate(), 0);
}

TEST_F(PipelineTest, TheBrokerStoresIdempotentCompressedBatches) {
  const std::string suffix = uniqueSuffix();
  const std::string topic = "crypto-data-wire-" + suffix;
  auto simulator = startSimulator("1");
  fetchTwoCycles(topic);
  // The broker's own log segments show what librdkafka really did: a producer id and sequence
  // numbers (idempotence) and the codec of each batch.
  std::string dumps;
  for (int partition = 0; partition < 3; ++partition) {
    auto dump = runCommand({kTestenv, "kafka-dump-log", topic, std::to_string(partition)}, 120s);
    ASSERT_EQ(dump.exit_code, 0) << dump.output;
    dumps += dump.output;
  }
  std::smatch match;
  ASSERT_TRUE(std::regex_search(dumps, match, std::regex(R"(producerId: (-?\d+))"))) << dumps;
  EXPECT_GE(std::stoll(match[1]), 0) << "a producer id is assigned only to idempotent producers";
  EXPECT_TRUE(std::regex_search(dumps, std::regex(R"(baseSequence: 0 )"))) << dumps;
  EXPECT_NE(dumps.find("compresscodec: zstd"), std::string::npos) << dumps;
  EXPECT_EQ(dumps.find("producerId: -1"), std::string::npos) << dumps;
}

TEST_F(PipelineTest, RunServesTheSimulatedQuotesWithoutKafkaOrElasticsearch) {
  auto simulator = startSimulator("0");
  auto [run, base] = startRun("history", {});
  ASSERT_FALSE(HasFailure());
  simdjson::dom::element upstream_page =
      parser_.parse(httpGet(simUrl("/api/v3/coins/markets?vs_currency=usd&per_page=50")).body);
  // Each served quote carries the simulator's price for that coin (a frozen market).
  std::map<std::string, double> simulated;
  for (simdjson::dom::element coin : simdjson::dom::array(upstream_page)) {
    simulated[std::string(std::string_view(coin["id"]))] = double(coin["current_price"]);
  }
  size_t compared = 0;
  simdjson::dom::element listing_copy = parser_.parse(httpGet(base + "/v1/quotes").body);
  for (simdjson::dom::element quote : simdjson::dom::array(listing_copy["quotes"])) {
    const std::string id{std::string_view(quote["id"])};
    ASSERT_TRUE(simulated.contains(id)) << id;
    EXPECT_EQ(double(quote["price"]), simulated[id]) << id;
    ++compared;
  }
  EXPECT_EQ(compared, 50u);
  auto health = httpGet(base + "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find(R"("status":"ok")"), std::string::npos) << health.body;
  EXPECT_EQ(run->terminate(), 0) << run->output();
}

TEST_F(PipelineTest, RunWithKafkaPublishesEveryQuoteThroughTheSpool) {
  auto simulator = startSimulator("0");
  const std::string topic = "crypto-data-run-" + uniqueSuffix();
  auto [run, base] = startRun("run-kafka", {"--brokers", kBrokers, "--topic", topic, "--set",
                                            "fetch.spool_dir=" + dir_.path("spool")});
  ASSERT_FALSE(HasFailure());
  // The cycle's quotes reach Kafka from the spool, and the status says the spool is empty.
  std::vector<KafkaRecord> records;
  ASSERT_TRUE(eventually(
      [&] {
        records = readTopic(kBrokers, topic, 10s);
        return records.size() == 50;
      },
      30s))
      << run->output();
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = httpGet(base + "/v1/status").body;
        return status.find(R"("state":"ok","spooled":0)") != std::string::npos;
      },
      10s))
      << httpGet(base + "/v1/status").body;
  std::set<std::string> keys;
  for (const auto& record : records)
    keys.insert(record.key);
  EXPECT_EQ(keys.size(), 50u) << "key = coin id, one quote per coin";
  // The topic `run` created is the one `setup kafka` would have: 7 days of retention.
  auto configs = runCommand({kTestenv, "kafka-topic-configs", topic}, 120s);
  EXPECT_NE(configs.output.find("retention.ms=604800000"), std::string::npos) << configs.output;
  EXPECT_EQ(run->terminate(), 0) << run->output();
}

TEST_F(PipelineTest, UnreachableServicesGiveOneClearLineAndANonZeroExit) {
  auto no_kafka = runCommand(
      {kBinary, "fetch", "--brokers", "127.0.0.1:1", "--upstream", "http://127.0.0.1:2/api/v3"},
      60s);
  EXPECT_EQ(no_kafka.exit_code, 1);
  EXPECT_NE(no_kafka.output.find("Kafka at 127.0.0.1:1 is unreachable"), std::string::npos)
      << no_kafka.output;
  EXPECT_NE(no_kafka.output.find("kafka.brokers"), std::string::npos);

  auto no_engine = runCommand(
      {kBinary, "index", "--brokers", kBrokers, "--elasticsearch", "http://127.0.0.1:1"}, 60s);
  EXPECT_EQ(no_engine.exit_code, 1);
  EXPECT_NE(no_engine.output.find("search engine at http://127.0.0.1:1 is unreachable"),
            std::string::npos)
      << no_engine.output;

  auto no_brokers = runCommand({kBinary, "fetch"}, 30s);
  EXPECT_EQ(no_brokers.exit_code, 2);
  EXPECT_NE(no_brokers.output.find("kafka.brokers is empty"), std::string::npos)
      << no_brokers.output;

  auto bad_value = runCommand({kBinary, "run", "--top", "fifty"}, 30s);
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_NE(bad_value.output.find("upstream.top_n (from a flag): 'fifty' is not an integer"),
            std::string::npos)
      << bad_value.output;
}

}  // namespace
}  // namespace coinrelay::testing
