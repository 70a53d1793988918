#include "simulate/sim_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::simulate {

namespace {

// CoinGecko's documented limits (docs of coins/markets and simple/price).
constexpr size_t kMaxMarketsIds = 250;
constexpr size_t kMaxPriceIds = 515;
constexpr size_t kMaxAllTokenSymbols = 50;
constexpr int kMaxPerPage = 250;

/// A whole number in [1, max] (CoinGecko documents per_page as 1..250: beyond is refused, so a
/// plan that breaks the limit fails in tests as it would upstream); `fallback` when the
/// parameter is absent; nullopt for anything else.
std::optional<int> boundedCount(const std::string& text, int fallback, int max) {
  if (text.empty())
    return fallback;
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1 || value > max)
    return std::nullopt;
  return value;
}

/// `include_tokens`: "top" (or absent) or "all"; false for anything else.
bool readIncludeTokens(const QueryParams& params, bool& all) {
  const std::string text = lowered(params, "include_tokens");
  all = text == "all";
  return text.empty() || text == "top" || all;
}

/// Names match whole and without regard to case; `names` is a CSV of display names.
std::vector<std::string> readNames(const QueryParams& params) {
  auto it = params.find("names");
  if (it == params.end())
    return {};
  std::vector<std::string> names;
  for (const auto& name : splitCsv(it->second))
    names.push_back(toLower(name));
  return names;
}

}  // namespace

bool sameName(const std::string& display_name, const std::vector<std::string>& lowered_names) {
  const std::string lower = toLower(display_name);
  return std::find(lowered_names.begin(), lowered_names.end(), lower) != lowered_names.end();
}

std::string lowered(const QueryParams& params, std::string_view name) {
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string() : toLower(trim(it->second));
}

bool readPrecision(const QueryParams& params, std::optional<int>& out) {
  const std::string text = lowered(params, "precision");
  if (text.empty() || text == "full")
    return true;
  int digits = -1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, digits);
  if (ec != std::errc() || ptr != end || digits < 0 || digits > 18)
    return false;
  out = digits;
  return true;
}

double withPrecision(double value, std::optional<int> precision) {
  if (!precision || !std::isfinite(value))
    return value;
  const double scale = std::pow(10.0, *precision);
  const double result = std::round(value * scale) / scale;
  return std::isfinite(result) ? result : value;
}

double roundSignificant(double value, int digits) {
  if (value == 0 || !std::isfinite(value))
    return value;
  const double scale =
      std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(value)))));
  return std::round(value * scale) / scale;
}

const std::vector<TimeFrame>& timeFrames() {
  constexpr int64_t kHour = 3'600'000;
  static const std::vector<TimeFrame> kFrames = {
      {"1h", kHour},
      {"24h", 24 * kHour},
      {"7d", 7 * 24 * kHour},
      {"14d", 14 * 24 * kHour},
      {"30d", 30 * 24 * kHour},
      {"200d", 200 * 24 * kHour},
      {"1y", 365 * 24 * kHour},
  };
  return kFrames;
}

std::string flatErrorJson(std::string_view message) {
  std::string body;
  JsonWriter(body).beginObject().field("error", message).endObject();
  return body;
}

std::string statusErrorJson(int code, std::string_view message) {
  std::string body;
  JsonWriter(body)
      .beginObject()
      .key("status")
      .beginObject()
      .field("error_code", code)
      .field("error_message", message)
      .endObject()
      .endObject();
  return body;
}

std::string planRestrictedJson() {
  return statusErrorJson(10005, "This request is limited Pro API subscribers");
}

std::optional<MarketsRequest> readMarketsRequest(const QueryParams& params, std::string* error) {
  MarketsRequest request;
  request.vs_currency = lowered(params, "vs_currency");
  if (request.vs_currency.empty()) {
    *error = "Missing parameter vs_currency";
    return std::nullopt;
  }
  if (const std::string order = lowered(params, "order"); !order.empty())
    request.order = order;
  const std::vector<std::string> orders = {"market_cap_desc", "market_cap_asc", "volume_desc",
                                           "volume_asc",      "id_asc",         "id_desc"};
  if (std::find(orders.begin(), orders.end(), request.order) == orders.end()) {
    *error = "invalid order";
    return std::nullopt;
  }
  const auto per_page = boundedCount(lowered(params, "per_page"), 100, kMaxPerPage);
  if (!per_page) {
    *error = "invalid per_page";
    return std::nullopt;
  }
  const auto page = boundedCount(lowered(params, "page"), 1, 1'000'000);
  if (!page) {
    *error = "invalid page";
    return std::nullopt;
  }
  request.per_page = *per_page;
  request.page = *page;
  if (!readPrecision(params, request.precision)) {
    *error = "invalid precision";
    return std::nullopt;
  }
  if (!readIncludeTokens(params, request.all_tokens)) {
    *error = "invalid include_tokens";
    return std::nullopt;
  }
  if (const std::string locale = lowered(params, "locale"); !locale.empty()) {
    const std::vector<std::string> locales = {
        "ar", "bg", "cs", "da", "de", "el", "en", "es", "fi", "fr",   "he", "hi",
        "hr", "hu", "id", "it", "ja", "ko", "lt", "nl", "no", "pl",   "pt", "ro",
        "ru", "sk", "sl", "sv", "th", "tr", "uk", "vi", "zh", "zh-tw"};
    if (std::find(locales.begin(), locales.end(), locale) == locales.end()) {
      *error = "invalid locale";
      return std::nullopt;
    }
    request.locale = locale;
  }
  request.sparkline = lowered(params, "sparkline") == "true";
  // Unknown time frames are left out, as CoinGecko does; the known ones keep its order.
  const std::vector<std::string> asked = splitCsv(lowered(params, "price_change_percentage"));
  for (const auto& frame : timeFrames()) {
    if (std::find(asked.begin(), asked.end(), frame.name) != asked.end())
      request.time_frames.emplace_back(frame.name);
  }
  // One lookup applies: category > ids > names > symbols.
  request.category = lowered(params, "category");
  if (request.category.empty()) {
    request.ids = splitCsv(lowered(params, "ids"));
    if (request.ids.empty())
      request.names = readNames(params);
    if (request.ids.empty() && request.names.empty())
      request.symbols = splitCsv(lowered(params, "symbols"));
  }
  if (request.ids.size() > kMaxMarketsIds) {
    *error = fmt::format("too many ids (at most {})", kMaxMarketsIds);
    return std::nullopt;
  }
  if (request.all_tokens && request.symbols.size() > kMaxAllTokenSymbols) {
    *error =
        fmt::format("too many symbols with include_tokens=all (at most {})", kMaxAllTokenSymbols);
    return std::nullopt;
  }
  std::sort(request.ids.begin(), request.ids.end());
  request.ids.erase(std::unique(request.ids.begin(), request.ids.end()), request.ids.end());
  return request;
}

std::vector<const MarketRow*> pageOf(const std::vector<MarketRow>& rows,
                                     const MarketsRequest& request) {
  std::vector<const MarketRow*> selected;
  std::set<std::string> symbols_taken;  // include_tokens=top: the best-ranked coin per symbol
  for (const MarketRow& row : rows) {
    bool wanted = true;
    if (!request.category.empty()) {
      wanted = std::find(row.categories.begin(), row.categories.end(), request.category) !=
               row.categories.end();
    } else if (!request.ids.empty()) {
      wanted = std::binary_search(request.ids.begin(), request.ids.end(), row.id);
    } else if (!request.names.empty()) {
      wanted = sameName(row.name, request.names);
    } else if (!request.symbols.empty()) {
      wanted = std::find(request.symbols.begin(), request.symbols.end(), row.symbol) !=
                   request.symbols.end() &&
               (request.all_tokens || symbols_taken.insert(row.symbol).second);
    }
    if (wanted)
      selected.push_back(&row);
  }
  // `rows` come by rank, which is the market-cap order; other orders keep rank among equals.
  const std::string& order = request.order;
  if (order == "market_cap_asc") {
    std::reverse(selected.begin(), selected.end());
  } else if (order == "volume_desc" || order == "volume_asc") {
    const bool ascending = order == "volume_asc";
    std::stable_sort(selected.begin(), selected.end(), [&](const MarketRow* a, const MarketRow* b) {
      return ascending ? a->total_volume < b->total_volume : a->total_volume > b->total_volume;
    });
  } else if (order == "id_asc" || order == "id_desc") {
    const bool ascending = order == "id_asc";
    std::stable_sort(selected.begin(), selected.end(), [&](const MarketRow* a, const MarketRow* b) {
      return ascending ? a->id < b->id : a->id > b->id;
    });
  }
  const size_t skip = static_cast<size_t>(request.page - 1) * static_cast<size_t>(request.per_page);
  if (skip >= selected.size())
    return {};
  const size_t take = std::min(selected.size() - skip, static_cast<size_t>(request.per_page));
  return std::vector<const MarketRow*>(selected.begin() + static_cast<ptrdiff_t>(skip),
                                       selected.begin() + static_cast<ptrdiff_t>(skip + take));
}

std::string marketsJson(const std::vector<const MarketRow*>& rows,
                        const std::vector<MarketExtras>& extras, std::optional<int> precision) {
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  for (size_t i = 0; i < rows.size(); ++i) {
    const MarketRow* r = rows[i];
    const MarketExtras* extra = i < extras.size() ? &extras[i] : nullptr;
    w.beginObject()
        .field("id", r->id)
        .field("symbol", r->symbol)
        .field("name", extra && extra->localized_name ? *extra->localized_name : r->name)
        .field("image", r->image)
        .field("current_price", withPrecision(r->current_price, precision))
        .field("market_cap", r->market_cap)
        .field("market_cap_rank", r->market_cap_rank)
        .field("fully_diluted_valuation", r->fully_diluted_valuation)
        .field("total_volume", r->total_volume)
        .field("high_24h", withPrecision(r->high_24h, precision))
        .field("low_24h", withPrecision(r->low_24h, precision))
        .field("price_change_24h", withPrecision(r->price_change_24h, precision))
        .field("price_change_percentage_24h", r->price_change_percentage_24h)
        .field("market_cap_change_24h", r->market_cap_change_24h)
        .field("market_cap_change_percentage_24h", r->market_cap_change_percentage_24h)
        .field("circulating_supply", r->circulating_supply)
        .field("total_supply", r->total_supply)
        .field("max_supply", r->max_supply)
        .field("ath", withPrecision(r->ath, precision))
        .field("ath_change_percentage", r->ath_change_percentage)
        .field("ath_date", formatIso8601Millis(r->ath_date_ms))
        .field("atl", withPrecision(r->atl, precision))
        .field("atl_change_percentage", r->atl_change_percentage)
        .field("atl_date", formatIso8601Millis(r->atl_date_ms));
    w.key("roi");
    if (r->roi) {
      w.beginObject()
          .field("times", r->roi->times)
          .field("currency", r->roi->currency)
          .field("percentage", r->roi->percentage)
          .endObject();
    } else {
      w.null();
    }
    w.field("last_updated", formatIso8601Millis(r->last_updated_ms));
    // After CoinGecko's fixed fields, in its order: the sparkline, then the asked changes.
    if (extra && extra->sparkline_7d) {
      w.key("sparkline_in_7d").beginObject().key("price").beginArray();
      for (double price : *extra->sparkline_7d)
        w.value(price);
      w.endArray().endObject();
    }
    if (extra) {
      for (const auto& [frame, change] : extra->changes)
        w.field("price_change_percentage_" + frame + "_in_currency", change);
    }
    w.endObject();
  }
  w.endArray();
  return body;
}

std::optional<PriceRequest> readPriceRequest(const QueryParams& params, std::string* error) {
  PriceRequest request;
  request.vs_currencies = splitCsv(lowered(params, "vs_currencies"));
  if (request.vs_currencies.empty()) {
    *error = "Missing parameter vs_currencies";
    return std::nullopt;
  }
  // One lookup applies: ids > names > symbols.
  request.ids = splitCsv(lowered(params, "ids"));
  if (request.ids.empty())
    request.names = readNames(params);
  if (request.ids.empty() && request.names.empty())
    request.symbols = splitCsv(lowered(params, "symbols"));
  if (request.ids.empty() && request.names.empty() && request.symbols.empty()) {
    *error = "Missing parameter ids";
    return std::nullopt;
  }
  if (std::max({request.ids.size(), request.names.size(), request.symbols.size()}) > kMaxPriceIds) {
    *error = fmt::format("too many ids (at most {})", kMaxPriceIds);
    return std::nullopt;
  }
  if (!readIncludeTokens(params, request.all_tokens)) {
    *error = "invalid include_tokens";
    return std::nullopt;
  }
  if (request.all_tokens && request.symbols.size() > kMaxAllTokenSymbols) {
    *error =
        fmt::format("too many symbols with include_tokens=all (at most {})", kMaxAllTokenSymbols);
    return std::nullopt;
  }
  request.market_cap = lowered(params, "include_market_cap") == "true";
  request.volume = lowered(params, "include_24hr_vol") == "true";
  request.change = lowered(params, "include_24hr_change") == "true";
  request.last_updated = lowered(params, "include_last_updated_at") == "true";
  if (!readPrecision(params, request.precision)) {
    *error = "invalid precision";
    return std::nullopt;
  }
  return request;
}

std::string priceJson(const std::vector<std::vector<const MarketRow*>>& coins,
                      const PriceRequest& request) {
  std::string body;
  JsonWriter w(body);
  w.beginObject();
  for (const auto& per_currency : coins) {
    if (per_currency.empty())
      continue;
    w.key(per_currency.front()->id).beginObject();
    for (size_t c = 0; c < per_currency.size(); ++c) {
      const MarketRow& row = *per_currency[c];
      const std::string& vs = request.vs_currencies[c];
      w.field(vs, withPrecision(row.current_price, request.precision));
      if (request.market_cap)
        w.field(vs + "_market_cap", row.market_cap);
      if (request.volume)
        w.field(vs + "_24h_vol", row.total_volume);
      if (request.change)
        w.field(vs + "_24h_change", row.price_change_percentage_24h);
    }
    if (request.last_updated)
      w.field("last_updated_at", per_currency.front()->last_updated_ms / 1000);
    w.endObject();
  }
  w.endObject();
  return body;
}

std::optional<ListRequest> readListRequest(const QueryParams& params, std::string* error) {
  ListRequest request;
  request.include_platform = lowered(params, "include_platform") == "true";
  const std::string status = lowered(params, "status");
  if (!status.empty() && status != "active" && status != "inactive") {
    *error = "invalid status";
    return std::nullopt;
  }
  request.inactive = status == "inactive";
  return request;
}

std::string coinsListJson(std::vector<ListedCoin> coins, bool include_platform) {
  std::sort(coins.begin(), coins.end(),
            [](const ListedCoin& a, const ListedCoin& b) { return a.id < b.id; });
  coins.erase(std::unique(coins.begin(), coins.end(),
                          [](const ListedCoin& a, const ListedCoin& b) { return a.id == b.id; }),
              coins.end());
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  for (const ListedCoin& coin : coins) {
    w.beginObject().field("id", coin.id).field("symbol", coin.symbol).field("name", coin.name);
    if (include_platform) {
      w.key("platforms").beginObject();
      for (const auto& [platform, address] : coin.platforms)
        w.field(platform, address);
      w.endObject();
    }
    w.endObject();
  }
  w.endArray();
  return body;
}

}  // namespace coinrelay::simulate
