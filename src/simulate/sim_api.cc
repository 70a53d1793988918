#include "simulate/sim_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::simulate {

namespace {

// CoinGecko's documented limits per request (../shared FACTS §3.2, §3.4), refused as it
// refuses a bad parameter: 400 with {"error":"..."}, so a plan that breaks them fails in tests
// as it would upstream.
constexpr size_t kMaxMarketsIds = 250;
constexpr size_t kMaxPriceIds = 515;
constexpr int kMaxPerPage = 250;

std::string lowered(const QueryParams& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : toLower(it->second);
}

/// A whole number in [1, max]; `fallback` when the parameter is absent; nullopt for anything
/// else.
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

/// `precision`: "full" (or absent) keeps every digit, 0 to 18 rounds to that many decimals.
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

}  // namespace

std::string flatErrorJson(std::string_view message) {
  std::string body;
  JsonWriter(body).beginObject().field("error", message).endObject();
  return body;
}

std::optional<MarketsRequest> readMarketsRequest(const QueryParams& params, std::string* error) {
  MarketsRequest request;
  request.vs_currency = std::string(trim(lowered(params, "vs_currency")));
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
  request.ids = splitCsv(lowered(params, "ids"));
  if (request.ids.size() > kMaxMarketsIds) {
    *error = fmt::format("too many ids (at most {})", kMaxMarketsIds);
    return std::nullopt;
  }
  std::sort(request.ids.begin(), request.ids.end());
  request.ids.erase(std::unique(request.ids.begin(), request.ids.end()), request.ids.end());
  return request;
}

std::vector<const MarketRow*> pageOf(const std::vector<MarketRow>& rows,
                                     const MarketsRequest& request) {
  std::vector<const MarketRow*> selected;
  for (const MarketRow& row : rows) {
    if (request.ids.empty() || std::binary_search(request.ids.begin(), request.ids.end(), row.id)) {
      selected.push_back(&row);
    }
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

std::string marketsJson(const std::vector<const MarketRow*>& rows, std::optional<int> precision) {
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  for (const MarketRow* r : rows) {
    w.beginObject()
        .field("id", r->id)
        .field("symbol", r->symbol)
        .field("name", r->name)
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
    w.field("last_updated", formatIso8601Millis(r->last_updated_ms)).endObject();
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
  request.ids = splitCsv(lowered(params, "ids"));
  if (request.ids.empty())
    request.symbols = splitCsv(lowered(params, "symbols"));
  if (request.ids.empty() && request.symbols.empty()) {
    *error = "Missing parameter ids";
    return std::nullopt;
  }
  if (request.ids.size() > kMaxPriceIds || request.symbols.size() > kMaxPriceIds) {
    *error = fmt::format("too many ids (at most {})", kMaxPriceIds);
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

std::string coinsListJson(std::vector<const MarketRow*> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const MarketRow* a, const MarketRow* b) { return a->id < b->id; });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const MarketRow* a, const MarketRow* b) { return a->id == b->id; }),
             rows.end());
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  for (const MarketRow* row : rows) {
    w.beginObject()
        .field("id", row->id)
        .field("symbol", row->symbol)
        .field("name", row->name)
        .endObject();
  }
  w.endArray();
  return body;
}

}  // namespace coinrelay::simulate
