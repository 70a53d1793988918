// The quote field table (model/quote_fields.h) against everything built from it: the index
// mapping must cover exactly its fields (the mapping is `dynamic: strict`), and every field must
// survive each round trip a quote takes.

#include "model/quote_fields.h"

#include <set>

#include <gtest/gtest.h>

#include "coingecko/api_format.h"
#include "coingecko/markets_parser.h"
#include "elasticsearch/bulk_encoder.h"
#include "elasticsearch/lifecycle.h"
#include "model/quote_codec.h"

namespace coinrelay::model {
namespace {

/// A quote whose every field holds a value of its own, set through the table, so a field added
/// to the table is covered here without touching this test.
Quote everyFieldSet() {
  Quote q;
  int n = 0;
  for (const QuoteField& field : kQuoteFields) {
    ++n;
    switch (field.type) {
      case FieldType::SchemaVersion:
        break;
      case FieldType::String:
      case FieldType::Symbol:
        q.*std::get<std::string Quote::*>(field.member) = std::string(field.name) + "-x";
        break;
      case FieldType::Number:
        q.*std::get<std::optional<double> Quote::*>(field.member) = 1000.25 + n;
        break;
      case FieldType::Integer:
        q.*std::get<std::optional<int64_t> Quote::*>(field.member) = n;
        break;
      case FieldType::Date:
        if (field.presence == Presence::Required)
          q.*std::get<int64_t Quote::*>(field.member) = 1'718'184'662'000 + n;
        else
          q.*std::get<std::optional<int64_t> Quote::*>(field.member) = 1'600'000'000'000 + n;
        break;
      case FieldType::Roi:
        q.*std::get<std::optional<Roi> Quote::*>(field.member) = Roi{63.5, "btc", 6351.8};
        break;
    }
  }
  return q;
}

std::set<std::string> tableNames() {
  std::set<std::string> names;
  for (const QuoteField& field : kQuoteFields)
    names.emplace(field.name);
  return names;
}

TEST(QuoteFieldsTest, TheIndexMappingCoversExactlyTheTablesFields) {
  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(elasticsearch::indexTemplateBody(
      elasticsearch::Layout{.name = "crypto-prices"}, elasticsearch::Engine::OpenSearch));
  simdjson::dom::element mappings = body["template"]["mappings"];
  EXPECT_EQ(std::string_view(mappings["dynamic"]), "strict");
  std::set<std::string> mapped;
  for (auto [key, value] : simdjson::dom::object(mappings["properties"]))
    mapped.emplace(key);
  EXPECT_EQ(mapped, tableNames());

  // And the documents indexed under it carry exactly those fields, so none is refused.
  simdjson::dom::parser doc_parser;
  std::set<std::string> written;
  for (auto [key, value] : simdjson::dom::object(doc_parser.parse(encodeQuote(Quote{}))))
    written.emplace(key);
  EXPECT_EQ(written, mapped);
}

TEST(QuoteFieldsTest, EveryFieldSurvivesTheCodecAndTheBulkEncoder) {
  const Quote original = everyFieldSet();
  for (const QuoteField& field : kQuoteFields) {
    std::string set, unset;
    JsonWriter with(set), without(unset);
    writeValue(with, original, field, QuoteFormat::Document);
    writeValue(without, Quote{}, field, QuoteFormat::Document);
    if (field.type != FieldType::SchemaVersion) {
      EXPECT_NE(set, unset) << field.name << " is not set by this test";
    }
  }

  simdjson::dom::parser parser;
  const Quote& expected = original;
  auto decoded = decodeQuote(encodeQuote(original), parser);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, expected);

  std::string bulk;
  elasticsearch::appendIndexAction(bulk, "crypto-prices", original);
  const size_t first = bulk.find('\n');
  const std::string source = bulk.substr(first + 1, bulk.size() - first - 2);
  EXPECT_EQ(source, encodeQuote(original)) << "the _source is the v1 document";
  simdjson::dom::parser bulk_parser;
  auto from_bulk = decodeQuote(source, bulk_parser);
  ASSERT_TRUE(from_bulk) << from_bulk.error().message;
  EXPECT_EQ(*from_bulk, expected);

  // No value at all: every nullable field stays null, never invented.
  Quote bare;
  bare.id = "bare";
  bare.symbol = "b";
  bare.name = "Bare";
  bare.vs_currency = "usd";
  auto decoded_bare = decodeQuote(encodeQuote(bare), parser);
  ASSERT_TRUE(decoded_bare) << decoded_bare.error().message;
  EXPECT_EQ(*decoded_bare, bare);
}

TEST(QuoteFieldsTest, EveryCoinGeckoFieldSurvivesTheRendererAndTheParser) {
  Quote original = everyFieldSet();
  original.symbol = "sym";
  // When coinrelay fetched each group of fields is its own, not part of CoinGecko's record.
  original.price_fetched_ms.reset();
  original.details_fetched_ms.reset();
  std::vector<const Quote*> page = {&original};
  simdjson::dom::parser parser;
  auto parsed = coingecko::parseCoinsMarkets(coingecko::renderMarkets(page, std::nullopt),
                                             original.vs_currency, original.fetched_ms, parser);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->quotes.size(), 1u) << parsed->first_invalid_reason;
  EXPECT_EQ(parsed->quotes[0], original);
}

}  // namespace
}  // namespace coinrelay::model
