#include <gtest/gtest.h>

#include "pipeline/snapshot.h"
#include "storage/sqlite_quote_store.h"
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

}  // namespace
}  // namespace coinrelay
