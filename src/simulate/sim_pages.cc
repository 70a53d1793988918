#include "simulate/sim_pages.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::simulate {

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kPublicHistoryMs = 365 * kDayMs;

net::Reply json(int status, std::string body) {
  net::Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

net::Reply badRequest(std::string_view message) {
  return json(400, flatErrorJson(message));
}

net::Reply planRestricted() {
  return json(401, planRestrictedJson());
}

std::string imageUrl(const SimCoin& coin, std::string_view size) {
  return fmt::format("https://coin-images.coingecko.com/coins/images/{}/{}/{}.png",
                     coin.image_number, size, coin.id);
}

/// A number as CoinGecko takes it in a query (seconds, days): digits with an optional fraction.
std::optional<double> number(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value))
    return std::nullopt;
  return value;
}

/// `from`/`to` of the range endpoints: UNIX seconds, or an ISO date ("2024-01-31") or date-time.
std::optional<int64_t> instantMs(const std::string& text) {
  if (auto seconds = number(text))
    return static_cast<int64_t>(*seconds * 1000.0);
  if (text.size() == 10)
    return parseIso8601Millis(text + "T00:00:00Z");
  return parseIso8601Millis(text);
}

/// `date` of coins/{id}/history: dd-mm-yyyy, midnight UTC.
std::optional<int64_t> dayMs(const std::string& text) {
  if (text.size() != 10 || text[2] != '-' || text[5] != '-')
    return std::nullopt;
  return parseIso8601Millis(text.substr(6, 4) + "-" + text.substr(3, 2) + "-" + text.substr(0, 2) +
                            "T00:00:00Z");
}

/// Multiples of `step` since the epoch in [from, to] (UTC days, hours, 5 minutes line up).
std::vector<int64_t> grid(int64_t from, int64_t to, int64_t step) {
  std::vector<int64_t> times;
  for (int64_t t = (from + step - 1) / step * step; t <= to; t += step)
    times.push_back(t);
  return times;
}

std::string categoryName(std::string_view id) {
  struct Row {
    const char* id;
    const char* name;
  };
  static constexpr Row kNames[] = {
      {"layer-1", "Layer 1 (L1)"},
      {"layer-2", "Layer 2 (L2)"},
      {"layer-0-l0", "Layer 0 (L0)"},
      {"smart-contract-platform", "Smart Contract Platform"},
      {"proof-of-work-pow", "Proof of Work (PoW)"},
      {"ethereum-ecosystem", "Ethereum Ecosystem"},
      {"stablecoins", "Stablecoins"},
      {"meme-token", "Meme"},
      {"decentralized-finance-defi", "Decentralized Finance (DeFi)"},
      {"liquid-staking-tokens", "Liquid Staking Tokens"},
      {"wrapped-tokens", "Wrapped-Tokens"},
      {"oracle", "Oracle"},
      {"storage", "Storage"},
      {"exchange-based-tokens", "Exchange-based Tokens"},
      {"gaming", "Gaming (GameFi)"},
      {"metaverse", "Metaverse"},
      {"privacy-coins", "Privacy Coins"},
      {"simulated", "Simulated"},
  };
  for (const auto& row : kNames) {
    if (id == row.id)
      return row.name;
  }
  return std::string(id);
}

/// Writes {vs: value(vs)} for every currency CoinGecko lists.
template <class F>
void perCurrency(JsonWriter& w, F value) {
  w.beginObject();
  for (const auto& vs : supportedVsCurrencies())
    w.field(vs, value(vs));
  w.endObject();
}

/// Whether `where` is `prefix` or below it.
bool under(std::string_view where, std::string_view prefix) {
  return where == prefix ||
         (where.starts_with(prefix) && where.size() > prefix.size() && where[prefix.size()] == '.');
}

/// The members a coin's page and its history share: id, symbol, name and, unless turned off,
/// the name in every locale.
std::optional<Supplied> identity(const SimCoin& coin, std::string_view where, bool localization,
                                 JsonWriter& w) {
  if (where == "id") {
    w.value(coin.id);
  } else if (where == "symbol") {
    w.value(coin.symbol);
  } else if (where == "name") {
    w.value(coin.name);
  } else if (where == "localization") {
    if (!localization)
      return Supplied::Omitted;
    w.beginObject();
    for (const auto& locale : Market::locales())
      w.field(locale, Market::localizedName(coin, locale));
    w.endObject();
  } else {
    return std::nullopt;
  }
  return Supplied::Written;
}

std::string money(double value) {
  return fmt::format("${:.0f}", value);
}

}  // namespace

MarketRow marketRow(const SimCoin& c, double rate) {
  MarketRow r;
  r.id = c.id;
  r.symbol = c.symbol;
  r.name = c.name;
  r.last_updated_ms = c.last_updated_ms;
  r.image = fmt::format("https://coin-images.coingecko.com/coins/images/{}/large/{}.png",
                        c.image_number, c.id);
  const double price = roundSignificant(c.price * rate, 7);
  const double open = c.open_24h * rate;
  const double market_cap = std::round(c.marketCap() * rate);
  const double open_cap = open * c.circulating_supply;
  r.current_price = price;
  r.market_cap = market_cap;
  r.market_cap_rank = c.market_cap_rank;
  r.fully_diluted_valuation = std::round(c.price * rate * c.max_supply.value_or(c.total_supply));
  r.total_volume = std::round(market_cap * c.volume_ratio);
  r.high_24h = roundSignificant(c.high_24h * rate, 7);
  r.low_24h = roundSignificant(c.low_24h * rate, 7);
  r.price_change_24h = roundSignificant(price - open, 6);
  r.price_change_percentage_24h = roundSignificant((price / open - 1.0) * 100.0, 6);
  r.market_cap_change_24h = std::round(market_cap - open_cap);
  r.market_cap_change_percentage_24h = roundSignificant((market_cap / open_cap - 1.0) * 100.0, 6);
  r.circulating_supply = c.circulating_supply;
  r.total_supply = c.total_supply;
  r.max_supply = c.max_supply;
  r.ath = roundSignificant(c.ath * rate, 7);
  r.ath_change_percentage = roundSignificant((c.price / c.ath - 1.0) * 100.0, 6);
  r.ath_date_ms = 1636554259604;  // 2021-11-10T14:24:19.604Z
  r.atl = roundSignificant(c.atl * rate, 7);
  r.atl_change_percentage = roundSignificant((c.price / c.atl - 1.0) * 100.0, 6);
  r.atl_date_ms = 1445299200000;  // 2015-10-20T00:00:00.000Z
  if (c.id == "ethereum")
    r.roi = MarketRow::Roi{63.51804113920761, "btc", 6351.804113920761};
  r.categories = c.categories;
  return r;
}

double CoinPages::priceIn(const SimCoin& coin, double usd_rate_now, const std::string& vs,
                          int64_t t_ms) const {
  if (t_ms >= market_.nowMs())
    return roundSignificant(coin.price * usd_rate_now, 7);
  const double rate = usdRateAt(market_, vs, t_ms).value_or(usd_rate_now);
  return market_.usdPriceAt(coin, t_ms) * rate;
}

std::optional<net::Reply> CoinPages::beyondPublicHistory(int64_t from_ms) const {
  if (access_ != Plan::Demo || from_ms >= market_.nowMs() - kPublicHistoryMs)
    return std::nullopt;
  // CoinGecko's shape B: the status object nested under "error", with a timestamp.
  std::string body;
  JsonWriter(body)
      .beginObject()
      .key("error")
      .beginObject()
      .key("status")
      .beginObject()
      .field("timestamp", formatIso8601Millis(market_.nowMs()))
      .field("error_code", 10012)
      .field("error_message",
             "Your request exceeds the allowed time range. Public API users are limited to "
             "querying historical data within the past 365 days.")
      .endObject()
      .endObject()
      .endObject();
  return json(401, std::move(body));
}

net::Reply CoinPages::chart(const SimCoin& coin, const std::string& vs,
                            const std::vector<int64_t>& times, std::optional<int> precision) const {
  const double rate_now = usdRate(market_, vs).value_or(1.0);
  std::string prices, caps, volumes;
  JsonWriter p(prices), m(caps), v(volumes);
  p.beginArray();
  m.beginArray();
  v.beginArray();
  for (int64_t t : times) {
    if (t < coin.genesis_ms)
      continue;
    const double price = priceIn(coin, rate_now, vs, t);
    const double rate = price / std::max(1e-300, market_.usdPriceAt(coin, t));
    p.beginArray().value(t).value(withPrecision(price, precision)).endArray();
    m.beginArray().value(t).value(price * coin.circulating_supply).endArray();
    v.beginArray().value(t).value(market_.usdVolumeAt(coin, t) * rate).endArray();
  }
  p.endArray();
  m.endArray();
  v.endArray();
  return json(200, fmt::format(R"({{"prices":{},"market_caps":{},"total_volumes":{}}})", prices,
                               caps, volumes));
}

std::variant<CoinPages::Days, net::Reply> CoinPages::readDays(const SimCoin& coin,
                                                              const QueryParams& params) const {
  Days days;
  days.vs = lowered(params, "vs_currency");
  if (!usdRate(market_, days.vs))
    return badRequest("invalid vs_currency");
  const std::string text = lowered(params, "days");
  const auto count = number(text);
  if (text != "max" && (!count || *count < 0))
    return badRequest("invalid days");
  if (!readPrecision(params, days.precision))
    return badRequest("invalid precision");
  const int64_t now = market_.nowMs();
  days.from_ms = text == "max" ? coin.genesis_ms : now - static_cast<int64_t>(*count * kDayMs);
  if (auto refused = beyondPublicHistory(days.from_ms))
    return std::move(*refused);
  return days;
}

net::Reply CoinPages::marketChart(const SimCoin& coin, const QueryParams& params) const {
  auto read = readDays(coin, params);
  if (auto* refused = std::get_if<net::Reply>(&read))
    return std::move(*refused);
  const auto& [vs, from_ms, precision] = std::get<Days>(read);
  const int64_t now = market_.nowMs();
  int64_t from = from_ms;
  // CoinGecko's automatic granularity: 5-minutely for a day, hourly up to 90 days, then daily.
  const auto step = chartStep(params, now - from);
  if (!step)
    return planRestricted();
  if (*step < kDayMs)  // fine intervals reach back 10 (5m) or 100 (hourly) days at most
    from = std::max(from, now - (*step == kHourMs ? 100 : 10) * kDayMs);
  std::vector<int64_t> times = grid(from, now, *step);
  if (times.empty() || times.back() != now)
    times.push_back(now);  // the last point is the present, off the grid
  return chart(coin, vs, times, precision);
}

std::optional<int64_t> CoinPages::chartStep(const QueryParams& params, int64_t span_ms) const {
  const std::string interval = lowered(params, "interval");
  if (interval == "daily")
    return kDayMs;
  if (interval == "hourly" || interval == "5m") {
    if (access_ != Plan::Enterprise)
      return std::nullopt;
    return interval == "hourly" ? kHourMs : 5 * kMinuteMs;
  }
  return span_ms > 90 * kDayMs ? kDayMs : span_ms > kDayMs ? kHourMs : 5 * kMinuteMs;
}

std::variant<CoinPages::Range, net::Reply> CoinPages::readRange(const QueryParams& params) const {
  Range range;
  range.vs = lowered(params, "vs_currency");
  if (!usdRate(market_, range.vs))
    return badRequest("invalid vs_currency");
  const auto from = instantMs(lowered(params, "from"));
  const auto to = instantMs(lowered(params, "to"));
  if (!from)
    return badRequest("invalid from");
  if (!to)
    return badRequest("invalid to");
  range.from_ms = *from;
  range.to_ms = std::min(*to, market_.nowMs());
  return range;
}

net::Reply CoinPages::marketChartRange(const SimCoin& coin, const QueryParams& params) const {
  auto read = readRange(params);
  if (auto* refused = std::get_if<net::Reply>(&read))
    return std::move(*refused);
  const Range& range = std::get<Range>(read);
  std::optional<int> precision;
  if (!readPrecision(params, precision))
    return badRequest("invalid precision");
  if (auto refused = beyondPublicHistory(range.from_ms))
    return *refused;
  const auto step = chartStep(params, range.to_ms - range.from_ms);
  if (!step)
    return planRestricted();
  if (range.to_ms < range.from_ms || (range.to_ms - range.from_ms) / *step > 20'000)
    return chart(coin, range.vs, {}, precision);
  return chart(coin, range.vs, grid(range.from_ms, range.to_ms, *step), precision);
}

net::Reply CoinPages::candles(const SimCoin& coin, const std::string& vs, int64_t from_ms,
                              int64_t to_ms, int64_t candle_ms,
                              std::optional<int> precision) const {
  const double rate_now = usdRate(market_, vs).value_or(1.0);
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  const std::vector<int64_t> ends = (to_ms - from_ms) / candle_ms > 20'000
                                        ? std::vector<int64_t>{}
                                        : grid(from_ms + candle_ms, to_ms, candle_ms);
  // Up to 12 samples a candle: enough for a high and a low that differ from open and close.
  const int samples = static_cast<int>(std::clamp<int64_t>(candle_ms / (5 * kMinuteMs), 1, 12));
  for (int64_t end : ends) {
    const int64_t start = end - candle_ms;
    if (start < coin.genesis_ms)
      continue;
    const double open = priceIn(coin, rate_now, vs, start);
    double high = open, low = open, close = open;
    for (int k = 1; k <= samples; ++k) {
      close = priceIn(coin, rate_now, vs, start + candle_ms * k / samples);
      high = std::max(high, close);
      low = std::min(low, close);
    }
    w.beginArray()
        .value(end)
        .value(withPrecision(open, precision))
        .value(withPrecision(high, precision))
        .value(withPrecision(low, precision))
        .value(withPrecision(close, precision))
        .endArray();
  }
  w.endArray();
  return json(200, std::move(body));
}

net::Reply CoinPages::ohlc(const SimCoin& coin, const QueryParams& params) const {
  auto read = readDays(coin, params);
  if (auto* refused = std::get_if<net::Reply>(&read))
    return std::move(*refused);
  const auto& [vs, from, precision] = std::get<Days>(read);
  const int64_t now = market_.nowMs();
  // CoinGecko's candle sizes: 30 minutes up to 2 days, 4 hours up to 30 days, then 4 days.
  const int64_t span = now - from;
  int64_t candle = span > 30 * kDayMs  ? 4 * kDayMs
                   : span > 2 * kDayMs ? 4 * kHourMs
                                       : 30 * kMinuteMs;
  const std::string interval = lowered(params, "interval");
  if (!interval.empty()) {
    if (access_ == Plan::Demo)
      return planRestricted();
    candle = interval == "daily" ? kDayMs : kHourMs;
  }
  return candles(coin, vs, from, now, candle, precision);
}

net::Reply CoinPages::ohlcRange(const SimCoin& coin, const QueryParams& params) const {
  auto read = readRange(params);
  if (auto* refused = std::get_if<net::Reply>(&read))
    return std::move(*refused);
  const Range& range = std::get<Range>(read);
  const int64_t candle = lowered(params, "interval") == "hourly" ? kHourMs : kDayMs;
  return candles(coin, range.vs, range.from_ms - candle, range.to_ms, candle, std::nullopt);
}

net::Reply CoinPages::coin(const SimCoin& coin, const QueryParams& params) const {
  auto flag = [&](const char* name, bool fallback) {
    const std::string text = lowered(params, name);
    return text.empty() ? fallback : text == "true";
  };
  const bool localization = flag("localization", true);
  const bool tickers = flag("tickers", true);
  const bool market_data = flag("market_data", true);
  const bool community = flag("community_data", true);
  const bool developer = flag("developer_data", true);
  const bool sparkline = flag("sparkline", false);
  const SimSpec& spec = SimSpec::get();
  const int64_t now = market_.nowMs();
  // Rows of the coin in every currency, as coins/markets would show them.
  std::map<std::string, MarketRow, std::less<>> rows;
  for (const auto& vs : supportedVsCurrencies())
    rows.emplace(vs, marketRow(coin, usdRate(market_, vs).value_or(1.0)));
  const MarketRow& usd = rows.at("usd");
  auto changeOver = [&](const std::string& vs, int64_t ms) -> double {
    const double rate = usdRate(market_, vs).value_or(1.0);
    const double then = priceIn(coin, rate, vs, now - ms);
    return then > 0 ? (priceIn(coin, rate, vs, now) / then - 1.0) * 100.0 : 0.0;
  };
  auto percentFrames = [](std::string_view where) -> std::optional<int64_t> {
    for (const auto& frame : timeFrames()) {
      if (where == fmt::format("market_data.price_change_percentage_{}", frame.name) ||
          where == fmt::format("market_data.price_change_percentage_{}_in_currency", frame.name))
        return frame.ms;
    }
    if (where == "market_data.price_change_percentage_60d" ||
        where == "market_data.price_change_percentage_60d_in_currency")
      return 60 * kDayMs;
    return std::nullopt;
  };

  ValueSource source;
  source.value = [&](std::string_view where, JsonWriter& w) -> Supplied {
    if (auto done = identity(coin, where, localization, w))
      return *done;
    if (where == "web_slug") {
      w.value(coin.id);
    } else if (where == "asset_platform_id") {
      coin.contract.empty() ? w.null() : w.value("ethereum");
    } else if (where == "platforms") {
      w.beginObject().field(coin.contract.empty() ? "" : "ethereum", coin.contract).endObject();
    } else if (where == "detail_platforms") {
      w.beginObject().key(coin.contract.empty() ? "" : "ethereum").beginObject();
      w.key("decimal_place");
      coin.contract.empty() ? w.null() : w.value(18);
      w.field("contract_address", coin.contract).endObject().endObject();
    } else if (where == "block_time_in_minutes") {
      w.value(coin.id == "bitcoin" ? 10 : 0);
    } else if (where == "hashing_algorithm") {
      coin.id == "bitcoin" ? w.value("SHA-256") : w.null();
    } else if (where == "categories") {
      w.beginArray();
      for (const auto& category : coin.categories)
        w.value(categoryName(category));
      w.endArray();
    } else if (where == "public_notice") {
      w.null();
    } else if (where == "description") {
      const std::string text = fmt::format(
          "{} is one of the coins of coinrelay's simulated market; its prices are simulated.",
          coin.name);
      w.beginObject();
      if (localization) {
        for (const auto& locale : Market::locales())
          w.field(locale, text);
      } else {
        w.field("en", text);
      }
      w.endObject();
    } else if (where == "image") {
      w.beginObject()
          .field("thumb", imageUrl(coin, "thumb"))
          .field("small", imageUrl(coin, "small"))
          .field("large", imageUrl(coin, "large"))
          .endObject();
    } else if (where == "genesis_date") {
      w.value(formatIso8601Millis(coin.genesis_ms).substr(0, 10));
    } else if (where == "sentiment_votes_up_percentage") {
      w.value(50.0 + static_cast<double>(coin.history_seed % 4000) / 100.0);
    } else if (where == "sentiment_votes_down_percentage") {
      w.value(50.0 - static_cast<double>(coin.history_seed % 4000) / 100.0);
    } else if (where == "market_cap_rank" || where == "market_data.market_cap_rank") {
      w.value(coin.market_cap_rank);
    } else if (where == "market_data") {
      return market_data ? Supplied::Walk : Supplied::Omitted;
    } else if (where == "community_data") {
      return community ? Supplied::Walk : Supplied::Omitted;
    } else if (where == "developer_data") {
      return developer ? Supplied::Walk : Supplied::Omitted;
    } else if (where == "last_updated" || where == "market_data.last_updated") {
      w.value(formatIso8601Millis(coin.last_updated_ms));
    } else if (where == "tickers") {
      if (!tickers)
        return Supplied::Omitted;
      return Supplied::Walk;
    } else if (under(where, "market_data")) {
      // Per-currency maps, then figures in usd.
      using Field = double (*)(const MarketRow&);
      struct Named {
        const char* where;
        Field field;
      };
      static constexpr Named kMaps[] = {
          {"market_data.current_price", [](const MarketRow& r) { return r.current_price; }},
          {"market_data.ath", [](const MarketRow& r) { return r.ath; }},
          {"market_data.ath_change_percentage",
           [](const MarketRow& r) { return r.ath_change_percentage; }},
          {"market_data.atl", [](const MarketRow& r) { return r.atl; }},
          {"market_data.atl_change_percentage",
           [](const MarketRow& r) { return r.atl_change_percentage; }},
          {"market_data.market_cap", [](const MarketRow& r) { return r.market_cap; }},
          {"market_data.fully_diluted_valuation",
           [](const MarketRow& r) { return r.fully_diluted_valuation; }},
          {"market_data.total_volume", [](const MarketRow& r) { return r.total_volume; }},
          {"market_data.high_24h", [](const MarketRow& r) { return r.high_24h; }},
          {"market_data.low_24h", [](const MarketRow& r) { return r.low_24h; }},
          {"market_data.market_cap_change_24h_in_currency",
           [](const MarketRow& r) { return r.market_cap_change_24h; }},
          {"market_data.market_cap_change_percentage_24h_in_currency",
           [](const MarketRow& r) { return r.market_cap_change_percentage_24h; }},
      };
      for (const auto& map : kMaps) {
        if (where == map.where) {
          perCurrency(w, [&](const std::string& vs) { return map.field(rows.at(vs)); });
          return Supplied::Written;
        }
      }
      if (where == "market_data.ath_date" || where == "market_data.atl_date") {
        const int64_t at = where == "market_data.ath_date" ? usd.ath_date_ms : usd.atl_date_ms;
        perCurrency(w, [&](const std::string&) { return formatIso8601Millis(at); });
      } else if (auto frame = percentFrames(where)) {
        if (where.ends_with("_in_currency"))
          perCurrency(w, [&](const std::string& vs) { return changeOver(vs, *frame); });
        else
          w.value(changeOver("usd", *frame));
      } else if (where == "market_data.price_change_24h") {
        w.value(usd.price_change_24h);
      } else if (where == "market_data.market_cap_change_24h") {
        w.value(usd.market_cap_change_24h);
      } else if (where == "market_data.market_cap_change_percentage_24h") {
        w.value(usd.market_cap_change_percentage_24h);
      } else if (where == "market_data.market_cap_fdv_ratio") {
        w.value(usd.fully_diluted_valuation > 0
                    ? roundSignificant(usd.market_cap / usd.fully_diluted_valuation, 2)
                    : 0.0);
      } else if (where == "market_data.total_supply") {
        w.value(coin.total_supply);
      } else if (where == "market_data.max_supply") {
        w.value(coin.max_supply);
      } else if (where == "market_data.circulating_supply") {
        w.value(coin.circulating_supply);
      } else if (where == "market_data.roi") {
        w.null();
      } else if (where == "market_data.total_value_locked" ||
                 where == "market_data.mcap_to_tvl_ratio" ||
                 where == "market_data.fdv_to_tvl_ratio") {
        w.null();
      } else {
        return Supplied::Walk;
      }
    } else if (where == "tickers[]") {
      return Supplied::Walk;
    } else if (under(where, "tickers[]")) {
      if (where == "tickers[].base") {
        w.value(toUpper(coin.symbol));
      } else if (where == "tickers[].target") {
        w.value("USDT");
      } else if (where == "tickers[].last") {
        w.value(usd.current_price);
      } else if (where == "tickers[].volume") {
        w.value(roundSignificant(usd.total_volume / std::max(usd.current_price, 1e-12) / 50, 8));
      } else if (where == "tickers[].converted_last") {
        w.beginObject()
            .field("btc", rows.at("btc").current_price)
            .field("eth", rows.at("eth").current_price)
            .field("usd", usd.current_price)
            .endObject();
      } else if (where == "tickers[].converted_volume") {
        w.beginObject()
            .field("btc", std::round(rows.at("btc").total_volume / 50))
            .field("eth", std::round(rows.at("eth").total_volume / 50))
            .field("usd", std::round(usd.total_volume / 50))
            .endObject();
      } else if (where == "tickers[].coin_id") {
        w.value(coin.id);
      } else if (where == "tickers[].target_coin_id") {
        w.value("tether");
      } else if (where == "tickers[].timestamp" || where == "tickers[].last_traded_at" ||
                 where == "tickers[].last_fetch_at") {
        w.value(formatIso8601Millis(coin.last_updated_ms));
      } else if (where == "tickers[].trust_score") {
        w.value("green");
      } else if (where == "tickers[].market") {
        w.beginObject()
            .field("name", "Simulated Exchange")
            .field("identifier", "simulated")
            .field("has_trading_incentive", false)
            .endObject();
      } else {
        return Supplied::Walk;
      }
    } else {
      return Supplied::Walk;
    }
    return Supplied::Written;
  };
  source.append = [&](std::string_view where, JsonWriter& w) {
    // CoinGecko adds the 7-day sparkline to market_data when asked.
    if (where != "market_data" || !sparkline)
      return;
    w.key("sparkline_7d").beginObject().key("price").beginArray();
    for (int h = 167; h >= 0; --h)
      w.value(roundSignificant(priceIn(coin, 1.0, "usd", now - h * kHourMs), 8));
    w.endArray().endObject();
  };
  return json(200, spec.render(spec.schema("CoinsID"), source));
}

net::Reply CoinPages::history(const SimCoin& coin, const QueryParams& params) const {
  const auto day = dayMs(lowered(params, "date"));
  if (!day)
    return badRequest("invalid date");
  if (auto refused = beyondPublicHistory(*day))
    return *refused;
  const bool localization = lowered(params, "localization") != "false";
  const bool priced = *day >= coin.genesis_ms && *day <= market_.nowMs();
  const SimSpec& spec = SimSpec::get();
  ValueSource source;
  source.value = [&](std::string_view where, JsonWriter& w) -> Supplied {
    if (auto done = identity(coin, where, localization, w))
      return *done;
    if (where == "image") {
      w.beginObject()
          .field("thumb", imageUrl(coin, "thumb"))
          .field("small", imageUrl(coin, "small"))
          .endObject();
    } else if (where == "market_data") {
      if (!priced)  // CoinGecko leaves the figures out for a day without a price
        return Supplied::Omitted;
      return Supplied::Walk;
    } else if (under(where, "market_data")) {
      const double usd = market_.usdPriceAt(coin, *day);
      perCurrency(w, [&](const std::string& vs) {
        const double price = priceIn(coin, usdRate(market_, vs).value_or(1.0), vs, *day);
        if (where == "market_data.market_cap")
          return price * coin.circulating_supply;
        if (where == "market_data.total_volume")
          return market_.usdVolumeAt(coin, *day) * price / std::max(usd, 1e-300);
        return price;
      });
    } else {
      return Supplied::Walk;
    }
    return Supplied::Written;
  };
  return json(200, spec.render(spec.schema("CoinsHistoricalData"), source));
}

net::Reply CoinPages::global() const {
  const int64_t now = market_.nowMs();
  double cap = 0, open_cap = 0, volume = 0, volume_day_ago = 0;
  for (const auto& coin : market_.ranked()) {
    cap += coin.marketCap();
    open_cap += coin.open_24h * coin.circulating_supply;
    volume += market_.usdVolumeAt(coin, now);
    volume_day_ago += market_.usdVolumeAt(coin, now - kDayMs);
  }
  // CoinGecko's description writes this body under "date" and puts two of its members outside
  // it; the API (and its SDKs) put everything under "data", in this order.
  std::string body;
  JsonWriter w(body);
  w.beginObject().key("data").beginObject();
  w.field("active_cryptocurrencies", static_cast<int64_t>(market_.ranked().size()))
      .field("upcoming_icos", 0)
      .field("ongoing_icos", 49)
      .field("ended_icos", 3376)
      .field("markets", 1046);
  w.key("total_market_cap");
  perCurrency(w, [&](const std::string& vs) { return cap * usdRate(market_, vs).value_or(1.0); });
  w.key("total_volume");
  perCurrency(w,
              [&](const std::string& vs) { return volume * usdRate(market_, vs).value_or(1.0); });
  w.key("market_cap_percentage").beginObject();
  const auto& ranked = market_.ranked();
  for (size_t i = 0; i < std::min<size_t>(10, ranked.size()); ++i)
    w.field(ranked[i].symbol, cap > 0 ? ranked[i].marketCap() / cap * 100.0 : 0.0);
  w.endObject();
  w.field("market_cap_change_percentage_24h_usd",
          open_cap > 0 ? (cap / open_cap - 1.0) * 100.0 : 0.0)
      .field("volume_change_percentage_24h_usd",
             volume_day_ago > 0 ? (volume / volume_day_ago - 1.0) * 100.0 : 0.0)
      .field("updated_at", now / 1000);
  w.endObject().endObject();
  return json(200, std::move(body));
}

net::Reply CoinPages::exchangeRates() const {
  const double btc = usdRate(market_, "btc").value_or(1.0);
  std::string body;
  JsonWriter w(body);
  w.beginObject().key("rates").beginObject();
  for (const auto& vs : supportedVsCurrencies()) {
    const CurrencyInfo info = currencyInfo(vs);
    w.key(vs)
        .beginObject()
        .field("name", info.name)
        .field("unit", info.unit)
        .field("value", roundSignificant(usdRate(market_, vs).value_or(0.0) / btc, 12))
        .field("type", info.type)
        .endObject();
  }
  w.endObject().endObject();
  return json(200, std::move(body));
}

net::Reply CoinPages::search(const QueryParams& params) const {
  const std::string query = lowered(params, "query");
  const SimSpec& spec = SimSpec::get();
  const auto example = spec.example(spec.schema("Search"));
  auto matches = [&](std::string_view text) {
    return !query.empty() && toLower(text).find(query) != std::string::npos;
  };
  ValueSource source;
  source.value = [&](std::string_view where, JsonWriter& w) -> Supplied {
    if (where == "coins") {
      w.beginArray();
      int listed = 0;
      for (const auto& coin : market_.ranked()) {
        if (listed >= 25 || !(matches(coin.id) || matches(coin.name) || matches(coin.symbol)))
          continue;
        ++listed;
        w.beginObject()
            .field("id", coin.id)
            .field("name", coin.name)
            .field("api_symbol", coin.id)
            .field("symbol", toUpper(coin.symbol))
            .field("market_cap_rank", coin.market_cap_rank)
            .field("thumb", imageUrl(coin, "thumb"))
            .field("large", imageUrl(coin, "large"))
            .endObject();
      }
      w.endArray();
      return Supplied::Written;
    }
    if (where.empty() || where.find('.') != std::string_view::npos || !example)
      return Supplied::Walk;
    // Exchanges, categories and NFTs: CoinGecko's own examples that match the query.
    simdjson::dom::array items;
    w.beginArray();
    if ((*example)[where].get(items) == simdjson::SUCCESS) {
      for (simdjson::dom::element item : items) {
        std::string_view id, name;
        const bool named =
            item["id"].get(id) == simdjson::SUCCESS || item["name"].get(name) == simdjson::SUCCESS;
        if (item["name"].get(name) != simdjson::SUCCESS)
          name = {};
        if (named && (matches(id) || matches(name)))
          copyJson(item, w);
      }
    }
    w.endArray();
    return Supplied::Written;
  };
  return json(200, spec.render(spec.schema("Search"), source));
}

net::Reply CoinPages::trending(const QueryParams& params) const {
  const SimSpec& spec = SimSpec::get();
  const auto example = spec.example(spec.schema("TrendingSearch"));
  const int64_t now = market_.nowMs();
  int show = 15;
  if (auto asked = number(lowered(params, "show_max")); asked && *asked >= 1)
    show = static_cast<int>(std::min(*asked, 30.0));
  // Trending: the coins that moved most over the day.
  std::vector<const SimCoin*> movers;
  for (const auto& coin : market_.ranked())
    movers.push_back(&coin);
  auto change = [](const SimCoin* c) { return c->open_24h > 0 ? c->price / c->open_24h : 1.0; };
  std::stable_sort(movers.begin(), movers.end(),
                   [&](const SimCoin* a, const SimCoin* b) { return change(a) > change(b); });
  movers.resize(std::min<size_t>(movers.size(), static_cast<size_t>(show)));
  const double btc_rate = usdRate(market_, "btc").value_or(1.0);
  ValueSource source;
  source.value = [&](std::string_view where, JsonWriter& w) -> Supplied {
    if (where == "coins") {
      w.beginArray();
      int score = 0;
      for (const SimCoin* coin : movers) {
        const MarketRow usd = marketRow(*coin, 1.0);
        w.beginObject().key("item").beginObject();
        w.field("id", coin->id)
            .field("coin_id", coin->image_number)
            .field("name", coin->name)
            .field("symbol", toUpper(coin->symbol))
            .field("market_cap_rank", coin->market_cap_rank)
            .field("thumb", imageUrl(*coin, "thumb"))
            .field("small", imageUrl(*coin, "small"))
            .field("large", imageUrl(*coin, "large"))
            .field("slug", coin->id)
            .field("price_btc", coin->price * btc_rate)
            .field("score", score++);
        w.key("data").beginObject();
        w.field("price", usd.current_price)
            .field("price_btc", fmt::format("{}", coin->price * btc_rate));
        w.key("price_change_percentage_24h");
        perCurrency(w, [&](const std::string& vs) {
          const double rate = usdRate(market_, vs).value_or(1.0);
          const double then = priceIn(*coin, rate, vs, now - kDayMs);
          return then > 0 ? (priceIn(*coin, rate, vs, now) / then - 1.0) * 100.0 : 0.0;
        });
        w.field("market_cap", money(usd.market_cap))
            .field("market_cap_btc", fmt::format("{}", usd.market_cap * btc_rate))
            .field("total_volume", money(usd.total_volume))
            .field("total_volume_btc", fmt::format("{}", usd.total_volume * btc_rate))
            .field("sparkline", fmt::format("https://www.coingecko.com/coins/{}/sparkline.svg",
                                            coin->image_number));
        w.key("content").null();
        w.endObject().endObject().endObject();
      }
      w.endArray();
      return Supplied::Written;
    }
    if ((where == "nfts" || where == "categories") && example) {
      simdjson::dom::element items;
      if ((*example)[where].get(items) == simdjson::SUCCESS) {
        copyJson(items, w);
        return Supplied::Written;
      }
    }
    return Supplied::Walk;
  };
  return json(200, spec.render(spec.schema("TrendingSearch"), source));
}

}  // namespace coinrelay::simulate
