// Contract tests of the published message formats (docs/consuming.md): what the encoder writes
// must validate against schemas/quote.v1.json, deliberately broken messages must not, the
// dead-letter envelope has its schema, and the HTTP API serves the schema files it was built
// with. The validation itself is done by a real JSON Schema implementation (Debian's
// python3-jsonschema, through tests/contract/validate_json.py), not by a reading of our own: a
// schema checked only by the code it describes would prove nothing.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include "api/schemas.h"
#include "coingecko/markets_parser.h"
#include "model/quote_codec.h"
#include "pipeline/snapshot.h"
#include "simulate/simulator.h"
#include "support/sample_quotes.h"
#include "support/temp_dir.h"

namespace coinrelay::testing {
namespace {

const std::string kSource = COINRELAY_SOURCE_DIR;
const std::string kQuoteSchema = kSource + "/schemas/quote.v1.json";
const std::string kDlqSchema = kSource + "/schemas/dlq.v1.json";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct Verdict {
  int exit_code = -1;
  std::string output;
};

/// Runs validate_json.py on `documents` (one JSON document per element).
Verdict validate(const std::string& schema, const std::vector<std::string>& documents,
                 bool expect_invalid = false) {
  TempDir dir;
  std::string lines;
  for (const auto& document : documents)
    lines += document + "\n";
  const std::string input = dir.write("documents.jsonl", lines);
  // Debian installs python3-jsonschema for /usr/bin/python3, which need not be the python3 on
  // PATH (pyenv, a venv); JSONSCHEMA_PYTHON overrides it.
  const char* python = std::getenv("JSONSCHEMA_PYTHON");
  const std::string command = std::string(python ? python : "/usr/bin/python3") + " " + kSource +
                              "/tests/contract/validate_json.py " +
                              (expect_invalid ? "--expect-invalid " : "") + schema + " " + input +
                              " 2>&1";
  Verdict verdict;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return verdict;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    verdict.output.append(buffer, n);
  const int status = ::pclose(pipe);
  verdict.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return verdict;
}

using testing::bareQuote;
using testing::fullQuote;

TEST(QuoteContractTest, EncoderOutputForHandMadeQuotesIsValid) {
  std::vector<std::string> documents{model::encodeQuote(fullQuote()),
                                     model::encodeQuote(bareQuote())};

  model::Quote odd = fullQuote();  // values at the edges of what the encoder meets
  odd.id = "1000x-meme.v2_token";
  odd.symbol = "1000xø";  // bytes outside ASCII stay as they are; no lower-case ASCII remains
  odd.name = "Quote \"Q\" \\ Tab\tNewline\n\x01 Ökosystem ☃";
  odd.price = 1.2e-12;
  odd.market_cap = 3.5e21;
  odd.market_cap_rank = std::nullopt;
  odd.change_24h = -99.99999;
  odd.high_24h = std::numeric_limits<double>::quiet_NaN();  // non-finite numbers become null
  odd.low_24h = std::numeric_limits<double>::infinity();
  odd.image.clear();
  odd.ath_date_ms = std::nullopt;
  odd.last_updated_ms = 253402300799999;  // 9999-12-31T23:59:59.999Z, the last fixed-width one
  odd.roi = model::Roi{0, "", -0.5};
  documents.push_back(model::encodeQuote(odd));

  const auto verdict = validate(kQuoteSchema, documents);
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;
  EXPECT_NE(verdict.output.find("3 of 3 documents valid"), std::string::npos) << verdict.output;
}

TEST(QuoteContractTest, EveryQuoteOfTheSimulatedMarketIsValid) {
  // The whole path a real message takes before Kafka: CoinGecko-shaped JSON (the simulator's),
  // the parser, the encoder; two currencies, so every derived amount is covered.
  simulate::MarketOptions market;
  market.coins = 120;
  market.update_interval_ms = 0;
  market.start_ms = 1'700'000'000'000;
  simulate::Simulator simulator(market, simulate::FaultOptions{});
  simdjson::dom::parser parser;
  std::vector<std::string> documents;
  for (const std::string currency : {"usd", "eur"}) {
    net::Request request;
    request.method = "GET";
    request.path = "/api/v3/coins/markets";
    request.query = {{"vs_currency", currency}, {"per_page", "250"}, {"page", "1"}};
    const net::Reply reply = simulator.handle(request);
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto page = coingecko::parseCoinsMarkets(reply.body, currency, 1'700'000'012'345, parser);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->invalid_items, 0);
    for (const auto& quote : page->quotes)
      documents.push_back(model::encodeQuote(quote));
  }
  ASSERT_EQ(documents.size(), 240u);
  const auto verdict = validate(kQuoteSchema, documents);
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;
  EXPECT_NE(verdict.output.find("240 of 240 documents valid"), std::string::npos) << verdict.output;
}

TEST(QuoteContractTest, EachEntryOfTheHttpListingIsTheSameDocument) {
  pipeline::Snapshot snapshot;
  const std::vector<model::Quote> quotes{fullQuote(), bareQuote()};
  ASSERT_TRUE(snapshot.deliver(quotes));
  simdjson::dom::parser parser;
  simdjson::dom::element listing;
  ASSERT_EQ(parser.parse(snapshot.current()->quotesJson()).get(listing), simdjson::SUCCESS);
  std::vector<std::string> documents;
  for (simdjson::dom::element quote : simdjson::dom::array(listing["quotes"]))
    documents.push_back(simdjson::minify(quote));
  ASSERT_EQ(documents.size(), 2u);
  const auto verdict = validate(kQuoteSchema, documents);
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;
}

/// A valid message with one defect each, and the JSON pointer the refusal must name.
struct Breakage {
  std::string what;
  std::string from;
  std::string to;
  std::string refused_at;
};

TEST(QuoteContractTest, DeliberatelyBrokenMessagesAreRefused) {
  const std::string valid = model::encodeQuote(fullQuote());
  const std::vector<Breakage> breakages{
      {"a renamed field", R"("timestamp":)", R"("fetched_at":)", "(document)"},
      {"a missing field", R"("price":3561.84,)", "", "(document)"},
      {"an unknown field", R"("name":"Ethereum",)", R"("name":"Ethereum","extra":1,)",
       "(document)"},
      {"a number sent as a string", R"("price":3561.84)", R"("price":"3561.84")", "price"},
      {"a fractional rank", R"("market_cap_rank":2)", R"("market_cap_rank":2.5)",
       "market_cap_rank"},
      {"a lower-case symbol", R"("symbol":"ETH")", R"("symbol":"eth")", "symbol"},
      {"an empty id", R"("id":"ethereum")", R"("id":"")", "id"},
      {"an upper-case currency", R"("vs_currency":"usd")", R"("vs_currency":"USD")", "vs_currency"},
      {"a time without milliseconds", R"("timestamp":"2024-06-12T09:31:40.000Z")",
       R"("timestamp":"2024-06-12T09:31:40Z")", "timestamp"},
      {"a time with an offset", R"("last_updated":"2024-06-12T09:31:02.118Z")",
       R"("last_updated":"2024-06-12T11:31:02.118+02:00")", "last_updated"},
      {"epoch milliseconds instead of ISO-8601", R"("last_updated":"2024-06-12T09:31:02.118Z")",
       R"("last_updated":1718184662118)", "last_updated"},
      {"a null identity field", R"("name":"Ethereum")", R"("name":null)", "name"},
      {"another schema version", R"("schema_version":1)", R"("schema_version":2)",
       "schema_version"},
      {"a null image",
       R"("image":"https://coin-images.coingecko.com/coins/images/279/large/ethereum.png")",
       R"("image":null)", "image"},
      {"roi without its currency", R"("currency":"btc",)", "", "roi"},
      {"a date that is not one", R"("ath_date":"2021-11-10T14:24:19.604Z")",
       R"("ath_date":"yesterday")", "ath_date"},
  };
  std::vector<std::string> documents;
  for (const auto& breakage : breakages) {
    std::string broken = valid;
    const size_t at = broken.find(breakage.from);
    ASSERT_NE(at, std::string::npos)
        << breakage.what << ": '" << breakage.from << "' is not in the encoder's output " << valid;
    broken.replace(at, breakage.from.size(), breakage.to);
    documents.push_back(broken);
  }
  const auto verdict = validate(kQuoteSchema, documents, /*expect_invalid=*/true);
  EXPECT_EQ(verdict.exit_code, 0) << "a broken message was accepted:\n" << verdict.output;
  std::istringstream lines(verdict.output);
  std::string line;
  size_t index = 0;
  while (std::getline(lines, line) && index < breakages.size()) {
    const std::string expected = "refused as expected: invalid at " + breakages[index].refused_at;
    EXPECT_NE(line.find(expected), std::string::npos)
        << breakages[index].what << " should be refused at '" << breakages[index].refused_at
        << "': " << line;
    ++index;
  }
  EXPECT_EQ(index, breakages.size()) << verdict.output;
}

/// `text` with its first `from` replaced by `to` (which must be there).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' is not in " << text;
  if (at != std::string::npos)
    text.replace(at, from.size(), to);
  return text;
}

TEST(QuoteContractTest, TheSchemaNamesEveryFieldTheEncoderWrites) {
  // additionalProperties:false already refuses a field the schema lacks; this also catches a
  // field the schema lists but the encoder stopped writing, and keeps `required` complete.
  simdjson::dom::parser parser;
  simdjson::dom::element schema = parser.parse(readFile(kQuoteSchema));
  std::set<std::string> properties, required;
  for (auto [key, value] : simdjson::dom::object(schema["properties"]))
    properties.emplace(key);
  for (simdjson::dom::element name : simdjson::dom::array(schema["required"]))
    required.emplace(std::string_view(name));
  simdjson::dom::parser message_parser;
  simdjson::dom::element message = message_parser.parse(model::encodeQuote(bareQuote()));
  std::set<std::string> written;
  for (auto [key, value] : simdjson::dom::object(message))
    written.emplace(key);
  EXPECT_EQ(written, properties);
  // v1 writes every key, null when CoinGecko sent no value; the keys added to v1 later are not
  // required, so that the messages written before them stay valid.
  std::set<std::string> added_later = {"price_fetched", "details_fetched"};
  std::set<std::string> original;
  for (const auto& key : written) {
    if (!added_later.contains(key))
      original.insert(key);
  }
  EXPECT_EQ(required, original);
}

TEST(QuoteContractTest, MessagesWrittenBeforeTheFetchTimesExistedStayValid) {
  model::Quote quote = fullQuote();
  quote.price_fetched_ms = 1718184700000;
  quote.details_fetched_ms = 1718181000000;
  const std::string current = model::encodeQuote(quote);
  EXPECT_NE(current.find(R"("price_fetched":"2024-06-12T09:31:40.000Z",)"
                         R"("details_fetched":"2024-06-12T08:30:00.000Z")"),
            std::string::npos)
      << current;
  // A message of an earlier coinrelay: the same without the two keys.
  std::string older = replaced(current, R"(,"price_fetched":"2024-06-12T09:31:40.000Z")", "");
  older = replaced(older, R"(,"details_fetched":"2024-06-12T08:30:00.000Z")", "");
  const auto verdict = validate(kQuoteSchema, {current, older});
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;
  // coinrelay reads it too: the times are unknown, i.e. those of the whole quote.
  simdjson::dom::parser parser;
  auto decoded = model::decodeQuote(older, parser);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_FALSE(decoded->price_fetched_ms);
  EXPECT_FALSE(decoded->details_fetched_ms);
  // And a wrong value in the new keys is refused like any other.
  const auto refused = validate(kQuoteSchema,
                                {replaced(current, R"("price_fetched":"2024-06-12T09:31:40.000Z")",
                                          R"("price_fetched":1718184700000)")},
                                /*expect_invalid=*/true);
  EXPECT_EQ(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("invalid at price_fetched"), std::string::npos) << refused.output;
}

std::string deadLetter(const std::string& stage, const std::string& status,
                       const std::string& encoding, const std::string& value) {
  return R"({"schema_version":1,"reason":"mapper_parsing_exception: failed to parse field [price]",)"
         R"("stage":")" +
         stage + R"(","status":)" + status +
         R"(,"source_topic":"crypto-data","source_partition":2,"source_offset":1041,)"
         R"("source_key":"bitcoin","source_timestamp":"2024-06-12T09:31:40.012Z",)"
         R"("original_value":")" +
         value + R"(","original_encoding":")" + encoding +
         R"(","dead_lettered_at":"2024-06-12T09:31:41.500Z"})";
}

TEST(DeadLetterContractTest, EnvelopesOfBothStagesAreValid) {
  // A value that is not UTF-8 (the byte 0xff) travels as base64; a message without key and
  // timestamp has nulls there.
  std::string keyless = deadLetter("decode", "null", "base64", "/w==");
  keyless = replaced(keyless, R"("source_key":"bitcoin")", R"("source_key":null)");
  keyless = replaced(keyless, R"("source_timestamp":"2024-06-12T09:31:40.012Z")",
                     R"("source_timestamp":null)");
  const std::vector<std::string> documents{
      deadLetter("decode", "null", "utf8", R"({\"schema_version\":1,)"),
      deadLetter("index", "400", "utf8", R"({\"schema_version\":1,\"id\":\"bitcoin\"})"),
      deadLetter("decode", "null", "base64", "eyJzY2hlbWFfdmVyc2lvbiI6MX0="),
      keyless,
  };
  const auto verdict = validate(kDlqSchema, documents);
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;
  EXPECT_NE(verdict.output.find("4 of 4 documents valid"), std::string::npos) << verdict.output;
}

TEST(DeadLetterContractTest, DeliberatelyBrokenEnvelopesAreRefused) {
  const std::string valid = deadLetter("index", "400", "utf8", "x");
  auto with = [&](const std::string& from, const std::string& to) {
    return replaced(valid, from, to);
  };
  const std::vector<std::string> documents{
      with(R"("stage":"index")", R"("stage":"indexing")"),
      with(R"("status":400)", R"("status":"400")"),
      with(R"("source_offset":1041)", R"("source_offset":-1)"),
      with(R"("original_encoding":"utf8")", R"("original_encoding":"hex")"),
      deadLetter("decode", "null", "base64", "not base64!"),
      with(R"("dead_lettered_at":"2024-06-12T09:31:41.500Z")", R"("dead_lettered_at":null)"),
      with(R"("reason":"mapper_parsing_exception: failed to parse field [price]",)", ""),
      with(R"("schema_version":1)", R"("schema_version":2)"),
  };
  const auto verdict = validate(kDlqSchema, documents, /*expect_invalid=*/true);
  EXPECT_EQ(verdict.exit_code, 0) << "a broken envelope was accepted:\n" << verdict.output;
  EXPECT_NE(verdict.output.find("8 of 8 documents refused"), std::string::npos) << verdict.output;
}

TEST(SchemaRoutesTest, EverySchemaFileIsServedByteForByte) {
  // The HTTP API routes /v1/schemas and /v1/schemas/* here (src/api/relay_routes.cc);
  // tools/test-consumers.sh also fetches them from a running `coinrelay run`.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSource + "/schemas")) {
    const std::string name = entry.path().filename().string();
    const auto reply = api::schemaRoute("/v1/schemas/" + name);
    ASSERT_TRUE(reply.has_value()) << name;
    EXPECT_EQ(reply->status, 200) << name
                                  << " is in schemas/ but not embedded (src/CMakeLists.txt)";
    EXPECT_EQ(reply->content_type, "application/schema+json") << name;
    EXPECT_EQ(reply->body, readFile(entry.path().string())) << name;
    ++files;
  }
  EXPECT_EQ(files, 2u);
  EXPECT_EQ(api::schemaNames().size(), files);

  const auto index = api::schemaRoute("/v1/schemas");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body,
            R"({"schemas":[{"name":"quote.v1.json","url":"/v1/schemas/quote.v1.json"},)"
            R"({"name":"dlq.v1.json","url":"/v1/schemas/dlq.v1.json"}]})");
  EXPECT_EQ(api::schemaRoute("/v1/schemas/quote.v2.json")->status, 404);
  EXPECT_EQ(api::schemaRoute("/v1/schemas/../quote.v1.json")->status, 404);
  EXPECT_FALSE(api::schemaRoute("/v1/quotes").has_value());
  EXPECT_FALSE(api::schemaRoute("/v1/schemasx").has_value());
}

}  // namespace
}  // namespace coinrelay::testing
