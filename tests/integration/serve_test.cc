// The serving layer against real Kafka: `coinrelay serve` fed by `coinrelay fetch` from
// `coinrelay simulate` must answer CoinGecko's API as the upstream itself does, and serve any
// number of clients without one more upstream call.

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "net/http_client.h"
#include "support/json_compare.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/testenv.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;

const std::string& kBrokers = kSharedBrokers;

/// A frozen 100-coin market; fetch tracks its top 50 in usd and eur into a fresh topic; one
/// serve replica reads that topic, answering misses through the upstream.
class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto up = runCommand({kTestenv, "up"}, 300s);
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }

  void SetUp() override {
    topic_ = "crypto-data-serve-" + uniqueSuffix();
    sim_port_ = freePort();
    serve_port_ = freePort();
    simulator_ = std::make_unique<Process>(
        std::vector<std::string>{kBinary, "simulate", "--listen", address(sim_port_), "--coins",
                                 "100", "--update-interval", "0"},
        std::vector<std::string>{}, dir_.path("simulate.log"));
    ASSERT_TRUE(eventually([&] { return get(sim_port_, "/api/v3/ping").status == 200; }, 10s));
  }

  static std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }

  net::HttpResponse get(int port, const std::string& path, net::Headers headers = {}) {
    net::HttpRequest request;
    request.url = "http://" + address(port) + path;
    request.headers = std::move(headers);
    request.timeout = 10s;
    auto response = http_.send(request);
    return response ? *response : net::HttpResponse{};
  }

  std::unique_ptr<Process> startFetch(const std::string& interval, int cycles) {
    return std::make_unique<Process>(
        std::vector<std::string>{kBinary,      "fetch",
                                 "--upstream", "http://" + address(sim_port_) + "/api/v3",
                                 "--brokers",  kBrokers,
                                 "--topic",    topic_,
                                 "--top",      "50",
                                 "--interval", interval,
                                 "--cycles",   std::to_string(cycles),
                                 "--set",      "upstream.vs_currencies=usd,eur",
                                 "--set",      "budget.calls_per_minute=600",
                                 "--set",      "budget.monthly_credits=100000000",
                                 "--set",      "fetch.publish_unchanged=true",
                                 "--set",      "fetch.metrics_listen=" + address(freePort())},
        std::vector<std::string>{}, dir_.path("fetch.log"));
  }

  /// `upstream` empty: the simulator.
  std::unique_ptr<Process> startServe(std::vector<std::string> extra = {},
                                      std::string upstream = {}) {
    if (upstream.empty())
      upstream = "http://" + address(sim_port_) + "/api/v3";
    std::vector<std::string> argv = {kBinary,      "serve",
                                     "--brokers",  kBrokers,
                                     "--topic",    topic_,
                                     "--listen",   address(serve_port_),
                                     "--upstream", upstream,
                                     "--set",      "serve.on_miss=fetch",
                                     "--set",      "serve.miss_calls_per_minute=1000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto serve = std::make_unique<Process>(argv, std::vector<std::string>{},
                                           dir_.path("serve-" + uniqueSuffix() + ".log"));
    EXPECT_TRUE(eventually(
        [&] {
          auto ready = get(serve_port_, "/readyz");
          return ready.status == 200 && ready.body.find("\"quotes\":100") != std::string::npos;
        },
        30s))
        << serve->output();
    return serve;
  }

  uint64_t simulatorCalls(const std::string& path) {
    auto stats = get(sim_port_, "/_sim/stats");
    simdjson::dom::element doc;
    if (parser_.parse(stats.body).get(doc) != simdjson::SUCCESS)
      return 0;
    uint64_t total = 0;
    if (doc["paths"][path]["total"].get(total) != simdjson::SUCCESS)
      return 0;
    return total;
  }

  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
  std::string topic_;
  int sim_port_ = 0;
  int serve_port_ = 0;
  std::unique_ptr<Process> simulator_;
};

TEST_F(ServeTest, AnswersLikeCoinGeckoFieldByField) {
  auto fetch = startFetch("2", 1);
  ASSERT_EQ(fetch->wait(60s), 0) << fetch->output();
  auto serve = startServe();

  const std::vector<std::string> queries = {
      // coins/markets: every parameter, orders, pages, precision, invalid values, misses.
      "/api/v3/coins/markets?vs_currency=usd&per_page=50",
      "/api/v3/coins/markets?vs_currency=eur&per_page=50",
      "/api/v3/coins/markets?vs_currency=usd&per_page=10",
      "/api/v3/coins/markets?vs_currency=usd&per_page=10&page=2",
      "/api/v3/coins/markets?vs_currency=usd&per_page=7&page=8",
      "/api/v3/coins/markets?vs_currency=usd&order=market_cap_desc&per_page=5",
      "/api/v3/coins/markets?vs_currency=usd&order=volume_desc&per_page=50",
      "/api/v3/coins/markets?vs_currency=usd&order=id_asc&per_page=50",
      "/api/v3/coins/markets?vs_currency=usd&order=id_desc&per_page=50",
      "/api/v3/coins/markets?vs_currency=usd&ids=bitcoin,ethereum,tether",
      "/api/v3/coins/markets?vs_currency=eur&ids=ethereum",
      "/api/v3/coins/markets?vs_currency=USD&ids=BITCOIN,Solana",
      "/api/v3/coins/markets?vs_currency=usd&ids=bitcoin&precision=2",
      "/api/v3/coins/markets?vs_currency=usd&ids=tether,bitcoin&precision=0",
      "/api/v3/coins/markets?vs_currency=usd&per_page=3&precision=full",
      "/api/v3/coins/markets?vs_currency=usd&ids=bitcoin&sparkline=false",
      "/api/v3/coins/markets?vs_currency=usd&per_page=0",
      "/api/v3/coins/markets?vs_currency=usd&per_page=abc",
      "/api/v3/coins/markets?vs_currency=usd&page=0",
      "/api/v3/coins/markets?vs_currency=usd&order=bogus",
      "/api/v3/coins/markets?vs_currency=usd&precision=19",
      "/api/v3/coins/markets",
      "/api/v3/coins/markets?vs_currency=usdt",
      "/api/v3/coins/markets?vs_currency=gbp&per_page=5",  // untracked currency: a miss
      "/api/v3/coins/markets?vs_currency=usd",  // default per_page 100 > tracked 50: a miss
      "/api/v3/coins/markets?vs_currency=usd&ids=simcoin-90,bitcoin",  // untracked coin
      "/api/v3/coins/markets?vs_currency=usd&order=market_cap_asc&per_page=5",
      // simple/price: every flag, symbols, precision, invalid values, misses.
      "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd",
      "/api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd,eur",
      "/api/v3/simple/price?ids=bitcoin,ethereum,tether&vs_currencies=usd,eur&include_market_cap="
      "true&include_24hr_vol=true&include_24hr_change=true&include_last_updated_at=true",
      "/api/v3/simple/price?ids=solana&vs_currencies=usd&include_market_cap=true",
      "/api/v3/simple/price?ids=solana&vs_currencies=usd&include_24hr_vol=true",
      "/api/v3/simple/price?ids=solana&vs_currencies=eur&include_24hr_change=true",
      "/api/v3/simple/price?ids=solana&vs_currencies=usd&include_last_updated_at=true",
      "/api/v3/simple/price?ids=bitcoin,tether&vs_currencies=usd&precision=3",
      "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&precision=full",
      "/api/v3/simple/price?symbols=btc,eth&vs_currencies=usd",
      "/api/v3/simple/price?symbols=btc&ids=ethereum&vs_currencies=usd",
      "/api/v3/simple/price?ids=Bitcoin,bitcoin&vs_currencies=USD",
      "/api/v3/simple/price?ids=no-such-coin&vs_currencies=usd",  // a miss: CoinGecko says {}
      "/api/v3/simple/price?ids=simcoin-77&vs_currencies=usd",    // untracked coin: a miss
      "/api/v3/simple/price?ids=bitcoin&vs_currencies=jpy",       // untracked currency
      "/api/v3/simple/price?ids=bitcoin",
      "/api/v3/simple/price?vs_currencies=usd",
      "/api/v3/simple/price?ids=bitcoin&vs_currencies=usdt",
      "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&precision=x",
      // the rest.
      "/api/v3/ping",
      "/api/v3/coins/list",
      "/api/v3/simple/supported_vs_currencies",
  };
  ASSERT_GE(queries.size(), 40u);
  int compared = 0;
  for (const auto& query : queries) {
    auto upstream = get(sim_port_, query);
    auto relayed = get(serve_port_, query, {{"x-cg-demo-api-key", "CG-a-team-key-is-ignored"}});
    EXPECT_EQ(relayed.status, upstream.status) << query << "\n" << relayed.body;
    EXPECT_EQ(canonicalJson(relayed.body), canonicalJson(upstream.body)) << query;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(queries.size()));

  // Answered twice, misses still cost one upstream call each: they are coalesced and cached.
  const uint64_t price_calls = simulatorCalls("/api/v3/simple/price");
  for (int i = 0; i < 5; ++i)
    get(serve_port_, "/api/v3/simple/price?ids=simcoin-77&vs_currencies=usd");
  EXPECT_EQ(simulatorCalls("/api/v3/simple/price"), price_calls);
  EXPECT_EQ(serve->terminate(), 0) << serve->output();
}

TEST_F(ServeTest, MissesAreFetchedByTheActiveFetcherWithinItsBudget) {
  // serve has no usable upstream (port 1 refuses): its misses can only be answered by the
  // fetch role, through serve.miss_via, which calls the simulator within its own budget.
  const int metrics_port = freePort();
  auto fetch = std::make_unique<Process>(
      std::vector<std::string>{kBinary,      "fetch",
                               "--upstream", "http://" + address(sim_port_) + "/api/v3",
                               "--brokers",  kBrokers,
                               "--topic",    topic_,
                               "--top",      "50",
                               "--interval", "2",
                               "--set",      "upstream.vs_currencies=usd,eur",
                               "--set",      "budget.calls_per_minute=600",
                               "--set",      "budget.monthly_credits=100000000",
                               "--set",      "fetch.publish_unchanged=true",
                               "--set",      "serve.on_miss=fetch",
                               "--set",      "fetch.metrics_listen=" + address(metrics_port)},
      std::vector<std::string>{}, dir_.path("fetch-misses.log"));
  ASSERT_TRUE(eventually(
      [&] {
        return get(metrics_port, "/healthz").body.find(R"("status":"ok")") != std::string::npos;
      },
      30s))
      << fetch->output();  // a cycle reached Kafka: the topic exists
  // A demo-plan replica without a key: refused when it would call CoinGecko itself, accepted
  // when the fetch role makes its calls.
  auto keyless = runCommand({kBinary, "serve", "--brokers", kBrokers, "--set", "upstream.plan=demo",
                             "--set", "serve.on_miss=fetch"},
                            30s);
  EXPECT_EQ(keyless.exit_code, 2) << keyless.output;
  EXPECT_NE(keyless.output.find("serve.miss_via"), std::string::npos) << keyless.output;
  auto serve = startServe(
      {"--set", "serve.miss_via=http://" + address(metrics_port), "--set", "upstream.plan=demo"},
      "http://127.0.0.1:1/api/v3");
  const uint64_t before = simulatorCalls("/api/v3/simple/price");
  for (int i = 0; i < 3; ++i) {
    auto answer = get(serve_port_, "/api/v3/simple/price?ids=simcoin-77&vs_currencies=usd");
    EXPECT_EQ(answer.status, 200) << answer.body << "\n" << serve->output();
    EXPECT_NE(answer.body.find(R"({"simcoin-77":{"usd":)"), std::string::npos) << answer.body;
  }
  EXPECT_EQ(simulatorCalls("/api/v3/simple/price"), before + 1);  // one call, then the TTL
  // The fetch role fetches only the CoinGecko paths serve answers: it is no open proxy.
  EXPECT_EQ(get(metrics_port, "/v1/upstream/key").status, 404);
  EXPECT_EQ(get(metrics_port, "/v1/upstream/../../etc").status, 404);
  EXPECT_EQ(serve->terminate(), 0) << serve->output();
  EXPECT_EQ(fetch->terminate(), 0) << fetch->output();
}

TEST_F(ServeTest, ServesConditionalAndCompressedAnswers) {
  auto fetch = startFetch("2", 1);
  ASSERT_EQ(fetch->wait(60s), 0) << fetch->output();
  auto serve = startServe();
  const std::string query = "/api/v3/coins/markets?vs_currency=usd&per_page=50";
  auto first = get(serve_port_, query);
  ASSERT_EQ(first.status, 200);
  const auto etag = first.header("etag");
  ASSERT_TRUE(etag.has_value());
  auto again = get(serve_port_, query, {{"If-None-Match", std::string(*etag)}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  // libcurl asks for gzip and inflates it: the bytes it hands back equal the plain answer.
  auto compressed = get(serve_port_, query, {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(compressed.header("content-encoding").value_or(""), "gzip");
  EXPECT_EQ(compressed.body, first.body);
}

TEST_F(ServeTest, AHundredClientsCostNoUpstreamCall) {
  auto fetch = startFetch("5", 13);  // about a minute of scheduled cycles
  ASSERT_TRUE(
      eventually([&] { return fetch->output().find("sent 100 quotes") != std::string::npos; }, 30s))
      << fetch->output();
  auto serve = startServe();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> answered{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 100; ++c) {
    clients.emplace_back([&, c] {
      net::HttpClient http;
      const std::string base = "http://" + address(serve_port_);
      for (int i = 0; !done && i < 100'000; ++i) {
        const std::string path = (i + c) % 2 == 0
                                     ? "/api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd"
                                     : "/api/v3/coins/markets?vs_currency=usd&per_page=50";
        auto response = http.get(base + path, 10s);
        (response && response->status == 200 ? answered : failed)++;
        std::this_thread::sleep_for(50ms);
      }
    });
  }
  std::this_thread::sleep_for(60s);
  done = true;
  for (auto& client : clients)
    client.join();
  ASSERT_EQ(fetch->wait(60s), 0) << fetch->output();
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_GT(answered.load(), 10'000u);
  // The upstream saw the fetcher's scheduled cycles and nothing else.
  EXPECT_EQ(simulatorCalls("/api/v3/simple/price"), 0u);
  EXPECT_EQ(simulatorCalls("/api/v3/coins/markets"), 13u * 2) << "13 cycles x (usd, eur)";
  RecordProperty("answered", std::to_string(answered.load()));
  std::printf("100 clients: %llu answers in 60 s, upstream calls: %llu\n",
              static_cast<unsigned long long>(answered.load()),
              static_cast<unsigned long long>(simulatorCalls("/api/v3/coins/markets")));
}

}  // namespace
}  // namespace coinrelay::testing
