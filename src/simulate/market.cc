#include "simulate/market.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "common/strings.h"
#include "simulate/sim_spec.h"

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

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

uint64_t fnv1a(std::string_view text, uint64_t salt = 0) {
  uint64_t hash = 1469598103934665603ULL ^ salt;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

/// A number in [0, 1) from a hash, for the deterministic parts of the model.
double unitOf(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  return static_cast<double>(hash >> 11) * 0x1.0p-53;
}

/// The categories of the real top coins (CoinGecko category ids), and whether each is an
/// Ethereum token. Synthetic coins are in "simulated".
struct CoinFacts {
  const char* id;
  const char* categories;  ///< comma-separated
  bool erc20;
};
constexpr CoinFacts kCoinFacts[] = {
    {"bitcoin", "layer-1,proof-of-work-pow", false},
    {"ethereum", "layer-1,smart-contract-platform,ethereum-ecosystem", false},
    {"tether", "stablecoins,ethereum-ecosystem", true},
    {"binancecoin", "layer-1,smart-contract-platform", false},
    {"solana", "layer-1,smart-contract-platform", false},
    {"usd-coin", "stablecoins,ethereum-ecosystem", true},
    {"ripple", "layer-1", false},
    {"staked-ether", "liquid-staking-tokens,ethereum-ecosystem", true},
    {"dogecoin", "meme-token,proof-of-work-pow", false},
    {"the-open-network", "layer-1,smart-contract-platform", false},
    {"cardano", "layer-1,smart-contract-platform", false},
    {"tron", "layer-1,smart-contract-platform", false},
    {"avalanche-2", "layer-1,smart-contract-platform", false},
    {"shiba-inu", "meme-token,ethereum-ecosystem", true},
    {"wrapped-bitcoin", "wrapped-tokens,ethereum-ecosystem", true},
    {"polkadot", "layer-0-l0", false},
    {"chainlink", "oracle,ethereum-ecosystem", true},
    {"bitcoin-cash", "layer-1,proof-of-work-pow", false},
    {"near", "layer-1,smart-contract-platform", false},
    {"uniswap", "decentralized-finance-defi,ethereum-ecosystem", true},
    {"litecoin", "layer-1,proof-of-work-pow", false},
    {"matic-network", "layer-2,ethereum-ecosystem", true},
    {"internet-computer", "layer-1", false},
    {"dai", "stablecoins,decentralized-finance-defi,ethereum-ecosystem", true},
    {"ethereum-classic", "layer-1,proof-of-work-pow", false},
    {"hedera-hashgraph", "layer-1", false},
    {"stellar", "layer-1", false},
    {"cosmos", "layer-0-l0", false},
    {"filecoin", "storage", false},
    {"crypto-com-chain", "exchange-based-tokens,ethereum-ecosystem", true},
    {"aptos", "layer-1,smart-contract-platform", false},
    {"arbitrum", "layer-2,ethereum-ecosystem", true},
    {"vechain", "layer-1", false},
    {"optimism", "layer-2", false},
    {"maker", "decentralized-finance-defi,ethereum-ecosystem", true},
    {"algorand", "layer-1,smart-contract-platform", false},
    {"the-sandbox", "gaming,metaverse,ethereum-ecosystem", true},
    {"decentraland", "gaming,metaverse,ethereum-ecosystem", true},
    {"apecoin", "meme-token,ethereum-ecosystem", true},
    {"theta-token", "layer-1", false},
    {"flow", "layer-1", false},
    {"tezos", "layer-1,smart-contract-platform", false},
    {"enjincoin", "gaming,ethereum-ecosystem", true},
    {"neo", "layer-1,smart-contract-platform", false},
    {"zcash", "privacy-coins,proof-of-work-pow", false},
    {"zilliqa", "layer-1", false},
    {"waves", "layer-1", false},
    {"aave", "decentralized-finance-defi,ethereum-ecosystem", true},
    {"monero", "privacy-coins,proof-of-work-pow", false},
    {"kaspa", "layer-1,proof-of-work-pow", false},
};

/// Launch dates of a few coins; the others start with 2017, synthetic coins with 2021.
int64_t genesisOf(std::string_view id, bool synthetic) {
  if (id == "bitcoin")
    return 1'367'107'200'000;  // 2013-04-28, CoinGecko's first bitcoin price
  if (id == "ethereum")
    return 1'438'905'600'000;  // 2015-08-07
  if (id == "litecoin" || id == "dogecoin" || id == "ripple")
    return 1'367'107'200'000;
  return synthetic ? 1'609'459'200'000 : 1'483'228'800'000;
}

/// The periods (ms) and amplitudes (log-price) of the waves a coin's past is made of: from
/// hours to years, so every chart granularity shows movement.
constexpr double kWavePeriodsMs[] = {3.4 * kHourMs, 20.3 * kHourMs, 3.1 * kDayMs,  11.0 * kDayMs,
                                     41.0 * kDayMs, 150.0 * kDayMs, 500.0 * kDayMs};
constexpr double kWaveAmplitudes[] = {0.004, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3};
constexpr int64_t kNoiseBucketMs = 5 * 60'000;

/// The log-price shape of `coin` at `t_ms`, before anchoring to the present price.
double shapeAt(const SimCoin& coin, int64_t t_ms) {
  const double scale = std::min(1.5, coin.volatility / 0.004);
  const double t = static_cast<double>(t_ms);
  double sum = 0;
  for (size_t k = 0; k < std::size(kWavePeriodsMs); ++k) {
    const double phase = 2 * std::numbers::pi * unitOf(coin.history_seed + k);
    sum += kWaveAmplitudes[k] * std::sin(2 * std::numbers::pi * t / kWavePeriodsMs[k] + phase);
  }
  // A little noise per 5 minutes, so 5-minutely charts are not perfectly smooth.
  const uint64_t bucket = static_cast<uint64_t>(t_ms / kNoiseBucketMs);
  sum += 0.002 * (unitOf(coin.history_seed ^ (bucket * 0x9e3779b97f4a7c15ULL)) - 0.5);
  return scale * sum;
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
    coin.genesis_ms = genesisOf(coin.id, false);
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
    coin.genesis_ms = genesisOf(coin.id, true);
    coin.categories = {"simulated"};
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
    coin.history_seed = fnv1a(coin.id, options_.seed);
    for (const auto& facts : kCoinFacts) {
      if (coin.id != facts.id)
        continue;
      coin.categories = splitCsv(facts.categories);
      if (facts.erc20)
        coin.contract = fmt::format("0x{:016x}{:016x}{:08x}", fnv1a(coin.id, 1), fnv1a(coin.id, 2),
                                    static_cast<uint32_t>(fnv1a(coin.id, 3)));
    }
  }
  rerank();
}

int64_t Market::nowMs() const {
  if (options_.update_interval_ms <= 0)
    return options_.start_ms;
  return options_.start_ms + steps_ * options_.update_interval_ms;
}

double Market::usdPriceAt(const SimCoin& coin, int64_t t_ms) const {
  const int64_t now = nowMs();
  t_ms = std::min(t_ms, now);
  if (t_ms == now || coin.price <= 0)
    return coin.price;
  // Anchored at the present price; a correction that grows over the last day makes the price
  // one day ago the coin's open_24h, so charts agree with the 24 h change of coins/markets.
  const double base = shapeAt(coin, now);
  const double day_ago = shapeAt(coin, now - kDayMs) - base;
  const double correction = std::log(coin.open_24h / coin.price) - day_ago;
  const double age = std::min(1.0, static_cast<double>(now - t_ms) / kDayMs);
  return coin.price * std::exp(shapeAt(coin, t_ms) - base + correction * age);
}

double Market::usdVolumeAt(const SimCoin& coin, int64_t t_ms) const {
  const int64_t now = nowMs();
  t_ms = std::min(t_ms, now);
  const double phase = 2 * std::numbers::pi * unitOf(coin.history_seed ^ 0xabcdef);
  auto wave = [&](int64_t t) {
    return std::sin(2 * std::numbers::pi * static_cast<double>(t) / kDayMs + phase);
  };
  const double cap = usdPriceAt(coin, t_ms) * coin.circulating_supply;
  return cap * coin.volume_ratio * (1.0 + 0.2 * (wave(t_ms) - wave(now)));
}

const std::vector<InactiveCoin>& Market::inactive() {
  static const std::vector<InactiveCoin> kInactive = {
      {"terra-luna", "lunc", "Terra Luna Classic (delisted)"},
      {"ftx-token", "ftt", "FTX Token (delisted)"},
      {"celsius-degree-token", "cel", "Celsius Network (delisted)"},
  };
  return kInactive;
}

const std::vector<std::string>& Market::locales() {
  static const std::vector<std::string> kLocales = {
      "en", "de", "es", "fr", "it",    "pl", "ro", "hu", "nl", "pt", "sv", "vi",
      "tr", "ru", "ja", "zh", "zh-tw", "ko", "ar", "th", "id", "cs", "da", "el",
      "hi", "no", "sk", "uk", "he",    "fi", "bg", "hr", "lt", "sl"};
  return kLocales;
}

std::string Market::localizedName(const SimCoin& coin, std::string_view locale) {
  struct Localized {
    const char* id;
    const char* locale;
    const char* name;
  };
  static constexpr Localized kNames[] = {
      {"bitcoin", "ja", "ビットコイン"},  {"bitcoin", "zh", "比特币"},
      {"bitcoin", "zh-tw", "比特幣"},     {"bitcoin", "ko", "비트코인"},
      {"bitcoin", "ru", "Биткоин"},       {"bitcoin", "uk", "Біткоїн"},
      {"ethereum", "ja", "イーサリアム"}, {"ethereum", "zh", "以太坊"},
      {"ethereum", "zh-tw", "以太幣"},    {"ethereum", "ko", "이더리움"},
      {"ethereum", "ru", "Эфириум"},      {"ethereum", "uk", "Ефіріум"},
      {"tether", "ja", "テザー"},         {"tether", "ko", "테더"},
      {"solana", "ja", "ソラナ"},         {"dogecoin", "ja", "ドージコイン"},
  };
  for (const auto& entry : kNames) {
    if (coin.id == entry.id && locale == entry.locale)
      return entry.name;
  }
  return coin.name;
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

namespace {

/// A vs_currency that is a coin of the simulated market, and how many units one coin makes.
struct CoinCurrency {
  const char* vs;
  const char* coin_id;
  double units = 1;
};
constexpr CoinCurrency kCoinCurrencies[] = {
    {"btc", "bitcoin"},       {"eth", "ethereum"},      {"ltc", "litecoin"},
    {"bch", "bitcoin-cash"},  {"bnb", "binancecoin"},   {"eos", "eos"},
    {"xrp", "ripple"},        {"xlm", "stellar"},       {"link", "chainlink"},
    {"dot", "polkadot"},      {"yfi", "yearn-finance"}, {"bits", "bitcoin", 1e6},
    {"sats", "bitcoin", 1e8},
};

}  // namespace

const std::vector<std::string>& supportedVsCurrencies() {
  return SimSpec::get().currencies();
}

std::optional<double> usdRateAt(const Market& market, std::string_view vs, int64_t t_ms) {
  if (vs == "usd")
    return 1.0;
  const auto& known = supportedVsCurrencies();
  if (std::find(known.begin(), known.end(), vs) == known.end())
    return std::nullopt;
  for (const auto& currency : kCoinCurrencies) {
    if (vs != currency.vs)
      continue;
    if (const SimCoin* coin = market.find(currency.coin_id)) {
      const double price = market.usdPriceAt(*coin, t_ms);
      if (price > 0)
        return currency.units / price;
    }
  }
  return SimSpec::get().exampleUnitsPerUsd(vs);
}

std::optional<double> usdRate(const Market& market, std::string_view vs) {
  return usdRateAt(market, vs, market.nowMs());
}

CurrencyInfo currencyInfo(std::string_view vs) {
  struct Row {
    const char* vs;
    const char* name;
    const char* unit;
    const char* type;
  };
  static constexpr Row kRows[] = {
      {"btc", "Bitcoin", "BTC", "crypto"},
      {"eth", "Ether", "ETH", "crypto"},
      {"ltc", "Litecoin", "LTC", "crypto"},
      {"bch", "Bitcoin Cash", "BCH", "crypto"},
      {"bnb", "Binance Coin", "BNB", "crypto"},
      {"eos", "EOS", "EOS", "crypto"},
      {"xrp", "XRP", "XRP", "crypto"},
      {"xlm", "Lumens", "XLM", "crypto"},
      {"link", "Chainlink", "LINK", "crypto"},
      {"dot", "Polkadot", "DOT", "crypto"},
      {"yfi", "Yearn.finance", "YFI", "crypto"},
      {"usd", "US Dollar", "$", "fiat"},
      {"aed", "United Arab Emirates Dirham", "DH", "fiat"},
      {"ars", "Argentine Peso", "$", "fiat"},
      {"aud", "Australian Dollar", "A$", "fiat"},
      {"bdt", "Bangladeshi Taka", "৳", "fiat"},
      {"bhd", "Bahraini Dinar", "BD", "fiat"},
      {"bmd", "Bermudian Dollar", "$", "fiat"},
      {"brl", "Brazil Real", "R$", "fiat"},
      {"cad", "Canadian Dollar", "CA$", "fiat"},
      {"chf", "Swiss Franc", "Fr.", "fiat"},
      {"clp", "Chilean Peso", "CLP$", "fiat"},
      {"cny", "Chinese Yuan", "¥", "fiat"},
      {"czk", "Czech Koruna", "Kč", "fiat"},
      {"dkk", "Danish Krone", "kr.", "fiat"},
      {"eur", "Euro", "€", "fiat"},
      {"gbp", "British Pound Sterling", "£", "fiat"},
      {"gel", "Georgian Lari", "₾", "fiat"},
      {"hkd", "Hong Kong Dollar", "HK$", "fiat"},
      {"huf", "Hungarian Forint", "Ft", "fiat"},
      {"idr", "Indonesian Rupiah", "Rp", "fiat"},
      {"ils", "Israeli New Shekel", "₪", "fiat"},
      {"inr", "Indian Rupee", "₹", "fiat"},
      {"jpy", "Japanese Yen", "¥", "fiat"},
      {"krw", "South Korean Won", "₩", "fiat"},
      {"kwd", "Kuwaiti Dinar", "KD", "fiat"},
      {"lkr", "Sri Lankan Rupee", "Rs", "fiat"},
      {"mmk", "Burmese Kyat", "K", "fiat"},
      {"mxn", "Mexican Peso", "MX$", "fiat"},
      {"myr", "Malaysian Ringgit", "RM", "fiat"},
      {"ngn", "Nigerian Naira", "₦", "fiat"},
      {"nok", "Norwegian Krone", "kr", "fiat"},
      {"nzd", "New Zealand Dollar", "NZ$", "fiat"},
      {"php", "Philippine Peso", "₱", "fiat"},
      {"pkr", "Pakistani Rupee", "₨", "fiat"},
      {"pln", "Polish Zloty", "zł", "fiat"},
      {"rub", "Russian Ruble", "₽", "fiat"},
      {"sar", "Saudi Riyal", "SR", "fiat"},
      {"sek", "Swedish Krona", "kr", "fiat"},
      {"sgd", "Singapore Dollar", "S$", "fiat"},
      {"thb", "Thai Baht", "฿", "fiat"},
      {"try", "Turkish Lira", "₺", "fiat"},
      {"twd", "New Taiwan Dollar", "NT$", "fiat"},
      {"uah", "Ukrainian hryvnia", "₴", "fiat"},
      {"vef", "Venezuelan bolívar fuerte", "Bs.F", "fiat"},
      {"vnd", "Vietnamese đồng", "₫", "fiat"},
      {"zar", "South African Rand", "R", "fiat"},
      {"xdr", "IMF Special Drawing Rights", "XDR", "fiat"},
      {"xag", "Silver - Troy Ounce", "XAG", "commodity"},
      {"xau", "Gold - Troy Ounce", "XAU", "commodity"},
      {"bits", "Bits", "μBTC", "crypto"},
      {"sats", "Satoshi", "sats", "crypto"},
  };
  for (const auto& row : kRows) {
    if (vs == row.vs)
      return {row.name, row.unit, row.type};
  }
  return {std::string(vs), toUpper(vs), "fiat"};
}

}  // namespace coinrelay::simulate
