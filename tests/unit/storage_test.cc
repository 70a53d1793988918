#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "common/clock.h"
#include "pipeline/snapshot.h"
#include "storage/history.h"
#include "storage/sqlite_quote_store.h"
#include "support/fake_http_server.h"
#include "support/temp_dir.h"

namespace coinrelay {
namespace {

model::Quote quote(const std::string& id, int64_t last_updated_ms, double price, int64_t rank) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = id;
  q.vs_currency = "usd";
  q.last_updated_ms = last_updated_ms;
  q.fetched_ms = last_updated_ms + 500;
  q.price = price;
  q.market_cap_rank = rank;
  return q;
}

TEST(SqliteQuoteStoreTest, StoresEachObservationOnceAndReturnsTheLatest) {
  testing::TempDir dir;
  auto store = storage::SqliteQuoteStore::open(dir.path("h.db"));
  ASSERT_TRUE(store) << store.error().message;
  std::vector<model::Quote> first = {quote("bitcoin", 1000, 10, 1), quote("ethereum", 1000, 5, 2)};
  EXPECT_EQ(*(*store)->insert(first), 2u);
  EXPECT_EQ(*(*store)->insert(first), 0u) << "an unchanged re-fetch adds no row";
  std::vector<model::Quote> second = {quote("bitcoin", 2000, 11, 1), quote("ethereum", 1000, 5, 2)};
  EXPECT_EQ(*(*store)->insert(second), 1u);
  EXPECT_EQ(*(*store)->count(), 3);
  auto latest = (*store)->latest();
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 2u);
  for (const auto& q : *latest) {
    if (q.id == "bitcoin") {
      EXPECT_EQ(q.last_updated_ms, 2000);
      EXPECT_EQ(q.price, 11.0);
    }
  }
}

TEST(SqliteQuoteStoreTest, SurvivesReopeningInWalMode) {
  testing::TempDir dir;
  {
    auto store = storage::SqliteQuoteStore::open(dir.path("h.db"));
    ASSERT_TRUE(store);
    std::vector<model::Quote> batch = {quote("bitcoin", 1000, 10, 1)};
    ASSERT_TRUE((*store)->insert(batch));
  }
  auto reopened = storage::SqliteQuoteStore::open(dir.path("h.db"));
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*(*reopened)->count(), 1);
  EXPECT_TRUE(std::filesystem::exists(dir.path("h.db-wal")) ||
              std::filesystem::exists(dir.path("h.db")));
}

TEST(SqliteQuoteStoreTest, ExplainsAnUnwritablePath) {
  auto store = storage::SqliteQuoteStore::open("/nonexistent-dir/x/h.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("/nonexistent-dir/x/h.db"), std::string::npos);
  EXPECT_NE(store.error().message.find("storage.sqlite_path"), std::string::npos);
}

TEST(SnapshotTest, KeepsTheNewestQuotePerCoinAndRendersByRank) {
  pipeline::Snapshot snapshot;
  auto empty = snapshot.current();
  EXPECT_EQ(empty->version, 0u);
  std::vector<model::Quote> batch = {quote("ethereum", 1000, 5, 2), quote("bitcoin", 1000, 10, 1)};
  ASSERT_TRUE(snapshot.deliver(batch));
  std::vector<model::Quote> older = {quote("bitcoin", 500, 9, 1)};
  ASSERT_TRUE(snapshot.deliver(older));
  auto current = snapshot.current();
  EXPECT_EQ(current->version, 2u);
  EXPECT_EQ(current->quotes.at({"bitcoin", "usd"})->price, 10.0) << "an older quote never wins";
  const std::string& json = current->quotesJson();
  EXPECT_LT(json.find("\"bitcoin\""), json.find("\"ethereum\"")) << json;
  EXPECT_NE(json.find("\"count\":2"), std::string::npos);
  EXPECT_EQ(empty->version, 0u) << "readers keep the version they took";
}

// The fetch loop hands the snapshot the planner's quotes themselves: the snapshot serves them
// without a copy, the live stream still hears of each change once, an older quote never wins.
TEST(SnapshotTest, SharedQuotesAreServedAsGivenAndStreamedWhenTheyChangeSomething) {
  pipeline::Snapshot snapshot;
  std::vector<std::string> streamed;
  snapshot.addListener([&](std::span<const model::Quote> quotes) {
    for (const auto& q : quotes)
      streamed.push_back(q.id);
  });
  const auto bitcoin = std::make_shared<const model::Quote>(quote("bitcoin", 1000, 10, 1));
  const auto ethereum = std::make_shared<const model::Quote>(quote("ethereum", 1000, 5, 2));
  std::vector<sinks::SharedQuote> batch = {bitcoin, ethereum};
  ASSERT_TRUE(snapshot.deliverShared(batch));
  EXPECT_EQ(snapshot.current()->quotes.at({"bitcoin", "usd"}), bitcoin) << "kept, not copied";
  std::vector<sinks::SharedQuote> mixed = {
      std::make_shared<const model::Quote>(quote("bitcoin", 500, 9, 1)),
      std::make_shared<const model::Quote>(quote("ethereum", 2000, 6, 2))};
  ASSERT_TRUE(snapshot.deliverShared(mixed));
  auto current = snapshot.current();
  EXPECT_EQ(current->quotes.at({"bitcoin", "usd"})->price, 10.0) << "an older quote never wins";
  EXPECT_EQ(current->quotes.at({"ethereum", "usd"})->price, 6.0);
  EXPECT_EQ(streamed, (std::vector<std::string>{"bitcoin", "ethereum", "ethereum"}));
}

// /v1/history of `serve` over a short range: the observations themselves, one _search sorted by
// last_updated, values read from doc values.
TEST(ElasticsearchHistoryTest, AShortRangeReadsEveryObservationOfOneCoin) {
  testing::FakeHttpServer engine;
  engine.answer("POST /crypto-prices/_search",
                {200, "application/json",
                 R"({"hits":{"hits":[)"
                 R"({"sort":[1718184662118],"fields":{"price":[3500.5],"market_cap":[4.2e11]}},)"
                 R"({"fields":{"price":[1]}},)"
                 R"({"sort":[1718184722118],"fields":{"price":[3501]}}]}})"});
  config::ElasticsearchConfig config;
  config.url = engine.url();
  config.index = "crypto-prices";
  config.username = "coinrelay";
  config.password = "s3cret";
  storage::ElasticsearchHistory history(config);
  storage::HistoryQuery query{"ethereum", "usd", 1718184000000, 1718188000000, 100};
  EXPECT_EQ(storage::historyGranularity(history, query), storage::Granularity::Raw);
  auto points = history.points(query);
  ASSERT_TRUE(points) << points.error().message;
  ASSERT_EQ(points->size(), 2u) << "a hit without its time is skipped";
  EXPECT_EQ((*points)[0].t_ms, 1718184662118);
  EXPECT_EQ((*points)[0].price, 3500.5);
  EXPECT_EQ((*points)[0].market_cap, 4.2e11);
  EXPECT_FALSE((*points)[0].volume_24h);
  EXPECT_EQ((*points)[1].price, 3501);

  const auto requests = engine.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("content-type"), "application/json");
  EXPECT_EQ(requests[0].header("authorization"), "Basic Y29pbnJlbGF5OnMzY3JldA==");
  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(requests[0].body);
  EXPECT_EQ(int64_t(body["size"]), 10000);
  EXPECT_EQ(std::string_view(body["sort"].at(0)["last_updated"]), "asc");
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(0)["term"]["id"]), "ethereum");
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(1)["term"]["vs_currency"]), "usd");
  EXPECT_EQ(int64_t(body["query"]["bool"]["filter"].at(2)["range"]["last_updated"]["gte"]),
            1718184000000);
  EXPECT_EQ(int64_t(body["query"]["bool"]["filter"].at(2)["range"]["last_updated"]["lte"]),
            1718188000000);
}

// Longer ranges (and the chart endpoints) are one date_histogram at the granularity asked for:
// high and low as max/min, open and close as the first and last document of each window.
TEST(ElasticsearchHistoryTest, WindowsComeFromADateHistogramOfOneCoin) {
  testing::FakeHttpServer engine;
  const auto window = [](int64_t start, double open, double close, double high, double low) {
    return fmt::format(
        R"({{"key":{},"doc_count":6,"high":{{"value":{}}},"low":{{"value":{}}},)"
        R"("first":{{"hits":{{"hits":[{{"sort":[{}],"fields":{{"price":[{}]}}}}]}}}},)"
        R"("last":{{"hits":{{"hits":[{{"sort":[{}],"fields":{{"price":[{}],"market_cap":[7],)"
        R"("volume_24h":[8]}}}}]}}}}}})",
        start, high, low, start + 60'000, open, start + 3'540'000, close);
  };
  engine.answer("POST /crypto-prices/_search",
                {200, "application/json",
                 R"({"aggregations":{"first_seen":{"value":1.7181e12},"range":{"doc_count":12,)"
                 R"("latest":{"hits":{"hits":[{"sort":[1718189000000],"fields":{"price":[11]}}]}},)"
                 R"("windows":{"buckets":[)" +
                     window(1718182800000, 10, 12, 13, 9) + "," +
                     window(1718186400000, 12, 11, 14, 10.5) + "]}}}}"});
  config::ElasticsearchConfig config;
  config.url = engine.url();
  config.index = "crypto-prices";
  ManualClock clock(fromUnixMillis(1718189000000));
  storage::ElasticsearchHistory history(config, clock);
  auto data = history.chart(storage::ChartQuery{"bitcoin", "eur", 1718184000000, 1718189000000,
                                                storage::Granularity::Hourly});
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_TRUE(data->known);
  EXPECT_EQ(data->first_ms, 1718100000000);
  ASSERT_EQ(data->buckets.size(), 2u);
  const auto& first = data->buckets[0];
  EXPECT_EQ(first.start_ms, 1718182800000);
  EXPECT_EQ(first.open, 10);
  EXPECT_EQ(first.close, 12);
  EXPECT_EQ(first.high, 13);
  EXPECT_EQ(first.low, 9);
  EXPECT_EQ(first.market_cap, 7);
  EXPECT_EQ(first.volume, 8);
  EXPECT_EQ(first.last_ms, 1718182800000 + 3'540'000);
  EXPECT_TRUE(first.complete);
  EXPECT_FALSE(data->buckets[1].complete) << "its hour has not ended";
  ASSERT_TRUE(data->latest);
  EXPECT_EQ(data->latest->price, 11);

  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(engine.requests().at(0).body);
  EXPECT_EQ(int64_t(body["size"]), 0);
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(0)["term"]["id"]), "bitcoin");
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(1)["term"]["vs_currency"]), "eur");
  simdjson::dom::element range = body["aggs"]["range"];
  EXPECT_EQ(int64_t(range["filter"]["range"]["last_updated"]["gte"]), 1718182800000)
      << "from the start of the first hour";
  simdjson::dom::element histogram = range["aggs"]["windows"]["date_histogram"];
  EXPECT_EQ(std::string_view(histogram["fixed_interval"]), "1h");
  EXPECT_EQ(int64_t(histogram["min_doc_count"]), 1);
  EXPECT_EQ(std::string_view(range["aggs"]["windows"]["aggs"]["high"]["max"]["field"]), "price");
  EXPECT_EQ(std::string_view(
                range["aggs"]["windows"]["aggs"]["last"]["top_hits"]["sort"].at(0)["last_updated"]),
            "desc");
}

TEST(ElasticsearchHistoryTest, AMissingIndexIsNoHistoryAndOtherAnswersAreErrors) {
  testing::FakeHttpServer engine;
  config::ElasticsearchConfig config;
  config.url = engine.url();
  config.index = "crypto-prices";
  storage::ElasticsearchHistory history(config);
  storage::HistoryQuery query{"bitcoin", "usd", 0, 1, 10};
  engine.answer("POST /crypto-prices/_search",
                {404, "application/json", R"({"error":{"type":"index_not_found_exception"}})"});
  auto none = history.points(query);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());

  engine.answer("POST /crypto-prices/_search",
                {503, "application/json", R"({"error":{"type":"cluster_block_exception"}})"});
  auto refused = history.points(query);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("HTTP 503"), std::string::npos) << refused.error().message;

  config.url = "http://127.0.0.1:1";
  auto unreachable = storage::ElasticsearchHistory(config).points(query);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, ErrorCode::Unavailable);
  EXPECT_NE(unreachable.error().message.find("127.0.0.1:1"), std::string::npos)
      << unreachable.error().message;
}

}  // namespace
}  // namespace coinrelay
