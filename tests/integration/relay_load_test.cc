// The relay under load, end to end: `coinrelay run` against `coinrelay simulate`, 200 concurrent
// clients asking the same 20 relayed paths. The simulator counts the calls itself (/_sim/stats,
// /_sim/requests): exactly one per path per cache period, and none once the budget for misses is
// spent, when new requests get CoinGecko's 429 with retry-after.
//
// A minute of load, with the cache periods shortened to 3 s (serve.miss_ttl_s) so that it spans
// twenty periods of every path; with the table's periods (5 minutes for most relayed paths
// on a demo plan) the same proof would take hours.

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/coingecko_paths.h"
#include "net/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = COINRELAY_BINARY;

// Relayed paths of a demo plan, none the prefix of another (the simulator's request log selects
// by prefix). Dates are within the past year: a demo plan's history reaches no further
// (CoinGecko's 10012 beyond).
std::vector<std::string> relayedPaths() {
  using std::chrono::system_clock;
  const auto now = system_clock::now();
  const int64_t month_ago = std::chrono::duration_cast<std::chrono::seconds>(
                                (now - std::chrono::hours(24 * 30)).time_since_epoch())
                                .count();
  const std::time_t day = system_clock::to_time_t(now - std::chrono::hours(24 * 30));
  std::tm utc{};
  gmtime_r(&day, &utc);
  char date[16];
  std::strftime(date, sizeof date, "%d-%m-%Y", &utc);
  return {
      "/coins/bitcoin/tickers",
      std::string("/coins/bitcoin/history?date=") + date,
      "/coins/ethereum/market_chart?vs_currency=usd&days=1",
      "/coins/solana/market_chart/range?vs_currency=usd&from=" + std::to_string(month_ago - 86400) +
          "&to=" + std::to_string(month_ago),
      "/coins/tether/ohlc?vs_currency=usd&days=7",
      "/coins/ethereum/contract/0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
      "/coins/categories/list",
      "/asset_platforms",
      "/exchanges/list",
      "/exchanges/binance/tickers",
      "/exchange_rates",
      "/global/decentralized_finance_defi",
      "/search/trending",
      "/nfts/list",
      "/derivatives/exchanges/list",
      "/simple/token_price/ethereum?contract_addresses=0xa0b8&vs_currencies=usd",
      "/companies/public_treasury/bitcoin",
      "/exchanges/binance/volume_chart?days=1",
      "/nfts/pudgy-penguins",
      "/coins/dogecoin",
  };
}
const std::vector<std::string> kPaths = relayedPaths();

std::string pathOf(const std::string& target) {
  return "/api/v3" + target.substr(0, target.find('?'));
}

class RelayLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_port_ = freePort();
    run_port_ = freePort();
    simulator_ = std::make_unique<Process>(
        std::vector<std::string>{kBinary, "simulate", "--listen", address(sim_port_),
                                 "--update-interval", "0"},
        std::vector<std::string>{}, dir_.path("simulate.log"));
    ASSERT_TRUE(eventually([&] { return get(sim_port_, "/api/v3/ping").status == 200; }, 10s));
  }

  static std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }

  net::HttpResponse get(int port, const std::string& path) {
    auto response = http_.get("http://" + address(port) + path, 10s);
    return response ? *response : net::HttpResponse{};
  }

  simdjson::dom::element json(const std::string& body) {
    simdjson::dom::element doc;
    if (parser_.parse(body).get(doc) != simdjson::SUCCESS)
      ADD_FAILURE() << "not JSON: " << body.substr(0, 200);
    return doc;
  }

  uint64_t simulatorTotal() {
    uint64_t total = 0;
    if (json(get(sim_port_, "/_sim/stats").body)["requests_total"].get(total) != simdjson::SUCCESS)
      ADD_FAILURE() << "no requests_total in /_sim/stats";
    return total;
  }

  /// The times (ms) of the simulator's requests to one path.
  std::vector<int64_t> callTimes(const std::string& path) {
    std::vector<int64_t> out;
    simdjson::dom::array calls;
    if (json(get(sim_port_, "/_sim/requests?path=" + path).body).get(calls) != simdjson::SUCCESS)
      return out;
    for (simdjson::dom::array call : calls)
      out.push_back(int64_t(call.at(0)));
    return out;
  }

  TempDir dir_;
  net::HttpClient http_;
  simdjson::dom::parser parser_;
  int sim_port_ = 0;
  int run_port_ = 0;
  std::unique_ptr<Process> simulator_;
};

TEST_F(RelayLoadTest, TwoHundredClientsOnTwentyRelayedPathsCostOneCallPerPathPerPeriod) {
  constexpr auto kPeriod = 3s;
  constexpr auto kLoad = 60s;
  constexpr int64_t kPeriodMs = std::chrono::milliseconds(kPeriod).count();
  // One call per path per period: 20 paths every 3 s is 400 a minute, within the budget here.
  Process run({kBinary, "run", "--upstream", "http://" + address(sim_port_) + "/api/v3", "--listen",
               address(run_port_), "--sqlite", dir_.path("relay.db"), "--set",
               "budget.calls_per_minute=1000", "--set",
               "serve.miss_ttl_s=" + std::to_string(kPeriod.count()), "--set",
               "serve.miss_calls_per_minute=600", "--set",
               "serve.miss_calls_per_client=600"},  // the 200 clients share one address
              {}, dir_.path("run.log"));
  ASSERT_TRUE(eventually(
      [&] {
        return get(run_port_, "/readyz").status == 200 &&
               get(run_port_, "/api/v3/coins/list").body.find("dogecoin") != std::string::npos;
      },
      30s))
      << run.output();

  // 200 clients, each asking the 20 paths in turn, ten requests a second, for a minute.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> answered{0}, failed{0};
  std::vector<std::thread> clients;
  const auto started = std::chrono::steady_clock::now();
  for (int c = 0; c < 200; ++c) {
    clients.emplace_back([&, c] {
      net::HttpClient http;
      const std::string base = "http://" + address(run_port_) + "/api/v3";
      for (size_t i = 0; !done; ++i) {
        auto response = http.get(base + kPaths[(i + c) % kPaths.size()], 10s);
        // The simulator does not know every path yet: its 404 is relayed as it is.
        (response && (response->status == 200 || response->status == 404) ? answered : failed)++;
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  std::this_thread::sleep_for(kLoad);
  done = true;
  for (auto& client : clients)
    client.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_GT(answered.load(), 50'000u);

  // Per path: the calls are at least a period apart (never two in one period) and at most a
  // period and two seconds apart (one in every period, as clients keep asking; the margin is
  // for a loaded CI machine).
  uint64_t relayed_calls = 0;
  for (const auto& target : kPaths) {
    const auto times = callTimes(pathOf(target));
    relayed_calls += times.size();
    // Every period has its call (a gap of at most a period and two seconds), and no more.
    EXPECT_GE(times.size(), static_cast<size_t>(kLoad / (kPeriod + 2s))) << target;
    EXPECT_LE(times.size(), static_cast<size_t>(kLoad / kPeriod) + 1) << target;
    for (size_t i = 1; i < times.size(); ++i) {
      const int64_t gap = times[i] - times[i - 1];
      EXPECT_GE(gap, kPeriodMs - 20) << target << ": two calls in one period";
      EXPECT_LE(gap, kPeriodMs + 2000) << target << ": a period without its call";
    }
  }

  // The budget for misses: 600 on-demand calls in the rate window. Spend the rest with new
  // requests, then nothing more goes upstream: new requests get 429 with retry-after, held
  // answers are still served.
  int spent_at = -1;
  for (int i = 0; i < 1200 && spent_at < 0; ++i) {
    auto response = get(run_port_, "/api/v3/exchanges/spend-" + std::to_string(i));
    if (response.status == 429)
      spent_at = i;
  }
  ASSERT_GE(spent_at, 0) << "the budget for misses was never spent";
  const uint64_t calls_when_spent = simulatorTotal();
  for (int i = 0; i < 50; ++i) {
    auto response = get(run_port_, "/api/v3/exchanges/after-" + std::to_string(i));
    EXPECT_EQ(response.status, 429) << response.body;
    EXPECT_TRUE(response.header("retry-after").has_value());
    EXPECT_NE(response.body.find(R"({"status":{"error_code":429,"error_message":)"),
              std::string::npos)
        << response.body;
  }
  for (const auto& target : kPaths) {
    auto held = get(run_port_, "/api/v3" + target);
    EXPECT_TRUE(held.status == 200 || held.status == 404) << target << " " << held.status;
  }
  EXPECT_EQ(simulatorTotal(), calls_when_spent) << "no upstream call once the budget is spent";

  // What such traffic costs a day: with the shortened period, and with the table's periods.
  double per_day_table = 0;
  for (const auto& target : kPaths) {
    const auto* path = api::matchPath(target.substr(0, target.find('?')))->path;
    per_day_table += 86'400.0 / static_cast<double>(path->ttl(api::PlanTier::Demo).count());
  }
  const double per_day_test = 20 * 86'400.0 / static_cast<double>(kPeriod.count());
  std::printf(
      "200 clients x 20 relayed paths: %llu answers in %.1f s, %llu upstream calls; a day of it "
      "costs %.0f calls with a %lld s period, %.0f with the table's demo-plan periods\n",
      static_cast<unsigned long long>(answered.load()), seconds,
      static_cast<unsigned long long>(relayed_calls), per_day_test,
      static_cast<long long>(kPeriod.count()), per_day_table);
  RecordProperty("upstream_calls", std::to_string(relayed_calls));
  EXPECT_EQ(run.terminate(), 0) << run.output();
}

}  // namespace
}  // namespace coinrelay::testing
