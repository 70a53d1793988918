// CoinGecko's chart endpoints answered from coinrelay's history: each range class validated
// against the response schemas of CoinGecko's OpenAPI description (a real JSON Schema validator),
// with the point spacing, alignment and units CoinGecko documents for it, and values checked
// against the observations themselves.

#include <cmath>
#include <future>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/chart_routes.h"
#include "api/miss_fetcher.h"
#include "common/clock.h"
#include "storage/sqlite_quote_store.h"
#include "support/api_requests.h"
#include "support/fake_http_server.h"
#include "support/json_schema.h"
#include "support/temp_dir.h"

namespace coinrelay::api {
namespace {

using testing::bodyOf;
using testing::get;

using storage::kDayMs;
using storage::kHourMs;
using storage::kMinuteMs;

constexpr int64_t kMinutes5 = 5 * kMinuteMs;
// "Now" of these tests: not aligned on any window.
constexpr int64_t kNow = 1'718'150'400'000 + 400 * kDayMs + 7 * kHourMs + 13 * kMinuteMs;

const std::string kSchemas = COINRELAY_SOURCE_DIR "/tests/fixtures/coingecko/openapi/";

int64_t windowOf(int64_t t, int64_t width) {
  return t - t % width;
}

double priceAt(int64_t t_ms) {
  return 60'000.0 + std::sin(static_cast<double>(t_ms) / 8.64e7) * 5'000 +
         static_cast<double>(t_ms % 104'729) / 100.0 + 0.123456789;
}

/// A year and a month of bitcoin in usd: every 30 minutes until two days ago, then every minute
/// (as a 60 s fetch schedule writes it), a day per insert.
class ChartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::SqliteQuoteStore::open(dir_.path("h.db"));
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(store).value();
    std::vector<model::Quote> day;
    auto flush = [&] {
      ASSERT_TRUE(store_->insert(day));
      day.clear();
    };
    for (int64_t t = kNow - 400 * kDayMs; t <= kNow;
         t += t < kNow - 2 * kDayMs ? 30 * kMinuteMs : kMinuteMs) {
      observed_.push_back(t);
      model::Quote q;
      q.id = "bitcoin";
      q.symbol = "btc";
      q.name = "Bitcoin";
      q.vs_currency = "usd";
      q.last_updated_ms = t;
      q.fetched_ms = t + 4'000;
      q.price = priceAt(t);
      q.market_cap = priceAt(t) * 19'700'000;
      q.volume_24h = priceAt(t) * 400'000;
      day.push_back(q);
      if (day.size() >= 1440)
        flush();
    }
    flush();
  }

  /// The aggregate of the observations in [from, to): first, highest, lowest, last price.
  std::array<double, 4> expected(int64_t from, int64_t to) const {
    std::array<double, 4> ohlc{NAN, -INFINITY, INFINITY, NAN};
    for (auto it = std::lower_bound(observed_.begin(), observed_.end(), from);
         it != observed_.end() && *it < to; ++it) {
      if (std::isnan(ohlc[0]))
        ohlc[0] = priceAt(*it);
      ohlc[1] = std::max(ohlc[1], priceAt(*it));
      ohlc[2] = std::min(ohlc[2], priceAt(*it));
      ohlc[3] = priceAt(*it);
    }
    return ohlc;
  }

  /// Validates market_chart bodies and checks every series: [ms, value] pairs, windows of
  /// `step` ending on multiples of it inside [from, to], then the newest observation.
  void checkMarketChart(const std::string& schema, const std::string& body, int64_t step,
                        int64_t from, int64_t to) {
    answers_[schema].push_back(body);
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(body);
    for (const char* name : {"prices", "market_caps", "total_volumes"}) {
      SCOPED_TRACE(name);
      std::vector<std::pair<int64_t, double>> points;
      for (simdjson::dom::element pair : simdjson::dom::array(doc[name])) {
        simdjson::dom::array items = pair;
        ASSERT_EQ(items.size(), 2u) << "[timestamp, value]";
        int64_t t = 0;
        ASSERT_EQ(items.at(0).get_int64().get(t), simdjson::SUCCESS) << "integer ms timestamps";
        points.emplace_back(t, double(items.at(1)));
      }
      const int64_t span = to - from;
      ASSERT_GE(points.size(), static_cast<size_t>(span / step)) << body.substr(0, 300);
      ASSERT_LE(points.size(), static_cast<size_t>(span / step) + 2);
      for (size_t i = 0; i < points.size(); ++i) {
        const auto& [t, value] = points[i];
        EXPECT_GT(t, 1'000'000'000'000) << "milliseconds, not seconds";
        EXPECT_GE(t, from);
        EXPECT_LE(t, to);
        const bool window_end = t % step == 0;  // daily: 00:00 UTC
        if (i + 1 < points.size()) {
          EXPECT_TRUE(window_end) << "every point but the last ends a window: " << t;
          if (i > 0) {
            EXPECT_EQ(t - points[i - 1].first, step) << i;
          }
        } else {
          EXPECT_GT(t - points[i - 1].first, 0);
          EXPECT_LE(t - points[i - 1].first, step);
        }
        if (std::string_view(name) != "prices")
          continue;
        // A window's point is its last observation's price; the newest observation's own.
        EXPECT_DOUBLE_EQ(value, window_end ? expected(t - step, t)[3] : priceAt(t)) << t;
      }
    }
  }

  /// Validates ohlc bodies: [ms, open, high, low, close] candles of `width` stamped with their
  /// close time, the last one (still open) with its newest observation.
  void checkOhlc(const std::string& body, int64_t width, int64_t from, int64_t to) {
    answers_["CoinsOHLC.json"].push_back(body);
    simdjson::dom::parser parser;
    simdjson::dom::array candles = parser.parse(body);
    const int64_t span = to - from;
    ASSERT_GE(candles.size(), static_cast<size_t>(span / width)) << body.substr(0, 300);
    ASSERT_LE(candles.size(), static_cast<size_t>(span / width) + 2);
    int64_t previous = 0;
    size_t index = 0;
    for (simdjson::dom::element candle : candles) {
      simdjson::dom::array items = candle;
      ASSERT_EQ(items.size(), 5u) << "[timestamp, open, high, low, close]";
      int64_t t = 0;
      ASSERT_EQ(items.at(0).get_int64().get(t), simdjson::SUCCESS);
      const double open = items.at(1), high = items.at(2), low = items.at(3), close = items.at(4);
      EXPECT_LE(low, std::min(open, close));
      EXPECT_GE(high, std::max(open, close));
      EXPECT_GE(t, from);
      EXPECT_LE(t, to);
      const bool last = ++index == candles.size();
      // Closed candles are stamped with their close time, the open one with its newest
      // observation.
      const bool closed = t % width == 0;
      EXPECT_TRUE(closed || last) << t;
      if (previous != 0 && closed) {
        EXPECT_EQ(t - previous, width) << t;
      }
      if (previous != 0 && !closed) {
        EXPECT_LE(t - previous, width) << t;
      }
      const auto want = expected(closed ? t - width : windowOf(t, width), closed ? t : t + 1);
      EXPECT_DOUBLE_EQ(open, want[0]) << t;
      EXPECT_DOUBLE_EQ(high, want[1]) << t;
      EXPECT_DOUBLE_EQ(low, want[2]) << t;
      EXPECT_DOUBLE_EQ(close, want[3]) << t;
      previous = t;
    }
  }

  /// Every answer checked is validated against its schema, in one run of the validator each.
  void TearDown() override {
    for (const auto& [schema, bodies] : answers_) {
      auto verdict =
          testing::validateAgainstSchema(COINRELAY_SOURCE_DIR, kSchemas + schema, bodies);
      EXPECT_EQ(verdict.exit_code, 0) << schema << ": " << verdict.output;
      const std::string all = std::to_string(bodies.size());
      EXPECT_NE(verdict.output.find(all + " of " + all + " documents valid"), std::string::npos)
          << verdict.output;
    }
  }

  testing::TempDir dir_;
  std::map<std::string, std::vector<std::string>> answers_;  ///< by schema file
  std::unique_ptr<storage::SqliteQuoteStore> store_;
  std::vector<int64_t> observed_;
  ManualClock clock_{fromUnixMillis(kNow)};
};

class NativeChartTest : public ChartTest {
 protected:
  void SetUp() override {
    ChartTest::SetUp();
    native_ = std::make_unique<ChartRoutes>(store_.get(), nullptr, ChartRoutes::Options{}, clock_);
  }
  std::string ask(const std::string& path, std::map<std::string, std::string> query,
                  int expected_status = 200) {
    auto reply =
        testing::awaitReply(native_->handle(get("/api/v3/coins/bitcoin" + path, std::move(query))));
    EXPECT_EQ(reply.status, expected_status) << bodyOf(reply);
    return bodyOf(reply);
  }
  std::unique_ptr<ChartRoutes> native_;
};

TEST_F(NativeChartTest, MarketChartHasCoinGeckoGranularityForEveryRangeClass) {
  // 1 day: 5-minutely; 2-90 days: hourly; beyond: daily at 00:00 UTC.
  checkMarketChart("CoinsMarketChart.json",
                   ask("/market_chart", {{"vs_currency", "usd"}, {"days", "1"}}), kMinutes5,
                   kNow - kDayMs, kNow);
  checkMarketChart("CoinsMarketChart.json",
                   ask("/market_chart", {{"vs_currency", "usd"}, {"days", "2"}}), kHourMs,
                   kNow - 2 * kDayMs, kNow);
  checkMarketChart("CoinsMarketChart.json",
                   ask("/market_chart", {{"vs_currency", "USD"}, {"days", "90"}}), kHourMs,
                   kNow - 90 * kDayMs, kNow);
  checkMarketChart("CoinsMarketChart.json",
                   ask("/market_chart", {{"vs_currency", "usd"}, {"days", "365"}}), kDayMs,
                   kNow - 365 * kDayMs, kNow);
  // An explicit interval wins.
  checkMarketChart(
      "CoinsMarketChart.json",
      ask("/market_chart", {{"vs_currency", "usd"}, {"days", "30"}, {"interval", "daily"}}), kDayMs,
      kNow - 30 * kDayMs, kNow);
  checkMarketChart(
      "CoinsMarketChart.json",
      ask("/market_chart", {{"vs_currency", "usd"}, {"days", "2"}, {"interval", "5m"}}), kMinutes5,
      kNow - 2 * kDayMs, kNow);
}

TEST_F(NativeChartTest, MarketChartRangeFollowsTheRangeAndItsDistanceFromNow) {
  const auto seconds = [](int64_t ms) { return std::to_string(ms / 1000); };
  // Within the last day: 5-minutely.
  checkMarketChart(
      "CoinsMarketChartRange.json",
      ask("/market_chart/range",
          {{"vs_currency", "usd"}, {"from", seconds(kNow - 20 * kHourMs)}, {"to", seconds(kNow)}}),
      kMinutes5, kNow - 20 * kHourMs, kNow);
  // A day long ago, and up to 90 days: hourly.
  const int64_t from = kNow - 40 * kDayMs;
  checkMarketChart(
      "CoinsMarketChartRange.json",
      ask("/market_chart/range",
          {{"vs_currency", "usd"}, {"from", seconds(from)}, {"to", seconds(from + kDayMs)}}),
      kHourMs, from, from + kDayMs);
  checkMarketChart("CoinsMarketChartRange.json",
                   ask("/market_chart/range", {{"vs_currency", "usd"},
                                               {"from", seconds(kNow - 80 * kDayMs)},
                                               {"to", seconds(kNow - 10 * kDayMs)}}),
                   kHourMs, kNow - 80 * kDayMs, kNow - 10 * kDayMs);
  // Beyond 90 days: daily; ISO dates are accepted as CoinGecko does.
  checkMarketChart("CoinsMarketChartRange.json",
                   ask("/market_chart/range",
                       {{"vs_currency", "usd"}, {"from", "2024-08-01"}, {"to", "2025-01-15"}}),
                   kDayMs, 1'722'470'400'000, 1'736'899'200'000);
}

TEST_F(NativeChartTest, OhlcCandlesAreCoinGeckosWidthsForEveryRangeClass) {
  // 1-2 days: 30 minutes; 3-30 days: 4 hours; 31 days and beyond: 4 days.
  checkOhlc(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "1"}}), 30 * kMinuteMs, kNow - kDayMs,
            kNow);
  checkOhlc(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "7"}}), 4 * kHourMs, kNow - 7 * kDayMs,
            kNow);
  checkOhlc(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "30"}}), 4 * kHourMs, kNow - 30 * kDayMs,
            kNow);
  checkOhlc(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "365"}}), 4 * kDayMs,
            kNow - 365 * kDayMs, kNow);
  checkOhlc(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "90"}, {"interval", "daily"}}), kDayMs,
            kNow - 90 * kDayMs, kNow);
  const int64_t from = kNow - 20 * kDayMs;
  checkOhlc(ask("/ohlc/range", {{"vs_currency", "usd"},
                                {"from", std::to_string(from / 1000)},
                                {"to", std::to_string((from + 3 * kDayMs) / 1000)},
                                {"interval", "hourly"}}),
            kHourMs, from, from + 3 * kDayMs);
}

TEST_F(NativeChartTest, PrecisionRoundsPricesAndBadRequestsGetCoinGeckosErrors) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(
      ask("/market_chart", {{"vs_currency", "usd"}, {"days", "1"}, {"precision", "2"}}));
  for (simdjson::dom::element pair : simdjson::dom::array(doc["prices"])) {
    const double price = pair.at(1);
    EXPECT_DOUBLE_EQ(price, std::round(price * 100) / 100);
  }
  const double cap = doc["market_caps"].at(0).at(1);
  EXPECT_NE(cap, std::round(cap * 100) / 100) << "precision is for prices only";

  EXPECT_EQ(ask("/market_chart", {{"days", "1"}}, 400),
            R"({"error":"Missing parameter vs_currency"})");
  EXPECT_EQ(ask("/market_chart", {{"vs_currency", "usd"}}, 400),
            R"({"error":"Missing parameter days"})");
  EXPECT_EQ(ask("/market_chart", {{"vs_currency", "usd"}, {"days", "x"}}, 400),
            R"({"error":"invalid days"})");
  EXPECT_EQ(ask("/market_chart", {{"vs_currency", "usd"}, {"days", "1"}, {"interval", "1m"}}, 400),
            R"({"error":"invalid interval"})");
  EXPECT_EQ(ask("/market_chart", {{"vs_currency", "usd"}, {"days", "1"}, {"precision", "19"}}, 400),
            R"({"error":"invalid precision"})");
  EXPECT_EQ(ask("/ohlc", {{"vs_currency", "usd"}, {"days", "3"}}, 400),
            R"({"error":"invalid days"})");
  EXPECT_EQ(ask("/ohlc/range", {{"vs_currency", "usd"}, {"from", "1"}, {"to", "2"}}, 400),
            R"({"error":"Missing parameter interval"})");
  EXPECT_EQ(ask("/market_chart/range", {{"vs_currency", "usd"}, {"from", "5"}, {"to", "2"}}, 400),
            R"({"error":"from is after to"})");
  auto untracked = testing::awaitReply(native_->handle(
      get("/api/v3/coins/dogecoin/market_chart", {{"vs_currency", "usd"}, {"days", "1"}})));
  EXPECT_EQ(untracked.status, 404);
  EXPECT_NE(bodyOf(untracked).find("coin not tracked by coinrelay: dogecoin"), std::string::npos);
}

TEST_F(NativeChartTest, AnswersAreComputedOnceWhileTheHistoryIsUnchanged) {
  const auto query =
      get("/api/v3/coins/bitcoin/market_chart", {{"vs_currency", "usd"}, {"days", "90"}});
  auto first = testing::awaitReply(native_->handle(query));
  auto second = native_->handle(query);
  EXPECT_FALSE(second.deferred) << "served from the cache on the HTTP thread";
  EXPECT_EQ(bodyOf(first), bodyOf(second));
  EXPECT_EQ(native_->stats().computed, 1u);
  std::vector<model::Quote> next(1);
  next[0].id = "bitcoin";
  next[0].symbol = "btc";
  next[0].name = "Bitcoin";
  next[0].vs_currency = "usd";
  next[0].last_updated_ms = kNow + 30'000;
  next[0].fetched_ms = kNow + 31'000;
  next[0].price = 1.0;
  ASSERT_TRUE(store_->insert(next));
  clock_.advance(std::chrono::minutes(1));
  auto third = testing::awaitReply(native_->handle(query));
  EXPECT_EQ(native_->stats().computed, 2u) << "a new observation makes a new answer";
  EXPECT_NE(bodyOf(third).find(std::to_string(kNow + 30'000) + ",1]]"), std::string::npos)
      << "ends with the new price";
}

// A range reaching before coinrelay's history is CoinGecko's to answer: relayed whole through
// the miss fetcher (its budget and cache), while ranges coinrelay holds cost no upstream call.
TEST_F(ChartTest, RangesBeforeTheHistoryAreRelayedWholeAndTheRestIsNative) {
  testing::FakeHttpServer upstream;
  upstream.answer(
      "GET /api/v3/coins/bitcoin/market_chart",
      {200, "application/json", R"({"prices":[[1,2]],"market_caps":[],"total_volumes":[]})"});
  config::UpstreamConfig config;
  config.base_url = upstream.url() + "/api/v3";
  MissFetcher misses(config, std::chrono::seconds(60), clock_);
  ChartRoutes routes(store_.get(), &misses, {}, clock_);
  auto relay = [&](std::map<std::string, std::string> query) {
    return bodyOf(testing::awaitReply(
        routes.handle(get("/api/v3/coins/bitcoin/market_chart", std::move(query)))));
  };
  const std::string upstream_body = R"({"prices":[[1,2]],"market_caps":[],"total_volumes":[]})";
  EXPECT_NE(relay({{"vs_currency", "usd"}, {"days", "365"}}), upstream_body);
  EXPECT_TRUE(upstream.log().empty()) << "a year is held: no upstream call";
  EXPECT_EQ(relay({{"vs_currency", "usd"}, {"days", "max"}}), upstream_body);
  EXPECT_EQ(relay({{"vs_currency", "usd"}, {"days", "1000"}}), upstream_body);
  EXPECT_EQ(relay({{"vs_currency", "usd"}, {"days", "1000"}}), upstream_body);
  EXPECT_EQ(upstream.log(),
            (std::vector<std::string>{
                "GET /api/v3/coins/bitcoin/market_chart?days=max&vs_currency=usd",
                "GET /api/v3/coins/bitcoin/market_chart?days=1000&vs_currency=usd"}))
      << "once per distinct query: the miss fetcher's cache";
  EXPECT_EQ(routes.stats().relayed, 3u);
}

}  // namespace
}  // namespace coinrelay::api
