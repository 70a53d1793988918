// End-to-end tests of `coinrelay fetch` against `coinrelay simulate` and real Kafka 3.9: an
// upstream that fails in every way CoinGecko does, budgets, API keys, two fetchers and a
// failover, and a broker outage. The simulator counts every request itself (/_sim/stats,
// /_sim/requests) and lists the observations it served in whole (/_sim/served), so the fetcher
// is judged by the upstream and by the broker, never by its own counters.
// Tests that stop Kafka run their own instance (TESTENV_INSTANCE), never the shared one.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
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
#include "model/quote.h"
#include "model/quote_codec.h"
#include "net/http_client.h"
#include "support/kafka_reader.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/testenv.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;

size_t countOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

class FetchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The shared broker (idempotent); the outage test starts its own besides.
    auto up = runCommand({kTestenv, "up", "kafka"}, 300s);
    ASSERT_EQ(up.exit_code, 0) << "tools/testenv/testenv up kafka failed:\n" << up.output;
  }

  /// `coinrelay simulate` on a free port, with extra flags (faults, keys).
  /// Prices move every 0.5 s: a cycle of a 1 s schedule always sees new ones, however its start
  /// jitters around the simulator's steps, so counts of published quotes do not depend on timing.
  std::unique_ptr<Process> startSimulator(std::vector<std::string> extra = {}) {
    sim_port_ = freePort();
    std::vector<std::string> argv = {kBinary,   "simulate", "--listen",          address(sim_port_),
                                     "--coins", "100",      "--update-interval", "0.5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process =
        std::make_unique<Process>(argv, std::vector<std::string>{},
                                  dir_.path("simulate-" + std::to_string(sim_port_) + ".log"));
    EXPECT_TRUE(eventually([&] { return get(simUrl("/_sim/stats")).status == 200; }, 10s))
        << process->output();
    return process;
  }

  static std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }
  std::string simUrl(const std::string& path) const {
    return "http://" + address(sim_port_) + path;
  }
  std::string upstream() const { return simUrl("/api/v3"); }

  net::HttpResponse get(const std::string& url) {
    auto response = http_.get(url, 5s);
    return response ? *response : net::HttpResponse{};
  }
  void post(const std::string& url) {
    net::HttpRequest request;
    request.method = "POST";
    request.url = url;
    (void)http_.send(request);
  }

  /// A fetcher with its own spool and endpoint; `extra` flags last.
  std::unique_ptr<Process> startFetch(const std::string& name, const std::string& brokers,
                                      const std::string& topic, std::vector<std::string> extra,
                                      int metrics_port, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {kBinary,      "fetch",
                                     "--upstream", upstream(),
                                     "--brokers",  brokers,
                                     "--topic",    topic,
                                     "--set",      "fetch.spool_dir=" + dir_.path("spool-" + name),
                                     "--set",      "fetch.metrics_listen=" + address(metrics_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, std::move(env), dir_.path("fetch-" + name + ".log"));
  }

  /// A field of the fetcher's /healthz, or -1.
  int64_t health(int port, const char* section, const char* field) {
    auto response = get("http://" + address(port) + "/healthz");
    simdjson::dom::element doc;
    int64_t value = -1;
    if (response.status != 200 || parser_.parse(response.body).get(doc) != simdjson::SUCCESS)
      return -1;
    auto element = section ? doc[section][field] : doc[field];
    if (element.get(value) != simdjson::SUCCESS)
      return -1;
    return value;
  }

  /// The observation keys of the quotes in `topic`, with how often each arrived.
  std::map<std::string, int> observationsIn(const std::string& brokers, const std::string& topic,
                                            std::vector<model::Quote>* quotes = nullptr) {
    std::map<std::string, int> seen;
    simdjson::dom::parser parser;
    for (const auto& record : readTopic(brokers, topic)) {
      auto quote = model::decodeQuote(record.value, parser);
      EXPECT_TRUE(quote) << record.value;
      if (!quote)
        continue;
      EXPECT_EQ(record.key, quote->id) << "the key is the coin id";
      ++seen[model::observationKey(*quote)];
      if (quotes)
        quotes->push_back(*quote);
    }
    return seen;
  }

  /// What the simulator served in whole, valid pages.
  std::set<std::string> served() {
    std::set<std::string> out;
    auto response = get(simUrl("/_sim/served"));
    simdjson::dom::parser parser;
    for (simdjson::dom::element key : simdjson::dom::array(parser.parse(response.body)))
      out.insert(std::string(std::string_view(key)));
    return out;
  }

  /// [t_ms, status] of every request to /api/v3/coins/markets, as the simulator counted them.
  std::vector<std::pair<int64_t, int64_t>> marketRequests() {
    std::vector<std::pair<int64_t, int64_t>> out;
    auto response = get(simUrl("/_sim/requests?path=/api/v3/coins/markets"));
    simdjson::dom::parser parser;
    for (simdjson::dom::element entry : simdjson::dom::array(parser.parse(response.body)))
      out.emplace_back(int64_t(entry.at(0)), int64_t(entry.at(1)));
    return out;
  }

  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
  int sim_port_ = 0;
};

// --------------------------------------------------------------------------------- budget, keys

TEST_F(FetchTest, BudgetSaysWhetherAPlanFitsAndTheShortestIntervalThatDoes) {
  auto demo =
      runCommand({kBinary, "budget", "--plan", "demo", "--top", "1000", "--interval", "60"});
  EXPECT_EQ(demo.exit_code, 2) << demo.output;
  EXPECT_NE(demo.output.find("month: 4 calls x 44640 cycles = 178560 calls > 9000 credits"),
            std::string::npos)
      << demo.output;
  EXPECT_NE(demo.output.find("verdict: DOES NOT FIT"), std::string::npos) << demo.output;
  EXPECT_NE(demo.output.find("shortest interval that fits: 1191 s (19 min 51 s)"),
            std::string::npos)
      << demo.output;

  auto analyst = runCommand({kBinary, "budget", "--plan", "analyst", "--top", "50"});
  EXPECT_EQ(analyst.exit_code, 0) << analyst.output;
  EXPECT_NE(analyst.output.find("plan analyst: 500 calls/min, 500000 credits/month"),
            std::string::npos)
      << analyst.output;
  EXPECT_NE(analyst.output.find("verdict: FITS; margin 405360 credits a month (81.1% of the "
                                "plan)"),
            std::string::npos)
      << analyst.output;

  // `fetch` refuses the schedule that does not fit, before it connects to anything.
  testing::TempDir keys;
  const std::string key_file = keys.write("key", "CG-not-a-real-key\n");
  Process refused({kBinary, "fetch", "--plan", "demo", "--top", "1000", "--interval", "60",
                   "--brokers", "127.0.0.1:1"},
                  {"COINRELAY_UPSTREAM_API_KEY_FILE=" + key_file}, dir_.path("refused.log"));
  EXPECT_EQ(refused.wait(30s), 2);
  EXPECT_NE(refused.output().find("does not fit the upstream budget"), std::string::npos)
      << refused.output();
  EXPECT_NE(refused.output().find("set upstream.interval_s = 1191"), std::string::npos)
      << refused.output();
}

TEST_F(FetchTest, TheKeyIsSentButNeverShown) {
  SCOPED_TRACE("the key must appear in no log, metric, error, config output or HTTP answer");
  const std::string key = "CG-k3y-" + uniqueSuffix() + "-SECRET";
  const std::string key_file = dir_.write("coingecko.key", key + "\n");
  auto simulator = startSimulator({"--api-key-file", key_file, "--api-key-plan", "demo"});
  const std::string suffix = uniqueSuffix();
  const std::string topic = "crypto-data-key-" + suffix;
  const int metrics = freePort();
  std::vector<std::string> shown;

  // The demo key from the environment, on a demo plan: accepted.
  auto fetch =
      startFetch("key", kSharedBrokers, topic, {"--plan", "demo", "--top", "10", "--interval", "1"},
                 metrics, {"COINRELAY_UPSTREAM_API_KEY=" + key});
  ASSERT_TRUE(
      eventually([&] { return countOf(fetch->output(), "sent 10 quotes to kafka") >= 2; }, 30s))
      << fetch->output();
  shown.push_back(get("http://" + address(metrics) + "/metrics").body);
  shown.push_back(get("http://" + address(metrics) + "/healthz").body);
  EXPECT_EQ(fetch->terminate(), 0);
  shown.push_back(fetch->output());
  auto stats = get(simUrl("/_sim/stats")).body;
  EXPECT_NE(stats.find(R"("x-cg-demo-api-key":)"), std::string::npos)
      << "the key went in the demo header: " << stats;

  // The same key on a paid plan: CoinGecko's 10011, with the setting to change.
  auto wrong = startFetch("wrong-plan", kSharedBrokers, topic,
                          {"--plan", "pro", "--top", "10", "--interval", "1"}, freePort(),
                          {"COINRELAY_UPSTREAM_API_KEY_FILE=" + key_file});
  ASSERT_TRUE(eventually([&] { return wrong->output().find("10011") != std::string::npos; }, 30s))
      << wrong->output();
  EXPECT_NE(wrong->output().find("set upstream.plan = \"demo\""), std::string::npos)
      << wrong->output();
  EXPECT_TRUE(wrong->running()) << "a key problem is logged, never a crash";
  EXPECT_EQ(wrong->terminate(), 0);
  shown.push_back(wrong->output());

  // Configuration and planning output, and a refused flag.
  auto config = Process({kBinary, "config", "--plan", "demo"},
                        {"COINRELAY_UPSTREAM_API_KEY=" + key}, dir_.path("config.log"));
  EXPECT_EQ(config.wait(30s), 0);
  EXPECT_NE(config.output().find("api_key = \"********\""), std::string::npos) << config.output();
  shown.push_back(config.output());
  auto budget = Process({kBinary, "budget", "--plan", "demo"},
                        {"COINRELAY_UPSTREAM_API_KEY=" + key}, dir_.path("budget.log"));
  budget.wait(30s);
  shown.push_back(budget.output());
  auto flag = runCommand({kBinary, "fetch", "--set", "upstream.api_key=" + key});
  EXPECT_EQ(flag.exit_code, 2);
  shown.push_back(flag.output);

  // `coinrelay run`'s HTTP answers.
  const int run_port = freePort();
  Process run({kBinary, "run", "--upstream", upstream(), "--plan", "demo", "--listen",
               address(run_port), "--sqlite", dir_.path("key.db"), "--interval", "1"},
              {"COINRELAY_UPSTREAM_API_KEY_FILE=" + key_file}, dir_.path("run.log"));
  const std::string base = "http://" + address(run_port);
  ASSERT_TRUE(eventually(
      [&] { return get(base + "/v1/quotes").body.find("bitcoin") != std::string::npos; }, 30s))
      << run.output();
  for (const char* path : {"/v1/quotes", "/healthz", "/metrics"})
    shown.push_back(get(base + path).body);
  EXPECT_EQ(run.terminate(), 0);
  shown.push_back(run.output());

  for (size_t i = 0; i < shown.size(); ++i) {
    EXPECT_FALSE(shown[i].empty()) << "output " << i;
    EXPECT_EQ(shown[i].find(key), std::string::npos) << "output " << i << " shows the key:\n"
                                                     << shown[i];
    EXPECT_EQ(shown[i].find("SECRET"), std::string::npos) << "output " << i;
  }
}

// --------------------------------------------------------------------------------- faults

TEST_F(FetchTest, AHundredCyclesOfFaultsPublishEveryValidQuoteWithinTheRateLimit) {
  // 30% 429, 10% 503, 5% truncated JSON, 5% Cloudflare HTML, and 2% bad items in good pages.
  auto simulator =
      startSimulator({"--fail-429", "0.3", "--fail-5xx", "0.1", "--fail-truncated", "0.05",
                      "--fail-html", "0.05", "--fail-items", "0.02", "--retry-after", "0"});
  const std::string topic = "crypto-data-faults-" + uniqueSuffix();
  const int limit = 75;  // a cycle a second needs 60 calls a minute; retries share the rest
  const int metrics = freePort();
  auto fetch = startFetch("faults", kSharedBrokers, topic,
                          {"--top", "100", "--interval", "1", "--set",
                           "budget.calls_per_minute=" + std::to_string(limit)},
                          metrics);
  const auto started = std::chrono::steady_clock::now();
  bool alive = true;
  ASSERT_TRUE(eventually(
      [&] {
        alive = alive && fetch->running();
        return !alive || health(metrics, nullptr, "cycles") >= 100;
      },
      240s, 1s))
      << fetch->output();
  ASSERT_TRUE(alive) << "the fetcher exited:\n" << fetch->output();
  const auto elapsed = std::chrono::steady_clock::now() - started;

  // A quiet upstream from here: what was served is final once the cycle in flight ends.
  post(simUrl("/_sim/faults?rate_limited=0&server_error=1&html=0&truncated=0&invalid_items=0"));
  std::this_thread::sleep_for(2500ms);
  const std::set<std::string> valid = served();
  ASSERT_TRUE(eventually([&] { return health(metrics, "kafka", "spooled") == 0; }, 60s));
  EXPECT_TRUE(fetch->running());
  const std::string stats = get(simUrl("/_sim/stats")).body;
  const std::string log = fetch->output();
  EXPECT_EQ(fetch->terminate(), 0) << "SIGTERM ends it cleanly";

  // Every quote the upstream served in a valid page reached Kafka, and only once (each
  // observation is published once: change detection).
  const auto published = observationsIn(kSharedBrokers, topic);
  size_t missing = 0, duplicated = 0;
  for (const auto& key : valid) {
    auto it = published.find(key);
    missing += it == published.end();
    duplicated += it != published.end() && it->second > 1;
  }
  EXPECT_EQ(missing, 0u) << "of " << valid.size() << " served observations";
  EXPECT_EQ(duplicated, 0u);
  EXPECT_GE(valid.size(), 100u * 30u) << "most cycles got their page despite the faults";

  // The upstream's own count: never more calls in a minute than the limit.
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(stats);
  const int64_t max_minute = doc["max_per_minute"];
  const int64_t max_60s = doc["max_per_60s"];
  EXPECT_LE(max_minute, limit) << stats;
  EXPECT_LE(max_60s, limit) << stats;
  // Every kind of fault happened, and the fetcher said so once per cycle at most.
  for (const char* status : {"\"429\":", "\"503\":", "\"403\":"})
    EXPECT_NE(stats.find(status), std::string::npos) << status << " in " << stats;
  EXPECT_NE(log.find("invalid upstream items skipped (first: "), std::string::npos);
  EXPECT_NE(log.find("upstream state healthy -> backing_off"), std::string::npos);
  std::printf(
      "[ numbers  ] 100 cycles in %.0f s; %zu valid observations served, all in Kafka; "
      "upstream calls: max %lld per calendar minute, max %lld per sliding 60 s, limit "
      "%d\n",
      std::chrono::duration<double>(elapsed).count(), valid.size(),
      static_cast<long long>(max_minute), static_cast<long long>(max_60s), limit);
}

// --------------------------------------------------------------------------------- failover

TEST_F(FetchTest, AStandbyTakesOverWhenTheLeaderIsKilled) {
  auto simulator = startSimulator();
  const std::string topic = "crypto-data-failover-" + uniqueSuffix();
  // The session timeout follows the interval (at least 6 s): at 8 s a takeover needs about 9.5 s,
  // which leaves room under the two-interval bound on a loaded machine.
  const int interval_s = 8;
  const std::vector<std::string> flags = {"--top", "20", "--interval", std::to_string(interval_s)};
  const int port_a = freePort(), port_b = freePort();
  auto a = startFetch("a", kSharedBrokers, topic, flags, port_a);
  auto b = startFetch("b", kSharedBrokers, topic, flags, port_b);
  auto leads = [](Process& p) {
    return p.output().find("active fetcher: this process holds") != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return leads(*a) || leads(*b); }, 30s))
      << a->output() << b->output();
  Process& leader = leads(*a) ? *a : *b;
  Process& standby = leads(*a) ? *b : *a;
  const int standby_port = &standby == a.get() ? port_a : port_b;
  // Two cycles by the leader, then SIGKILL just after its next publication.
  ASSERT_TRUE(eventually([&] { return countOf(leader.output(), "sent 20 quotes") >= 3; }, 60s))
      << leader.output();
  std::this_thread::sleep_for(300ms);
  leader.kill9();
  const int64_t killed_ms = toUnixMillis(std::chrono::system_clock::now());
  EXPECT_EQ(standby.output().find("sent 20 quotes"), std::string::npos)
      << "the standby never fetched while the leader lived";
  ASSERT_TRUE(eventually([&] { return countOf(standby.output(), "sent 20 quotes") >= 3; }, 60s))
      << standby.output();
  EXPECT_TRUE(leads(standby));
  const std::string standby_log = standby.output();
  const int64_t credits = health(standby_port, "budget", "credits_used");
  EXPECT_EQ(standby.terminate(), 0);

  // Published cycles, as the broker holds them: quotes of one cycle share a fetch time.
  std::vector<model::Quote> quotes;
  observationsIn(kSharedBrokers, topic, &quotes);
  std::vector<int64_t> times;
  for (const auto& q : quotes)
    times.push_back(q.fetched_ms);
  std::sort(times.begin(), times.end());
  std::vector<int64_t> cycles;
  for (int64_t t : times) {
    if (cycles.empty() || t - cycles.back() > 1000)
      cycles.push_back(t);
  }
  ASSERT_GE(cycles.size(), 6u);
  int64_t worst_gap = 0;
  for (size_t i = 1; i < cycles.size(); ++i)
    worst_gap = std::max(worst_gap, cycles[i] - cycles[i - 1]);
  EXPECT_LE(worst_gap, 2 * interval_s * 1000) << "no gap longer than two intervals";

  // The upstream's view: one successful fetch per schedule slot, never two.
  std::map<int64_t, int> per_slot;
  int64_t calls = 0;
  for (const auto& [t, status] : marketRequests()) {
    ++calls;
    if (status == 200)
      ++per_slot[t / (interval_s * 1000)];
  }
  for (const auto& [slot, count] : per_slot)
    EXPECT_EQ(count, 1) << "slot starting " << formatIso8601Millis(slot * interval_s * 1000);
  // The new leader continued the budget count of the old one.
  EXPECT_EQ(credits, calls) << standby_log;
  int64_t takeover_ms = 0;
  for (int64_t c : cycles) {
    if (c > killed_ms) {
      takeover_ms = c - killed_ms;
      break;
    }
  }
  std::printf(
      "[ numbers  ] interval %d s: %zu published cycles, worst gap %lld ms, first cycle "
      "of the new leader %lld ms after SIGKILL; %lld upstream calls, credits carried "
      "over: %lld\n",
      interval_s, cycles.size(), static_cast<long long>(worst_gap),
      static_cast<long long>(takeover_ms), static_cast<long long>(calls),
      static_cast<long long>(credits));
}

// --------------------------------------------------------------------------------- outage

TEST_F(FetchTest, ABrokerOutageLosesAndDuplicatesNothing) {
  // A Kafka broker of this test alone, stopped and started at will: the shared one is never
  // touched.
  OwnTestenv kafka("outage");
  ASSERT_TRUE(kafka.portsFound());
  auto up = kafka.testenv({"up", "kafka"}, 300s);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto simulator = startSimulator();
  const std::string topic = "crypto-data-outage";
  const int metrics = freePort();
  auto fetch =
      startFetch("outage", kafka.brokers(), topic, {"--top", "20", "--interval", "1"}, metrics);
  ASSERT_TRUE(eventually([&] { return countOf(fetch->output(), "sent 20 quotes") >= 3; }, 60s))
      << fetch->output();

  auto stop = kafka.testenv({"stop-kafka"}, 120s);
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  const auto outage_started = std::chrono::steady_clock::now();
  const int64_t cycles_before = health(metrics, nullptr, "cycles");
  // 20 s without a broker: the schedule goes on, quotes wait in the spool. (The spool's own
  // rules across an outage, order, each record once, forgotten only once acknowledged, are
  // proven on librdkafka's mock cluster by tests/unit/spool_test.cc; this is the real binary
  // against a real broker stopped and started.)
  constexpr auto kOutage = 20s;
  int64_t most_spooled = 0;
  while (std::chrono::steady_clock::now() - outage_started < kOutage) {
    ASSERT_TRUE(fetch->running()) << fetch->output();
    most_spooled = std::max(most_spooled, health(metrics, "kafka", "spooled"));
    std::this_thread::sleep_for(1s);
  }
  const int64_t cycles_during = health(metrics, nullptr, "cycles") - cycles_before;
  EXPECT_GE(cycles_during, kOutage / 1s - 5) << "the schedule kept going without Kafka";
  EXPECT_GE(most_spooled, (kOutage / 1s - 8) * 20) << "quotes of the outage waited in the spool";
  EXPECT_NE(fetch->output().find("Kafka is not confirming"), std::string::npos);

  auto start = kafka.testenv({"start-kafka"}, 300s);
  ASSERT_EQ(start.exit_code, 0) << start.output;
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return health(metrics, "kafka", "spooled") == 0; }, 120s))
      << fetch->output();
  const auto drained_after = std::chrono::steady_clock::now() - back;
  ASSERT_TRUE(eventually(
      [&] { return health(metrics, nullptr, "cycles") >= cycles_before + cycles_during + 3; },
      30s));
  post(simUrl("/_sim/faults?server_error=1"));
  std::this_thread::sleep_for(2500ms);
  const std::set<std::string> valid = served();
  ASSERT_TRUE(eventually([&] { return health(metrics, "kafka", "spooled") == 0; }, 60s));
  EXPECT_EQ(health(metrics, "kafka", "dropped"), 0);
  const std::string log = fetch->output();
  EXPECT_EQ(fetch->terminate(), 0) << log;

  // Every quote fetched, before, during and after the outage, is in the topic exactly once, and
  // each coin's quotes are in order.
  std::vector<model::Quote> quotes;
  const auto published = observationsIn(kafka.brokers(), topic, &quotes);
  size_t missing = 0, duplicated = 0;
  for (const auto& key : valid) {
    auto it = published.find(key);
    missing += it == published.end();
    duplicated += it != published.end() && it->second != 1;
  }
  EXPECT_EQ(missing, 0u) << "of " << valid.size();
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(published.size(), valid.size()) << "nothing but what was served";
  std::map<std::string, int64_t> last;
  size_t out_of_order = 0;
  for (const auto& q : quotes) {
    auto& previous = last[q.id];
    out_of_order += q.last_updated_ms <= previous;
    previous = q.last_updated_ms;
  }
  EXPECT_EQ(out_of_order, 0u);
  std::printf(
      "[ numbers  ] outage %lld s at a 1 s interval: %lld cycles ran during it, up to %lld "
      "quotes spooled, spool drained %.1f s after the broker was back; %zu observations "
      "served, %zu in Kafka, %zu missing, %zu duplicated\n",
      static_cast<long long>(kOutage / 1s), static_cast<long long>(cycles_during),
      static_cast<long long>(most_spooled), std::chrono::duration<double>(drained_after).count(),
      valid.size(), published.size(), missing, duplicated);
}

}  // namespace
}  // namespace coinrelay::testing
