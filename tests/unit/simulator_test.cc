#include "simulate/simulator.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "coingecko/markets_parser.h"
#include "common/time_util.h"
#include "simulate/sim_spec.h"
#include "support/api_requests.h"

namespace coinrelay::simulate {
namespace {

using testing::get;

KeyPolicy policy(const std::string& plan) {
  KeyPolicy keys;
  keys.key = "CG-sim-key";
  keys.plan = plan;
  return keys;
}

std::vector<std::pair<std::string, std::string>> keyHeader(const std::string& plan) {
  return {{plan == "demo" ? "x-cg-demo-api-key" : "x-cg-pro-api-key", "CG-sim-key"}};
}

MarketOptions frozen(int coins) {
  MarketOptions options;
  options.coins = coins;
  options.update_interval_ms = 0;
  options.start_ms = 1'700'000'000'000;
  return options;
}

/// Parses a body the test keeps (simdjson elements live as long as their parser).
class Doc {
 public:
  explicit Doc(const std::string& text) : text_(text) {
    if (parser_.parse(text_).get(root_) != simdjson::SUCCESS)
      ADD_FAILURE() << "not JSON: " << text.substr(0, 300);
  }
  simdjson::dom::element operator*() const { return root_; }
  simdjson::dom::element_type type() const { return root_.type(); }
  simdjson::simdjson_result<simdjson::dom::element> operator[](std::string_view key) const {
    return root_[key];
  }
  size_t size() const {
    simdjson::dom::array array;
    return root_.get(array) == simdjson::SUCCESS ? array.size() : 0;
  }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

/// The keys of a JSON object, in order.
std::vector<std::string> keysOf(simdjson::dom::element element) {
  std::vector<std::string> keys;
  simdjson::dom::object object;
  if (element.get(object) == simdjson::SUCCESS) {
    for (auto field : object)
      keys.emplace_back(field.key);
  }
  return keys;
}

double num(simdjson::simdjson_result<simdjson::dom::element> value) {
  double out = -1;
  if (value.get(out) != simdjson::SUCCESS) {
    int64_t whole = 0;
    if (value.get(whole) == simdjson::SUCCESS)
      return static_cast<double>(whole);
  }
  return out;
}

TEST(MarketTest, TopCoinsAreRealAndRankedByMarketCap) {
  Market market(frozen(120));
  const auto& coins = market.ranked();
  ASSERT_EQ(coins.size(), 120u);
  EXPECT_EQ(coins[0].id, "bitcoin");
  EXPECT_EQ(coins[1].id, "ethereum");
  for (size_t i = 1; i < coins.size(); ++i) {
    EXPECT_GE(coins[i - 1].marketCap(), coins[i].marketCap());
    EXPECT_EQ(coins[i].market_cap_rank, static_cast<int64_t>(i) + 1);
  }
  EXPECT_EQ(coins.back().name.rfind("Simcoin", 0), 0u);
}

TEST(MarketTest, TheSameSeedWalksTheSamePath) {
  MarketOptions options = frozen(60);
  options.update_interval_ms = 1000;
  Market a(options), b(options);
  a.advanceTo(options.start_ms + 10'500);
  b.advanceTo(options.start_ms + 10'500);
  EXPECT_EQ(a.steps(), 10);
  EXPECT_EQ(a.find("bitcoin")->price, b.find("bitcoin")->price);
  EXPECT_NE(a.find("bitcoin")->price, 67412.0) << "prices moved";
  EXPECT_EQ(a.find("bitcoin")->last_updated_ms,
            options.start_ms + 10'000 - a.find("bitcoin")->update_jitter_ms);
  options.seed = 43;
  Market c(options);
  c.advanceTo(options.start_ms + 10'500);
  EXPECT_NE(a.find("bitcoin")->price, c.find("bitcoin")->price);
}

TEST(MarketTest, AFrozenMarketNeverMoves) {
  Market market(frozen(10));
  const double price = market.find("bitcoin")->price;
  const int64_t updated = market.find("bitcoin")->last_updated_ms;
  EXPECT_EQ(market.advanceTo(frozen(10).start_ms + 3'600'000), 0);
  EXPECT_EQ(market.find("bitcoin")->price, price);
  EXPECT_EQ(market.find("bitcoin")->last_updated_ms, updated);
}

TEST(SimulatorTest, CoinsMarketsIsCoinGeckoShapedAndParsesBack) {
  Simulator simulator(frozen(300), FaultOptions{});
  auto reply = simulator.handle(
      get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"per_page", "250"}, {"page", "2"}}));
  ASSERT_EQ(reply.status, 200);
  simdjson::dom::parser parser;
  auto page = coingecko::parseCoinsMarkets(reply.body, "usd", 0, parser);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->quotes.size(), 50u);
  EXPECT_EQ(page->invalid_items, 0u);
  EXPECT_EQ(page->quotes[0].market_cap_rank, 251);
  // CoinGecko's field order, which clients that map by position or print raw JSON rely on.
  const char* order[] = {"\"id\"",
                         "\"symbol\"",
                         "\"name\"",
                         "\"image\"",
                         "\"current_price\"",
                         "\"market_cap\"",
                         "\"market_cap_rank\"",
                         "\"fully_diluted_valuation\"",
                         "\"total_volume\"",
                         "\"high_24h\"",
                         "\"low_24h\"",
                         "\"price_change_24h\"",
                         "\"price_change_percentage_24h\"",
                         "\"market_cap_change_24h\"",
                         "\"market_cap_change_percentage_24h\"",
                         "\"circulating_supply\"",
                         "\"total_supply\"",
                         "\"max_supply\"",
                         "\"ath\"",
                         "\"ath_change_percentage\"",
                         "\"ath_date\"",
                         "\"atl\"",
                         "\"atl_change_percentage\"",
                         "\"atl_date\"",
                         "\"roi\"",
                         "\"last_updated\""};
  size_t at = 0;
  for (const char* field : order) {
    const size_t next = reply.body.find(field, at);
    ASSERT_NE(next, std::string::npos) << field;
    at = next;
  }
}

TEST(SimulatorTest, FiltersByIdsAndConvertsCurrencies) {
  Simulator simulator(frozen(100), FaultOptions{});
  simdjson::dom::parser parser;
  auto usd = simulator.handle(
      get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"ids", "ethereum,bitcoin,nope"}}));
  auto eur =
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "EUR"}, {"ids", "bitcoin"}}));
  auto usd_page = coingecko::parseCoinsMarkets(usd.body, "usd", 0, parser).value();
  ASSERT_EQ(usd_page.quotes.size(), 2u);
  EXPECT_EQ(usd_page.quotes[0].id, "bitcoin") << "ids keep market-cap order";
  const double usd_price = *usd_page.quotes[0].price;
  auto eur_page = coingecko::parseCoinsMarkets(eur.body, "eur", 0, parser).value();
  // EUR per USD as CoinGecko's own /global example has it (2508293570926.52 / 2721226850772.63).
  EXPECT_NEAR(*eur_page.quotes[0].price, usd_price * 0.92175, usd_price * 0.0001);
}

TEST(SimulatorTest, AnswersErrorsAsCoinGeckoDoes) {
  Simulator simulator(frozen(10), FaultOptions{});
  auto bad_currency = simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "usdt"}}));
  EXPECT_EQ(bad_currency.status, 400);
  EXPECT_EQ(bad_currency.body, R"({"error":"invalid vs_currency"})");
  auto missing = simulator.handle(get("/api/v3/simple/price", {{"ids", "bitcoin"}}));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, R"({"error":"Missing parameter vs_currencies"})");
  auto ping = simulator.handle(get("/api/v3/ping"));
  EXPECT_EQ(ping.body, R"({"gecko_says":"(V3) To the Moon!"})");
  auto unknown_ids =
      simulator.handle(get("/api/v3/simple/price", {{"ids", "nope"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(unknown_ids.status, 200);
  EXPECT_EQ(unknown_ids.body, "{}");
}

TEST(SimulatorTest, SimplePriceHonoursEveryIncludeFlag) {
  Simulator simulator(frozen(10), FaultOptions{});
  auto minimal =
      simulator.handle(get("/api/v3/simple/price", {{"ids", "bitcoin"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(minimal.body, R"({"bitcoin":{"usd":67412}})");
  auto full = simulator.handle(get("/api/v3/simple/price", {{"ids", "bitcoin,ethereum"},
                                                            {"vs_currencies", "usd,eur"},
                                                            {"include_market_cap", "true"},
                                                            {"include_24hr_vol", "true"},
                                                            {"include_24hr_change", "true"},
                                                            {"include_last_updated_at", "true"}}));
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(full.body);
  for (const char* key : {"usd", "usd_market_cap", "usd_24h_vol", "usd_24h_change", "eur",
                          "eur_market_cap", "eur_24h_vol", "eur_24h_change", "last_updated_at"}) {
    EXPECT_EQ(doc["ethereum"][key].error(), simdjson::SUCCESS) << key;
  }
  EXPECT_TRUE(doc["bitcoin"]["last_updated_at"].is_int64());
}

TEST(SimulatorTest, InjectsFaultsAndCountsEveryRequest) {
  FaultOptions faults;
  faults.rate_limited = 1.0;
  faults.retry_after_s = 7;
  Simulator limited(frozen(10), faults);
  auto reply = limited.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}}));
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.body.size(), 187u) << "CoinGecko's exact 429 body";
  EXPECT_EQ(reply.headers,
            (std::vector<std::pair<std::string, std::string>>{{"retry-after", "7"}}));

  FaultOptions html;
  html.html = 1.0;
  Simulator cloudflare(frozen(10), html);
  auto page = cloudflare.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}}));
  EXPECT_EQ(page.status, 403);
  EXPECT_EQ(page.content_type.rfind("text/html", 0), 0u);

  FaultOptions cut;
  cut.truncated = 1.0;
  Simulator truncating(frozen(10), cut);
  auto truncated = truncating.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}}));
  EXPECT_EQ(truncated.status, 200);
  simdjson::dom::parser parser;
  EXPECT_FALSE(coingecko::parseCoinsMarkets(truncated.body, "usd", 0, parser));

  limited.handle(get("/api/v3/ping"));
  auto stats = limited.handle(get("/_sim/stats"));
  EXPECT_EQ(stats.body.rfind(
                R"({"requests_total":2,"paths":{"/api/v3/coins/markets":{"429":1,"total":1},)"
                R"("/api/v3/ping":{"429":1,"total":1}},"market_steps":0,)",
                0),
            0u)
      << stats.body;
}

TEST(SimulatorTest, FaultSharesAreRoughlyRespected) {
  FaultOptions faults;
  faults.server_error = 0.3;
  Simulator simulator(frozen(5), faults);
  int failed = 0;
  for (int i = 0; i < 1000; ++i) {
    if (simulator.handle(get("/api/v3/ping")).status == 503)
      ++failed;
  }
  EXPECT_GT(failed, 230);
  EXPECT_LT(failed, 370);
}

// ------------------------------------------------------------------ the independent oracle

TEST(SimulatorTest, SharesNoCodeWithCoinrelayBeyondCommonAndNet) {
  // The simulator is the oracle coinrelay is compared against: were it to read or write
  // CoinGecko's API through coinrelay's own code, a fault there would be on both sides.
  const std::filesystem::path folder = std::filesystem::path(COINRELAY_SOURCE_DIR) / "src/simulate";
  const std::regex include(R"re(#include\s+"([a-z_]+)/)re");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::ifstream in(entry.path());
    std::string line;
    ++files;
    while (std::getline(in, line)) {
      std::smatch match;
      if (!std::regex_search(line, match, include))
        continue;
      const std::string dir = match[1];
      EXPECT_TRUE(dir == "common" || dir == "net" || dir == "simulate")
          << entry.path().filename() << " includes " << line;
    }
  }
  EXPECT_GE(files, 8u);
}

TEST(SimulatorTest, AnswersEveryPathOfCoinGeckosDescription) {
  // An enterprise key opens every path; each answers JSON from its example or the market.
  Simulator simulator(frozen(60), FaultOptions{}, policy("enterprise"));
  const SimSpec& spec = SimSpec::get();
  ASSERT_EQ(spec.paths().size(), 51u);
  size_t answered = 0;
  for (const SpecPath& path : spec.paths()) {
    std::string concrete;
    std::map<std::string, std::string> query;
    for (const auto& segment : path.segments) {
      std::string value = segment;
      if (segment.front() == '{') {
        const std::string name = segment.substr(1, segment.size() - 2);
        value = name == "id" && path.templ.starts_with("/coins/{id}") &&
                        path.templ.find("/contract/") == std::string::npos
                    ? "bitcoin"
                : name == "coin_id" ? "bitcoin"
                                    : "ethereum";
      }
      concrete += "/" + value;
    }
    for (const SpecParam& param : path.params) {
      if (param.in_path || !param.required)
        continue;
      if (!param.choices.empty())
        query[param.name] = param.choices.front();
      else if (param.name == "vs_currency" || param.name == "vs_currencies")
        query[param.name] = "usd";
      else if (param.name == "date")
        query[param.name] = "01-11-2023";
      else if (param.name == "from")
        query[param.name] = "1699000000";
      else if (param.name == "to")
        query[param.name] = "1699900000";
      else if (param.name == "days")
        query[param.name] = "7";
      else
        query[param.name] = "bitcoin";
    }
    auto reply = simulator.handle(get("/api/v3" + concrete, query, keyHeader("enterprise")));
    EXPECT_EQ(reply.status, 200) << path.templ << ": " << reply.body.substr(0, 300);
    Doc doc(reply.body);
    EXPECT_NE(doc.type(), simdjson::dom::element_type::NULL_VALUE) << path.templ;
    ++answered;
  }
  EXPECT_EQ(answered, 51u);
}

TEST(SimulatorTest, OtherPathsAnswerTheirSchemasExampleByteForByte) {
  Simulator simulator(frozen(20), FaultOptions{});
  const SimSpec& spec = SimSpec::get();
  for (const char* templ : {"/exchanges", "/nfts/list", "/derivatives", "/asset_platforms",
                            "/coins/categories", "/exchanges/list"}) {
    auto reply = simulator.handle(get(std::string("/api/v3") + templ));
    ASSERT_EQ(reply.status, 200) << templ;
    std::string expected;
    JsonWriter w(expected);
    copyJson(*spec.example(spec.find(templ)->response), w);
    EXPECT_EQ(reply.body, expected) << templ;
    // The same request, the same bytes: a relay can be checked byte for byte.
    EXPECT_EQ(simulator.handle(get(std::string("/api/v3") + templ)).body, reply.body);
  }
  // A schema without an example is walked: every property in the description's order.
  auto walked = spec.render(spec.schema("CoinsDataBase"));
  EXPECT_EQ(walked.rfind(R"({"id":"","symbol":"","name":"","web_slug":"")", 0), 0u) << walked;
}

TEST(SimulatorTest, ChecksRequiredAndEnumeratedParametersOfEveryPath) {
  Simulator simulator(frozen(20), FaultOptions{});
  auto missing = simulator.handle(get("/api/v3/coins/bitcoin/market_chart", {{"days", "1"}}));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, R"({"error":"Missing parameter vs_currency"})");
  auto bad_enum =
      simulator.handle(get("/api/v3/coins/bitcoin/ohlc", {{"vs_currency", "usd"}, {"days", "2"}}));
  EXPECT_EQ(bad_enum.status, 400);
  EXPECT_EQ(bad_enum.body, R"({"error":"invalid days"})");
  auto search = simulator.handle(get("/api/v3/search"));
  EXPECT_EQ(search.body, R"({"error":"Missing parameter query"})");
  auto categories = simulator.handle(get("/api/v3/coins/categories", {{"order", "sideways"}}));
  EXPECT_EQ(categories.body, R"({"error":"invalid order"})");
  EXPECT_EQ(simulator.handle(get("/api/v3/coins/no-such-coin")).status, 404);
  EXPECT_EQ(simulator
                .handle(get("/api/v3/coins/no-such-coin/market_chart",
                            {{"vs_currency", "usd"}, {"days", "1"}}))
                .body,
            R"({"error":"coin not found"})");
  EXPECT_EQ(simulator.handle(get("/api/v3/companies/public_treasury/dogecoin")).status, 404);
  auto unknown = simulator.handle(get("/api/v3/coins/bitcoin/nope/deeper"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("Incorrect path"), std::string::npos);
  // A trailing slash is the same path (pycoingecko asks /coins/bitcoin/).
  auto slash = simulator.handle(get("/api/v3/coins/bitcoin/", {{"tickers", "false"}}));
  EXPECT_EQ(slash.status, 200);
  EXPECT_EQ(slash.body,
            simulator.handle(get("/api/v3/coins/bitcoin", {{"tickers", "false"}})).body);
}

TEST(SimulatorTest, AppliesThePlanOfEveryPathAsCoinGeckoDoes) {
  const std::string limited = R"({"status":{"error_code":10005,)"
                              R"("error_message":"This request is limited Pro API subscribers"}})";
  Simulator keyless(frozen(20), FaultOptions{});
  auto paid = keyless.handle(get("/api/v3/coins/top_gainers_losers", {{"vs_currency", "usd"}}));
  EXPECT_EQ(paid.status, 401);
  EXPECT_EQ(paid.body, limited);
  EXPECT_EQ(
      keyless.handle(get("/api/v3/coins/bitcoin/circulating_supply_chart", {{"days", "1"}})).status,
      401);
  EXPECT_EQ(keyless.handle(get("/api/v3/exchanges")).status, 200) << "demo paths for everyone";

  Simulator demo(frozen(20), FaultOptions{}, policy("demo"));
  EXPECT_EQ(demo.handle(get("/api/v3/coins/list/new", {}, keyHeader("demo"))).body, limited);
  // CoinGecko also takes the key as a query parameter (pycoingecko sends it so).
  EXPECT_EQ(demo.handle(get("/api/v3/ping", {{"x_cg_demo_api_key", "CG-sim-key"}})).status, 200);
  EXPECT_EQ(demo.handle(get("/api/v3/ping", {{"x_cg_demo_api_key", "CG-wrong"}})).status, 401);

  Simulator pro(frozen(20), FaultOptions{}, policy("pro"));
  EXPECT_EQ(pro.handle(get("/api/v3/coins/list/new", {}, keyHeader("pro"))).status, 200);
  EXPECT_EQ(pro.handle(get("/api/v3/token_lists/ethereum/all.json", {}, keyHeader("pro"))).body,
            limited)
      << "enterprise paths stay closed to a paid plan below enterprise";
  auto hourly = pro.handle(get("/api/v3/coins/bitcoin/market_chart",
                               {{"vs_currency", "usd"}, {"days", "2"}, {"interval", "hourly"}},
                               keyHeader("pro")));
  EXPECT_EQ(hourly.status, 401) << "hourly charts are for enterprise";
  Simulator enterprise(frozen(20), FaultOptions{}, policy("enterprise"));
  EXPECT_EQ(
      enterprise.handle(get("/api/v3/token_lists/ethereum/all.json", {}, keyHeader("enterprise")))
          .status,
      200);
  EXPECT_EQ(enterprise
                .handle(get("/api/v3/coins/bitcoin/market_chart",
                            {{"vs_currency", "usd"}, {"days", "2"}, {"interval", "hourly"}},
                            keyHeader("enterprise")))
                .status,
            200);
}

// ----------------------------------------------------------- coins/markets, every parameter

TEST(SimulatorTest, MarketsPagesByCoinGeckosRules) {
  Simulator simulator(frozen(300), FaultOptions{});
  EXPECT_EQ(
      Doc(simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}})).body).size(),
      100u)
      << "per_page defaults to 100";
  // CoinGecko documents per_page as 1..250; beyond is refused, not capped.
  const auto oversized_page = simulator.handle(
      get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"per_page", "1000"}}));
  EXPECT_EQ(oversized_page.status, 400);
  EXPECT_EQ(oversized_page.body, R"({"error":"invalid per_page"})");
  std::string ids;
  for (int i = 51; i <= 301; ++i)
    ids += fmt::format("{}simcoin-{}", ids.empty() ? "" : ",", i);
  auto too_many =
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"ids", ids}}));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(too_many.body, R"j({"error":"too many ids (at most 250)"})j");
}

TEST(SimulatorTest, MarketsSelectsByCategoryIdsNamesAndSymbolsInCoinGeckosPriority) {
  Simulator simulator(frozen(100), FaultOptions{});
  auto ids_of = [&](std::map<std::string, std::string> query) {
    query["vs_currency"] = "usd";
    std::vector<std::string> ids;
    Doc doc(simulator.handle(get("/api/v3/coins/markets", query)).body);
    simdjson::dom::array rows;
    if ((*doc).get(rows) == simdjson::SUCCESS) {
      for (auto row : rows)
        ids.emplace_back(std::string_view(row["id"]));
    }
    return ids;
  };
  EXPECT_EQ(ids_of({{"category", "stablecoins"}}),
            (std::vector<std::string>{"tether", "usd-coin", "dai"}));
  EXPECT_EQ(ids_of({{"category", "stablecoins"}, {"ids", "bitcoin"}}).size(), 3u)
      << "category wins over ids";
  EXPECT_EQ(ids_of({{"names", "Bitcoin,ethereum"}}),
            (std::vector<std::string>{"bitcoin", "ethereum"}));
  EXPECT_EQ(ids_of({{"ids", "solana"}, {"names", "Bitcoin"}}), (std::vector<std::string>{"solana"}))
      << "ids win over names";
  EXPECT_EQ(ids_of({{"symbols", "eth,btc"}}), (std::vector<std::string>{"bitcoin", "ethereum"}));
  EXPECT_TRUE(ids_of({{"category", "no-such-category"}}).empty());
}

TEST(SimulatorTest, MarketsAddsSparklineChangesAndLocaleOnRequest) {
  Simulator simulator(frozen(60), FaultOptions{});
  auto plain = simulator.handle(
      get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"ids", "bitcoin,ethereum"}}));
  EXPECT_EQ(plain.body.find("sparkline_in_7d"), std::string::npos);
  EXPECT_EQ(plain.body.find("_in_currency"), std::string::npos);
  auto rich =
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "eur"},
                                                     {"ids", "bitcoin,ethereum"},
                                                     {"sparkline", "true"},
                                                     {"price_change_percentage", "7d,1h,bogus,24h"},
                                                     {"locale", "ja"}}));
  ASSERT_EQ(rich.status, 200) << rich.body;
  Doc doc(rich.body);
  simdjson::dom::element bitcoin = (*doc).at(0);
  EXPECT_EQ(std::string_view(bitcoin["name"]), "ビットコイン");
  // CoinGecko's order: the fixed fields, then the sparkline, then the asked time frames in its
  // own order (as in its example coins_markets.json).
  const auto keys = keysOf(bitcoin);
  ASSERT_GE(keys.size(), 30u);
  EXPECT_EQ(
      std::vector<std::string>(keys.end() - 5, keys.end()),
      (std::vector<std::string>{
          "last_updated", "sparkline_in_7d", "price_change_percentage_1h_in_currency",
          "price_change_percentage_24h_in_currency", "price_change_percentage_7d_in_currency"}));
  simdjson::dom::array sparkline = bitcoin["sparkline_in_7d"]["price"];
  EXPECT_EQ(sparkline.size(), 168u) << "hourly over 7 days";
  double last = 0;
  for (double price : sparkline)
    last = price;
  EXPECT_NEAR(last, num(bitcoin["current_price"]), num(bitcoin["current_price"]) * 1e-6)
      << "the sparkline ends at the present price";
  EXPECT_NEAR(num(bitcoin["price_change_percentage_24h_in_currency"]),
              num(bitcoin["price_change_percentage_24h"]), 0.01)
      << "the 24 h change agrees with the chart one day back";
  auto bad_locale =
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"locale", "xx"}}));
  EXPECT_EQ(bad_locale.body, R"({"error":"invalid locale"})");
}

TEST(SimulatorTest, SimplePriceNamesSymbolsAndTokens) {
  MarketOptions options = frozen(60);
  Simulator simulator(options, FaultOptions{});
  auto by_name = simulator.handle(
      get("/api/v3/simple/price", {{"names", "Ethereum,Nope"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(by_name.body.rfind(R"({"ethereum":{"usd":)", 0), 0u) << by_name.body;
  auto priority =
      simulator.handle(get("/api/v3/simple/price",
                           {{"ids", "bitcoin"}, {"names", "Ethereum"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(priority.body.rfind(R"({"bitcoin":)", 0), 0u) << "ids win over names";
  auto bad_tokens = simulator.handle(
      get("/api/v3/simple/price",
          {{"symbols", "btc"}, {"include_tokens", "some"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(bad_tokens.body, R"({"error":"invalid include_tokens"})");
  std::string ids;
  for (int i = 0; i < 516; ++i)
    ids += fmt::format("{}coin-{}", i ? "," : "", i);
  auto too_many =
      simulator.handle(get("/api/v3/simple/price", {{"ids", ids}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(too_many.body, R"j({"error":"too many ids (at most 515)"})j");
}

TEST(SimulatorTest, CoinsListTellsPlatformsAndInactiveCoinsToPaidPlans) {
  Simulator simulator(frozen(30), FaultOptions{});
  auto plain = simulator.handle(get("/api/v3/coins/list"));
  EXPECT_EQ(plain.body.find("platforms"), std::string::npos);
  auto platforms = simulator.handle(get("/api/v3/coins/list", {{"include_platform", "true"}}));
  EXPECT_NE(
      platforms.body.find(R"({"id":"bitcoin","symbol":"btc","name":"Bitcoin","platforms":{}})"),
      std::string::npos);
  EXPECT_NE(platforms.body.find(
                R"("id":"tether","symbol":"usdt","name":"Tether","platforms":{"ethereum":"0x)"),
            std::string::npos);
  EXPECT_EQ(simulator.handle(get("/api/v3/coins/list", {{"status", "inactive"}})).status, 401);
  Simulator pro(frozen(30), FaultOptions{}, policy("pro"));
  auto inactive = pro.handle(get("/api/v3/coins/list", {{"status", "inactive"}}, keyHeader("pro")));
  EXPECT_EQ(inactive.status, 200);
  EXPECT_NE(inactive.body.find("terra-luna"), std::string::npos);
  EXPECT_EQ(inactive.body.find("bitcoin"), std::string::npos);
}

// --------------------------------------------------------------- the market's past and pages

TEST(SimulatorTest, ChartsFollowCoinGeckosGranularityAndEndAtThePresentPrice) {
  Simulator simulator(frozen(60), FaultOptions{});
  const int64_t now = frozen(60).start_ms;
  auto chart = [&](std::string days) {
    return simulator.handle(get("/api/v3/coins/bitcoin/market_chart",
                                {{"vs_currency", "usd"}, {"days", std::move(days)}}));
  };
  auto price = Doc(
      simulator.handle(get("/api/v3/simple/price", {{"ids", "bitcoin"}, {"vs_currencies", "usd"}}))
          .body);
  const double present = num(price["bitcoin"]["usd"]);
  struct Case {
    const char* days;
    size_t points;
    int64_t step;
  };
  for (const Case& c :
       {Case{"1", 289, 300'000}, Case{"30", 721, 3'600'000}, Case{"200", 201, 86'400'000}}) {
    Doc doc(chart(c.days).body);
    simdjson::dom::array prices = doc["prices"];
    EXPECT_NEAR(static_cast<double>(prices.size()), static_cast<double>(c.points), 1.0) << c.days;
    EXPECT_EQ(doc["market_caps"].get_array().size(), prices.size());
    EXPECT_EQ(doc["total_volumes"].get_array().size(), prices.size());
    int64_t first = prices.at(0).at(0), second = prices.at(1).at(0);
    EXPECT_EQ(second - first, c.step) << c.days;
    simdjson::dom::array last = prices.at(prices.size() - 1);
    EXPECT_EQ(int64_t(last.at(0)), now) << "the last point is the present";
    EXPECT_DOUBLE_EQ(num(last.at(1)), present);
  }
  auto beyond = chart("400");
  EXPECT_EQ(beyond.status, 401);
  EXPECT_NE(beyond.body.find(R"("error_code":10012)"), std::string::npos)
      << "public plans see 365 days of history";
  Simulator pro(frozen(60), FaultOptions{}, policy("pro"));
  EXPECT_EQ(pro.handle(get("/api/v3/coins/bitcoin/market_chart",
                           {{"vs_currency", "usd"}, {"days", "max"}}, keyHeader("pro")))
                .status,
            200);
  // A range gives the same past as a chart of days.
  Doc day(chart("1").body);
  simdjson::dom::array day_prices = day["prices"];
  const int64_t t = day_prices.at(10).at(0);
  Doc range(simulator
                .handle(get("/api/v3/coins/bitcoin/market_chart/range",
                            {{"vs_currency", "usd"},
                             {"from", std::to_string(t / 1000)},
                             {"to", std::to_string(t / 1000 + 3600)}}))
                .body);
  simdjson::dom::array range_prices = range["prices"];
  ASSERT_GE(range_prices.size(), 12u);
  EXPECT_EQ(int64_t(range_prices.at(0).at(0)), t);
  EXPECT_DOUBLE_EQ(num(range_prices.at(0).at(1)), num(day_prices.at(10).at(1)));
}

TEST(SimulatorTest, CandlesHoldTheirPricesAndCoinGeckosSizes) {
  Simulator simulator(frozen(60), FaultOptions{});
  struct Case {
    const char* days;
    int64_t size;
  };
  for (const Case& c :
       {Case{"1", 1'800'000}, Case{"14", 4 * 3'600'000}, Case{"90", 4 * 86'400'000}}) {
    Doc doc(simulator
                .handle(get("/api/v3/coins/ethereum/ohlc",
                            {{"vs_currency", "usd"}, {"days", c.days}, {"precision", "2"}}))
                .body);
    simdjson::dom::array candles = *doc;
    ASSERT_GE(candles.size(), 2u) << c.days;
    EXPECT_EQ(int64_t(candles.at(1).at(0)) - int64_t(candles.at(0).at(0)), c.size) << c.days;
    for (simdjson::dom::array candle : candles) {
      const double open = num(candle.at(1)), high = num(candle.at(2)), low = num(candle.at(3)),
                   close = num(candle.at(4));
      EXPECT_GE(high, std::max(open, close));
      EXPECT_LE(low, std::min(open, close));
      EXPECT_DOUBLE_EQ(open, std::round(open * 100) / 100) << "precision=2";
    }
  }
}

TEST(SimulatorTest, ACoinsPageLeavesOutWhatIsNotAskedFor) {
  Simulator simulator(frozen(60), FaultOptions{});
  Doc full(simulator.handle(get("/api/v3/coins/ethereum", {{"sparkline", "true"}})).body);
  for (const char* section :
       {"localization", "market_data", "community_data", "developer_data", "tickers"})
    EXPECT_EQ(full[section].error(), simdjson::SUCCESS) << section;
  EXPECT_EQ(full["market_data"]["sparkline_7d"]["price"].get_array().size(), 168u);
  Doc lean(simulator
               .handle(get("/api/v3/coins/ethereum", {{"localization", "false"},
                                                      {"tickers", "false"},
                                                      {"market_data", "false"},
                                                      {"community_data", "false"},
                                                      {"developer_data", "false"}}))
               .body);
  for (const char* section :
       {"localization", "market_data", "community_data", "developer_data", "tickers"})
    EXPECT_NE(lean[section].error(), simdjson::SUCCESS) << section;
  // The page agrees with coins/markets, in every currency CoinGecko lists.
  Doc markets(
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "gbp"}, {"ids", "ethereum"}}))
          .body);
  EXPECT_DOUBLE_EQ(num(full["market_data"]["current_price"]["gbp"]),
                   num((*markets).at(0)["current_price"]));
  EXPECT_EQ(keysOf(full["market_data"]["current_price"]).size(), supportedVsCurrencies().size());
  const auto keys = keysOf(*full);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 4),
            (std::vector<std::string>{"id", "symbol", "name", "web_slug"}));
}

TEST(SimulatorTest, HistoryGlobalRatesSearchAndTrendingComeFromTheMarket) {
  Simulator simulator(frozen(60), FaultOptions{});
  Doc history(
      simulator.handle(get("/api/v3/coins/bitcoin/history", {{"date", "10-11-2023"}})).body);
  EXPECT_GT(num(history["market_data"]["current_price"]["usd"]), 0);
  EXPECT_EQ(simulator.handle(get("/api/v3/coins/bitcoin/history", {{"date", "2023-11-10"}})).body,
            R"({"error":"invalid date"})");

  Doc global(simulator.handle(get("/api/v3/global")).body);
  EXPECT_EQ(num(global["data"]["active_cryptocurrencies"]), 60);
  Doc markets(
      simulator.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"per_page", "250"}}))
          .body);
  double total = 0;
  for (auto row : simdjson::dom::array(*markets))
    total += num(row["market_cap"]);
  EXPECT_NEAR(num(global["data"]["total_market_cap"]["usd"]), total, total * 1e-6);

  Doc rates(simulator.handle(get("/api/v3/exchange_rates")).body);
  EXPECT_EQ(num(rates["rates"]["btc"]["value"]), 1);
  EXPECT_EQ(std::string_view(rates["rates"]["eur"]["type"]), "fiat");

  Doc search(simulator.handle(get("/api/v3/search", {{"query", "ETH"}})).body);
  EXPECT_EQ(std::string_view(search["coins"].at(0)["id"]), "ethereum");
  Doc trending(simulator.handle(get("/api/v3/search/trending")).body);
  EXPECT_EQ(trending["coins"].get_array().size(), 15u);
  EXPECT_EQ(trending["coins"].at(0)["item"]["score"].get_int64().value(), 0);
}

TEST(SimulatorTest, CountsPerPathOfTheDescriptionAndLogsWhatWasAsked) {
  Simulator simulator(frozen(20), FaultOptions{});
  net::Request request = get("/api/v3/coins/bitcoin", {{"tickers", "false"}});
  request.target = "/api/v3/coins/bitcoin?tickers=false";
  simulator.handle(request);
  simulator.handle(get("/api/v3/coins/ethereum"));
  simulator.handle(get("/api/v3/nowhere"));
  const std::string stats = simulator.statsJson();
  EXPECT_NE(stats.find(R"("templates":{"/api/v3/coins/{id}":{"200":2,"total":2}})"),
            std::string::npos)
      << stats;
  auto log = simulator.handle(get("/_sim/requests", {{"path", "/api/v3/coins/bitcoin"}}));
  EXPECT_NE(log.body.find(R"(,200,"/api/v3/coins/bitcoin?tickers=false"])"), std::string::npos)
      << log.body;
}

TEST(SimulatorTest, TheSameMarketAnswersTheSameBytes) {
  Simulator a(frozen(40), FaultOptions{}), b(frozen(40), FaultOptions{});
  for (const auto& [path, query] : std::vector<std::pair<std::string, QueryParams>>{
           {"/api/v3/coins/markets",
            {{"vs_currency", "btc"}, {"sparkline", "true"}, {"price_change_percentage", "1y"}}},
           {"/api/v3/coins/solana/market_chart", {{"vs_currency", "eur"}, {"days", "90"}}},
           {"/api/v3/coins/solana/ohlc", {{"vs_currency", "usd"}, {"days", "30"}}},
           {"/api/v3/coins/solana", {}},
           {"/api/v3/global", {}},
       }) {
    EXPECT_EQ(a.handle(get(path, query)).body, b.handle(get(path, query)).body) << path;
  }
}

}  // namespace
}  // namespace coinrelay::simulate
