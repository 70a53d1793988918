#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::coingecko {

/// Query parameters as received (decoded), for the request parsers below. A parser that
/// refuses the query returns nullopt and sets `*error` to CoinGecko's message for it (a 400).
using Params = std::map<std::string, std::string>;

/// `/coins/markets` parameters, validated and normalised (lower case, defaults applied).
struct MarketsQuery {
  std::string vs_currency;
  std::vector<std::string> ids;      ///< empty: every coin (or those names/symbols resolve to)
  std::vector<std::string> names;    ///< lower case; used only when ids is empty
  std::vector<std::string> symbols;  ///< used only when ids and names are empty
  bool include_tokens_all = false;   ///< include_tokens=all: every coin with a symbol
  std::string order = "market_cap_desc";
  int per_page = 100;
  int page = 1;
  std::optional<int> precision;  ///< decimals of price values; nullopt: as stored ("full")
  /// Parameters asking for data a quote does not hold (sparkline=true, price_change_percentage,
  /// category, a locale other than en, include_rehypothecated=true): such a query can only be
  /// answered by the upstream.
  std::vector<std::string> upstream_only;
  /// A canonical form of the query: equal for queries that must get the same answer.
  std::string normalised() const;
};
std::optional<MarketsQuery> parseMarketsQuery(const Params& params, std::string* error);

/// Orders, filters and pages `quotes` (all in query.vs_currency) as CoinGecko does.
std::vector<const model::Quote*> selectMarkets(std::vector<const model::Quote*> quotes,
                                               const MarketsQuery& query);
/// A `/coins/markets` array with CoinGecko's fields in CoinGecko's order.
std::string renderMarkets(const std::vector<const model::Quote*>& page,
                          std::optional<int> precision);

/// `/simple/price` parameters.
struct SimplePriceQuery {
  std::vector<std::string> ids;      ///< by priority ids > names > symbols
  std::vector<std::string> names;    ///< lower case; used only when ids is empty
  std::vector<std::string> symbols;  ///< used only when ids and names are empty
  bool include_tokens_all = false;   ///< include_tokens=all: every coin with a symbol
  std::vector<std::string> vs_currencies;
  bool include_market_cap = false;
  bool include_24hr_vol = false;
  bool include_24hr_change = false;
  bool include_last_updated_at = false;
  std::optional<int> precision;
  std::string normalised() const;
};
std::optional<SimplePriceQuery> parseSimplePriceQuery(const Params& params, std::string* error);

/// One coin's answer: its id and its quote per requested currency (absent if unknown).
struct SimplePriceRow {
  std::string id;
  std::vector<const model::Quote*> per_currency;  ///< same order as query.vs_currencies
};
std::string renderSimplePrice(const std::vector<SimplePriceRow>& rows,
                              const SimplePriceQuery& query);

/// `/coins/list` from the known coins, sorted by id.
std::string renderCoinsList(std::vector<const model::Quote*> coins);

/// Rounds to `decimals` places (CoinGecko's `precision` parameter).
double roundDecimals(double value, int decimals);

}  // namespace coinrelay::coingecko
