// The fetch planner on its own: given a configuration, the calls it plans cycle after cycle (on
// a ManualClock's slots); given answers, the quotes it assembles, with the fetch time of each
// group of fields. No server: the answers are made here.

#include "pipeline/fetch_planner.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "coingecko/simple_price_parser.h"
#include "common/clock.h"
#include "common/time_util.h"

namespace coinrelay::pipeline {
namespace {

using coingecko::CachePeriods;
using coingecko::CoinsList;
using coingecko::MarketsPage;
using coingecko::PriceRecord;
using coingecko::PricesPage;
using coingecko::PriceValues;
using coingecko::Strategy;
using std::chrono::seconds;

/// A coins/markets record of coin `rank` in `vs`, every field set.
model::Quote marketQuote(const std::string& id, int64_t rank, const std::string& vs,
                         int64_t fetched_ms, int64_t last_updated_ms = 1'718'184'662'118) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = "Coin " + id;
  q.vs_currency = vs;
  q.last_updated_ms = last_updated_ms;
  q.fetched_ms = fetched_ms;
  q.price = 100;
  q.market_cap = 1e9;
  q.market_cap_rank = rank;
  q.volume_24h = 5e7;
  q.change_24h = 2;
  q.image = "https://example.com/" + id + ".png";
  q.fully_diluted_valuation = 2e9;
  q.high_24h = 104;
  q.low_24h = 97;
  q.price_change_24h = 1.96;
  q.market_cap_change_24h = 1.9e7;
  q.market_cap_change_percentage_24h = 1.96;
  q.circulating_supply = 1e7;
  q.total_supply = 2e7;
  q.max_supply = 2e7;
  q.ath = 150;
  q.ath_change_percentage = -33.3;
  q.ath_date_ms = 1'636'554'259'604;
  q.atl = 1;
  q.atl_change_percentage = 9900;
  q.atl_date_ms = 1'445'299'200'000;
  return q;
}

/// A page of coins `first`..`last` (1-based ranks) named c<rank>.
MarketsPage page(int first, int last, const std::string& vs, int64_t fetched_ms) {
  MarketsPage out;
  for (int rank = first; rank <= last; ++rank)
    out.quotes.push_back(marketQuote("c" + std::to_string(rank), rank, vs, fetched_ms));
  return out;
}

/// A /simple/price record in every currency of `vs`.
PriceRecord priceRecord(const std::string& id, int64_t last_updated_s, double price,
                        size_t currencies = 1) {
  PriceRecord record;
  record.id = id;
  record.last_updated_s = last_updated_s;
  for (size_t c = 0; c < currencies; ++c)
    record.values.push_back(PriceValues{price * (c + 1), 2e9, 6e7, 4});
  return record;
}

/// Answers every call of the cycle: each top page with the ranks it asks for (up to `universe`
/// coins), each ids page with the ids it asks for, each price batch with `price`.
struct Upstream {
  int universe = 100'000;
  double price = 110;
  int64_t last_updated_s = 1'718'184'700;
  std::vector<std::string> paths;

  PlannedCycle run(FetchPlanner& planner, SystemTime slot, int64_t fetched_ms) {
    planner.begin(slot);
    while (auto call = planner.next()) {
      paths.push_back(call->path);
      answer(planner, *call, fetched_ms);
    }
    return planner.finish();
  }

  void answer(FetchPlanner& planner, const PlannedCall& call, int64_t fetched_ms) {
    switch (call.kind) {
      case PlannedCall::Kind::TopPage: {
        const int page_number = std::stoi(call.path.substr(call.path.find("&page=") + 6));
        const int first = (page_number - 1) * call.per_page + 1;
        const int last = std::min(universe, page_number * call.per_page);
        planner.onMarkets(
            call, first > last ? MarketsPage{} : page(first, last, call.vs_currency, fetched_ms));
        return;
      }
      case PlannedCall::Kind::IdsPage:
      case PlannedCall::Kind::NewCoinsPage: {
        MarketsPage out;
        for (const auto& id : idsOf(call.path)) {
          if (id.starts_with("c"))
            out.quotes.push_back(marketQuote(id, 0, call.vs_currency, fetched_ms));
        }
        planner.onMarkets(call, std::move(out));
        return;
      }
      case PlannedCall::Kind::Prices: {
        PricesPage out;
        out.fetched_ms = fetched_ms;
        const size_t currencies = planner.config().vs_currencies.size();
        for (const auto& id : idsOf(call.path))
          out.records.push_back(priceRecord(id, last_updated_s, price, currencies));
        planner.onPrices(call, std::move(out));
        return;
      }
      case PlannedCall::Kind::Universe: {
        CoinsList list;
        for (int rank = 1; rank <= universe; ++rank)
          list.coins.push_back({"c" + std::to_string(rank), "c", "C"});
        planner.onList(call, std::move(list));
        return;
      }
    }
  }

  static std::vector<std::string> idsOf(const std::string& path) {
    const size_t from = path.find("ids=") + 4;
    std::vector<std::string> ids;
    std::string id;
    for (size_t i = from; i < path.size() && path[i] != '&'; ++i) {
      if (path[i] == ',') {
        ids.push_back(id);
        id.clear();
      } else {
        id.push_back(path[i]);
      }
    }
    ids.push_back(id);
    return ids;
  }
};

PlannerConfig mixOf(int top_n, std::vector<std::string> currencies = {"usd"}) {
  PlannerConfig config;
  config.top_n = top_n;
  config.vs_currencies = std::move(currencies);
  config.details_interval_s = 3600;
  config.strategy = Strategy::CheapestMix;
  return config;
}

const auto kStart = fromUnixMillis(1'750'000'020'000);  // a multiple of a minute

SystemTime at(int seconds_after_start) {
  return kStart + seconds(seconds_after_start);
}

int64_t ms(int seconds_after_start) {
  return toUnixMillis(at(seconds_after_start));
}

TEST(FetchPlannerTest, MarketsOnlyReadsTheFewestPagesEveryCycle) {
  PlannerConfig config;
  config.top_n = 260;  // 250 + 10: two pages
  config.ids = {"c3", "x-outside"};
  config.vs_currencies = {"usd", "eur"};
  FetchPlanner planner(config);
  Upstream upstream;
  PlannedCycle cycle = upstream.run(planner, at(0), ms(1));
  EXPECT_EQ(cycle.kind, CycleKind::Details);
  const std::vector<std::string> expected = {
      "/coins/markets?vs_currency=usd&order=market_cap_desc&per_page=250&page=1&sparkline=false",
      "/coins/markets?vs_currency=usd&order=market_cap_desc&per_page=250&page=2&sparkline=false",
      "/coins/markets?vs_currency=usd&ids=x-outside&order=market_cap_desc&per_page=250&page=1"
      "&sparkline=false",
      "/coins/markets?vs_currency=eur&order=market_cap_desc&per_page=250&page=1&sparkline=false",
      "/coins/markets?vs_currency=eur&order=market_cap_desc&per_page=250&page=2&sparkline=false",
      "/coins/markets?vs_currency=eur&ids=x-outside&order=market_cap_desc&per_page=250&page=1"
      "&sparkline=false",
  };
  EXPECT_EQ(upstream.paths, expected) << "c3 is in the top N: no call for it";
  EXPECT_EQ(cycle.quotes.size(), 520u) << "the second page's extra 240 coins are not kept";
  EXPECT_EQ(cycle.missing_ids, std::vector<std::string>{"x-outside"});
  for (const auto& quote : cycle.quotes) {
    ASSERT_EQ(quote->price_fetched_ms, ms(1));
    ASSERT_EQ(quote->details_fetched_ms, ms(1));
  }
  // Every cycle again, the same calls: nothing is cached without a cache period.
  upstream.paths.clear();
  EXPECT_EQ(upstream.run(planner, at(60), ms(61)).kind, CycleKind::Details);
  EXPECT_EQ(upstream.paths, expected);
}

TEST(FetchPlannerTest, TheMixReadsDetailsHourlyAndPricesInBatchesOf515InEveryCurrency) {
  FetchPlanner planner(mixOf(600, {"usd", "eur", "btc"}));
  Upstream upstream;
  std::vector<CycleKind> kinds;
  std::vector<size_t> calls;
  for (int cycle = 0; cycle <= 61; ++cycle) {
    upstream.paths.clear();
    kinds.push_back(upstream.run(planner, at(cycle * 60), ms(cycle * 60 + 1)).kind);
    calls.push_back(upstream.paths.size());
    if (cycle == 1) {
      ASSERT_EQ(upstream.paths.size(), 2u);
      EXPECT_TRUE(upstream.paths[0].starts_with("/simple/price?ids=c1,c2,"));
      EXPECT_EQ(Upstream::idsOf(upstream.paths[0]).size(), 515u);
      EXPECT_EQ(Upstream::idsOf(upstream.paths[1]).size(), 85u);
      EXPECT_NE(upstream.paths[0].find("&vs_currencies=usd,eur,btc&include_market_cap=true"
                                       "&include_24hr_vol=true&include_24hr_change=true"
                                       "&include_last_updated_at=true&precision=full"),
                std::string::npos)
          << upstream.paths[0];
    }
  }
  EXPECT_EQ(kinds[0], CycleKind::Details);
  EXPECT_EQ(calls[0], 9u) << "3 pages (250, 250, 100) x 3 currencies";
  for (int cycle = 1; cycle < 60; ++cycle) {
    EXPECT_EQ(kinds[cycle], CycleKind::Prices) << cycle;
    EXPECT_EQ(calls[cycle], 2u) << "600 coins: 2 batches, whatever the number of currencies";
  }
  EXPECT_EQ(kinds[60], CycleKind::Details) << "an hour after the last details";
  EXPECT_EQ(kinds[61], CycleKind::Prices);
  EXPECT_EQ(planner.trackedCount(), 600u);
}

TEST(FetchPlannerTest, APricedQuoteKeepsItsDetailsAndSaysHowOldEachGroupIs) {
  FetchPlanner planner(mixOf(2, {"usd", "eur"}));
  Upstream upstream;
  upstream.run(planner, at(0), ms(1));
  upstream.price = 160;  // above the ATH (150) and the 24 h high (104)
  PlannedCycle priced = upstream.run(planner, at(60), ms(62));
  ASSERT_EQ(priced.kind, CycleKind::Prices);
  ASSERT_EQ(priced.quotes.size(), 4u);
  const model::Quote& q = *priced.quotes[0];
  EXPECT_EQ(q.id, "c1");
  EXPECT_EQ(q.vs_currency, "usd");
  EXPECT_EQ(priced.quotes[1]->vs_currency, "eur");
  EXPECT_EQ(priced.quotes[1]->price, 320) << "each currency its own value";
  // Fresh: the group of /simple/price.
  EXPECT_EQ(q.price, 160);
  EXPECT_EQ(q.market_cap, 2e9);
  EXPECT_EQ(q.volume_24h, 6e7);
  EXPECT_EQ(q.change_24h, 4);
  EXPECT_EQ(q.last_updated_ms, 1'718'184'700'000);
  EXPECT_EQ(q.fetched_ms, ms(62));
  EXPECT_EQ(q.price_fetched_ms, ms(62));
  // From the details, as old as they are.
  EXPECT_EQ(q.details_fetched_ms, ms(1));
  EXPECT_EQ(q.name, "Coin c1");
  EXPECT_EQ(q.market_cap_rank, 1);
  EXPECT_EQ(q.circulating_supply, 1e7);
  EXPECT_EQ(q.market_cap_change_24h, 1.9e7);
  // Derived from the new price.
  EXPECT_NEAR(*q.price_change_24h, 160 - 160 / 1.04, 1e-9);
  EXPECT_NEAR(*q.fully_diluted_valuation, 2e9 * 1.6, 1e-3) << "moves with the price";
  EXPECT_EQ(q.high_24h, 160) << "the price now is within the last 24 h";
  EXPECT_EQ(q.low_24h, 97);
  EXPECT_EQ(q.ath, 160) << "a price above the ATH is the new ATH";
  EXPECT_EQ(q.ath_date_ms, q.last_updated_ms);
  EXPECT_EQ(q.ath_change_percentage, 0);
  EXPECT_NEAR(*q.atl_change_percentage, 15'900, 1e-9);
  EXPECT_EQ(q.atl, 1);
}

// The quotes of a cycle are shared with the sinks (the snapshot keeps them and serves them to
// readers on other threads): a later price makes a new quote and leaves the served one as it was.
TEST(FetchPlannerTest, AQuoteHandedOutNeverChangesWhenTheNextPriceArrives) {
  FetchPlanner planner(mixOf(1));
  Upstream upstream;
  const SharedQuote details = upstream.run(planner, at(0), ms(1)).quotes.at(0);
  upstream.price = 160;
  const SharedQuote priced = upstream.run(planner, at(60), ms(61)).quotes.at(0);
  EXPECT_NE(details, priced) << "a new price, a new quote";
  EXPECT_EQ(details->price, 100) << "the quote a reader holds keeps its price";
  EXPECT_EQ(details->high_24h, 104);
  EXPECT_EQ(details->fetched_ms, ms(1));
  EXPECT_EQ(priced->price, 160);
  upstream.price = 170;
  upstream.run(planner, at(120), ms(121));
  EXPECT_EQ(priced->price, 160);
}

TEST(FetchPlannerTest, AnObservationKeepsItsIdentityAcrossBothEndpoints) {
  FetchPlanner planner(mixOf(1));
  Upstream upstream;
  // Details: last_updated with milliseconds.
  EXPECT_EQ(upstream.run(planner, at(0), ms(1)).quotes[0]->last_updated_ms, 1'718'184'662'118);
  // /simple/price says the same second: the same observation, same identity.
  upstream.last_updated_s = 1'718'184'662;
  EXPECT_EQ(upstream.run(planner, at(60), ms(61)).quotes[0]->last_updated_ms, 1'718'184'662'118);
  // A new second: a new observation, in whole seconds.
  upstream.last_updated_s = 1'718'184'700;
  EXPECT_EQ(upstream.run(planner, at(120), ms(121)).quotes[0]->last_updated_ms, 1'718'184'700'000);
  // The next details read the same observation with its milliseconds: it keeps the identity it
  // was published under, so it is not published twice.
  model::Quote again = marketQuote("c1", 1, "usd", ms(3601), 1'718'184'700'456);
  planner.begin(at(3600));
  auto call = planner.next();
  ASSERT_TRUE(call);
  MarketsPage one;
  one.quotes.push_back(again);
  planner.onMarkets(*call, std::move(one));
  PlannedCycle details = planner.finish();
  ASSERT_EQ(details.kind, CycleKind::Details);
  EXPECT_EQ(details.quotes[0]->last_updated_ms, 1'718'184'700'000);
}

TEST(FetchPlannerTest, NoEndpointIsReadFasterThanItsCachePeriod) {
  PlannerConfig config = mixOf(10);
  config.cache = CachePeriods{.price_s = 60, .markets_s = 60, .list_s = 1800};
  FetchPlanner planner(config);
  Upstream upstream;
  std::string kinds;
  for (int cycle = 0; cycle < 9; ++cycle)
    kinds += toString(upstream.run(planner, at(cycle * 20), ms(cycle * 20)).kind)[0];
  EXPECT_EQ(kinds, "diipiipii") << "every 20 s, prices refreshed every 60 s: one cycle in three";

  PlannerConfig markets;
  markets.top_n = 10;
  markets.cache = CachePeriods{.price_s = 20, .markets_s = 45, .list_s = 300};
  FetchPlanner only(markets);
  kinds.clear();
  for (int cycle = 0; cycle < 7; ++cycle)
    kinds += toString(upstream.run(only, at(cycle * 20), ms(cycle * 20)).kind)[0];
  EXPECT_EQ(kinds, "diidiid") << "markets-only: /coins/markets at most every 45 s";
}

TEST(FetchPlannerTest, AFailedCallIsReadAgainNextCycleAndNothingIsLost) {
  FetchPlanner planner(mixOf(300, {"usd", "eur"}));
  Upstream upstream;
  // Details: eur's second page fails.
  planner.begin(at(0));
  int calls = 0;
  while (auto call = planner.next()) {
    if (++calls == 4)
      planner.onMarkets(*call, makeError(ErrorCode::Unavailable, "HTTP 503"));
    else
      upstream.answer(planner, *call, ms(1));
  }
  PlannedCycle partial = planner.finish();
  EXPECT_TRUE(partial.error);
  EXPECT_EQ(partial.failed_call, "/coins/markets eur page 2");
  EXPECT_EQ(partial.quotes.size(), 550u) << "the pages that succeeded are kept";
  // The details stay due: the next cycle reads them again rather than pricing half the set.
  EXPECT_EQ(upstream.run(planner, at(60), ms(61)).kind, CycleKind::Details);
  EXPECT_EQ(upstream.run(planner, at(120), ms(121)).kind, CycleKind::Prices);
}

TEST(FetchPlannerTest, AFailedPriceBatchLeavesThePricesDue) {
  PlannerConfig config = mixOf(300);
  config.cache.price_s = 60;  // cycles every 30 s: prices every other cycle
  FetchPlanner planner(config);
  Upstream upstream;
  std::string kinds;
  for (int cycle = 0; cycle < 4; ++cycle)
    kinds += toString(upstream.run(planner, at(cycle * 30), ms(cycle * 30)).kind)[0];
  EXPECT_EQ(kinds, "dipi");
  planner.begin(at(120));
  auto call = planner.next();
  ASSERT_TRUE(call);
  planner.onPrices(*call, makeError(ErrorCode::Unavailable, "timeout"));
  EXPECT_FALSE(planner.next()) << "one batch of 300 ids: nothing else to ask";
  PlannedCycle failed = planner.finish();
  EXPECT_EQ(failed.failed_call, "/simple/price");
  EXPECT_EQ(failed.calls, 1);
  EXPECT_EQ(failed.calls_ok, 0);
  EXPECT_EQ(upstream.run(planner, at(150), ms(150)).kind, CycleKind::Prices)
      << "read again at once, not a cache period later";
}

TEST(FetchPlannerTest, AFailureNoRetryCuresStopsTheCycle) {
  FetchPlanner planner(mixOf(600));
  planner.begin(at(0));
  auto call = planner.next();
  ASSERT_TRUE(call);
  planner.onMarkets(*call, makeError(ErrorCode::FailedPrecondition, "credits used up"));
  EXPECT_FALSE(planner.next()) << "no page after a refusal of the budget";
  EXPECT_EQ(planner.finish().calls, 1);
}

TEST(FetchPlannerTest, CoinsWithoutDetailsInACurrencyAreNotPublished) {
  FetchPlanner planner(mixOf(1, {"usd", "eur"}));
  planner.begin(at(0));
  auto usd = planner.next();
  planner.onMarkets(*usd, page(1, 1, "usd", ms(1)));
  auto eur = planner.next();
  planner.onMarkets(*eur, MarketsPage{});  // answered, but without the coin
  planner.finish();
  Upstream upstream;
  upstream.universe = 1;
  PlannedCycle priced = upstream.run(planner, at(60), ms(61));
  ASSERT_EQ(priced.quotes.size(), 1u);
  EXPECT_EQ(priced.quotes[0]->vs_currency, "usd");
  EXPECT_EQ(priced.without_details, 1u) << "eur has no details to complete the quote with";
}

TEST(FetchPlannerTest, ListedIdsAreTrackedAndUnknownOnesReported) {
  PlannerConfig config = mixOf(2);
  config.ids = {"c1", "c7", "gone"};
  FetchPlanner planner(config);
  Upstream upstream;
  PlannedCycle details = upstream.run(planner, at(0), ms(1));
  EXPECT_EQ(details.missing_ids, std::vector<std::string>{"gone"});
  EXPECT_EQ(planner.trackedCount(), 3u) << "c1, c2 ranked; c7 listed";
  upstream.paths.clear();
  upstream.run(planner, at(60), ms(61));
  ASSERT_EQ(upstream.paths.size(), 1u);
  EXPECT_EQ(Upstream::idsOf(upstream.paths[0]), (std::vector<std::string>{"c1", "c2", "c7"}));
}

TEST(FetchPlannerTest, ALastPageShorterThanOthersIsNotTheEndOfTheUniverse) {
  // The top 600 of 700 coins: the third page has 200 coins, of which 100 are needed.
  FetchPlanner planner(mixOf(600));
  Upstream upstream;
  upstream.universe = 700;
  upstream.run(planner, at(0), ms(0));
  EXPECT_FALSE(planner.wholeUniverse());
  upstream.paths.clear();
  upstream.run(planner, at(60), ms(60));
  EXPECT_EQ(upstream.paths.size(), 2u) << "prices only, no /coins/list";
  // The top 800 of the same 700 coins is all of them.
  FetchPlanner all(mixOf(800));
  upstream.run(all, at(0), ms(0));
  EXPECT_TRUE(all.wholeUniverse());
  EXPECT_EQ(all.trackedCount(), 700u);
}

TEST(FetchPlannerTest, AWholeUniverseIsWatchedThroughTheCoinsList) {
  PlannerConfig config = mixOf(1000, {"usd", "eur"});
  config.cache.list_s = 1800;
  FetchPlanner planner(config);
  Upstream upstream;
  upstream.universe = 300;  // the ranking ends before the top 1000
  upstream.run(planner, at(0), ms(1));
  EXPECT_TRUE(planner.wholeUniverse());
  EXPECT_EQ(planner.trackedCount(), 300u);
  upstream.paths.clear();
  upstream.run(planner, at(60), ms(61));
  EXPECT_EQ(upstream.paths.size(), 1u) << "the details read the universe: no /coins/list yet";

  // 30 minutes later the universe is due: c300 left it, c301 and c302 joined.
  upstream.paths.clear();
  planner.begin(at(1800));
  std::vector<std::string> new_ids;
  while (auto call = planner.next()) {
    upstream.paths.push_back(call->path);
    if (call->kind == PlannedCall::Kind::Universe) {
      CoinsList list;
      for (int rank = 1; rank <= 302; ++rank) {
        if (rank != 300)
          list.coins.push_back({"c" + std::to_string(rank), "c", "C"});
      }
      planner.onList(*call, std::move(list));
    } else {
      upstream.answer(planner, *call, ms(1801));
    }
  }
  PlannedCycle cycle = planner.finish();
  ASSERT_EQ(upstream.paths.size(), 4u);
  EXPECT_EQ(upstream.paths[0], "/coins/list");
  EXPECT_EQ(upstream.paths[1],
            "/coins/markets?vs_currency=usd&ids=c301,c302&order=market_cap_desc&per_page=250"
            "&page=1&sparkline=false")
      << "the details of the new coins at once";
  EXPECT_TRUE(upstream.paths[2].starts_with("/coins/markets?vs_currency=eur&ids=c301,c302"));
  const auto priced = Upstream::idsOf(upstream.paths[3]);
  EXPECT_EQ(priced.size(), 299u) << "the others' prices; c300 no longer, the new ones just read";
  EXPECT_EQ(std::count(priced.begin(), priced.end(), "c300"), 0);
  EXPECT_EQ(planner.trackedCount(), 301u);
  EXPECT_EQ(cycle.quotes.size(), 602u) << "301 coins x 2 currencies";
  upstream.paths.clear();
  upstream.run(planner, at(1860), ms(1861));
  EXPECT_EQ(upstream.paths.size(), 1u) << "the universe is not read again before 30 minutes";
}

TEST(FetchPlannerTest, TheBudgetAndThePlannerAgreeOnTheCallsOfAPeriod) {
  // What `coinrelay budget` counts is what the planner asks for: over one period of the details
  // (10 cycles here, to keep the test fast), the calls of 10 average cycles.
  for (const int top_n : {50, 1000, 5000}) {
    for (const auto& currencies :
         {std::vector<std::string>{"usd"}, std::vector<std::string>{"usd", "eur", "btc"}}) {
      coingecko::TrackedShape shape;
      shape.top_n = top_n;
      shape.currencies = static_cast<int>(currencies.size());
      const auto cost = coingecko::cheapestSchedule(shape, {}, 600, 60);
      PlannerConfig config = mixOf(top_n, currencies);
      config.details_interval_s = 600;
      config.strategy = cost.strategy;
      FetchPlanner planner(config);
      Upstream upstream;
      for (int cycle = 0; cycle < 10; ++cycle)
        upstream.run(planner, at(cycle * 60), ms(cycle * 60));
      EXPECT_NEAR(static_cast<double>(upstream.paths.size()), cost.perCycle() * 10, 0.01)
          << "top " << top_n << " x " << currencies.size() << " currencies, "
          << coingecko::toString(cost.strategy);
    }
  }
}

TEST(SimplePriceParserTest, ReadsEveryCurrencyAndSkipsBrokenRecords) {
  simdjson::dom::parser parser;
  auto page = coingecko::parseSimplePrice(
      R"({"bitcoin":{"usd":67412,"usd_market_cap":1.3e12,"usd_24h_vol":2.8e10,)"
      R"("usd_24h_change":1.2,"eur":62655,"eur_market_cap":null,"last_updated_at":1718184665},)"
      R"("broken":{"usd":"67412","last_updated_at":1718184665},)"
      R"("stale":{"usd":1,"last_updated_at":null}})",
      {"usd", "eur"}, 42, parser);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->fetched_ms, 42);
  const auto& btc = page->records[0];
  EXPECT_EQ(btc.id, "bitcoin");
  EXPECT_EQ(btc.last_updated_s, 1'718'184'665);
  ASSERT_EQ(btc.values.size(), 2u);
  EXPECT_EQ(btc.values[0].price, 67412);
  EXPECT_EQ(btc.values[0].change_24h, 1.2);
  EXPECT_EQ(btc.values[1].price, 62655);
  EXPECT_FALSE(btc.values[1].market_cap) << "null stays null";
  EXPECT_FALSE(btc.values[1].volume_24h) << "absent is null";
  EXPECT_EQ(page->invalid_items, 2u);
  EXPECT_EQ(page->first_invalid_reason, "broken: field 'usd' has the wrong type");

  EXPECT_TRUE(coingecko::parseSimplePrice("{}", {"usd"}, 0, parser)) << "unknown ids: {}";
  auto html = coingecko::parseSimplePrice("<html>", {"usd"}, 0, parser);
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, ErrorCode::Unavailable);
  EXPECT_FALSE(coingecko::parseSimplePrice("[1]", {"usd"}, 0, parser));
}

TEST(CoinsListParserTest, ReadsIdsSymbolsAndNames) {
  simdjson::dom::parser parser;
  auto list = coingecko::parseCoinsList(
      R"([{"id":"bitcoin","symbol":"BTC","name":"Bitcoin"},{"id":"","symbol":"x","name":"X"},)"
      R"({"symbol":"y","name":"Y"},3])",
      parser);
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->coins.size(), 1u);
  EXPECT_EQ(list->coins[0].id, "bitcoin");
  EXPECT_EQ(list->coins[0].symbol, "btc");
  EXPECT_EQ(list->invalid_items, 3u);
  EXPECT_FALSE(coingecko::parseCoinsList(R"({"error":"x"})", parser));
}

}  // namespace
}  // namespace coinrelay::pipeline
