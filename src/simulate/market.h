#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace coinrelay::simulate {

/// One simulated coin, in USD; other currencies are derived at render time.
struct SimCoin {
  std::string id;
  std::string symbol;
  std::string name;
  int image_number = 0;
  double price = 0;
  double open_24h = 0;  ///< the price change_24h is measured against
  double high_24h = 0;
  double low_24h = 0;
  double circulating_supply = 0;
  double total_supply = 0;
  std::optional<double> max_supply;
  double volume_ratio = 0.05;  ///< 24 h volume as a share of market cap
  double volatility = 0.002;   ///< standard deviation of one step's log return
  double ath = 0;
  double atl = 0;
  int64_t last_updated_ms = 0;
  int64_t update_jitter_ms = 0;  ///< so coins do not all share one last_updated
  int64_t market_cap_rank = 0;
  uint64_t history_seed = 0;            ///< shapes the coin's past (Market::usdPriceAt)
  int64_t genesis_ms = 0;               ///< the first instant the coin has a price
  std::vector<std::string> categories;  ///< CoinGecko category ids, as coins/markets filters
  std::string contract;  ///< its ERC-20 address on "ethereum" for a token; empty for a coin

  double marketCap() const { return price * circulating_supply; }
};

/// A coin CoinGecko lists as inactive (delisted): only coins/list?status=inactive shows it.
struct InactiveCoin {
  const char* id;
  const char* symbol;
  const char* name;
};

struct MarketOptions {
  int coins = 100;  ///< up to 20 000; the first 50 are real coins
  uint64_t seed = 42;
  int64_t update_interval_ms = 10'000;  ///< 0 freezes prices and last_updated
  int64_t start_ms = 0;                 ///< epoch ms of tick 0
};

/// A market of N coins whose prices follow a seeded random walk, one step per update interval.
/// The same seed and the same number of elapsed steps give the same prices.
/// Threading: not synchronised; the simulator serialises access.
class Market {
 public:
  explicit Market(const MarketOptions& options);

  /// Applies every step due at `now_ms`; returns how many were applied.
  int64_t advanceTo(int64_t now_ms);
  /// Coins by market cap, largest first (rank 1 first).
  const std::vector<SimCoin>& ranked() const { return coins_; }
  const SimCoin* find(std::string_view id) const;
  /// Sets a coin's USD price (tests: "a price change reaches the dashboard").
  bool setPrice(std::string_view id, double usd_price, int64_t now_ms);
  int64_t steps() const { return steps_; }

  /// The market's present: the time of its last step (its start when frozen). Charts end here,
  /// so every answer about the past is the same between two steps.
  int64_t nowMs() const;
  /// USD price of `coin` at `t_ms` (clamped to nowMs()): the present price walked back along a
  /// smooth path of the coin's own seed that passes through open_24h one day before nowMs(). The
  /// same market at the same step always tells the same past.
  double usdPriceAt(const SimCoin& coin, int64_t t_ms) const;
  /// 24 h volume in USD at `t_ms`; equal to the present volume at nowMs().
  double usdVolumeAt(const SimCoin& coin, int64_t t_ms) const;
  static const std::vector<InactiveCoin>& inactive();
  /// The coin's name in a CoinGecko locale ("ja", "zh-tw"...): the English one where the
  /// simulator knows no other.
  static std::string localizedName(const SimCoin& coin, std::string_view locale);
  /// CoinGecko's locales, in the order coins/{id} lists them.
  static const std::vector<std::string>& locales();

 private:
  void step(int64_t tick_ms);
  void rerank();

  MarketOptions options_;
  std::vector<SimCoin> coins_;
  std::mt19937_64 rng_;
  int64_t steps_ = 0;
};

/// Units of one vs_currency per USD: a currency that is a simulated coin (btc, eth, bnb, sats...)
/// follows that coin's price, the others keep the rates of CoinGecko's own example.
std::optional<double> usdRate(const Market& market, std::string_view vs_currency);
/// The same at `t_ms`, for charts: a crypto currency's rate follows its coin's past.
std::optional<double> usdRateAt(const Market& market, std::string_view vs_currency, int64_t t_ms);
/// CoinGecko's vs_currencies (its CurrencyList), every one of which usdRate() knows.
const std::vector<std::string>& supportedVsCurrencies();
/// "crypto", "fiat" or "commodity", with CoinGecko's display name and unit, for exchange_rates.
struct CurrencyInfo {
  std::string name;
  std::string unit;
  std::string type;
};
CurrencyInfo currencyInfo(std::string_view vs_currency);

}  // namespace coinrelay::simulate
