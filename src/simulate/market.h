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

  double marketCap() const { return price * circulating_supply; }
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

 private:
  void step(int64_t tick_ms);
  void rerank();

  MarketOptions options_;
  std::vector<SimCoin> coins_;
  std::mt19937_64 rng_;
  int64_t steps_ = 0;
};

/// Units of one vs_currency per USD (fixed rates; crypto ones follow the simulated BTC/ETH).
std::optional<double> usdRate(const Market& market, std::string_view vs_currency);
const std::vector<std::string>& supportedVsCurrencies();

}  // namespace coinrelay::simulate
