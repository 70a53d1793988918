#include "config/config.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/// Every secret, its variable, its `_file` key's variable and the field it fills.
struct SecretKey {
  const char* name;
  const char* variable;
  const char* file_variable;
  std::string (*field)(const Config&);
};
const SecretKey kSecretKeys[] = {
    {"upstream.api_key", "COINRELAY_UPSTREAM_API_KEY", "COINRELAY_UPSTREAM_API_KEY_FILE",
     [](const Config& c) { return c.upstream.api_key; }},
    {"elasticsearch.password", "COINRELAY_ELASTICSEARCH_PASSWORD",
     "COINRELAY_ELASTICSEARCH_PASSWORD_FILE",
     [](const Config& c) { return c.elasticsearch.password; }},
    {"elasticsearch.api_key", "COINRELAY_ELASTICSEARCH_API_KEY",
     "COINRELAY_ELASTICSEARCH_API_KEY_FILE",
     [](const Config& c) { return c.elasticsearch.api_key; }},
    {"kibana.password", "COINRELAY_KIBANA_PASSWORD", "COINRELAY_KIBANA_PASSWORD_FILE",
     [](const Config& c) { return c.kibana.password; }},
    {"kibana.api_key", "COINRELAY_KIBANA_API_KEY", "COINRELAY_KIBANA_API_KEY_FILE",
     [](const Config& c) { return c.kibana.api_key; }},
};

TEST(ConfigTest, ASecretInTheConfigFileIsRefusedWithoutShowingIt) {
  testing::TempDir dir;
  for (const auto& key : kSecretKeys) {
    const std::string_view name(key.name);
    const size_t dot = name.find('.');
    const std::string file = dir.write(
        "c.toml",
        fmt::format("[{}]\n{} = \"S3CRET-VALUE\"\n", name.substr(0, dot), name.substr(dot + 1)));
    auto loaded = loadWith(file, {});
    ASSERT_FALSE(loaded) << key.name;
    const std::string& message = loaded.error().message;
    EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 0) << message;
    EXPECT_NE(message.find(
                  fmt::format("{} is a secret and is not accepted in the config file", key.name)),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(key.variable), std::string::npos) << message;
    EXPECT_NE(message.find(std::string(key.name) + "_file"), std::string::npos) << message;
    EXPECT_EQ(message.find("S3CRET-VALUE"), std::string::npos) << message;
  }
}

TEST(ConfigTest, TheRenderedConfigurationLoadsBack) {
  // `coinrelay config` prints every secret; an unset one (`api_key = ""`) is accepted back.
  auto loaded = loadWith("", {{"COINRELAY_KAFKA_TOPIC", "quotes"}}, {"upstream.top_n=7"});
  ASSERT_TRUE(loaded) << loaded.error().message;
  testing::TempDir dir;
  auto again = loadWith(dir.write("c.toml", render(loaded->first)), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->second.upstream.top_n, 7);
  EXPECT_EQ(again->second.kafka.topic, "quotes");
}

TEST(ConfigTest, EverySecretIsReadFromTheFirstLineOfItsFileTrimmed) {
  testing::TempDir dir;
  const std::string file = dir.write("secret", "  s3cret-value \t\nsecond line\n");
  for (const auto& key : kSecretKeys) {
    auto loaded = loadWith("", {{key.file_variable, file}});
    ASSERT_TRUE(loaded) << key.name << ": " << loaded.error().message;
    EXPECT_EQ(key.field(loaded->second), "s3cret-value") << key.name;
  }
}

TEST(ConfigTest, TheEnvironmentsSecretWinsOverItsFile) {
  for (const auto& key : kSecretKeys) {
    auto loaded =
        loadWith("", {{key.variable, "from-env"}, {key.file_variable, "/nonexistent/secret"}});
    ASSERT_TRUE(loaded) << key.name << ": " << loaded.error().message;
    EXPECT_EQ(key.field(loaded->second), "from-env") << key.name;
  }
}

/// The one-line message a secret file gives, for every secret key.
void expectSecretFileProblem(const std::string& path, const std::string& expected_problem) {
  for (const auto& key : kSecretKeys) {
    auto loaded = loadWith("", {{key.file_variable, path}});
    ASSERT_FALSE(loaded) << key.name;
    EXPECT_EQ(loaded.error().message,
              fmt::format("{}_file (from {}): {}", key.name, key.file_variable, expected_problem));
  }
}

TEST(ConfigTest, AMissingSecretFileIsNamedWithItsKey) {
  testing::TempDir dir;
  const std::string path = dir.path("absent");
  expectSecretFileProblem(path, fmt::format("'{}' does not exist; check the path", path));
}

TEST(ConfigTest, AnUnreadableSecretFileIsNamedWithItsKey) {
  testing::TempDir dir;
  expectSecretFileProblem(
      dir.path(""),
      fmt::format("'{}' is a directory; name the file that holds the secret", dir.path("")));
  // open(2) fails on a socket even for root, unlike on a file without read permission.
  const std::string socket_path = dir.path("socket");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  expectSecretFileProblem(
      socket_path,
      fmt::format("cannot read '{}'; check that coinrelay's user may read it", socket_path));
  ::close(fd);
}

TEST(ConfigTest, AnEmptyOrBlankSecretFileIsNamedWithItsKeyAndNeverShown) {
  testing::TempDir dir;
  const std::string empty = dir.write("empty", "");
  expectSecretFileProblem(empty,
                          fmt::format("'{}' is empty; put the secret on its first line", empty));
  const std::string blank = dir.write("blank", " \t \n\n");
  expectSecretFileProblem(
      blank,
      fmt::format("the first line of '{}' is blank; put the secret on its first line", blank));
  // A secret below a blank first line is not taken, and not shown either.
  const std::string below = dir.write("below", "\nS3CRET-BELOW\n");
  auto loaded = loadWith("", {{"COINRELAY_KIBANA_API_KEY_FILE", below}});
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message.find("S3CRET-BELOW"), std::string::npos);
}

TEST(ConfigTest, AnUnreadableKeyFileIsOneProblemNotTwo) {
  testing::TempDir dir;
  const std::string empty = dir.write("empty", "");
  auto upstream = loadWith(
      "", {{"COINRELAY_UPSTREAM_PLAN", "demo"}, {"COINRELAY_UPSTREAM_API_KEY_FILE", empty}});
  ASSERT_FALSE(upstream);
  EXPECT_EQ(upstream.error().message,
            fmt::format("upstream.api_key_file (from COINRELAY_UPSTREAM_API_KEY_FILE): '{}' is "
                        "empty; put the secret on its first line",
                        empty));
  auto es = loadWith("", {{"COINRELAY_ELASTICSEARCH_USERNAME", "coinrelay"},
                          {"COINRELAY_ELASTICSEARCH_PASSWORD_FILE", empty}});
  ASSERT_FALSE(es);
  EXPECT_EQ(std::count(es.error().message.begin(), es.error().message.end(), '\n'), 0)
      << es.error().message;
}

TEST(ConfigTest, EveryCrossFieldProblemIsReportedNotOnlyTheFirst) {
  auto loaded = loadWith("", {{"COINRELAY_ELASTICSEARCH_USERNAME", "u"}},
                         {"serve.miss_via=fetch-1:9464,http://ok:1,nope", "upstream.top_n=0",
                          "index.dlq_topic=crypto-data", "kafka.topic=crypto-data"});
  ASSERT_FALSE(loaded);
  const std::string& message = loaded.error().message;
  for (const char* expected :
       {"serve.miss_via (from a flag): 'fetch-1:9464' is not an http(s) URL",
        "serve.miss_via (from a flag): 'nope' is not an http(s) URL",
        "upstream.top_n is 0 and upstream.ids is empty", "index.dlq_topic is 'crypto-data'",
        "elasticsearch.username is set but no password",
        "serve.miss_via is set but serve.miss_via_secret is not"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n" << message;
  }
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 5) << message;
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

TEST(ConfigTest, TheStructsNumbersDefaultToTheTables) {
  // Code that builds a section struct by hand (tests, tools) starts from the same numbers.
  auto loaded = validate(RawConfig());
  ASSERT_TRUE(loaded) << loaded.error().message;
  Config by_hand;
  for (const auto& spec : optionSpecs()) {
    if (auto into = std::get_if<int& (*)(Config&)>(&spec.into)) {
      EXPECT_EQ((*into)(by_hand), (*into)(*loaded)) << spec.name;
    }
    if (auto into = std::get_if<bool& (*)(Config&)>(&spec.into)) {
      EXPECT_EQ((*into)(by_hand), (*into)(*loaded)) << spec.name;
    }
  }
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
