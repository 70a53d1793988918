#include "elasticsearch/bulk_encoder.h"

#include <gtest/gtest.h>

#include "model/quote_codec.h"
#include "support/quote_mapping.h"

namespace coinrelay::elasticsearch {
namespace {

model::Quote quote(const std::string& id, int64_t last_updated_ms) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = id;
  q.vs_currency = "usd";
  q.last_updated_ms = last_updated_ms;
  q.fetched_ms = last_updated_ms + 1000;
  q.price = 1.5;
  return q;
}

TEST(BulkEncoderTest, WritesOneActionAndOneDocumentPerQuote) {
  std::string body;
  appendIndexAction(body, "crypto-prices", quote("bitcoin", 1718184665412));
  appendIndexAction(body, "crypto-prices", quote("ethereum", 1718184662118));
  const size_t first_newline = body.find('\n');
  EXPECT_EQ(body.substr(0, first_newline),
            R"({"index":{"_index":"crypto-prices","_id":"bitcoin:usd:1718184665412"}})");
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 4) << "NDJSON: every line ends with \\n";
  EXPECT_TRUE(body.ends_with("\n"));
  simdjson::dom::parser parser;
  const size_t doc_end = body.find('\n', first_newline + 1);
  auto decoded =
      model::decodeQuote(body.substr(first_newline + 1, doc_end - first_newline - 1), parser);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->id, "bitcoin");
}

TEST(BulkEncoderTest, ABodySortedByIdKeepsEachDocumentWithItsActionAndSaysWhereItWent) {
  BulkBody body;
  // Document 3 repeats document 1's id with another source: it must still be sent after it,
  // so that it is the one the engine keeps.
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"solana:usd:3", R"({"n":0})"},   {"bitcoin:usd:2", R"({"n":1})"},
      {"ethereum:usd:1", R"({"n":2})"}, {"bitcoin:usd:2", R"({"n":3})"},
      {"cardano:usd:10", R"({"n":4})"},
  };
  for (const auto& [id, source] : docs)
    body.add("crypto-prices", id, source);
  const size_t bytes = body.bytes();
  std::string spare = "a buffer of an earlier batch";

  const std::vector<size_t> moved = body.sortByAction(spare);

  EXPECT_EQ(moved, (std::vector<size_t>{4, 0, 3, 1, 2}));
  std::string expected;  // the documents in id order, each after its own action line
  for (size_t old : {1, 3, 4, 2, 0}) {
    expected += R"({"index":{"_index":"crypto-prices","_id":")" + docs[old].first + "\"}}\n" +
                docs[old].second + "\n";
  }
  EXPECT_EQ(body.text(), expected);
  EXPECT_EQ(body.bytes(), bytes);
  for (size_t old = 0; old < docs.size(); ++old) {
    EXPECT_EQ(body.source(moved[old]), docs[old].second) << old;
    EXPECT_TRUE(body.lines(moved[old]).ends_with(docs[old].second + "\n")) << old;
  }
  EXPECT_NE(spare.find(R"({"n":0})"), std::string::npos) << "spare holds the old text";
}

TEST(BulkEncoderTest, JudgesEveryItemOfAPartlyFailedBulk) {
  const std::string response = R"({"took":3,"errors":true,"items":[
    {"index":{"_index":"crypto-prices","_id":"a","status":201,"result":"created"}},
    {"index":{"_index":"crypto-prices","_id":"b","status":200,"result":"updated"}},
    {"index":{"_index":"crypto-prices","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
    {"index":{"_index":"crypto-prices","_id":"d","status":400,"error":{"type":"strict_dynamic_mapping_exception","reason":"mapping set to strict"}}},
    {"index":{"_index":"crypto-prices","_id":"e","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}
  ]})";
  simdjson::dom::parser parser;
  auto items = parseBulkResponse(response, parser);
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 5u);
  EXPECT_TRUE((*items)[0].ok());
  EXPECT_TRUE((*items)[1].ok());
  EXPECT_FALSE((*items)[2].ok());
  EXPECT_TRUE((*items)[2].retryable());
  EXPECT_FALSE((*items)[3].retryable());
  EXPECT_EQ((*items)[3].error, "strict_dynamic_mapping_exception: mapping set to strict");
  EXPECT_TRUE((*items)[4].retryable());
}

TEST(BulkEncoderTest, RefusesAResponseWithoutItems) {
  simdjson::dom::parser parser;
  EXPECT_FALSE(parseBulkResponse(R"({"error":"x"})", parser));
  EXPECT_FALSE(parseBulkResponse("<html>", parser));
}

TEST(BulkEncoderTest, TemplateMapsEveryDocumentFieldExplicitlyAndStrictly) {
  simdjson::dom::parser parser;
  const std::string body = indexTemplateBody("crypto-prices", 1, 0);
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  testing::expectStrictQuoteMapping(doc["template"]["mappings"]);
  simdjson::dom::object properties = doc["template"]["mappings"]["properties"];

  // Every field the encoder writes has a mapping, or strict mode would refuse every document.
  simdjson::dom::parser doc_parser;
  model::Quote q;
  q.id = "x";
  const std::string document = model::encodeQuote(q);
  simdjson::dom::object fields = doc_parser.parse(document);
  for (auto field : fields) {
    simdjson::dom::element mapping;
    EXPECT_EQ(properties.at_key(field.key).get(mapping), simdjson::SUCCESS) << field.key;
  }
}

}  // namespace
}  // namespace coinrelay::elasticsearch
