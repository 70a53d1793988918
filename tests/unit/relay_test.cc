// The whole of CoinGecko's API through coinrelay's base URL: the path table compiled from the
// OpenAPI description, the parameter grammars (nothing a client wrote reaches the upstream), the
// relay (coalescing, periods, stale-while-revalidate, negative caching, fair shares, budget),
// the coin universe, and every documented parameter of the natively answered paths.

#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/coingecko_paths.h"
#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/query_grammar.h"
#include "api/relay_routes.h"
#include "api/stream_hub.h"
#include "api/universe.h"
#include "coingecko/universe_parser.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "net/http_client.h"
#include "support/api_requests.h"
#include "support/fake_coingecko.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {
namespace {

using testing::bodyOf;

using namespace std::chrono_literals;

std::string readSource(const std::string& relative) {
  std::ifstream in(std::string(COINRELAY_SOURCE_DIR) + "/" + relative);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string headerOf(const net::Reply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name)
      return value;
  }
  return {};
}

/// A GET of `target` ("/api/v3/...?...") through `routes`, as the server would hand it over.
net::Reply ask(CoinGeckoRoutes& routes, const std::string& target, const std::string& client = {},
               std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::Request request;
  request.method = "GET";
  request.target = target;
  const size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos)
    request.query = net::parseQuery(std::string_view(target).substr(question + 1));
  request.headers = std::move(headers);
  auto reply = routes.handle(request, client);
  return reply ? testing::awaitReply(std::move(*reply)) : net::Reply{0, "", "not ours"};
}

ParsedCall parse(const std::string& target) {
  const size_t question = target.find('?');
  const std::string query = question == std::string::npos ? "" : target.substr(question + 1);
  return parseCall(target.substr(0, question), net::parseQuery(query), query);
}

model::Quote quote(const std::string& id, const std::string& symbol, const std::string& name,
                   int64_t rank, double price, const std::string& vs = "usd") {
  model::Quote q;
  q.id = id;
  q.symbol = symbol;
  q.name = name;
  q.vs_currency = vs;
  q.last_updated_ms = 1'700'000'000'000;
  q.fetched_ms = q.last_updated_ms;
  q.market_cap_rank = rank;
  q.price = price;
  q.change_24h = 1.5;
  return q;
}

/// bitcoin (1) and ethereum (2) in usd and eur: the tracked top 2.
void deliverTopTwo(pipeline::Snapshot& snapshot) {
  std::vector<model::Quote> batch;
  for (const char* vs : {"usd", "eur"}) {
    batch.push_back(quote("bitcoin", "btc", "Bitcoin", 1, 67000, vs));
    batch.push_back(quote("ethereum", "eth", "Ethereum", 2, 3500.46, vs));
  }
  ASSERT_TRUE(snapshot.deliver(batch));
}

/// Waits (a bounded poll, no fixed sleep) until `done` holds.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 5s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

config::UpstreamConfig upstreamAt(const std::string& base, const std::string& plan = "demo") {
  config::UpstreamConfig upstream;
  upstream.base_url = base;
  upstream.plan = plan;
  upstream.api_key = "CG-operator-key";
  upstream.timeout_ms = 5000;
  return upstream;
}

/// A relay on the fake upstream, the universe loaded through it, and the routes over them.
struct Stack {
  explicit Stack(bool fetch_misses = true, const std::string& plan = "demo",
                 bool load_universe = true)
      : relay(upstreamAt(fake.baseUrl(), plan), 0s, clock),
        universe(relay, 3600s, clock),
        routes(snapshot, &relay, &universe,
               CoinGeckoRoutes::Options{.fetch_misses = fetch_misses, .tier = tierOfPlan(plan)}) {
    deliverTopTwo(snapshot);
    if (load_universe) {
      universe.load();
      EXPECT_TRUE(eventually([&] { return universe.coins() && universe.currencies(); }));
    }
  }
  uint64_t relayed() const {
    return fake.total() - fake.calls("/api/v3/coins/list") -
           fake.calls("/api/v3/simple/supported_vs_currencies");
  }

  testing::FakeCoinGecko fake;
  ManualClock clock;
  pipeline::Snapshot snapshot;
  MissFetcher relay;
  Universe universe;
  CoinGeckoRoutes routes;
};

// ------------------------------------------------------------------------ the path table

TEST(PathTableTest, IsCompiledFromTheOpenApiFileWithEveryPathAndParameter) {
  // Read independently of coinrelay's compiler: the file in the repository, with simdjson.
  const std::string text = readSource("third_party/coingecko/openapi-v3.json");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(openApiDescription(), text) << "the binary embeds the file as it is";
  simdjson::dom::parser parser;
  simdjson::dom::object paths = parser.parse(text)["paths"];
  ASSERT_EQ(paths.size(), 51u);
  ASSERT_EQ(apiPaths().size(), 51u);
  size_t i = 0, parameters = 0;
  for (auto [templ, node] : paths) {
    const ApiPath& path = apiPaths()[i++];
    EXPECT_EQ(path.templ, templ);
    EXPECT_EQ(nameOf(path.plan), std::string_view(node["plan"]));
    EXPECT_EQ(path.operation_id, std::string_view(node["operationId"]));
    size_t k = 0;
    for (simdjson::dom::object param : simdjson::dom::array(node["parameters"])) {
      ASSERT_LT(k, path.params.size()) << templ;
      const PathParam& compiled = path.params[k++];
      ++parameters;
      EXPECT_EQ(compiled.name, std::string_view(param["name"])) << templ;
      EXPECT_EQ(compiled.in == ParamIn::Path ? "path" : "query", std::string_view(param["in"]));
      bool required = false;
      if (param["required"].get(required) != simdjson::SUCCESS)
        required = false;
      if (!(templ == "/simple/price" && compiled.name == "ids")) {  // ids, names or symbols
        EXPECT_EQ(compiled.required, required) << templ << " " << compiled.name;
      }
      const std::string_view type = param["schema"]["type"];
      EXPECT_EQ(compiled.type == ParamType::Boolean  ? "boolean"
                : compiled.type == ParamType::Number ? "number"
                                                     : "string",
                type)
          << templ << " " << compiled.name;
      std::vector<std::string> values;
      simdjson::dom::array enumeration;
      if (param["schema"]["enum"].get(enumeration) == simdjson::SUCCESS) {
        for (std::string_view value : enumeration)
          values.emplace_back(value);
      }
      EXPECT_EQ(compiled.enumeration, values) << templ << " " << compiled.name;
      EXPECT_FALSE(compiled.supplement);
    }
    for (; k < path.params.size(); ++k)
      EXPECT_TRUE(path.params[k].supplement) << templ << " " << path.params[k].name;
  }
  EXPECT_EQ(parameters, 141u);
  // The SDKs' newer parameters, so their clients are not refused.
  EXPECT_TRUE(findPath("/simple/price")->param("names"));
  EXPECT_TRUE(findPath("/simple/price")->param("symbols"));
  EXPECT_EQ(findPath("/simple/price")->param("include_tokens")->enumeration,
            (std::vector<std::string>{"top", "all"}));
}

TEST(PathTableTest, EveryParameterHasAGrammarAndEveryPathAPeriod) {
  for (const ApiPath& path : apiPaths()) {
    EXPECT_NE(path.ttl_source, "no row in kRows") << path.templ;
    for (const PathParam& param : path.params)
      EXPECT_TRUE(grammarOf(param).has_value()) << path.templ << " " << param.name;
  }
  EXPECT_EQ(findPath("/simple/price")->ttl(PlanTier::Paid), 20s);  // CoinGecko's periods
  EXPECT_EQ(findPath("/simple/price")->ttl(PlanTier::Demo), 60s);
  EXPECT_EQ(findPath("/coins/list")->ttl(PlanTier::Demo), 1800s);
  EXPECT_EQ(findPath("/global")->ttl(PlanTier::Paid), 600s);
  EXPECT_EQ(findPath("/coins/markets")->ttl(PlanTier::Paid), 45s);
}

TEST(PathTableTest, MatchesLiteralSegmentsBeforeParameters) {
  EXPECT_EQ(matchPath("/coins/list")->path->templ, "/coins/list");
  EXPECT_EQ(matchPath("/coins/markets")->path->templ, "/coins/markets");
  EXPECT_EQ(matchPath("/coins/categories")->path->templ, "/coins/categories");
  auto coin = matchPath("/coins/bitcoin");
  EXPECT_EQ(coin->path->templ, "/coins/{id}");
  EXPECT_EQ(coin->values[0].second, "bitcoin");
  EXPECT_EQ(matchPath("/nfts/list")->path->templ, "/nfts/list");
  EXPECT_EQ(matchPath("/exchanges/list")->path->templ, "/exchanges/list");
  EXPECT_EQ(matchPath("/derivatives/exchanges/list")->path->templ, "/derivatives/exchanges/list");
  EXPECT_EQ(matchPath("/token_lists/ethereum/all.json")->path->templ,
            "/token_lists/{asset_platform_id}/all.json");
  EXPECT_EQ(matchPath("/coins/bitcoin/contract/0xabc/market_chart/range")->path->templ,
            "/coins/{id}/contract/{contract_address}/market_chart/range");
  EXPECT_FALSE(matchPath("/coins/bitcoin/nope"));
  EXPECT_FALSE(matchPath("/onchain/networks"));
  // One trailing slash is the same path, as CoinGecko takes it (pycoingecko sends them).
  EXPECT_EQ(matchPath("/coins/bitcoin/")->path->templ, "/coins/{id}");
  EXPECT_EQ(matchPath("/coins/bitcoin/")->values[0].second, "bitcoin");
  EXPECT_FALSE(matchPath("/coins//bitcoin"));
  EXPECT_FALSE(matchPath("/coins/bitcoin//"));
  EXPECT_FALSE(matchPath(""));
}

// ------------------------------------------------------------------------ the grammars

TEST(GrammarTest, RefusesInjectedTextNamingTheParameter) {
  // Each would have changed the upstream query if copied; each is a 400 naming the parameter.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/coins/markets?vs_currency=usd%26x_cg_pro_api_key%3Dattacker%26ids%3Dbitcoin",
       "vs_currency"},
      {"/coins/markets?vs_currency=usd%23", "vs_currency"},
      {"/coins/markets?vs_currency=usd%00", "vs_currency"},
      {"/coins/markets?vs_currency=usd%0d%0aX-Injected:%201", "vs_currency"},
      {"/coins/markets?vs_currency=us%20d", "vs_currency"},
      {"/coins/markets?vs_currency=usd%20", "vs_currency"},
      {"/coins/markets?vs_currency=usd%0a", "vs_currency"},
      {"/coins/markets?vs_currency=%09usd", "vs_currency"},
      {"/coins/markets?vs_currency=usd&ids=bitcoin%26per_page%3D250", "ids"},
      {"/coins/markets?vs_currency=usd&order=market_cap_desc%26x%3D1", "order"},
      {"/coins/markets?vs_currency=usd&per_page=10%26page%3D2", "per_page"},
      {"/coins/markets?vs_currency=usd&sparkline=true%23", "sparkline"},
      {"/simple/price?ids=bitcoin&vs_currencies=usd,eur%0a", "vs_currencies"},
      {"/coins/bitcoin%3Fx_cg_pro_api_key%3Dk", "id"},
      {"/coins/..%2F..%2Fkey", "id"},
      {"/coins/%2e%2e/tickers", "id"},
      {"/coins/bitcoin/history?date=30-12-2017%26x%3D1", "date"},
      {"/coins/bitcoin/market_chart/range?vs_currency=usd&from=1%26to%3D2&to=3", "from"},
      {"/coins/ethereum/contract/0xa0b8%23frag", "contract_address"},
      {"/search?query=bit%00coin", "query"},
      {"/search?query=bit%0d%0acoin", "query"},
      {"/search?query=%ff%fe", "query"},
      {"/simple/price?names=Bit%01coin&vs_currencies=usd", "names"},
      {"/coins/markets?vs_currency=usd&price_change_percentage=1h,2h", "price_change_percentage"},
  };
  for (const auto& [target, name] : cases) {
    ParsedCall parsed = parse(target);
    ASSERT_FALSE(parsed) << target;
    EXPECT_EQ(parsed.status, 400) << target;
    EXPECT_EQ(parsed.message, "invalid " + name) << target;
    EXPECT_EQ(parsed.detail.find_first_of("\r\n"), std::string::npos) << "a header value";
    net::Reply reply = refusalOf(parsed);
    EXPECT_EQ(reply.body, R"({"error":"invalid )" + name + R"("})");
    EXPECT_EQ(headerOf(reply, "x-coinrelay-error"), parsed.detail);
  }
}

TEST(GrammarTest, RebuildsTheUpstreamQueryFromParsedValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Canonical: the table's order, lower-cased ids and currencies, lists without repeats.
      {"/coins/markets?page=2&ids=Bitcoin,ethereum,bitcoin&vs_currency=USD&order=ID_ASC",
       "/coins/markets?vs_currency=usd&ids=bitcoin,ethereum&order=id_asc&page=2"},
      // Free text is percent-encoded by coinrelay: '&' and '#' cannot end or split a parameter.
      {"/search?query=a%26b%23c+d", "/search?query=a%26b%23c%20d"},
      {"/simple/price?names=Binance%20Coin,Bitcoin&vs_currencies=usd",
       "/simple/price?vs_currencies=usd&names=Binance%20Coin,Bitcoin"},
      {"/coins/bitcoin/history?date=30-12-2017&localization=FALSE",
       "/coins/bitcoin/history?date=30-12-2017&localization=false"},
      {"/coins/bitcoin/market_chart?vs_currency=eur&days=MAX&precision=Full",
       "/coins/bitcoin/market_chart?vs_currency=eur&days=max&precision=full"},
      {"/coins/ethereum/contract/0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
       "/coins/ethereum/contract/0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"},
      {"/coins/bitcoin/market_chart/range?vs_currency=usd&from=1609459200.5&to=1640908800",
       "/coins/bitcoin/market_chart/range?vs_currency=usd&from=1609459200.5&to=1640908800"},
      {"/search/trending?show_max=coins,NFTS", "/search/trending?show_max=coins,nfts"},
      {"/global", "/global"},
  };
  for (const auto& [target, upstream] : cases) {
    ParsedCall parsed = parse(target);
    ASSERT_TRUE(parsed) << target << ": " << parsed.message << " " << parsed.detail;
    EXPECT_EQ(parsed.call->target(), upstream) << target;
  }
}

TEST(GrammarTest, RefusesUndocumentedRepeatedAndMissingParametersAndDropsTeamKeys) {
  ParsedCall unknown = parse("/coins/bitcoin?localization=false&callback=x");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.message, "unknown parameter callback");
  EXPECT_NE(unknown.detail.find("localization"), std::string::npos) << "lists what it takes";
  ParsedCall twice = parse("/coins/markets?vs_currency=usd&vs_currency=eur");
  EXPECT_EQ(twice.message, "invalid vs_currency");
  EXPECT_NE(twice.detail.find("given twice"), std::string::npos);
  EXPECT_EQ(parse("/coins/markets?per_page=5").message, "Missing parameter vs_currency");
  EXPECT_EQ(parse("/coins/markets?vs_currency=").message, "Missing parameter vs_currency");
  EXPECT_EQ(parse("/coins/bitcoin/history").message, "Missing parameter date");
  ParsedCall keyed =
      parse("/ping?x_cg_pro_api_key=CG-team-key&x_cg_demo_api_key=CG-other-team-key");
  ASSERT_TRUE(keyed);
  EXPECT_EQ(keyed.call->target(), "/ping") << "a team key is coinrelay's, never the upstream's";
  ParsedCall path = parse("/coins/bitcoin/nope");
  EXPECT_EQ(path.status, 404);
  EXPECT_EQ(path.message, "Incorrect path. Please check https://www.coingecko.com/api/");
}

TEST(GrammarTest, EachGrammarAcceptsItsValuesAndRefusesOthers) {
  struct Case {
    std::string target;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"/coins/markets?vs_currency=usd&per_page=250", true},
      {"/coins/markets?vs_currency=usd&per_page=251", false},
      {"/coins/markets?vs_currency=usd&per_page=0", false},
      {"/coins/markets?vs_currency=usd&page=-1", false},
      {"/coins/markets?vs_currency=usd&page=1.5", false},
      {"/coins/bitcoin?tickers=yes", false},
      {"/coins/bitcoin?tickers=TRUE", true},
      {"/coins/bitcoin/history?date=31-02-2020", false},
      {"/coins/bitcoin/history?date=29-02-2020", true},
      {"/coins/bitcoin/history?date=2020-02-29", false},
      {"/coins/bitcoin/market_chart?vs_currency=usd&days=0", false},
      {"/coins/bitcoin/market_chart?vs_currency=usd&days=365", true},
      {"/coins/bitcoin/market_chart?vs_currency=usd&days=1,2", false},
      {"/coins/bitcoin/ohlc?vs_currency=usd&days=2", false},  // an enumeration there
      {"/coins/bitcoin/ohlc?vs_currency=usd&days=14", true},
      {"/coins/bitcoin/market_chart/range?vs_currency=usd&from=abc&to=1", false},
      {"/coins/bitcoin/market_chart/range?vs_currency=usd&from=-1&to=1", false},
      {"/coins/Bitcoin_Cash.x", true},
      {"/coins/-bitcoin", false},
      {"/coins/" + std::string(129, 'a'), false},
      {"/companies/public_treasury/bitcoin", true},
      {"/companies/public_treasury/dogecoin", false},
      {"/search?query=" + std::string(201, 'a'), false},
      {"/search?query=%C3%A9th%C3%A9r", true},  // UTF-8
      {"/simple/price?ids=bitcoin&vs_currencies=usd&include_tokens=some", false},
      {"/simple/price?symbols=btc,$pepe&vs_currencies=usd", true},
      {"/simple/token_price/ethereum?contract_addresses=0xa,0xb&vs_currencies=usd", true},
      {"/coins/markets?vs_currency=usd&locale=zh-tw", true},
      {"/coins/markets?vs_currency=usd&locale=xx", false},
  };
  for (const auto& c : cases) {
    ParsedCall parsed = parse(c.target);
    EXPECT_EQ(static_cast<bool>(parsed), c.ok)
        << c.target << ": " << parsed.message << " " << parsed.detail;
  }
}

// ------------------------------------------------------------------------ the relay

TEST(RelayTest, OneUpstreamCallForConcurrentIdenticalCallsThenTheCachedAnswer) {
  testing::FakeCoinGecko fake;
  fake.setLatency(50ms);
  ManualClock clock;
  MissFetcher relay(upstreamAt(fake.baseUrl()), 0s, clock);
  const ApiCall call = *parse("/coins/bitcoin?localization=false").call;
  std::vector<std::future<net::Reply>> answers;
  for (int i = 0; i < 20; ++i)
    answers.push_back(std::async(std::launch::async, [&] { return relay.ask(call); }));
  for (auto& answer : answers)
    EXPECT_EQ(answer.get().status, 200);
  EXPECT_EQ(fake.calls("/api/v3/coins/bitcoin"), 1u);
  clock.advance(299s);  // /coins/{id} is kept 300 s on a demo plan
  EXPECT_EQ(relay.ask(call).status, 200);
  EXPECT_EQ(fake.calls("/api/v3/coins/bitcoin"), 1u);
  // What went upstream: coinrelay's own query and the operator's key, nothing of the client.
  const auto sent = fake.server().requests().back();
  EXPECT_EQ(sent.line(), "GET /api/v3/coins/bitcoin?localization=false");
  EXPECT_EQ(sent.header("x-cg-demo-api-key"), "CG-operator-key");
}

TEST(RelayTest, AnAnswerOlderThanItsPeriodIsServedWhileOneCallRefreshesIt) {
  testing::FakeCoinGecko fake;
  ManualClock clock;
  MissFetcher relay(upstreamAt(fake.baseUrl(), "pro"), 0s, clock);
  const ApiCall call = *parse("/simple/price?ids=dogecoin&vs_currencies=usd").call;
  EXPECT_EQ(relay.ask(call).status, 200);
  clock.advance(21s);  // past the 20 s of a paid plan
  fake.server().answer("GET /api/v3/simple/price",
                       net::Reply{200, "application/json", R"({"dogecoin":{"usd":2}})"});
  net::Reply stale = relay.ask(call);
  EXPECT_NE(bodyOf(stale).find("/api/v3/simple/price"), std::string::npos) << "the old answer";
  ASSERT_TRUE(eventually([&] { return fake.calls("/api/v3/simple/price") == 2; }));
  ASSERT_TRUE(eventually([&] { return bodyOf(relay.ask(call)) == R"({"dogecoin":{"usd":2}})"; }));
  EXPECT_EQ(fake.calls("/api/v3/simple/price"), 2u) << "one refresh, however many asked";
  // Past twice the period with no refresh possible, the old answer is not served any more.
  fake.server().answer("GET /api/v3/simple/price",
                       net::Reply{503, "application/json", R"({"error":"down"})"});
  clock.advance(41s);
  EXPECT_EQ(relay.ask(call).status, 503);
}

TEST(RelayTest, KeepsCoinGeckosNotFoundButNeverItsRefusalOfTheKey) {
  testing::FakeCoinGecko fake;
  ManualClock clock;
  MissFetcher relay(upstreamAt(fake.baseUrl()), 0s, clock);
  const ApiCall missing = *parse("/coins/no-such-coin").call;
  net::Reply first = relay.ask(missing);
  EXPECT_EQ(first.status, 404);
  EXPECT_EQ(bodyOf(first), R"({"error":"coin not found"})");
  EXPECT_EQ(relay.ask(missing).status, 404);
  EXPECT_EQ(fake.calls("/api/v3/coins/no-such-coin"), 1u) << "negative caching";
  // A 401 is about coinrelay's key: not relayed to the team, and retried within seconds.
  fake.server().answer("GET /api/v3/global",
                       net::Reply{401, "application/json", R"({"status":{"error_code":10002}})"});
  const ApiCall global = *parse("/global").call;
  net::Reply refused = relay.ask(global);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(bodyOf(refused).find("the operator must check coinrelay's configuration"),
            std::string::npos);
  EXPECT_EQ(bodyOf(refused).find("10002"), std::string::npos) << "CoinGecko's answer stays out";
  clock.advance(6s);
  relay.ask(global);
  EXPECT_EQ(fake.calls("/api/v3/global"), 2u);
}

TEST(RelayTest, EachClientStartsAtMostItsShareOfUpstreamCalls) {
  testing::FakeCoinGecko fake;
  ManualClock clock;
  MissFetcher relay(upstreamAt(fake.baseUrl()), 0s, clock);
  relay.setCallsPerClient(3, 61s);
  for (int i = 0; i < 5; ++i) {
    const ApiCall call = *parse("/coins/coin-" + std::to_string(i)).call;
    net::Reply reply = relay.ask(call, "address:10.0.0.1");
    EXPECT_EQ(reply.status, i < 3 ? 200 : 429) << i;
    if (i >= 3) {
      EXPECT_NE(bodyOf(reply).find("serve.miss_calls_per_client"), std::string::npos);
      EXPECT_EQ(headerOf(reply, "retry-after"), "61");
    }
  }
  EXPECT_EQ(fake.total(), 3u);
  // Cached answers cost no share; another client has its own.
  EXPECT_EQ(relay.ask(*parse("/coins/coin-0").call, "address:10.0.0.1").status, 200);
  EXPECT_EQ(relay.ask(*parse("/coins/coin-9").call, "address:10.0.0.2").status, 200);
  clock.advance(62s);
  EXPECT_EQ(relay.ask(*parse("/coins/coin-4").call, "address:10.0.0.1").status, 200);
}

TEST(RelayTest, TheFetchRoleRelaysOnlyWithTheSecretAndRebuildsTheCall) {
  testing::FakeCoinGecko fake;
  MissFetcher relay(upstreamAt(fake.baseUrl()), 0s);
  const std::string secret = "a-shared-secret-of-some-length";
  auto replica = [&](const std::string& target, const std::string& given) {
    net::Request request;
    request.method = "GET";
    request.target = target;
    request.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos)
      request.query = net::parseQuery(std::string_view(target).substr(target.find('?') + 1));
    if (!given.empty())
      request.headers = {{MissFetcher::kSecretHeader, given}};
    return testing::awaitReply(MissFetcher::answerReplica(&relay, secret, request));
  };
  EXPECT_EQ(replica("/v1/upstream/global", "").status, 403);
  EXPECT_EQ(replica("/v1/upstream/global", "a-shared-secret-of-some-lengtX").status, 403);
  EXPECT_EQ(replica("/v1/upstream/global", secret + "x").status, 403);
  EXPECT_EQ(MissFetcher::answerReplica(nullptr, secret, net::Request{}).status, 403) << "off";
  EXPECT_EQ(MissFetcher::answerReplica(&relay, "", net::Request{}).status, 403) << "off";
  EXPECT_EQ(fake.total(), 0u);
  EXPECT_EQ(replica("/v1/upstream/global", secret).status, 200);
  EXPECT_EQ(
      replica("/v1/upstream/simple/price?ids=bitcoin&vs_currencies=usd%26x%3D1", secret).status,
      400);
  EXPECT_EQ(replica("/v1/upstream/../../etc/passwd", secret).status, 404);
  EXPECT_EQ(replica("/v1/upstream/key", secret).status, 401) << "above the demo plan";
  net::Reply rebuilt = replica("/v1/upstream/simple/price?vs_currencies=USD&ids=Bitcoin", secret);
  EXPECT_EQ(rebuilt.status, 200);
  EXPECT_EQ(fake.server().requests().back().line(),
            "GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd");
}

// ------------------------------------------------------------------------ routes

TEST(CoinGeckoRoutesTest, APathAboveThePlanGetsCoinGeckosRefusal) {
  Stack demo(true, "demo");
  for (const char* target : {"/api/v3/coins/list/new", "/api/v3/key",
                             "/api/v3/coins/bitcoin/circulating_supply_chart?days=1"}) {
    net::Reply reply = ask(demo.routes, target);
    EXPECT_EQ(reply.status, 401) << target;
    EXPECT_EQ(bodyOf(reply),
              R"({"status":{"error_code":10005,"error_message":"This request is limited Pro API )"
              R"(subscribers"}})");
  }
  EXPECT_EQ(demo.relayed(), 0u);
  Stack pro(true, "pro");
  EXPECT_EQ(ask(pro.routes, "/api/v3/coins/list/new").status, 200);
  EXPECT_EQ(ask(pro.routes, "/api/v3/coins/bitcoin/circulating_supply_chart?days=1").status, 401)
      << "enterprise only";
  Stack enterprise(true, "enterprise");
  EXPECT_EQ(ask(enterprise.routes, "/api/v3/coins/bitcoin/circulating_supply_chart?days=1").status,
            200);
}

TEST(CoinGeckoRoutesTest, EveryPathOfTheApiIsAnsweredThroughTheBaseUrl) {
  Stack stack(true, "enterprise");
  std::map<std::string, std::string> example = {{"id", "bitcoin"},
                                                {"coin_id", "bitcoin"},
                                                {"asset_platform_id", "ethereum"},
                                                {"contract_address", "0xabc"},
                                                {"vs_currency", "usd"},
                                                {"vs_currencies", "usd"},
                                                {"days", "1"},
                                                {"from", "1609459200"},
                                                {"to", "1640908800"},
                                                {"date", "30-12-2017"},
                                                {"contract_addresses", "0xabc"},
                                                {"query", "bit"},
                                                {"ids", "bitcoin"},
                                                {"interval", "daily"}};
  int answered = 0;
  for (const ApiPath& path : apiPaths()) {
    std::string target = "/api/v3";
    for (const auto& segment : path.segments)
      target += "/" + (segment.starts_with('{') ? example[segment.substr(1, segment.size() - 2)]
                                                : segment);
    char separator = '?';
    for (const auto& param : path.params) {
      // simple/price needs ids, names or symbols: none of them alone is required.
      if (param.in == ParamIn::Query && (param.required || path.templ == "/simple/price")) {
        if (param.name == "names" || param.name == "symbols" || param.name == "include_tokens")
          continue;
        const std::string value =
            param.enumeration.empty() ? example[param.name] : param.enumeration.front();
        target += separator + param.name + "=" + value;
        separator = '&';
      }
    }
    net::Reply reply = ask(stack.routes, target);
    EXPECT_EQ(reply.status, 200) << target << " " << bodyOf(reply);
    answered += reply.status == 200;
  }
  EXPECT_EQ(answered, 51);
}

TEST(CoinGeckoRoutesTest, UnknownIdsAreLeftOutWithoutAnUpstreamCall) {
  Stack stack;
  net::Reply price =
      ask(stack.routes, "/api/v3/simple/price?ids=bitcoin,zz-junk,no-such-coin&vs_currencies=usd");
  EXPECT_EQ(price.status, 200);
  EXPECT_EQ(bodyOf(price), R"({"bitcoin":{"usd":67000}})");
  net::Reply none = ask(stack.routes, "/api/v3/simple/price?ids=zz-junk&vs_currencies=usd");
  EXPECT_EQ(bodyOf(none), "{}");
  net::Reply markets = ask(stack.routes, "/api/v3/coins/markets?vs_currency=usd&ids=zz,bitcoin");
  EXPECT_EQ(markets.status, 200);
  EXPECT_NE(bodyOf(markets).find(R"("id":"bitcoin")"), std::string::npos);
  EXPECT_EQ(stack.relayed(), 0u);
  // An invalid currency: CoinGecko's exact 400, no call.
  for (const char* target : {"/api/v3/coins/markets?vs_currency=usdt",
                             "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd,usdt"}) {
    net::Reply invalid = ask(stack.routes, target);
    EXPECT_EQ(invalid.status, 400) << target;
    EXPECT_EQ(bodyOf(invalid), R"({"error":"invalid vs_currency"})");
  }
  EXPECT_EQ(stack.relayed(), 0u);
  // An existing coin or currency that is not tracked goes to the upstream.
  EXPECT_EQ(ask(stack.routes, "/api/v3/simple/price?ids=bitcoin,dogecoin&vs_currencies=usd").status,
            200);
  EXPECT_EQ(stack.fake.calls("/api/v3/simple/price"), 1u);
  EXPECT_EQ(ask(stack.routes, "/api/v3/coins/markets?vs_currency=jpy&ids=bitcoin").status, 200);
  EXPECT_EQ(stack.fake.calls("/api/v3/coins/markets"), 1u);
}

TEST(CoinGeckoRoutesTest, RefusingMissesAnswersTheTrackedPartAndNamesWhatWasLeftOut) {
  Stack stack(/*fetch_misses=*/false);
  auto& left_out = telemetry::metrics().counter("coinrelay_serve_left_out_total", "");
  const double before = left_out.value();
  net::Reply price =
      ask(stack.routes, "/api/v3/simple/price?ids=bitcoin,dogecoin,zz-junk&vs_currencies=usd,jpy");
  EXPECT_EQ(price.status, 200);
  EXPECT_EQ(bodyOf(price), R"({"bitcoin":{"usd":67000}})");
  EXPECT_EQ(headerOf(price, CoinGeckoRoutes::kLeftOutHeader), "jpy,dogecoin");
  EXPECT_EQ(left_out.value(), before + 2);
  net::Reply markets =
      ask(stack.routes, "/api/v3/coins/markets?vs_currency=usd&per_page=100&page=1");
  EXPECT_EQ(markets.status, 200);
  EXPECT_NE(headerOf(markets, CoinGeckoRoutes::kLeftOutHeader).find("tracked top 2"),
            std::string::npos);
  net::Reply currency = ask(stack.routes, "/api/v3/coins/markets?vs_currency=jpy");
  EXPECT_EQ(currency.status, 200);
  EXPECT_EQ(bodyOf(currency), "[]");
  EXPECT_EQ(headerOf(currency, CoinGeckoRoutes::kLeftOutHeader), "jpy");
  net::Reply relayed_path = ask(stack.routes, "/api/v3/global");
  EXPECT_EQ(relayed_path.status, 404);
  EXPECT_NE(bodyOf(relayed_path).find("serve.on_miss = refuse"), std::string::npos);
  EXPECT_EQ(stack.relayed(), 0u);
}

TEST(CoinGeckoRoutesTest, ListsTheWholeUniverse) {
  Stack stack;
  net::Reply list = ask(stack.routes, "/api/v3/coins/list");
  EXPECT_EQ(bodyOf(list), R"([{"id":"bitcoin","symbol":"btc","name":"Bitcoin"},)"
                          R"({"id":"bridged-btc","symbol":"btc","name":"Bridged BTC"},)"
                          R"({"id":"dogecoin","symbol":"doge","name":"Dogecoin"},)"
                          R"({"id":"ethereum","symbol":"eth","name":"Ethereum"},)"
                          R"({"id":"tether","symbol":"usdt","name":"Tether"},)"
                          R"({"id":"wrapped-eth","symbol":"weth","name":"Ethereum"}])");
  // include_platform: the platforms, from the same list.
  net::Reply platforms = ask(stack.routes, "/api/v3/coins/list?include_platform=true");
  EXPECT_NE(bodyOf(platforms).find(R"({"id":"tether","symbol":"usdt","name":"Tether",)"
                                   R"("platforms":{"ethereum":"0xdac1"}})"),
            std::string::npos);
  EXPECT_EQ(bodyOf(ask(stack.routes, "/api/v3/coins/list?include_platform=false")), bodyOf(list));
  EXPECT_EQ(bodyOf(ask(stack.routes, "/api/v3/simple/supported_vs_currencies")),
            R"(["btc","eth","usd","eur","jpy"])");
  const uint64_t lists = stack.fake.total();
  EXPECT_EQ(lists, 2u) << "one call per list";
  // status=inactive: coins coinrelay does not know; relayed as asked.
  ask(stack.routes, "/api/v3/coins/list?status=inactive");
  EXPECT_EQ(stack.fake.server().requests().back().line(), "GET /api/v3/coins/list?status=inactive");
}

TEST(CoinGeckoRoutesTest, SimplePriceNamesSymbolsAndIncludeTokens) {
  Stack stack;
  auto price = [&](const std::string& query) {
    return bodyOf(ask(stack.routes, "/api/v3/simple/price?vs_currencies=usd&" + query));
  };
  // symbols: the best-ranked coin with the symbol (bitcoin ranks 1; bridged-btc is untracked).
  EXPECT_EQ(price("symbols=btc,eth"), R"({"bitcoin":{"usd":67000},"ethereum":{"usd":3500.46}})");
  EXPECT_EQ(stack.relayed(), 0u);
  // include_tokens=all: every coin with it, bridged-btc included: only the upstream has it.
  price("symbols=btc&include_tokens=all");
  EXPECT_EQ(stack.relayed(), 1u);
  EXPECT_EQ(stack.fake.server().requests().back().line(),
            "GET /api/v3/simple/price?include_tokens=all&symbols=btc&vs_currencies=usd");
  // names: every coin of that name (Ethereum is also wrapped-eth's name here).
  EXPECT_EQ(price("names=Bitcoin"), R"({"bitcoin":{"usd":67000}})");
  EXPECT_EQ(stack.relayed(), 1u);
  price("names=Ethereum");
  EXPECT_EQ(stack.relayed(), 2u);
  // Priority ids > names > symbols.
  EXPECT_EQ(price("ids=ethereum&names=Bitcoin&symbols=btc"), R"({"ethereum":{"usd":3500.46}})");
  EXPECT_EQ(price("names=Bitcoin&symbols=eth"), R"({"bitcoin":{"usd":67000}})");
  EXPECT_EQ(price("symbols=zzz"), "{}") << "no coin has it";
  EXPECT_EQ(bodyOf(ask(stack.routes, "/api/v3/simple/price?vs_currencies=usd")),
            R"({"error":"Missing parameter ids"})");
}

TEST(CoinGeckoRoutesTest, CoinsMarketsAnswersWhatItHoldsAndRelaysTheRest) {
  Stack stack;
  auto markets = [&](const std::string& query) {
    return ask(stack.routes, "/api/v3/coins/markets?vs_currency=usd&" + query);
  };
  auto ids = [&](const net::Reply& reply) {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    simdjson::dom::array items;
    if (parser.parse(bodyOf(reply)).get(items) == simdjson::SUCCESS) {
      for (simdjson::dom::object item : items)
        out.emplace_back(std::string_view(item["id"]));
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids(markets("symbols=eth,btc")), (Ids{"bitcoin", "ethereum"}));
  EXPECT_EQ(ids(markets("names=Bitcoin")), (Ids{"bitcoin"}));
  EXPECT_EQ(ids(markets("ids=ethereum&symbols=btc")), (Ids{"ethereum"}));
  EXPECT_EQ(ids(markets("per_page=1&page=2")), (Ids{"ethereum"}));
  EXPECT_EQ(ids(markets("per_page=2&locale=en")), (Ids{"bitcoin", "ethereum"}));
  EXPECT_NE(bodyOf(markets("ids=ethereum&precision=1")).find(R"("current_price":3500.5,)"),
            std::string::npos);
  EXPECT_NE(bodyOf(markets("ids=ethereum")).find(R"("current_price":3500.46,)"), std::string::npos);
  EXPECT_EQ(stack.relayed(), 0u);
  // What a quote does not hold goes upstream with the parameter, rebuilt by coinrelay.
  const std::vector<std::pair<std::string, std::string>> relayed = {
      {"ids=bitcoin&sparkline=true", "sparkline=true"},
      {"ids=bitcoin&price_change_percentage=1h,7d", "price_change_percentage=1h,7d"},
      {"category=layer-1", "category=layer-1"},
      {"ids=bitcoin&locale=de", "locale=de"},
      {"ids=bitcoin&include_rehypothecated=true", "include_rehypothecated=true"},
      {"symbols=btc&include_tokens=all", "include_tokens=all"},
      {"per_page=250", "per_page=250"},
      {"order=volume_desc&per_page=2", "order=volume_desc"},
  };
  uint64_t expected = 0;
  for (const auto& [query, sent] : relayed) {
    EXPECT_EQ(markets(query).status, 200) << query;
    EXPECT_EQ(stack.relayed(), ++expected) << query;
    EXPECT_NE(stack.fake.server().requests().back().line().find(sent), std::string::npos)
        << query << " sent " << stack.fake.server().requests().back().line();
  }
}

TEST(CoinGeckoRoutesTest, AClientSendingJunkCannotSpendAnotherClientsMisses) {
  Stack stack;
  stack.relay.setCallsPerClient(5, 61s);
  // 40 junk ids: the universe says none exists; no call, nothing spent.
  for (int i = 0; i < 40; ++i) {
    net::Reply junk =
        ask(stack.routes,
            "/api/v3/simple/price?ids=zz-hostile-" + std::to_string(i) + "&vs_currencies=usd",
            "address:10.0.0.66");
    EXPECT_EQ(junk.status, 200);
    EXPECT_EQ(bodyOf(junk), "{}");
  }
  for (int i = 0; i < 40; ++i) {
    net::Reply junk =
        ask(stack.routes, "/api/v3/coins/zz-hostile-" + std::to_string(i), "address:10.0.0.66");
    EXPECT_EQ(junk.status, 404);
    EXPECT_EQ(bodyOf(junk), R"({"error":"coin not found"})");
  }
  EXPECT_EQ(stack.relayed(), 0u);
  // 40 calls the universe cannot judge (exchange ids) from one client: its share goes upstream,
  // the rest is refused.
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    refused += ask(stack.routes, "/api/v3/exchanges/junk-" + std::to_string(i), "address:10.0.0.66")
                   .status == 429;
  }
  EXPECT_EQ(refused, 35);
  EXPECT_EQ(stack.relayed(), 5u);
  // Another client's legitimate miss is answered.
  net::Reply legit =
      ask(stack.routes, "/api/v3/simple/price?ids=dogecoin&vs_currencies=usd", "address:10.0.0.7");
  EXPECT_EQ(legit.status, 200);
  EXPECT_EQ(stack.relayed(), 6u);
}

TEST(CoinGeckoRoutesTest, MetricsCountRequestsCacheHitsAndUpstreamCallsPerPath) {
  Stack stack;
  auto& requests =
      telemetry::metrics().counter("coinrelay_api_requests_total", "", {{"path", "/exchanges"}});
  auto& hits =
      telemetry::metrics().counter("coinrelay_api_cache_hits_total", "", {{"path", "/exchanges"}});
  auto& calls = telemetry::metrics().counter("coinrelay_api_upstream_calls_total", "",
                                             {{"path", "/exchanges"}});
  const double r = requests.value(), h = hits.value(), c = calls.value();
  for (int i = 0; i < 3; ++i)
    ask(stack.routes, "/api/v3/exchanges?per_page=10");
  EXPECT_EQ(requests.value(), r + 3);
  EXPECT_EQ(hits.value(), h + 2);
  EXPECT_EQ(calls.value(), c + 1);
}

// The done-when of the relay: 200 concurrent clients over HTTP asking the same 20 relayed paths
// through several periods (a 10 s period on a ManualClock, so the test spans three of them in
// well under a second of real time) cost exactly one upstream call per path per period; once the
// budget for misses is spent, nothing more goes upstream and new calls get CoinGecko's 429 shape
// with retry-after.
TEST(RelayLoadTest, TwoHundredClientsTwentyPathsOneUpstreamCallPerPathPerPeriod) {
  testing::FakeCoinGecko fake;
  ManualClock clock;
  StopSignal running;
  coingecko::BudgetLimits limits;
  limits.calls_per_minute = 1000;
  limits.on_demand_per_window = 60;  // serve.miss_calls_per_minute: three periods of 20 calls
  coingecko::UpstreamBudget budget(limits, running, {}, clock);
  MissFetcher relay(upstreamAt(fake.baseUrl()), 10s, clock);  // serve.miss_ttl_s = 10
  relay.setBudget(&budget);
  pipeline::Snapshot snapshot;
  deliverTopTwo(snapshot);
  CoinGeckoRoutes coingecko(snapshot, &relay, nullptr);
  StreamHub hub;
  RelayRoutes routes(RelayRoutes::Parts{
      .snapshot = &snapshot, .coingecko = &coingecko, .stream = &hub, .health_json = [] {
        return std::string("{}");
      }});
  auto server = net::HttpServer::start(
      "127.0.0.1:0", [&](const net::Request& request) { return routes.handle(request); }, 4);
  ASSERT_TRUE(server);
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/api/v3";
  const std::vector<std::string> paths = {
      "/coins/bitcoin",
      "/coins/bitcoin/tickers",
      "/coins/bitcoin/history?date=30-12-2017",
      "/coins/bitcoin/market_chart?vs_currency=usd&days=1",
      "/coins/bitcoin/market_chart/range?vs_currency=usd&from=1609459200&to=1640908800",
      "/coins/bitcoin/ohlc?vs_currency=usd&days=7",
      "/coins/ethereum/contract/0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
      "/coins/categories",
      "/coins/categories/list",
      "/asset_platforms",
      "/exchanges",
      "/exchanges/list",
      "/exchanges/binance",
      "/exchange_rates",
      "/global",
      "/global/decentralized_finance_defi",
      "/search?query=bitcoin",
      "/search/trending",
      "/nfts/list",
      "/derivatives",
  };
  ASSERT_EQ(paths.size(), 20u);
  auto upstreamPath = [](const std::string& path) {
    return "/api/v3" + path.substr(0, path.find('?'));
  };
  std::atomic<int> failures{0};
  auto wave = [&](const std::vector<std::string>& targets, int expected_status) {
    std::vector<std::thread> clients;
    for (int c = 0; c < 200; ++c) {
      clients.emplace_back([&, c] {
        net::HttpClient http;
        for (size_t i = 0; i < targets.size(); ++i) {
          const std::string& target = targets[(i + c) % targets.size()];
          auto response = http.get(base + target, 10s);
          if (!response || response->status != expected_status ||
              (expected_status == 429 && !response->header("retry-after")))
            ++failures;
        }
      });
    }
    for (auto& client : clients)
      client.join();
  };
  for (int period = 1; period <= 3; ++period) {
    wave(paths, 200);
    // Stale answers are served while one call per path refreshes them: wait for those calls.
    ASSERT_TRUE(eventually([&] {
      for (const auto& path : paths) {
        if (fake.calls(upstreamPath(path)) != static_cast<uint64_t>(period))
          return false;
      }
      return true;
    })) << "period "
        << period;
    for (const auto& path : paths)
      EXPECT_EQ(fake.calls(upstreamPath(path)), static_cast<uint64_t>(period)) << path;
    clock.advance(10s);
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fake.total(), 60u);
  // The budget for misses is spent (60 on-demand calls in this rate window): answers already
  // held are still served, new calls are refused with CoinGecko's 429 and retry-after, and
  // nothing more goes upstream.
  wave(paths, 200);
  std::vector<std::string> fresh;
  for (int i = 0; i < 20; ++i)
    fresh.push_back("/coins/coin-" + std::to_string(i));
  wave(fresh, 429);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fake.total(), 60u);
  (*server)->stop();
}

// ------------------------------------------------------------------------ the doc

TEST(ServingDocTest, ThePathTableOfTheDocIsTheCompiledOne) {
  const std::string doc = readSource("docs/serving.md");
  const std::string begin = "<!-- the path table: generated from src/api/coingecko_paths.cc -->\n";
  const std::string end = "<!-- end of the path table -->";
  const size_t from = doc.find(begin);
  const size_t to = doc.find(end);
  ASSERT_NE(from, std::string::npos) << "docs/serving.md lacks the line " << begin;
  ASSERT_NE(to, std::string::npos) << "docs/serving.md lacks the line " << end;
  const std::string table = doc.substr(from + begin.size(), to - from - begin.size());
  EXPECT_EQ(table, pathTableMarkdown())
      << "docs/serving.md describes another path table; put this between the two markers:\n"
      << pathTableMarkdown();
}

// ------------------------------------------------------------------------ parsers

TEST(UniverseParserTest, ReadsCoinsWithOrWithoutPlatformsAndCurrencies) {
  simdjson::dom::parser json_parser;
  auto list = coingecko::parseCoinsList(
      R"([{"id":"a","symbol":"x","name":"A","platforms":{"ethereum":"0x1","solana":null}},)"
      R"({"id":"b","symbol":"y","name":"B"},{"id":7},"junk"])",
      json_parser);
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->coins.size(), 2u);
  EXPECT_EQ(list->coins[0].platforms.value_or(""), R"({"ethereum":"0x1","solana":null})");
  EXPECT_FALSE(list->coins[1].platforms.has_value());
  EXPECT_EQ(list->invalid_items, 2u);
  EXPECT_FALSE(coingecko::parseCoinsList("<html>", json_parser));
  auto currencies = coingecko::parseSupportedCurrencies(R"(["USD","eur",3])");
  ASSERT_TRUE(currencies);
  EXPECT_EQ(*currencies, (std::vector<std::string>{"usd", "eur"}));
  EXPECT_FALSE(coingecko::parseSupportedCurrencies("[]"));
}

}  // namespace
}  // namespace coinrelay::api
