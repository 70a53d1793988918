#include "model/quote_codec.h"

#include <gtest/gtest.h>

#include "common/json_read.h"

namespace coinrelay::model {
namespace {

Quote fullQuote() {
  Quote q;
  q.id = "ethereum";
  q.symbol = "eth";
  q.name = "Ethereum \"Ether\"";
  q.vs_currency = "usd";
  q.last_updated_ms = 1718184662118;
  q.fetched_ms = 1718184700000;
  q.price = 3561.84;
  q.market_cap = 428103775114;
  q.market_cap_rank = 2;
  q.volume_24h = 14123876540;
  q.change_24h = 1.75025;
  q.image = "https://coin-images.coingecko.com/coins/images/279/large/ethereum.png";
  q.fully_diluted_valuation = 428103775114;
  q.high_24h = 3598.02;
  q.low_24h = 3482.11;
  q.price_change_24h = 61.27;
  q.market_cap_change_24h = -7451230012;
  q.market_cap_change_percentage_24h = 1.77146;
  q.circulating_supply = 120174012.773105;
  q.total_supply = 120174012.773105;
  q.ath = 4878.26;
  q.ath_change_percentage = -26.98712;
  q.ath_date_ms = 1636554259604;
  q.atl = 0.432979;
  q.atl_change_percentage = 822341.55417;
  q.atl_date_ms = 1445299200000;
  q.roi = Roi{63.51804113920761, "btc", 6351.804113920761};
  return q;
}

TEST(QuoteCodecTest, RoundTripsEveryField) {
  simdjson::dom::parser parser;
  const Quote original = fullQuote();
  auto decoded = decodeQuote(encodeQuote(original), parser);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, original);
}

TEST(QuoteCodecTest, RoundTripsAQuoteWithOnlyIdentity) {
  simdjson::dom::parser parser;
  Quote bare;
  bare.id = "obscure";
  bare.symbol = "obs";
  bare.name = "Obscure";
  bare.vs_currency = "eur";
  bare.last_updated_ms = 1;
  bare.fetched_ms = 2;
  auto decoded = decodeQuote(encodeQuote(bare), parser);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, bare);
}

TEST(QuoteCodecTest, WritesTheSeedFieldsAndTheVersion) {
  simdjson::dom::parser parser;
  const std::string json = encodeQuote(fullQuote());
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(doc["schema_version"]), kQuoteSchemaVersion);
  EXPECT_EQ(std::string_view(doc["symbol"]), "ETH") << "messages carry the symbol upper case";
  EXPECT_EQ(std::string_view(doc["name"]), "Ethereum \"Ether\"");
  EXPECT_EQ(double(doc["price"]), 3561.84);
  EXPECT_EQ(double(doc["volume_24h"]), 14123876540.0);
  EXPECT_EQ(double(doc["change_24h"]), 1.75025);
  EXPECT_EQ(int64_t(doc["market_cap_rank"]), 2);
  EXPECT_EQ(std::string_view(doc["timestamp"]), "2024-06-12T09:31:40.000Z");
  EXPECT_EQ(std::string_view(doc["last_updated"]), "2024-06-12T09:31:02.118Z");
  EXPECT_TRUE(doc["max_supply"].is_null()) << "absent numbers are null, never 0";
}

TEST(QuoteCodecTest, RefusesOtherVersionsAndBrokenDocuments) {
  simdjson::dom::parser parser;
  std::string v2 = encodeQuote(fullQuote());
  v2.replace(v2.find("\"schema_version\":1"), 18, "\"schema_version\":2");
  auto wrong_version = decodeQuote(v2, parser);
  ASSERT_FALSE(wrong_version);
  EXPECT_EQ(wrong_version.error().message,
            "quote message has schema_version 2, this coinrelay reads 1");

  auto not_json = decodeQuote("{\"schema_version\":1,", parser);
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().code, ErrorCode::DataLoss);

  auto no_id =
      decodeQuote(R"({"schema_version":1,"symbol":"X","name":"x","vs_currency":"usd"})", parser);
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().message, "quote message lacks a non-empty string 'id'");

  std::string typed = encodeQuote(fullQuote());
  typed.replace(typed.find("\"price\":3561.84"), 15, "\"price\":\"3561\"");
  auto wrong_type = decodeQuote(typed, parser);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().message,
            "quote message for 'ethereum' has a wrongly typed field 'price'");
}

TEST(QuoteCodecTest, ObservationKeyIdentifiesCoinCurrencyAndUpstreamTime) {
  Quote q = fullQuote();
  EXPECT_EQ(observationKey(q), "ethereum:usd:1718184662118");
  Quote refetched = q;
  refetched.fetched_ms += 60'000;  // same upstream data fetched a minute later
  EXPECT_EQ(observationKey(refetched), observationKey(q));
  refetched.last_updated_ms += 1;
  EXPECT_NE(observationKey(refetched), observationKey(q));
}

}  // namespace
}  // namespace coinrelay::model
