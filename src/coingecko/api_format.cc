#include "coingecko/api_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "model/quote_fields.h"

namespace coinrelay::coingecko {

namespace {

constexpr size_t kMaxIds = 1000;  ///< CoinGecko allows 250 (markets) / 515 (price); we are lenient

std::string param(const Params& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

bool flag(const Params& params, const char* name) {
  return toLower(param(params, name)) == "true";
}

/// Parses `precision`: "full" or 0..18. Returns false on anything else.
bool parsePrecision(const Params& params, std::optional<int>& out) {
  const std::string text = toLower(param(params, "precision"));
  if (text.empty() || text == "full")
    return true;
  int value = -1;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || value > 18)
    return false;
  out = value;
  return true;
}

std::optional<int> parsePositive(const std::string& text, int fallback, int max) {
  if (text.empty())
    return fallback;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1)
    return std::nullopt;
  return std::min(value, max);
}

/// Ids, symbols and currencies never hold whitespace or control characters; a query holding one
/// is refused before it can cost an upstream call whose URL it would break.
bool plainTokens(const std::vector<std::string>& items, const char* name, std::string* error) {
  for (const auto& item : items) {
    for (unsigned char c : item) {
      if (c <= 0x20 || c == 0x7f) {
        *error = fmt::format("invalid {}: one holds a space or a control character", name);
        return false;
      }
    }
  }
  return true;
}

std::optional<double> rounded(const std::optional<double>& value, std::optional<int> precision) {
  if (!value || !precision)
    return value;
  return roundDecimals(*value, *precision);
}

}  // namespace

double roundDecimals(double value, int decimals) {
  if (!std::isfinite(value))
    return value;
  const double scale = std::pow(10.0, decimals);
  const double result = std::round(value * scale) / scale;
  return std::isfinite(result) ? result : value;
}

std::string MarketsQuery::normalised() const {
  return fmt::format("markets|{}|{}|{}|{}|{}|{}|{}|{}|{}", vs_currency, joinCsv(ids),
                     joinCsv(names), joinCsv(symbols), include_tokens_all, order, per_page, page,
                     precision ? std::to_string(*precision) : "full");
}

std::optional<MarketsQuery> parseMarketsQuery(const Params& params, std::string* error) {
  MarketsQuery query;
  query.vs_currency = toLower(trim(param(params, "vs_currency")));
  if (query.vs_currency.empty()) {
    *error = "Missing parameter vs_currency";
    return std::nullopt;
  }
  static const std::set<std::string> kOrders = {"market_cap_desc", "market_cap_asc", "volume_desc",
                                                "volume_asc",      "id_asc",         "id_desc"};
  const std::string order = toLower(param(params, "order"));
  if (!order.empty())
    query.order = order;
  if (!kOrders.contains(query.order)) {
    *error = "invalid order";
    return std::nullopt;
  }
  auto per_page = parsePositive(param(params, "per_page"), 100, 250);
  auto page = parsePositive(param(params, "page"), 1, 1'000'000);
  if (!per_page || !page) {
    *error = !per_page ? "invalid per_page" : "invalid page";
    return std::nullopt;
  }
  query.per_page = *per_page;
  query.page = *page;
  if (!parsePrecision(params, query.precision)) {
    *error = "invalid precision";
    return std::nullopt;
  }
  query.ids = splitCsv(toLower(param(params, "ids")));
  query.names = splitCsv(toLower(param(params, "names")));
  query.symbols = splitCsv(toLower(param(params, "symbols")));
  if (query.ids.size() > kMaxIds || query.names.size() > kMaxIds ||
      query.symbols.size() > kMaxIds) {
    *error = fmt::format("too many ids (at most {})", kMaxIds);
    return std::nullopt;
  }
  if (!plainTokens({query.vs_currency}, "vs_currency", error) ||
      !plainTokens(query.ids, "ids", error)) {
    return std::nullopt;
  }
  query.include_tokens_all = toLower(param(params, "include_tokens")) == "all";
  std::sort(query.ids.begin(), query.ids.end());
  query.ids.erase(std::unique(query.ids.begin(), query.ids.end()), query.ids.end());
  if (flag(params, "sparkline"))
    query.upstream_only.push_back("sparkline");
  if (!param(params, "price_change_percentage").empty())
    query.upstream_only.push_back("price_change_percentage");
  if (!param(params, "category").empty())
    query.upstream_only.push_back("category");
  if (const std::string locale = toLower(param(params, "locale"));
      !locale.empty() && locale != "en")
    query.upstream_only.push_back("locale");
  if (flag(params, "include_rehypothecated"))
    query.upstream_only.push_back("include_rehypothecated");
  return query;
}

std::vector<const model::Quote*> selectMarkets(std::vector<const model::Quote*> quotes,
                                               const MarketsQuery& query) {
  if (!query.ids.empty()) {
    std::erase_if(quotes, [&](const model::Quote* q) {
      return !std::binary_search(query.ids.begin(), query.ids.end(), q->id);
    });
  }
  const auto rank = [](const model::Quote* q) {
    return q->market_cap_rank.value_or(std::numeric_limits<int64_t>::max());
  };
  // Market-cap order is rank order (ties by id), which is what CoinGecko's rank means.
  std::stable_sort(quotes.begin(), quotes.end(), [&](const model::Quote* a, const model::Quote* b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a->id < b->id;
  });
  auto by = [&](auto key, bool ascending) {
    std::stable_sort(quotes.begin(), quotes.end(),
                     [&](const model::Quote* a, const model::Quote* b) {
                       return ascending ? key(a) < key(b) : key(b) < key(a);
                     });
  };
  const auto volume = [](const model::Quote* q) { return q->volume_24h.value_or(-1.0); };
  const auto id = [](const model::Quote* q) { return q->id; };
  if (query.order == "market_cap_asc")
    std::reverse(quotes.begin(), quotes.end());
  if (query.order == "volume_desc")
    by(volume, false);
  if (query.order == "volume_asc")
    by(volume, true);
  if (query.order == "id_asc")
    by(id, true);
  if (query.order == "id_desc")
    by(id, false);
  const size_t first = static_cast<size_t>(query.page - 1) * static_cast<size_t>(query.per_page);
  if (first >= quotes.size())
    return {};
  const size_t last = std::min(quotes.size(), first + static_cast<size_t>(query.per_page));
  return std::vector<const model::Quote*>(quotes.begin() + static_cast<ptrdiff_t>(first),
                                          quotes.begin() + static_cast<ptrdiff_t>(last));
}

std::string renderMarkets(const std::vector<const model::Quote*>& page,
                          std::optional<int> precision) {
  std::string body;
  body.reserve(page.size() * 900 + 2);
  JsonWriter w(body);
  w.beginArray();
  for (const model::Quote* q : page) {
    w.beginObject();
    for (const model::QuoteField* field : model::fieldsOf(model::QuoteFormat::CoinGecko)) {
      w.key(field->coingecko);
      if (field->price_valued && precision) {
        w.value(rounded(model::numberOf(*q, *field), precision));
      } else {
        model::writeValue(w, *q, *field, model::QuoteFormat::CoinGecko);
      }
    }
    w.endObject();
  }
  w.endArray();
  return body;
}

std::string SimplePriceQuery::normalised() const {
  return fmt::format("price|{}|{}|{}|{}|{}|{}{}{}{}|{}", joinCsv(ids), joinCsv(names),
                     joinCsv(symbols), include_tokens_all, joinCsv(vs_currencies),
                     include_market_cap, include_24hr_vol, include_24hr_change,
                     include_last_updated_at, precision ? std::to_string(*precision) : "full");
}

std::optional<SimplePriceQuery> parseSimplePriceQuery(const Params& params, std::string* error) {
  SimplePriceQuery query;
  query.vs_currencies = splitCsv(toLower(param(params, "vs_currencies")));
  if (query.vs_currencies.empty()) {
    *error = "Missing parameter vs_currencies";
    return std::nullopt;
  }
  query.ids = splitCsv(toLower(param(params, "ids")));
  if (query.ids.empty())
    query.names = splitCsv(toLower(param(params, "names")));
  if (query.ids.empty() && query.names.empty())
    query.symbols = splitCsv(toLower(param(params, "symbols")));
  if (query.ids.empty() && query.names.empty() && query.symbols.empty()) {
    *error = "Missing parameter ids";
    return std::nullopt;
  }
  query.include_tokens_all = toLower(param(params, "include_tokens")) == "all";
  if (query.ids.size() > kMaxIds || query.names.size() > kMaxIds ||
      query.symbols.size() > kMaxIds) {
    *error = fmt::format("too many ids (at most {})", kMaxIds);
    return std::nullopt;
  }
  if (!plainTokens(query.vs_currencies, "vs_currencies", error) ||
      !plainTokens(query.ids, "ids", error) || !plainTokens(query.symbols, "symbols", error)) {
    return std::nullopt;
  }
  query.include_market_cap = flag(params, "include_market_cap");
  query.include_24hr_vol = flag(params, "include_24hr_vol");
  query.include_24hr_change = flag(params, "include_24hr_change");
  query.include_last_updated_at = flag(params, "include_last_updated_at");
  if (!parsePrecision(params, query.precision)) {
    *error = "invalid precision";
    return std::nullopt;
  }
  return query;
}

std::string renderSimplePrice(const std::vector<SimplePriceRow>& rows,
                              const SimplePriceQuery& query) {
  std::string body;
  JsonWriter w(body);
  w.beginObject();
  for (const auto& row : rows) {
    w.key(row.id).beginObject();
    const model::Quote* any = nullptr;
    for (size_t i = 0; i < query.vs_currencies.size(); ++i) {
      const model::Quote* q = row.per_currency[i];
      if (q == nullptr)
        continue;
      any = any ? any : q;
      const std::string& vs = query.vs_currencies[i];
      w.field(vs, rounded(q->price, query.precision));
      if (query.include_market_cap)
        w.field(vs + "_market_cap", q->market_cap);
      if (query.include_24hr_vol)
        w.field(vs + "_24h_vol", q->volume_24h);
      if (query.include_24hr_change)
        w.field(vs + "_24h_change", q->change_24h);
    }
    if (query.include_last_updated_at && any != nullptr) {
      w.field("last_updated_at", any->last_updated_ms / 1000);
    }
    w.endObject();
  }
  w.endObject();
  return body;
}

std::string renderCoinsList(std::vector<const model::Quote*> coins) {
  std::sort(coins.begin(), coins.end(),
            [](const model::Quote* a, const model::Quote* b) { return a->id < b->id; });
  std::string body;
  JsonWriter w(body);
  w.beginArray();
  std::string_view previous;
  for (const model::Quote* q : coins) {
    if (q->id == previous)
      continue;
    previous = q->id;
    w.beginObject()
        .field("id", q->id)
        .field("symbol", q->symbol)
        .field("name", q->name)
        .endObject();
  }
  w.endArray();
  return body;
}

}  // namespace coinrelay::coingecko
