// The tiered SQLite history: rollups as windows close, late observations, retention, reads that
// finish the windows still open from finer data, and the migration of a schema 1 database.

#include "storage/history.h"

#include <cmath>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "model/quote_codec.h"
#include "storage/sqlite_quote_store.h"
#include "support/temp_dir.h"

namespace coinrelay::storage {
namespace {

// 2024-06-12T00:00:00Z: windows of every tier start here.
constexpr int64_t kDay0 = 1'718'150'400'000;

model::Quote observation(const std::string& id, const std::string& vs, int64_t t_ms, double price,
                         int64_t fetched_ms = 0) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = id;
  q.vs_currency = vs;
  q.last_updated_ms = t_ms;
  q.fetched_ms = fetched_ms ? fetched_ms : t_ms + 5'000;
  q.price = price;
  q.market_cap = price * 1000;
  q.volume_24h = price * 10;
  q.market_cap_rank = 1;
  q.image = "https://coin-images.coingecko.com/coins/images/1/large/" + id + ".png";
  return q;
}

/// The price of the minute-by-minute test series: deterministic and never the same twice.
double priceAt(int64_t t_ms) {
  return 100.0 + std::sin(static_cast<double>(t_ms) / 3.6e6) * 10 +
         static_cast<double>(t_ms % 7'919) / 1000.0;
}

/// Writes one observation a minute for `minutes` from `start`, one insert per minute as the
/// fetch loop does.
void writeMinutes(SqliteQuoteStore& store, int64_t start, int minutes) {
  for (int i = 0; i < minutes; ++i) {
    const int64_t t = start + int64_t{i} * kMinuteMs;
    std::vector<model::Quote> cycle = {observation("bitcoin", "usd", t, priceAt(t))};
    ASSERT_TRUE(store.insert(cycle));
  }
}

std::unique_ptr<SqliteQuoteStore> openStore(const testing::TempDir& dir, Retention retention = {}) {
  auto store = SqliteQuoteStore::open(dir.path("h.db"), retention);
  EXPECT_TRUE(store) << store.error().message;
  return store ? std::move(store).value() : nullptr;
}

/// What a window of the minute series must hold, computed from the prices themselves.
Bucket expectedWindow(int64_t start, int64_t width, int64_t first, int64_t end) {
  Bucket b;
  b.start_ms = start;
  for (int64_t t = std::max(start, first); t < start + width && t < end; t += kMinuteMs)
    b.merge(Bucket::of(HistoryPoint{t, priceAt(t), priceAt(t) * 1000, priceAt(t) * 10}));
  return b;
}

void expectSameWindow(const Bucket& got, const Bucket& want) {
  EXPECT_EQ(got.start_ms, want.start_ms);
  EXPECT_EQ(got.open, want.open) << got.start_ms;
  EXPECT_EQ(got.high, want.high) << got.start_ms;
  EXPECT_EQ(got.low, want.low) << got.start_ms;
  EXPECT_EQ(got.close, want.close) << got.start_ms;
  EXPECT_EQ(got.market_cap, want.market_cap) << got.start_ms;
  EXPECT_EQ(got.volume, want.volume) << got.start_ms;
}

TEST(TieredHistoryTest, RollsEveryTierUpAsWindowsCloseAndFinishesOpenWindowsFromFinerData) {
  testing::TempDir dir;
  auto store = openStore(dir);
  ASSERT_TRUE(store);
  // A day and a half, minute by minute: two days, the second one still open.
  const int minutes = 36 * 60 + 7;
  writeMinutes(*store, kDay0, minutes);
  const int64_t end = kDay0 + int64_t{minutes} * kMinuteMs;
  EXPECT_GT(store->stats().rollup_passes, 400u) << "one pass per closed 5-minute window";

  for (Granularity g : {Granularity::FiveMinutes, Granularity::Hourly, Granularity::Daily}) {
    SCOPED_TRACE(std::string(nameOf(g)));
    auto data = store->chart(ChartQuery{"bitcoin", "usd", kDay0, end, g});
    ASSERT_TRUE(data) << data.error().message;
    EXPECT_TRUE(data->known);
    const int64_t width = widthOf(g);
    const size_t windows = static_cast<size_t>((end - kDay0 + width - 1) / width);
    ASSERT_EQ(data->buckets.size(), windows);
    for (size_t i = 0; i < windows; ++i) {
      const int64_t start = kDay0 + static_cast<int64_t>(i) * width;
      expectSameWindow(data->buckets[i], expectedWindow(start, width, kDay0, end));
    }
    EXPECT_TRUE(data->buckets.front().complete);
    EXPECT_FALSE(data->buckets.back().complete) << "the open window comes from finer tiers";
    ASSERT_TRUE(data->latest);
    EXPECT_EQ(data->latest->t_ms, end - kMinuteMs);
    EXPECT_EQ(data->first_ms, kDay0);
  }
}

TEST(TieredHistoryTest, AnObservationArrivingAfterItsWindowWasRolledUpJoinsIt) {
  testing::TempDir dir;
  auto store = openStore(dir);
  ASSERT_TRUE(store);
  writeMinutes(*store, kDay0, 3 * 60);
  // 01:02:30 was never observed; it arrives now, with the highest price of the day.
  const int64_t late = kDay0 + kHourMs + 2 * kMinuteMs + 30'000;
  std::vector<model::Quote> straggler = {
      observation("bitcoin", "usd", late, 999.0, kDay0 + 3 * kHourMs)};
  ASSERT_EQ(*store->insert(straggler), 1u);
  EXPECT_EQ(store->stats().late_merges, 1u);
  for (Granularity g : {Granularity::FiveMinutes, Granularity::Hourly}) {
    auto data = store->chart(ChartQuery{"bitcoin", "usd", late, late, g});
    ASSERT_TRUE(data);
    ASSERT_EQ(data->buckets.size(), 1u);
    EXPECT_EQ(data->buckets[0].high, 999.0) << nameOf(g);
    EXPECT_TRUE(data->buckets[0].complete);
    EXPECT_NE(data->buckets[0].close, 999.0) << "not the window's last observation";
  }
}

TEST(TieredHistoryTest, EachTierKeepsItsOwnRetention) {
  testing::TempDir dir;
  Retention retention;
  retention.raw_ms = 2 * kHourMs;
  retention.five_minutes_ms = 1 * kDayMs;
  retention.hourly_ms = 2 * kDayMs;
  retention.daily_ms = 30 * kDayMs;
  auto store = openStore(dir, retention);
  ASSERT_TRUE(store);
  // Ten days, one observation every 10 minutes, then the last hours minute by minute.
  for (int64_t t = kDay0; t < kDay0 + 10 * kDayMs; t += 10 * kMinuteMs) {
    std::vector<model::Quote> cycle = {observation("bitcoin", "usd", t, priceAt(t))};
    ASSERT_TRUE(store->insert(cycle));
  }
  const int64_t now = kDay0 + 10 * kDayMs;
  // Retention runs once an hour: 2 h of observations, and those since the last pass.
  EXPECT_LE(*store->count(), 3 * 6 + 1) << "observations older than 3 h are gone";
  auto raw = store->chart(ChartQuery{"bitcoin", "usd", kDay0, now, Granularity::Raw});
  ASSERT_TRUE(raw);
  EXPECT_GE(raw->buckets.front().start_ms, now - 3 * kHourMs);
  auto minutes5 = store->chart(ChartQuery{"bitcoin", "usd", kDay0, now, Granularity::FiveMinutes});
  EXPECT_GE(minutes5->buckets.front().start_ms, now - kDayMs - kHourMs);
  auto hourly = store->chart(ChartQuery{"bitcoin", "usd", kDay0, now, Granularity::Hourly});
  EXPECT_GE(hourly->buckets.front().start_ms, now - 2 * kDayMs - kHourMs);
  auto daily = store->chart(ChartQuery{"bitcoin", "usd", kDay0, now, Granularity::Daily});
  ASSERT_EQ(daily->buckets.size(), 10u) << "every day is still there, at daily granularity";
  expectSameWindow(daily->buckets[0], [&] {
    Bucket b;
    b.start_ms = kDay0;
    for (int64_t t = kDay0; t < kDay0 + kDayMs; t += 10 * kMinuteMs)
      b.merge(Bucket::of(HistoryPoint{t, priceAt(t), priceAt(t) * 1000, priceAt(t) * 10}));
    return b;
  }());
  EXPECT_EQ(store->keptSince(Granularity::Raw), now - 10 * kMinuteMs + 5'000 - 2 * kHourMs);
}

TEST(TieredHistoryTest, HistoryPointsUseTheFinestTierThatFits) {
  testing::TempDir dir;
  auto store = openStore(dir);
  ASSERT_TRUE(store);
  writeMinutes(*store, kDay0, 2 * 24 * 60);
  const int64_t end = kDay0 + 2 * kDayMs;
  // An hour: every observation.
  HistoryQuery hour{"bitcoin", "usd", end - kHourMs, end, 400};
  EXPECT_EQ(historyGranularity(*store, hour), Granularity::Raw);
  auto raw = store->points(hour);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 60u);
  // Two days at 50 points: hourly windows (48), each point at the end of its hour.
  HistoryQuery days{"bitcoin", "usd", kDay0, end, 50};
  EXPECT_EQ(historyGranularity(*store, days), Granularity::Hourly);
  auto hourly = store->points(days);
  ASSERT_TRUE(hourly);
  ASSERT_GE(hourly->size(), 47u);
  EXPECT_EQ((*hourly)[0].t_ms, kDay0 + kHourMs);
  EXPECT_EQ((*hourly)[0].price, priceAt(kDay0 + kHourMs - kMinuteMs)) << "the hour's close";
  EXPECT_EQ((*hourly)[1].t_ms - (*hourly)[0].t_ms, kHourMs);
  EXPECT_EQ(hourly->back().t_ms, end - kMinuteMs) << "then the newest observation";
}

TEST(TieredHistoryTest, AYoungHistoryShowsWhatItHasOverALongerRange) {
  // Five minutes of data asked for over a day at 48 points (the dashboard's sparklines): the
  // hourly tier the range calls for has no complete window yet, so the finer tiers answer.
  testing::TempDir dir;
  auto store = openStore(dir);
  ASSERT_TRUE(store);
  writeMinutes(*store, kDay0, 5);
  const int64_t end = kDay0 + 5 * kMinuteMs;
  HistoryQuery day{"bitcoin", "usd", end - kDayMs, end, 48};
  EXPECT_EQ(historyGranularity(*store, day), Granularity::Hourly);
  auto points = store->points(day);
  ASSERT_TRUE(points);
  EXPECT_EQ(points->size(), 5u) << "every observation of the five minutes";
}

// ----- Migration -------------------------------------------------------------------------------

// The schema of version 1 as coinrelay wrote it (git show 7b653db:src/storage/
// sqlite_quote_store.cc, unchanged up to this version): one row per observation, document
// included.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE IF NOT EXISTS quotes (
  coin_id          TEXT    NOT NULL,
  vs_currency      TEXT    NOT NULL,
  last_updated_ms  INTEGER NOT NULL,
  fetched_ms       INTEGER NOT NULL,
  symbol           TEXT    NOT NULL,
  name             TEXT    NOT NULL,
  price            REAL,
  market_cap       REAL,
  market_cap_rank  INTEGER,
  volume_24h       REAL,
  change_24h       REAL,
  document         TEXT    NOT NULL,  -- the full versioned quote document
  PRIMARY KEY (coin_id, vs_currency, last_updated_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quotes_by_time ON quotes (last_updated_ms);
PRAGMA journal_mode=WAL;
PRAGMA user_version=1;
)sql";

/// Writes `quotes` as version 1 did (its INSERT, its document encoder).
void writeVersion1(const std::string& path, const std::vector<model::Quote>& quotes) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kVersion1Schema, nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR IGNORE INTO quotes (coin_id, vs_currency, last_updated_ms, "
                     "fetched_ms, symbol, name, price, market_cap, market_cap_rank, volume_24h, "
                     "change_24h, document) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     -1, &s, nullptr);
  for (const auto& q : quotes) {
    std::string document;
    model::encodeQuote(q, document);
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, q.id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, q.vs_currency.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, q.last_updated_ms);
    sqlite3_bind_int64(s, 4, q.fetched_ms);
    sqlite3_bind_text(s, 5, q.symbol.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, q.name.c_str(), -1, SQLITE_TRANSIENT);
    if (q.price)
      sqlite3_bind_double(s, 7, *q.price);
    else
      sqlite3_bind_null(s, 7);
    sqlite3_bind_double(s, 8, *q.market_cap);
    sqlite3_bind_int64(s, 9, *q.market_cap_rank);
    sqlite3_bind_double(s, 10, *q.volume_24h);
    sqlite3_bind_null(s, 11);
    sqlite3_bind_text(s, 12, document.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
  }
  sqlite3_finalize(s);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

int64_t userVersion(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
  sqlite3_step(s);
  const int64_t version = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return version;
}

TEST(SqliteMigrationTest, AVersion1DatabaseIsUpgradedAndEveryObservationIsFound) {
  testing::TempDir dir;
  const std::string path = dir.path("coinrelay.db");
  // Two coins in two currencies: the last 6 hours minute by minute (within the raw window),
  // and before that one observation per hour for 20 days (beyond it: each hour's window holds
  // exactly one, so its values are that observation's).
  const int64_t now = kDay0 + 30 * kDayMs + 13 * kMinuteMs;
  std::vector<model::Quote> old;
  int price_index = 0;
  for (const std::string id : {"bitcoin", "ethereum"}) {
    for (const std::string vs : {"usd", "eur"}) {
      for (int64_t t = now - 20 * kDayMs; t < now - 6 * kHourMs; t += kHourMs)
        old.push_back(observation(id, vs, t, 1000.0 + ++price_index));
      for (int64_t t = now - 6 * kHourMs; t <= now; t += kMinuteMs)
        old.push_back(observation(id, vs, t, 1000.0 + ++price_index));
    }
  }
  old.back().image = "https://example.com/eth.png";  // metadata the latest document carries
  writeVersion1(path, old);
  ASSERT_EQ(userVersion(path), 1);

  auto store = SqliteQuoteStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->stats().migrated_rows, old.size());
  EXPECT_EQ(userVersion(path), 2);

  size_t found_raw = 0;
  size_t found_hourly = 0;
  for (const auto& q : old) {
    const bool recent = q.last_updated_ms >= now - 6 * kHourMs;
    const Granularity g = recent ? Granularity::Raw : Granularity::Hourly;
    auto data =
        (*store)->chart(ChartQuery{q.id, q.vs_currency, q.last_updated_ms, q.last_updated_ms, g});
    ASSERT_TRUE(data) << data.error().message;
    ASSERT_EQ(data->buckets.size(), 1u) << q.id << " " << q.vs_currency << " " << q.last_updated_ms;
    const Bucket& b = data->buckets[0];
    EXPECT_EQ(b.first_ms, q.last_updated_ms);
    EXPECT_EQ(b.close, q.price);
    EXPECT_EQ(b.open, q.price);
    EXPECT_EQ(b.market_cap, q.market_cap);
    EXPECT_EQ(b.volume, q.volume_24h);
    (recent ? found_raw : found_hourly) += 1;
  }
  EXPECT_EQ(found_raw, 4u * 361);
  EXPECT_GT(found_hourly, 4u * 400);

  auto latest = (*store)->latest();
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 4u) << "one latest document per coin and currency";
  for (const auto& q : *latest) {
    EXPECT_EQ(q.last_updated_ms, now);
    if (q.id == "ethereum" && q.vs_currency == "eur") {
      EXPECT_EQ(q.image, "https://example.com/eth.png");
    }
  }
  // The old table is gone and the next cycle continues the same history.
  std::vector<model::Quote> next = {observation("bitcoin", "usd", now + kMinuteMs, 7.0)};
  ASSERT_EQ(*(*store)->insert(next), 1u);
  store->reset();
  auto reopened = SqliteQuoteStore::open(path);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->stats().migrated_rows, 0u) << "migrated once";
  auto hourly = (*reopened)->chart(
      ChartQuery{"bitcoin", "usd", now - 20 * kDayMs, now + kMinuteMs, Granularity::Hourly});
  ASSERT_TRUE(hourly);
  EXPECT_GE(hourly->buckets.size(), 20u * 24);
  EXPECT_EQ(hourly->latest->price, 7.0);
}

}  // namespace
}  // namespace coinrelay::storage
