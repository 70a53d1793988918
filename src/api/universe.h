#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/miss_fetcher.h"
#include "api/response_cache.h"
#include "coingecko/universe_parser.h"
#include "common/clock.h"

namespace coinrelay::api {

/// Every coin and currency CoinGecko knows, from `/coins/list` (with platforms) and
/// `/simple/supported_vs_currencies`, fetched through the relay (so through the budget and its
/// cache). It tells a nonexistent id (left out of a 200 answer, and never an upstream call) from
/// an existing one that is not tracked (a miss), checks currencies, resolves names and symbols,
/// and answers the two lists themselves.
///
/// Refreshed lazily: a use of a list older than `refresh` (never less than the list's cache
/// period) starts one background refresh and keeps using the old copy meanwhile; an idle
/// coinrelay costs nothing. Before the first answer arrives, it knows nothing (known() false)
/// and callers fall back to treating every id as a possible miss.
/// Threading: every method from any thread.
class Universe {
 public:
  struct Coins {
    std::vector<coingecko::ListedCoin> coins;  ///< sorted by id
    std::unordered_map<std::string, size_t> by_id;
    std::unordered_multimap<std::string, size_t> by_symbol;  ///< lower case
    std::unordered_multimap<std::string, size_t> by_name;    ///< lower case
    bool has_platforms = false;                              ///< every coin came with its platforms
    std::shared_ptr<const CachedResponse> list;              ///< id, symbol, name
    std::shared_ptr<const CachedResponse> list_with_platforms;  ///< null unless has_platforms
    const coingecko::ListedCoin* find(std::string_view id) const;
  };
  struct Currencies {
    std::unordered_set<std::string> codes;
    std::shared_ptr<const CachedResponse> list;  ///< CoinGecko's own answer, as it came
  };

  Universe(MissFetcher& relay, std::chrono::seconds refresh, const Clock& clock = systemClock());

  /// The coins, or null before the first answer. Starts a refresh when they are old.
  std::shared_ptr<const Coins> coins();
  /// The currencies, or null before the first answer. Starts a refresh when they are old.
  std::shared_ptr<const Currencies> currencies();
  /// Starts fetching both lists now (at start-up), unless a fetch is under way.
  void load();
  /// Installs lists directly (tests, and tools that already hold them).
  void setCoins(std::vector<coingecko::ListedCoin> coins);
  void setCurrencies(std::vector<std::string> codes, std::string body = {});

 private:
  /// What the relay's callbacks update: shared with them, so that an answer arriving after
  /// this object is gone lands in state that still exists.
  struct State {
    explicit State(const Clock& clock) : clock(clock) {}
    const Clock& clock;
    std::mutex mutex;
    std::shared_ptr<const Coins> coins;
    std::shared_ptr<const Currencies> currencies;
    SteadyTime coins_at{};
    SteadyTime currencies_at{};
    bool coins_loading = false;
    bool currencies_loading = false;
  };
  static void storeCoins(State& state, std::vector<coingecko::ListedCoin> coins);
  static void storeCurrencies(State& state, std::vector<std::string> codes, std::string body);
  void refreshCoins(bool force);
  void refreshCurrencies(bool force);

  MissFetcher& relay_;
  std::chrono::seconds refresh_;
  std::shared_ptr<State> state_;
};

}  // namespace coinrelay::api
