// Which quote messages go into a bulk body as they are: exactly those that decoding and
// re-encoding would not change, so the shortcut never changes what is indexed, dead-lettered or
// stored.

#include "elasticsearch/bulk_source.h"

#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "model/quote_codec.h"
#include "support/quote_feed.h"
#include "support/sample_quotes.h"

namespace coinrelay::elasticsearch {
namespace {

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " in " << text;
  if (at != std::string::npos)
    text.replace(at, from.size(), to);
  return text;
}

/// The same JSON value: same keys in the same order, numbers equal as doubles, strings equal
/// once unescaped. What a reader of the stored document, or the engine, takes from it.
bool sameValue(simdjson::dom::element a, simdjson::dom::element b) {
  using Type = simdjson::dom::element_type;
  const auto number = [](Type t) {
    return t == Type::INT64 || t == Type::UINT64 || t == Type::DOUBLE;
  };
  if (number(a.type()) && number(b.type()))
    return double(a.get_double().value()) == double(b.get_double().value());
  if (a.type() != b.type())
    return false;
  switch (a.type()) {
    case Type::OBJECT: {
      auto x = a.get_object().value(), y = b.get_object().value();
      if (x.size() != y.size())
        return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if ((*i).key != (*j).key || !sameValue((*i).value, (*j).value))
          return false;
      }
      return true;
    }
    case Type::ARRAY:
      return false;  // a quote document holds none
    case Type::STRING:
      return a.get_string().value() == b.get_string().value();
    case Type::BOOL:
      return a.get_bool().value() == b.get_bool().value();
    default:
      return true;  // null
  }
}

TEST(BulkSourceTest, WhatTheEncoderWritesPassesAsItIsWithTheObservationKeyAsId) {
  model::Quote escaped = testing::fullQuote();
  escaped.name = "Ether \"classic\" \\ \u00e9";
  escaped.id = "weird/id";
  std::vector<model::Quote> quotes = {testing::fullQuote(), testing::bareQuote(), escaped};
  for (int i = 0; i < 50; ++i)
    quotes.push_back(testing::quoteNumber(i));
  simdjson::dom::parser parser;
  std::string id;
  for (const model::Quote& quote : quotes) {
    const std::string value = model::encodeQuote(quote);
    ASSERT_TRUE(passesAsIs(value, parser, id)) << value;
    EXPECT_EQ(id, model::observationKey(quote));
  }
}

TEST(BulkSourceTest, WhatDecodingWouldChangeOrRefuseDoesNotPass) {
  const std::string doc = model::encodeQuote(testing::fullQuote());
  ASSERT_NE(doc.find(R"("symbol":"ETH")"), std::string::npos) << doc;
  model::Quote long_id = testing::fullQuote();
  long_id.id = std::string(600, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"an extra field", replaced(doc, R"("roi":)", R"("note":"x","roi":)")},
      {"a line break", replaced(doc, "{", "{\n")},
      {"a carriage return", replaced(doc, ",", "\r,")},
      {"a leading space", " " + doc},
      {"a trailing space", doc + " "},
      {"a lower-case symbol", replaced(doc, R"("ETH")", R"("eth")")},
      {"a date without milliseconds", replaced(doc, "T09:31:02.118Z", "T09:31:02Z")},
      {"a date with an offset", replaced(doc, "T09:31:02.118Z", "T09:31:02.118+00:00")},
      {"a date with a space",
       replaced(doc, "2024-06-12T09:31:02.118Z", "2024-06-12 09:31:02.118Z")},
      {"a day the month lacks",
       replaced(doc, "2024-06-12T09:31:02.118Z", "2024-06-31T09:31:02.118Z")},
      {"a leap second", replaced(doc, "2024-06-12T09:31:02.118Z", "2024-06-12T09:31:60.118Z")},
      {"an unreadable optional date", replaced(doc, "2021-11-10T14:24:19.604Z", "soon")},
      {"an integer written as a float",
       replaced(doc, R"("market_cap_rank":2)", R"("market_cap_rank":2.0)")},
      {"an integer too large",
       replaced(doc, R"("market_cap_rank":2)", R"("market_cap_rank":9000000000000001)")},
      {"a null image",
       replaced(
           doc,
           R"("image":"https://coin-images.coingecko.com/coins/images/279/large/ethereum.png")",
           R"("image":null)")},
      {"a missing optional field", replaced(doc, R"(,"max_supply":null)", "")},
      {"fields in another order",
       replaced(replaced(doc, R"("name":"Ethereum",)", ""), R"("vs_currency":"usd",)",
                R"("vs_currency":"usd","name":"Ethereum",)")},
      {"a field twice",
       replaced(doc, R"("max_supply":null)", R"("max_supply":null,"max_supply":null)")},
      {"a roi with an extra key",
       replaced(doc, R"("currency":"btc")", R"("currency":"btc","x":1)")},
      {"a roi without times", replaced(doc, R"("times":63.51804113920761,)", R"("times":null,)")},
      {"a roi that is not an object", replaced(replaced(doc, R"("roi":{)", R"("roi":[{)"),
                                               "6351.804113920761}", "6351.804113920761}]")},
      {"schema version 2", replaced(doc, R"("schema_version":1)", R"("schema_version":2)")},
      {"schema version 1.0", replaced(doc, R"("schema_version":1)", R"("schema_version":1.0)")},
      {"an empty name", replaced(doc, R"("name":"Ethereum")", R"("name":"")")},
      {"a number as a string", replaced(doc, R"("price":3561.84)", R"("price":"3561.84")")},
      {"an id over 512 bytes", model::encodeQuote(long_id)},
      {"not JSON", "{not json}"},
      {"an array", "[" + doc + "]"},
  };
  simdjson::dom::parser parser;
  std::string id;
  for (const auto& [what, value] : cases) {
    EXPECT_FALSE(passesAsIs(value, parser, id)) << what << ": " << value;
    // Each is a real difference: the decoder refuses it, or would write other bytes (the long
    // id aside: the indexer refuses that one after decoding).
    auto decoded = model::decodeQuote(value, parser);
    if (decoded && what != "an id over 512 bytes") {
      EXPECT_NE(model::encodeQuote(*decoded), value) << what;
    }
  }
}

TEST(BulkSourceTest, OtherSpellingsOfTheSameValuesPassAndReadTheSame) {
  const std::string doc = model::encodeQuote(testing::fullQuote());
  const std::vector<std::string> spellings = {
      replaced(doc, R"("price":3561.84)", R"("price":3561.840)"),
      replaced(doc, R"("price":3561.84)", R"("price":356184e-2)"),
      replaced(doc, R"("market_cap":428103775114)", R"("market_cap":428103775114.0)"),
      replaced(doc, R"("name":"Ethereum")", R"("name":"Eth\u0065reum")"),
      replaced(doc, R"("id":"ethereum")", R"("\u0069d":"ethereum")"),
      replaced(doc, R"(,"name")", R"( , "name")"),
  };
  simdjson::dom::parser parser;
  const model::Quote original = model::decodeQuote(doc, parser).value();
  std::string id;
  for (const std::string& value : spellings) {
    ASSERT_TRUE(passesAsIs(value, parser, id)) << value;
    EXPECT_EQ(id, model::observationKey(original));
    auto decoded = model::decodeQuote(value, parser);
    ASSERT_TRUE(decoded) << value;
    EXPECT_EQ(*decoded, original) << value;
  }
}

// Random damage to encoded quotes: whatever passes as it is, the decoder reads, and its
// re-encoding is the same JSON value with the same document id. Whatever does not pass is left
// to the decoder.
TEST(BulkSourceTest, AnyMessageThatPassesIsOneTheDecoderWouldIndexTheSame) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\":,.-+eE0123456789 \\nultrfasZT:xABab\n";
  std::vector<std::string> docs = {model::encodeQuote(testing::fullQuote()),
                                   model::encodeQuote(testing::bareQuote())};
  for (int i = 0; i < 20; ++i)
    docs.push_back(model::encodeQuote(testing::quoteNumber(i)));
  simdjson::dom::parser parser, other;
  std::string id;
  int passed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string value = docs[rng() % docs.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % value.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          value[at] = c;
          break;
        case 1:
          value.insert(value.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          value.erase(at, 1);
      }
    }
    if (value.empty() || !passesAsIs(value, parser, id))
      continue;
    ++passed;
    auto decoded = model::decodeQuote(value, parser);
    ASSERT_TRUE(decoded) << value;
    EXPECT_EQ(id, model::observationKey(*decoded)) << value;
    const std::string reencoded = model::encodeQuote(*decoded);
    simdjson::dom::element a = parser.parse(value).value();
    simdjson::dom::element b = other.parse(reencoded).value();
    EXPECT_TRUE(sameValue(a, b)) << value << "\n" << reencoded;
  }
  EXPECT_GT(passed, 100) << "some damage leaves a valid document (a changed digit)";
}

TEST(BulkSourceTest, DatesPassOnlyInTheEncodersExactForm) {
  EXPECT_EQ(encodedDateMillis("2024-06-12T09:31:02.118Z"), 1718184662118);
  EXPECT_EQ(encodedDateMillis("2024-02-29T00:00:00.000Z"), 1709164800000);
  EXPECT_EQ(encodedDateMillis("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_FALSE(encodedDateMillis("2023-02-29T00:00:00.000Z"));
  EXPECT_FALSE(encodedDateMillis("1900-02-29T00:00:00.000Z"));
  EXPECT_FALSE(encodedDateMillis("2024-06-12T09:31:02Z"));
  EXPECT_FALSE(encodedDateMillis("2024-06-12T09:31:02.1180Z"));
  EXPECT_FALSE(encodedDateMillis("2024-06-12t09:31:02.118Z"));
  EXPECT_FALSE(encodedDateMillis("2024-06-12T24:00:00.000Z"));
  // Every date of that shape it accepts is one the encoder writes back identically.
  std::mt19937 rng(11);
  auto two = [&](int max) { return fmt::format("{:02}", rng() % (max + 1)); };
  int accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string text = fmt::format("{:04}-{}-{}T{}:{}:{}.{:03}Z", rng() % 10000, two(13),
                                         two(32), two(25), two(61), two(61), rng() % 1000);
    const auto ms = encodedDateMillis(text);
    if (!ms)
      continue;
    ++accepted;
    EXPECT_EQ(formatIso8601Millis(*ms), text);
    EXPECT_EQ(parseIso8601Millis(text), ms);
  }
  EXPECT_GT(accepted, 10000);
}

}  // namespace
}  // namespace coinrelay::elasticsearch
