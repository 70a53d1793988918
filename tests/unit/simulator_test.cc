#include "simulate/simulator.h"

#include <gtest/gtest.h>

#include "coingecko/markets_parser.h"
#include "common/time_util.h"

namespace coinrelay::simulate {
namespace {

net::Request get(const std::string& path, std::map<std::string, std::string> query = {}) {
  net::Request request;
  request.method = "GET";
  request.path = path;
  request.query = std::move(query);
  return request;
}

MarketOptions frozen(int coins) {
  MarketOptions options;
  options.coins = coins;
  options.update_interval_ms = 0;
  options.start_ms = 1'700'000'000'000;
  return options;
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
  EXPECT_NEAR(*eur_page.quotes[0].price, usd_price * 0.93, usd_price * 0.001);
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

}  // namespace
}  // namespace coinrelay::simulate
