// The core indexing path against a real Elasticsearch 8: the integ-test distribution Elastic
// publishes on Maven Central, started by tools/testenv/elasticsearch as a named instance on a
// free port, with security on as Elasticsearch 8 ships it: https with a certificate signed by a
// CA of the run, and a password user. It has no GET / route, no ILM and no data streams, so this
// covers engine detection, the index template, _bulk (with a refused document), _search and
// _count, TLS and auth; the lifecycle requests are covered by the request-shape tests of
// tests/unit/index_test.cc. It cannot create API keys (their index needs an analyzer the stripped
// build lacks), so an API key is shown to reach the node as one, and to be refused cleanly.
// Kafka is the shared default testenv instance (only unique topics are written there).

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include "kafka/dead_letter.h"
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

const std::string& kBrokers = kSharedBrokers;

class Elasticsearch8Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto kafka = runCommand({kTestenv, "up", "kafka"}, 300s);
    ASSERT_EQ(kafka.exit_code, 0) << kafka.output;
    env_ = std::make_unique<OwnTestenv>("es8");
    ASSERT_TRUE(env_->portsFound());
    auto up = env_->elasticsearch({"up"}, 600s);
    ASSERT_EQ(up.exit_code, 0) << "tools/testenv/elasticsearch up failed:\n" << up.output;
    const std::string run = env_->elasticsearchRunDir();
    ca_file_ = run + "/ca.pem";
    password_file_ = run + "/password";
    std::ifstream in(password_file_);
    std::getline(in, password_);
    ASSERT_FALSE(password_.empty()) << password_file_;
  }
  static void TearDownTestSuite() {
    auto down = env_->elasticsearch({"down"}, 120s);
    EXPECT_EQ(down.exit_code, 0) << down.output;
    env_.reset();
  }
  static std::string url() {
    return "https://127.0.0.1:" + std::to_string(env_->elasticsearchPort());
  }
  /// `coinrelay setup elasticsearch` into a new index, with extra arguments and environment.
  static CommandResult setup(std::vector<std::string> extra, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {kBinary, "setup", "elasticsearch", "--elasticsearch", url(), "--index",
                             "es8-setup-" + uniqueSuffix()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runCommand(argv, 60s);
  }

  int64_t count(const std::string& index) {
    return coinrelay::testing::countDocuments(http_, url(), index);
  }

  static inline std::unique_ptr<OwnTestenv> env_;
  static inline std::string ca_file_, password_file_, password_;
  TempDir dir_;
  net::HttpClient http_{net::HttpAuth{"coinrelay", password_, ""}, ca_file_};
  simdjson::dom::parser parser_;
};

TEST_F(Elasticsearch8Test,
       IndexesOverTlsWithAPasswordDeadLettersARefusedDocumentAndSetsUpTemplates) {
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

  // The password from the environment, the CA from the configuration.
  Process indexer({kBinary, "index", "--brokers", kBrokers, "--topic", topic, "--elasticsearch",
                   url(), "--index", index, "--set", "kafka.group_id=es8-" + topic, "--set",
                   "index.metrics_listen=", "--set", "elasticsearch.username=coinrelay", "--set",
                   "elasticsearch.ca_file=" + ca_file_},
                  {"COINRELAY_ELASTICSEARCH_PASSWORD=" + password_}, dir_.path("index.log"));
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
  EXPECT_EQ(indexer.output().find(password_), std::string::npos) << "the password is never shown";

  // setup elasticsearch here rather than in a test of its own (each test runs in its own process
  // and boots a node): the template, and a clear refusal of rollover where ILM is missing. The
  // password comes from a file this time.
  const std::vector<std::string> auth = {"--set", "elasticsearch.username=coinrelay",
                                         "--set", "elasticsearch.password_file=" + password_file_,
                                         "--set", "elasticsearch.ca_file=" + ca_file_};
  auto plain = setup(auth);
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("elasticsearch 8."), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("index template es8-setup-"), std::string::npos) << plain.output;
  std::vector<std::string> rolled = auth;
  rolled.insert(rolled.end(), {"--set", "elasticsearch.lifecycle=rollover"});
  auto rollover = setup(rolled);
  EXPECT_EQ(rollover.exit_code, 1) << rollover.output;
  EXPECT_NE(rollover.output.find("has no index lifecycle management (ILM)"), std::string::npos)
      << rollover.output;
}

TEST_F(Elasticsearch8Test, AnUntrustedCertificateOrBadCredentialsGetOneClearMessage) {
  const std::vector<std::string> ca = {"--set", "elasticsearch.ca_file=" + ca_file_};
  // No CA given: the node's certificate cannot be verified, and the message names the setting.
  auto untrusted = setup({"--set", "elasticsearch.username=coinrelay"},
                         {"COINRELAY_ELASTICSEARCH_PASSWORD=" + password_});
  EXPECT_NE(untrusted.exit_code, 0) << untrusted.output;
  EXPECT_NE(untrusted.output.find("TLS certificate not trusted"), std::string::npos)
      << untrusted.output;
  EXPECT_NE(untrusted.output.find("set elasticsearch.ca_file"), std::string::npos)
      << untrusted.output;

  // A wrong password: the node's 401, the settings to check, and no password in the output.
  const std::string wrong = "not-the-password-" + uniqueSuffix();
  std::vector<std::string> with_user = ca;
  with_user.insert(with_user.end(), {"--set", "elasticsearch.username=coinrelay"});
  auto refused = setup(with_user, {"COINRELAY_ELASTICSEARCH_PASSWORD=" + wrong});
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("HTTP 401"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("check elasticsearch.username and the password"), std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find(wrong), std::string::npos) << refused.output;

  // An API key reaches the node as one (it names the key's id), and its secret is never shown.
  const std::string secret = "secret-" + uniqueSuffix();
  const std::string id_and_secret = "coinrelay-test-key:" + secret;
  const std::string encoded =
      kafka::base64Encode(id_and_secret);  // as Elasticsearch hands out keys
  auto key = setup(ca, {"COINRELAY_ELASTICSEARCH_API_KEY=" + encoded});
  EXPECT_NE(key.exit_code, 0) << key.output;
  EXPECT_NE(key.output.find("HTTP 401"), std::string::npos) << key.output;
  EXPECT_NE(key.output.find("for id coinrelay-test-key"), std::string::npos) << key.output;
  EXPECT_NE(key.output.find("elasticsearch.api_key"), std::string::npos) << key.output;
  EXPECT_EQ(key.output.find(secret), std::string::npos) << key.output;
  EXPECT_EQ(key.output.find(encoded), std::string::npos) << key.output;
}

}  // namespace
}  // namespace coinrelay::testing
