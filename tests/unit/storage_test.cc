#include <gtest/gtest.h>
#include <simdjson.h>

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
  EXPECT_EQ(current->quotes.at({"bitcoin", "usd"}).price, 10.0) << "an older quote never wins";
  const std::string& json = current->quotes_json;
  EXPECT_LT(json.find("\"bitcoin\""), json.find("\"ethereum\"")) << json;
  EXPECT_NE(json.find("\"count\":2"), std::string::npos);
  EXPECT_EQ(empty->version, 0u) << "readers keep the version they took";
}

// /v1/history of `serve`: one _search on the quote index, answered by a fake engine.
TEST(ElasticsearchHistoryTest, SearchesOneCoinInTheRangeAndReadsItsPoints) {
  testing::FakeHttpServer engine;
  engine.answer(
      "POST /crypto-prices/_search",
      {200, "application/json",
       R"({"hits":{"hits":[)"
       R"({"_source":{"last_updated":"2024-06-12T09:31:02.118Z","price":3500.5,"market_cap":4.2e11,"volume_24h":null}},)"
       R"({"_source":{"last_updated":"not a date","price":1}},)"
       R"({"_source":{"last_updated":"2024-06-12T09:32:02.118Z","price":3501}}]}})"});
  config::ElasticsearchConfig config;
  config.url = engine.url();
  config.index = "crypto-prices";
  config.username = "coinrelay";
  config.password = "s3cret";
  storage::ElasticsearchHistory history(config);
  storage::HistoryQuery query{"ethereum", "usd", 1718184000000, 1718188000000, 100};
  auto points = history.points(query);
  ASSERT_TRUE(points) << points.error().message;
  ASSERT_EQ(points->size(), 2u) << "a hit without a readable last_updated is skipped";
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
  EXPECT_EQ(int64_t(body["size"]), 400) << "four times the points asked for";
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(0)["term"]["id"]), "ethereum");
  EXPECT_EQ(std::string_view(body["query"]["bool"]["filter"].at(1)["term"]["vs_currency"]), "usd");
  EXPECT_EQ(int64_t(body["query"]["bool"]["filter"].at(2)["range"]["last_updated"]["gte"]),
            1718184000000);
  EXPECT_EQ(int64_t(body["query"]["bool"]["filter"].at(2)["range"]["last_updated"]["lte"]),
            1718188000000);
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
