#include "config/config.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace coinrelay::config {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

Result<std::pair<RawConfig, Config>> loadWith(const std::string& file, const Env& env,
                                              std::vector<std::string> flags = {}) {
  LoadOptions options;
  options.file = file;
  options.environ = env;
  options.assignments = std::move(flags);
  return load(options);
}

TEST(ConfigTest, DefaultsAreTheEmbeddedDefault) {
  auto loaded = loadWith("", {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config& c = loaded->second;
  EXPECT_EQ(c.upstream.base_url, "https://api.coingecko.com/api/v3");
  EXPECT_EQ(c.upstream.top_n, 50);
  EXPECT_EQ(c.upstream.interval_s, 60);
  EXPECT_EQ(c.upstream.vs_currencies, std::vector<std::string>{"usd"});
  EXPECT_EQ(c.kafka.brokers, "") << "no Kafka unless configured";
  EXPECT_EQ(c.kafka.topic, "crypto-data");
  EXPECT_EQ(c.kafka.partitions, 3);
  EXPECT_EQ(c.elasticsearch.url, "") << "no search engine unless configured";
  EXPECT_EQ(c.elasticsearch.index, "crypto-prices");
  EXPECT_EQ(c.http.listen, "127.0.0.1:8080");
}

TEST(ConfigTest, FileThenEnvThenFlagsInIncreasingPrecedence) {
  testing::TempDir dir;
  const std::string file = dir.write("c.toml", R"(
[upstream]
base_url = "http://file:1/api/v3"
top_n = 10
interval_s = 30
vs_currencies = ["usd", "EUR"]
[kafka]
brokers = "file:9092"
topic = "from-file"
)");
  const Env env = {{"COINRELAY_UPSTREAM_TOP_N", "20"},
                   {"COINRELAY_KAFKA_BROKERS", "env:9092"},
                   {"COINRELAY_UPSTREAM_BASE_URL", "http://env:1/api/v3"},
                   {"COINRELAY_ELASTICSEARCH_URL", "http://es:9200/"},
                   {"COINRELAY_HTTP_LISTEN", "0.0.0.0:9999"},
                   {"PATH", "/usr/bin"}};
  auto loaded = loadWith(file, env, {"upstream.top_n=30", "kafka.brokers=flag:9092"});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const auto& [raw, c] = *loaded;
  EXPECT_EQ(c.upstream.interval_s, 30);                   // file only
  EXPECT_EQ(c.kafka.topic, "from-file");                  // file only
  EXPECT_EQ(c.upstream.base_url, "http://env:1/api/v3");  // env over file
  EXPECT_EQ(c.upstream.top_n, 30);                        // flag over env over file
  EXPECT_EQ(c.kafka.brokers, "flag:9092");                // flag over env over file
  EXPECT_EQ(c.elasticsearch.url, "http://es:9200");       // trailing slash dropped
  EXPECT_EQ(c.http.listen, "0.0.0.0:9999");
  EXPECT_EQ(c.upstream.vs_currencies, (std::vector<std::string>{"usd", "eur"}));
  EXPECT_EQ(raw.sourceOf("upstream.top_n"), Source::Flag);
  EXPECT_EQ(raw.sourceOf("upstream.base_url"), Source::Env);
  EXPECT_EQ(raw.sourceOf("upstream.interval_s"), Source::File);
  EXPECT_EQ(raw.sourceOf("log.level"), Source::Default);
}

TEST(ConfigTest, UnknownKeysAreErrorsThatNameThem) {
  testing::TempDir dir;
  auto in_file = loadWith(dir.write("c.toml", "[upstream]\ntop = 5\n"), {});
  ASSERT_FALSE(in_file);
  EXPECT_NE(in_file.error().message.find("unknown key 'upstream.top'"), std::string::npos)
      << in_file.error().message;

  auto in_env = loadWith("", {{"COINRELAY_KAFKA_BROKER", "x:1"}});
  ASSERT_FALSE(in_env);
  EXPECT_NE(in_env.error().message.find("unknown environment variable COINRELAY_KAFKA_BROKER"),
            std::string::npos);

  auto in_flag = loadWith("", {}, {"kafka.nope=1"});
  ASSERT_FALSE(in_flag);
  EXPECT_NE(in_flag.error().message.find("unknown configuration key 'kafka.nope'"),
            std::string::npos);

  auto no_equals = loadWith("", {}, {"kafka.topic"});
  ASSERT_FALSE(no_equals);
  EXPECT_NE(no_equals.error().message.find("section.key=value"), std::string::npos);
}

TEST(ConfigTest, BadValuesNameTheKeyTheSourceAndTheFix) {
  auto not_int = loadWith("", {{"COINRELAY_UPSTREAM_TOP_N", "fifty"}});
  ASSERT_FALSE(not_int);
  EXPECT_EQ(not_int.error().message,
            "upstream.top_n (from COINRELAY_UPSTREAM_TOP_N): 'fifty' is not an integer; set "
            "top_n = ... under [upstream] in the config file, COINRELAY_UPSTREAM_TOP_N or --set "
            "upstream.top_n=...");

  auto out_of_range = loadWith("", {}, {"upstream.top_n=20001"});
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().message.find("20001 is outside the allowed range 0..20000"),
            std::string::npos);

  auto nothing = loadWith("", {}, {"upstream.top_n=0"});
  ASSERT_FALSE(nothing);
  EXPECT_NE(nothing.error().message.find("upstream.top_n is 0 and upstream.ids is empty"),
            std::string::npos);

  auto bad_choice = loadWith("", {}, {"log.format=xml"});
  ASSERT_FALSE(bad_choice);
  EXPECT_NE(bad_choice.error().message.find("'xml' is not one of text,json"), std::string::npos);

  auto bad_url = loadWith("", {}, {"upstream.base_url=api.coingecko.com"});
  ASSERT_FALSE(bad_url);
  EXPECT_NE(bad_url.error().message.find("is not an http(s) URL"), std::string::npos);

  auto bad_listen = loadWith("", {}, {"http.listen=8080"});
  ASSERT_FALSE(bad_listen);
  EXPECT_NE(bad_listen.error().message.find("is not host:port"), std::string::npos);
}

TEST(ConfigTest, ReportsEveryProblemAtOnce) {
  auto loaded = loadWith("", {}, {"upstream.top_n=0", "kafka.partitions=x", "log.level=loud"});
  ASSERT_FALSE(loaded);
  const std::string& message = loaded.error().message;
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST(ConfigTest, MalformedTomlPointsAtTheLine) {
  testing::TempDir dir;
  auto loaded = loadWith(dir.write("c.toml", "[upstream]\ntop_n = = 3\n"), {});
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("c.toml:2:"), std::string::npos) << loaded.error().message;
  auto missing = loadWith(dir.path("absent.toml"), {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("absent.toml"), std::string::npos);
}

TEST(ConfigTest, SecretsComeFromEnvOrFileNeverFlagsAndAreNeverPrinted) {
  const std::string key = "CG-SECRETVALUE123";
  auto from_flag = loadWith("", {}, {"upstream.api_key=" + key});
  ASSERT_FALSE(from_flag);
  EXPECT_NE(from_flag.error().message.find("not accepted as a flag"), std::string::npos);
  EXPECT_EQ(from_flag.error().message.find(key), std::string::npos);

  auto from_env = loadWith("", {{"COINRELAY_UPSTREAM_API_KEY", key},
                                {"COINRELAY_UPSTREAM_PLAN", "demo"},
                                {"COINRELAY_ELASTICSEARCH_PASSWORD", "hunter2"}});
  ASSERT_TRUE(from_env) << from_env.error().message;
  EXPECT_EQ(from_env->second.upstream.api_key, key);
  const std::string printed = render(from_env->first);
  EXPECT_EQ(printed.find(key), std::string::npos) << printed;
  EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("api_key = \"********\""), std::string::npos) << printed;

  testing::TempDir dir;
  const std::string key_file = dir.write("key", key + "\n");
  auto from_file = loadWith(
      "", {{"COINRELAY_UPSTREAM_API_KEY_FILE", key_file}, {"COINRELAY_UPSTREAM_PLAN", "pro"}});
  ASSERT_TRUE(from_file) << from_file.error().message;
  EXPECT_EQ(from_file->second.upstream.api_key, key);
}

TEST(ConfigTest, APaidPlanNeedsAKey) {
  auto loaded = loadWith("", {{"COINRELAY_UPSTREAM_PLAN", "demo"}});
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("no API key is set"), std::string::npos);
}

TEST(ConfigTest, RenderShowsWhereEachValueCameFrom) {
  auto loaded = loadWith("", {{"COINRELAY_KAFKA_BROKERS", "k:9092"}}, {"upstream.top_n=7"});
  ASSERT_TRUE(loaded);
  const std::string printed = render(loaded->first);
  EXPECT_NE(printed.find("[upstream]\n"), std::string::npos);
  EXPECT_NE(printed.find("top_n = 7  # flag\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("brokers = \"k:9092\"  # COINRELAY_KAFKA_BROKERS\n"), std::string::npos);
  EXPECT_NE(printed.find("vs_currencies = [\"usd\"]  # default\n"), std::string::npos);
}

TEST(ConfigTest, ReferenceListsEveryOption) {
  const std::string reference = renderReference();
  for (const auto& spec : optionSpecs()) {
    EXPECT_NE(reference.find(std::string("`") + spec.name + "`"), std::string::npos) << spec.name;
  }
}

}  // namespace
}  // namespace coinrelay::config

namespace coinrelay::config {
namespace {

TEST(ConfigDocsTest, TheReferenceDocIsCurrent) {
  std::ifstream in(std::string(COINRELAY_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), renderReference())
      << "docs/configuration.md is stale: run `build/src/coinrelay config --reference > "
         "docs/configuration.md`";
}

TEST(ConfigDocsTest, TheExampleFileIsValid) {
  auto loaded = loadWith(std::string(COINRELAY_SOURCE_DIR) + "/conf/coinrelay.example.toml", {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->second.upstream.top_n, 50);
}

}  // namespace
}  // namespace coinrelay::config
