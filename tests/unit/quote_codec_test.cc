#include "model/quote_codec.h"

#include <gtest/gtest.h>

#include "common/json_read.h"
#include "support/sample_quotes.h"

namespace coinrelay::model {
namespace {

/// The shared sample, with a name that needs escaping.
Quote fullQuote() {
  Quote q = testing::fullQuote();
  q.name = "Ethereum \"Ether\"";
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
