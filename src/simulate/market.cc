#include "simulate/market.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace coinrelay::simulate {

namespace {

struct KnownCoin {
  const char* id;
  const char* symbol;
  const char* name;
  double price_usd;
  double circulating_supply;
};

constexpr KnownCoin kKnownCoins[] = {
#include "simulate/known_coins.inc"
};

bool isStable(std::string_view id) {
  return id == "tether" || id == "usd-coin" || id == "dai" || id == "first-digital-usd" ||
         id == "ethena-usde" || id == "true-usd";
}

}  // namespace

Market::Market(const MarketOptions& options) : options_(options), rng_(options.seed) {
  const int count = std::clamp(options.coins, 1, 20'000);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  coins_.reserve(static_cast<size_t>(count));
  double smallest_cap = 1e12;
  int number = 0;
  for (const auto& known : kKnownCoins) {
    if (number >= count)
      break;
    SimCoin coin;
    coin.id = known.id;
    coin.symbol = known.symbol;
    coin.name = known.name;
    coin.price = known.price_usd;
    coin.circulating_supply = known.circulating_supply;
    coin.volatility = isStable(coin.id) ? 0.0001 : 0.002 + 0.004 * unit(rng_);
    coin.image_number = ++number;
    smallest_cap = std::min(smallest_cap, coin.marketCap());
    coins_.push_back(std::move(coin));
  }
  // Synthetic long tail: market caps keep falling geometrically below the real top coins.
  double cap = smallest_cap;
  while (number < count) {
    SimCoin coin;
    ++number;
    coin.id = fmt::format("simcoin-{}", number);
    coin.symbol = fmt::format("sim{}", number);
    coin.name = fmt::format("Simcoin {}", number);
    cap *= 0.97 + 0.025 * unit(rng_);
    coin.price = std::pow(10.0, -4.0 + 6.0 * unit(rng_));
    coin.circulating_supply = std::round(cap / coin.price);
    coin.volatility = 0.003 + 0.01 * unit(rng_);
    coin.image_number = number;
    coins_.push_back(std::move(coin));
  }
  for (auto& coin : coins_) {
    coin.open_24h = coin.price * (1.0 + (unit(rng_) - 0.5) * (isStable(coin.id) ? 0.002 : 0.08));
    coin.high_24h = std::max(coin.price, coin.open_24h) * (1.0 + 0.01 * unit(rng_));
    coin.low_24h = std::min(coin.price, coin.open_24h) * (1.0 - 0.01 * unit(rng_));
    coin.total_supply = coin.circulating_supply * (1.0 + 0.5 * unit(rng_));
    if (coin.id != "ethereum" && coin.id != "tether" && unit(rng_) < 0.7) {
      coin.max_supply = coin.id == "bitcoin" ? 21'000'000.0 : std::round(coin.total_supply * 1.2);
    }
    if (coin.id == "bitcoin")
      coin.total_supply = coin.circulating_supply;
    coin.volume_ratio = isStable(coin.id) ? 0.4 : 0.01 + 0.1 * unit(rng_);
    coin.ath = coin.price * (1.05 + unit(rng_));
    coin.atl = coin.price * (0.001 + 0.2 * unit(rng_));
    coin.update_jitter_ms =
        static_cast<int64_t>(unit(rng_) * 0.8 * static_cast<double>(options_.update_interval_ms));
    coin.last_updated_ms = options_.start_ms - coin.update_jitter_ms;
  }
  rerank();
}

void Market::rerank() {
  std::stable_sort(coins_.begin(), coins_.end(), [](const SimCoin& a, const SimCoin& b) {
    return a.marketCap() > b.marketCap();
  });
  for (size_t i = 0; i < coins_.size(); ++i)
    coins_[i].market_cap_rank = static_cast<int64_t>(i) + 1;
}

void Market::step(int64_t tick_ms) {
  std::normal_distribution<double> normal(0.0, 1.0);
  for (auto& coin : coins_) {
    coin.price *= std::exp(coin.volatility * normal(rng_));
    if (isStable(coin.id))
      coin.price = std::clamp(coin.price, 0.995, 1.005);
    coin.high_24h = std::max(coin.high_24h, coin.price);
    coin.low_24h = std::min(coin.low_24h, coin.price);
    coin.ath = std::max(coin.ath, coin.price);
    coin.atl = std::min(coin.atl, coin.price);
    coin.last_updated_ms = tick_ms - coin.update_jitter_ms;
  }
  ++steps_;
}

int64_t Market::advanceTo(int64_t now_ms) {
  if (options_.update_interval_ms <= 0 || now_ms < options_.start_ms)
    return 0;
  const int64_t due = (now_ms - options_.start_ms) / options_.update_interval_ms;
  int64_t applied = 0;
  while (steps_ < due) {
    step(options_.start_ms + (steps_ + 1) * options_.update_interval_ms);
    ++applied;
  }
  if (applied > 0)
    rerank();
  return applied;
}

const SimCoin* Market::find(std::string_view id) const {
  for (const auto& coin : coins_) {
    if (coin.id == id)
      return &coin;
  }
  return nullptr;
}

bool Market::setPrice(std::string_view id, double usd_price, int64_t now_ms) {
  for (auto& coin : coins_) {
    if (coin.id != id)
      continue;
    coin.price = usd_price;
    coin.high_24h = std::max(coin.high_24h, usd_price);
    coin.low_24h = std::min(coin.low_24h, usd_price);
    coin.last_updated_ms = now_ms;
    rerank();
    return true;
  }
  return false;
}

const std::vector<std::string>& supportedVsCurrencies() {
  static const std::vector<std::string> kCurrencies = {"btc", "eth", "usd", "eur", "gbp",
                                                       "jpy", "chf", "cad", "aud", "sats"};
  return kCurrencies;
}

std::optional<double> usdRate(const Market& market, std::string_view vs) {
  if (vs == "usd")
    return 1.0;
  if (vs == "eur")
    return 0.93;
  if (vs == "gbp")
    return 0.79;
  if (vs == "jpy")
    return 157.2;
  if (vs == "chf")
    return 0.89;
  if (vs == "cad")
    return 1.37;
  if (vs == "aud")
    return 1.51;
  if (vs == "btc" || vs == "sats" || vs == "eth") {
    const SimCoin* base = market.find(vs == "eth" ? "ethereum" : "bitcoin");
    if (base == nullptr || base->price <= 0)
      return std::nullopt;
    return (vs == "sats" ? 1e8 : 1.0) / base->price;
  }
  return std::nullopt;
}

}  // namespace coinrelay::simulate
