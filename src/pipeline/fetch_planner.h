#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coingecko/budget.h"
#include "coingecko/coins_list_parser.h"
#include "coingecko/markets_parser.h"
#include "coingecko/simple_price_parser.h"
#include "common/result.h"
#include "common/time_util.h"
#include "config/config.h"
#include "model/quote.h"

namespace coinrelay::pipeline {

/// What one cycle of the planner fetches.
enum class CycleKind {
  Idle,     ///< every endpoint's data is younger than its cache period: nothing is due
  Details,  ///< /coins/markets for the tracked set: ranking, every field, prices included
  Prices,   ///< /simple/price for the tracked set, and /coins/list when the universe is due
};
const char* toString(CycleKind kind);

/// One request the planner asks the client to send.
struct PlannedCall {
  enum class Kind {
    TopPage,       ///< /coins/markets, one page of the ranking in one currency
    IdsPage,       ///< /coins/markets, listed ids outside the top N, in one currency
    NewCoinsPage,  ///< /coins/markets, coins new in the universe, in one currency
    Prices,        ///< /simple/price, a batch of tracked ids in every currency
    Universe,      ///< /coins/list
  };
  Kind kind = Kind::TopPage;
  std::string path;         ///< what follows the base URL, query included
  std::string vs_currency;  ///< /coins/markets: its one currency
  int per_page = 0;         ///< TopPage: a shorter answer means the universe ends there
  const char* endpoint() const;
};

/// What the planner works from.
struct PlannerConfig {
  int top_n = 50;
  std::vector<std::string> ids;  ///< tracked besides the top N
  std::vector<std::string> vs_currencies{"usd"};
  int details_interval_s = 3600;
  coingecko::CachePeriods cache;
  coingecko::Strategy strategy = coingecko::Strategy::MarketsOnly;
};

using model::SharedQuote;

/// What one cycle brought.
struct PlannedCycle {
  CycleKind kind = CycleKind::Idle;
  /// One quote per coin and currency fetched this cycle, with the fetch time of each group of
  /// fields (price_fetched, details_fetched) set.
  std::vector<SharedQuote> quotes;
  int calls = 0;  ///< requests answered or given up (retries not counted)
  int calls_ok = 0;
  size_t invalid = 0;  ///< upstream items skipped as invalid
  std::string first_invalid;
  std::optional<Error> error;            ///< the first failure; the quotes above stay valid
  std::string failed_call;               ///< "/coins/markets usd page 2"
  std::vector<std::string> missing_ids;  ///< listed ids the upstream does not know
  size_t without_details = 0;            ///< priced coins not published: no details yet
};

/// Plans each fetch cycle from the cheapest mix of endpoints and assembles the quotes from their
/// answers. With Strategy::MarketsOnly every cycle reads every field from /coins/markets (one page
/// per 250 coins per currency). With Strategy::CheapestMix:
/// - a details cycle, every details_interval_s (and whenever the last one was incomplete), reads
///   /coins/markets: the ranking (who is in the top N), the listed ids, every field;
/// - the cycles in between read the prices of the tracked coins from /simple/price, 515 coins
///   and every currency per call, and complete each quote from the coin's last details; the
///   fields that follow from the price (24 h change in currency, FDV, distance from ATH/ATL,
///   24 h high/low and ATH/ATL when the price passes them) are derived from it;
/// - when the top N reaches the end of the universe, /coins/list is read at its cache period:
///   coins that left it stop being tracked, coins new in it get their details from
///   /coins/markets at once.
/// No endpoint is read more often than its cache period. The planner sends nothing itself:
/// next() says what to send, the on*() calls hand it the answers, takeReady() gives the quotes
/// that no later answer of the cycle can replace (a prices cycle's after each answer, a details
/// cycle's once a currency's pages are read), finish() the rest.
/// Threading: one thread (the fetch loop's).
class FetchPlanner {
 public:
  explicit FetchPlanner(PlannerConfig config);

  /// Starts the cycle of the schedule slot beginning at `slot`: decides what it fetches.
  CycleKind begin(SystemTime slot);
  /// The next call of the cycle; nullopt when the cycle is done, or when a failure that no
  /// retry cures this cycle (a key problem, the budget, the lead) stopped it.
  std::optional<PlannedCall> next();
  /// The outcome of a call next() gave, in order.
  void onMarkets(const PlannedCall& call, Result<coingecko::MarketsPage> page);
  void onPrices(const PlannedCall& call, Result<coingecko::PricesPage> page);
  void onList(const PlannedCall& call, Result<coingecko::CoinsList> list);
  /// The quotes of the cycle that are final, taken out of it: every one a later answer of this
  /// cycle cannot replace, so they can be delivered before the cycle ends.
  std::vector<SharedQuote> takeReady();
  /// Ends the cycle: its quotes not taken by takeReady(); what it learnt (ranking, details,
  /// universe) stays for the next.
  PlannedCycle finish();

  const PlannerConfig& config() const { return config_; }
  /// Coins whose prices a prices cycle asks for (the ranking, listed ids, coins new in the
  /// universe).
  size_t trackedCount() const { return top_.size() + listed_.size(); }
  /// Whether the last ranking ended before top_n: the top N is the whole universe.
  bool wholeUniverse() const { return whole_universe_; }

 private:
  struct Known {
    SharedQuote quote;         ///< the coin's last quote in one currency (details included)
    bool from_prices = false;  ///< its last_updated came from /simple/price (whole seconds)
  };
  enum class Phase { Top, Ids, Universe, NewCoins, Batches, Done };

  std::optional<PlannedCall> nextDetails();
  std::optional<PlannedCall> nextPrices();
  void failed(const PlannedCall& call, const Error& error);
  /// Counts an answered call and the items of it that were unusable.
  void answered(size_t invalid_items, const std::string& first_invalid_reason);
  /// A quote read from /coins/markets: every field fresh.
  void takeMarkets(model::Quote quote);
  void emit(SharedQuote quote);
  void finishDetails();
  void rebuildTracked();
  bool mix() const { return config_.strategy == coingecko::Strategy::CheapestMix; }

  PlannerConfig config_;

  // What the planner knows across cycles.
  std::vector<std::string> top_;     ///< the last ranking, in rank order
  std::vector<std::string> listed_;  ///< listed ids outside the top N that the upstream knows
  std::unordered_set<std::string> tracked_;
  std::unordered_map<std::string, Known> known_;  ///< by id and currency (mix only)
  std::optional<int64_t> details_at_ms_;          ///< slots of the last complete reads
  std::optional<int64_t> prices_at_ms_;
  std::optional<int64_t> universe_at_ms_;
  bool whole_universe_ = false;

  // The cycle in progress.
  int64_t slot_ms_ = 0;
  PlannedCycle cycle_;
  std::unordered_map<std::string, size_t> emitted_;  ///< key -> index in cycle_.quotes
  size_t ready_ = 0;  ///< how many of cycle_.quotes, from the first, are final
  bool stopped_ = false;
  Phase phase_ = Phase::Done;
  size_t currency_ = 0;
  int page_ = 0;
  bool page_short_ = false;  ///< this currency's ranking ended before top_n
  size_t taken_in_currency_ = 0;
  std::unordered_set<std::string> top_in_currency_;
  std::vector<std::string> wanted_;  ///< ids (listed or new coins) of the pages to come
  size_t wanted_at_ = 0;
  std::vector<std::string> ranking_;  ///< this details cycle's ranking, first currency first
  std::unordered_set<std::string> in_ranking_;
  std::unordered_set<std::string> listed_found_;
  bool ranking_complete_ = true;
  bool ids_complete_ = true;
  bool universe_ended_ = false;
  bool universe_due_ = false;
  bool prices_due_ = false;
  bool prices_complete_ = true;
  std::vector<std::string> new_coins_;
  std::unordered_set<std::string> from_markets_;  ///< ids read from /coins/markets this cycle
  std::vector<std::string> batch_ids_;
  size_t batch_at_ = 0;
};

/// The planner configuration of a fetcher.
PlannerConfig plannerConfigFor(const config::UpstreamConfig& upstream,
                               const coingecko::CachePeriods& cache, coingecko::Strategy strategy);

}  // namespace coinrelay::pipeline
