// The core indexing path against a real Elasticsearch 8: the integ-test distribution Elastic
// publishes on Maven Central, started by tools/testenv/elasticsearch as a named instance on a
// free port. It has no GET / route, no ILM and no data streams, so this covers engine
// detection, the index template, _bulk (with a refused document), _search and _count; the
// lifecycle requests are covered by the request-shape tests of tests/unit/index_test.cc.
// Kafka is the shared default testenv instance (only unique topics are written there).

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include "model/quote_codec.h"
#include "net/http_client.h"
#include "support/process.h"
#include "support/quote_feed.h"
#include "support/temp_dir.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = COINRELAY_BINARY;
const std::string kSource = COINRELAY_SOURCE_DIR;
const std::string kBrokers =
    "127.0.0.1:" +
    std::string(getenv("TESTENV_KAFKA_PORT") ? getenv("TESTENV_KAFKA_PORT") : "9092");

class Elasticsearch8Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto kafka = runCommand({kSource + "/tools/testenv/testenv", "up", "kafka"}, 300s);
    ASSERT_EQ(kafka.exit_code, 0) << kafka.output;
    instance_ = "es8-" + std::to_string(::getpid());
    port_ = freePortWith(100);
    ASSERT_NE(port_, 0);
    auto up = elasticsearch("up", 600s);
    ASSERT_EQ(up.exit_code, 0) << "tools/testenv/elasticsearch up failed:\n" << up.output;
  }
  static void TearDownTestSuite() {
    auto down = elasticsearch("down", 120s);
    EXPECT_EQ(down.exit_code, 0) << down.output;
  }
  static CommandResult elasticsearch(const std::string& command,
                                     std::chrono::milliseconds timeout) {
    return runCommand({"/usr/bin/env", "TESTENV_INSTANCE=" + instance_,
                       "TESTENV_ELASTICSEARCH_PORT=" + std::to_string(port_),
                       kSource + "/tools/testenv/elasticsearch", command},
                      timeout);
  }
  static std::string url() { return "http://127.0.0.1:" + std::to_string(port_); }

  int64_t count(const std::string& index) {
    net::HttpRequest refresh;
    refresh.method = "POST";
    refresh.url = url() + "/" + index + "/_refresh";
    (void)http_.send(refresh);
    auto response = http_.get(url() + "/" + index + "/_count", 10s);
    simdjson::dom::element doc;
    int64_t n = -1;
    if (!response || response->status != 200 ||
        parser_.parse(response->body).get(doc) != simdjson::SUCCESS ||
        doc["count"].get(n) != simdjson::SUCCESS) {
      return -1;
    }
    return n;
  }

  static inline std::string instance_;
  static inline int port_ = 0;
  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
};

TEST_F(Elasticsearch8Test, IndexesFromKafkaDeadLettersARefusedDocumentAndSetsUpTemplates) {
  constexpr int kQuotes = 5000;
  const std::string topic = "es8-" + uniqueSuffix();
  const std::string index = "es8-prices-" + uniqueSuffix();
  TestProducer producer(kBrokers);
  ASSERT_EQ(producer.createTopic(kBrokers, topic), "");
  for (int i = 0; i < kQuotes; ++i) {
    const model::Quote q = quoteNumber(i);
    producer.send(topic, q.id, model::encodeQuote(q));
  }
  model::Quote too_big = quoteNumber(kQuotes);
  too_big.market_cap = 1e300;  // beyond a long: Elasticsearch refuses the document
  producer.send(topic, too_big.id, model::encodeQuote(too_big));
  producer.flush();

  Process indexer(
      {kBinary, "index", "--brokers", kBrokers, "--topic", topic, "--elasticsearch", url(),
       "--index", index, "--set", "kafka.group_id=es8-" + topic, "--set", "index.metrics_listen="},
      {}, dir_.path("index.log"));
  ASSERT_TRUE(eventually([&] { return count(index) == kQuotes; }, 120s)) << count(index) << "\n"
                                                                         << indexer.output();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(count(index), kQuotes);
  // Detected without GET / (this build lacks it): from X-Elastic-Product and _nodes.
  EXPECT_NE(indexer.output().find("is elasticsearch 8."), std::string::npos) << indexer.output();

  // The explicit, strict mapping of the template.
  auto mapping = http_.get(url() + "/" + index + "/_mapping", 10s);
  ASSERT_TRUE(mapping);
  simdjson::dom::element mapped = parser_.parse(mapping->body);
  EXPECT_EQ(std::string_view(mapped[index]["mappings"]["dynamic"]), "strict");
  EXPECT_EQ(std::string_view(mapped[index]["mappings"]["properties"]["price"]["type"]), "double");
  EXPECT_EQ(std::string_view(mapped[index]["mappings"]["properties"]["timestamp"]["type"]), "date");

  // _search finds a coin's quotes under their observation keys.
  auto search =
      http_.get(url() + "/" + index + "/_search?q=id:coin-7&size=20&sort=last_updated:asc", 10s);
  ASSERT_TRUE(search);
  simdjson::dom::element found = parser_.parse(search->body);
  simdjson::dom::array hits = found["hits"]["hits"];
  ASSERT_EQ(hits.size(), 10u) << search->body;
  EXPECT_EQ(std::string_view(hits.at(0)["_id"]), model::observationKey(quoteNumber(7)));

  // The refused document is a dead letter with Elasticsearch's status and reason.
  const auto letters = readAll(kBrokers, topic + ".dlq", 1, 60s);
  ASSERT_EQ(letters.size(), 1u) << indexer.output();
  simdjson::dom::element letter = parser_.parse(letters[0].value);
  EXPECT_EQ(std::string_view(letter["stage"]), "index");
  EXPECT_EQ(int64_t(letter["status"]), 400);
  EXPECT_EQ(letters[0].key, too_big.id);
  EXPECT_EQ(indexer.terminate(), 0) << indexer.output();

  // One test, not two: each test runs in its own process, and each would boot a node.
  // setup elasticsearch: the template, and a clear refusal of rollover where ILM is missing.
  const std::string setup_index = "es8-setup-" + uniqueSuffix();
  auto plain = runCommand(
      {kBinary, "setup", "elasticsearch", "--elasticsearch", url(), "--index", setup_index}, 60s);
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("elasticsearch 8."), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("index template " + setup_index + " installed"), std::string::npos);
  auto rollover =
      runCommand({kBinary, "setup", "elasticsearch", "--elasticsearch", url(), "--index",
                  "es8-rolled-" + uniqueSuffix(), "--set", "elasticsearch.lifecycle=rollover"},
                 60s);
  EXPECT_EQ(rollover.exit_code, 1) << rollover.output;
  EXPECT_NE(rollover.output.find("has no index lifecycle management (ILM)"), std::string::npos)
      << rollover.output;
}

}  // namespace
}  // namespace coinrelay::testing
