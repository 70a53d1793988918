#include "coingecko/markets_parser.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace coinrelay::coingecko {
namespace {

constexpr int64_t kFetched = 1718184700000;

/// One valid item with every field, to be edited by tests.
std::string item(const std::string& overrides = "") {
  return R"({"id":"bitcoin","symbol":"btc","name":"Bitcoin","image":"https://x/btc.png",)"
         R"("current_price":67412,"market_cap":1328456120345,"market_cap_rank":1,)"
         R"("fully_diluted_valuation":null,"total_volume":28764512390,"high_24h":68105,)"
         R"("low_24h":66210,"price_change_24h":812.37,"price_change_percentage_24h":1.21978,)"
         R"("market_cap_change_24h":16234567890,"market_cap_change_percentage_24h":1.23721,)"
         R"("circulating_supply":19706512.0,"total_supply":21000000.0,"max_supply":21000000.0,)"
         R"("ath":73738,"ath_change_percentage":-8.57921,"ath_date":"2024-03-14T07:10:36.635Z",)"
         R"("atl":67.81,"atl_change_percentage":99315.21874,"atl_date":"2013-07-06T00:00:00.000Z",)"
         R"("roi":null,)" +
         overrides + R"("last_updated":"2024-06-12T09:31:05.412Z"})";
}

class MarketsParserTest : public ::testing::Test {
 protected:
  Result<MarketsPage> parse(const std::string& body) {
    return parseCoinsMarkets(body, "usd", kFetched, parser_);
  }
  simdjson::dom::parser parser_;
};

TEST_F(MarketsParserTest, ReadsEveryFieldOfTheReferenceResponse) {
  auto page = parse(testing::readFixture("coingecko/coins_markets.json"));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->quotes.size(), 3u);
  EXPECT_EQ(page->invalid_items, 0u);
  const model::Quote& btc = page->quotes[0];
  EXPECT_EQ(btc.id, "bitcoin");
  EXPECT_EQ(btc.symbol, "btc");
  EXPECT_EQ(btc.name, "Bitcoin");
  EXPECT_EQ(btc.vs_currency, "usd");
  EXPECT_EQ(btc.price, 67412.0);
  EXPECT_EQ(btc.market_cap, 1328456120345.0);
  EXPECT_EQ(btc.market_cap_rank, 1);
  EXPECT_EQ(btc.volume_24h, 28764512390.0);
  EXPECT_EQ(btc.change_24h, 1.21978);
  EXPECT_EQ(btc.last_updated_ms, 1718184665412);
  EXPECT_EQ(btc.fetched_ms, kFetched);
  EXPECT_EQ(btc.max_supply, 21000000.0);
  EXPECT_EQ(btc.ath_date_ms, 1710400236635);
  EXPECT_EQ(btc.atl_date_ms, 1373068800000);
  EXPECT_FALSE(btc.roi.has_value());
  EXPECT_EQ(btc.image,
            "https://coin-images.coingecko.com/coins/images/1/large/bitcoin.png?1696501400");

  const model::Quote& eth = page->quotes[1];
  EXPECT_FALSE(eth.max_supply.has_value()) << "null max_supply must stay null, not 0";
  ASSERT_TRUE(eth.roi.has_value());
  EXPECT_DOUBLE_EQ(eth.roi->times, 63.51804113920761);
  EXPECT_EQ(eth.roi->currency, "btc");

  const model::Quote& usdt = page->quotes[2];
  EXPECT_DOUBLE_EQ(*usdt.price_change_24h, -1.2843e-05);  // exponent form
  EXPECT_DOUBLE_EQ(*usdt.price, 0.999871);
}

TEST_F(MarketsParserTest, KeepsNullsAsAbsent) {
  std::string body = item();
  for (const char* field : {"\"current_price\":67412", "\"market_cap\":1328456120345",
                            "\"market_cap_rank\":1", "\"ath_date\":\"2024-03-14T07:10:36.635Z\""}) {
    const std::string name = std::string(field).substr(0, std::string(field).find(':'));
    body.replace(body.find(field), std::string(field).size(), name + ":null");
  }
  auto page = parse("[" + body + "]");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->quotes.size(), 1u) << page->first_invalid_reason;
  const auto& q = page->quotes[0];
  EXPECT_FALSE(q.price.has_value());
  EXPECT_FALSE(q.market_cap.has_value());
  EXPECT_FALSE(q.market_cap_rank.has_value());
  EXPECT_FALSE(q.ath_date_ms.has_value());
  EXPECT_FALSE(q.fully_diluted_valuation.has_value());
  EXPECT_EQ(q.volume_24h, 28764512390.0);
}

TEST_F(MarketsParserTest, ReadsVeryLargeAndVerySmallNumbers) {
  const std::string body =
      R"([{"id":"shib","symbol":"shib","name":"Shiba","current_price":1.234e-12,)"
      R"("market_cap":9.9e15,"market_cap_rank":2,"total_volume":0,"circulating_supply":5.89e26,)"
      R"("total_supply":999982361891321.0,"max_supply":1e308,"price_change_percentage_24h":-0.0000001,)"
      R"("last_updated":"2024-06-12T09:31:05.412Z"}])";
  auto page = parse(body);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->quotes.size(), 1u);
  const auto& q = page->quotes[0];
  EXPECT_DOUBLE_EQ(*q.price, 1.234e-12);
  EXPECT_DOUBLE_EQ(*q.market_cap, 9.9e15);
  EXPECT_DOUBLE_EQ(*q.circulating_supply, 5.89e26);
  EXPECT_DOUBLE_EQ(*q.max_supply, 1e308);
  EXPECT_DOUBLE_EQ(*q.change_24h, -1e-7);
  EXPECT_EQ(*q.volume_24h, 0.0);
}

TEST_F(MarketsParserTest, SkipsInvalidItemsAndKeepsTheRest) {
  const std::string body = "[" + item() + R"(,{"symbol":"x","name":"No id"},)" +
                           R"({"id":"bad-date","symbol":"b","name":"B","last_updated":"soon"},)" +
                           R"({"id":"typed","symbol":"t","name":"T","current_price":"12.5",)" +
                           R"("last_updated":"2024-06-12T09:31:05.412Z"},42])";
  auto page = parse(body);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->quotes.size(), 1u);
  EXPECT_EQ(page->quotes[0].id, "bitcoin");
  EXPECT_EQ(page->invalid_items, 4u);
  EXPECT_EQ(page->first_invalid_reason, "item has no id");
}

TEST_F(MarketsParserTest, NamesTheWronglyTypedField) {
  auto page = parse(R"([{"id":"typed","symbol":"t","name":"T","market_cap_rank":1.5,)"
                    R"("last_updated":"2024-06-12T09:31:05.412Z"}])");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->invalid_items, 1u);
  EXPECT_EQ(page->first_invalid_reason, "typed: field 'market_cap_rank' has the wrong type");
}

TEST_F(MarketsParserTest, RefusesHtmlTruncatedAndNonArrayBodies) {
  for (const std::string& body :
       {std::string("<!DOCTYPE html><html><title>Just a moment...</title></html>"),
        "[" + item().substr(0, 200), std::string(R"({"status":{"error_code":429}})"),
        std::string("")}) {
    auto page = parse(body);
    ASSERT_FALSE(page) << body;
    EXPECT_EQ(page.error().code, ErrorCode::Unavailable);
    EXPECT_TRUE(page.error().retryable());
  }
}

TEST_F(MarketsParserTest, AcceptsAnEmptyPage) {
  auto page = parse("[]");
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->quotes.empty());
}

TEST(DescribeErrorBodyTest, ReadsEveryShapeCoinGeckoUses) {
  simdjson::dom::parser parser;
  auto rate = describeErrorBody(testing::readFixture("coingecko/error_429.json"), parser);
  EXPECT_EQ(rate.error_code, 429);
  EXPECT_TRUE(rate.message.starts_with("You've exceeded the Rate Limit")) << rate.message;

  auto flat = describeErrorBody(R"({"error":"invalid vs_currency"})", parser);
  EXPECT_EQ(flat.error_code, 0);
  EXPECT_EQ(flat.message, "invalid vs_currency");

  auto nested = describeErrorBody(
      R"({"error":{"status":{"timestamp":"x","error_code":10012,"error_message":"too far back"}}})",
      parser);
  EXPECT_EQ(nested.error_code, 10012);
  EXPECT_EQ(nested.message, "too far back");

  auto html = describeErrorBody(
      "<html><head><title>Access denied | api.coingecko.com used Cloudflare to restrict "
      "access</title></head><body>...</body></html>",
      parser);
  EXPECT_EQ(html.message,
            "HTML page: Access denied | api.coingecko.com used Cloudflare to restrict access");

  EXPECT_EQ(describeErrorBody("error code: 1015\n", parser).message, "error code: 1015");
  EXPECT_EQ(describeErrorBody("", parser).message, "empty body");
}

}  // namespace
}  // namespace coinrelay::coingecko
