#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// The simulator's own reading of CoinGecko's API: request parameters, selection and the JSON
// it answers, written from CoinGecko's documentation. It deliberately shares nothing with
// coinrelay's parsers, renderers or quote field table (coingecko/, model/quote_fields.h): the
// simulator is the independent oracle tests compare coinrelay's answers against, and a fault
// in shared code would show on both sides and pass unseen.

namespace coinrelay::simulate {

/// One coins/markets record in one vs_currency, member for member as CoinGecko names it.
struct MarketRow {
  std::string id;
  std::string symbol;
  std::string name;
  std::string image;
  double current_price = 0;
  double market_cap = 0;
  int64_t market_cap_rank = 0;
  double fully_diluted_valuation = 0;
  double total_volume = 0;
  double high_24h = 0;
  double low_24h = 0;
  double price_change_24h = 0;
  double price_change_percentage_24h = 0;
  double market_cap_change_24h = 0;
  double market_cap_change_percentage_24h = 0;
  double circulating_supply = 0;
  double total_supply = 0;
  std::optional<double> max_supply;
  double ath = 0;
  double ath_change_percentage = 0;
  int64_t ath_date_ms = 0;
  double atl = 0;
  double atl_change_percentage = 0;
  int64_t atl_date_ms = 0;
  struct Roi {
    double times = 0;
    std::string currency;
    double percentage = 0;
  };
  std::optional<Roi> roi;
  int64_t last_updated_ms = 0;
  std::vector<std::string> categories;  ///< what `category` selects by (not rendered)
};

/// What some coins/markets requests add to a row: the 7-day sparkline, the changes over the
/// asked time frames, the name in the asked locale.
struct MarketExtras {
  std::optional<std::string> localized_name;
  std::optional<std::vector<double>> sparkline_7d;
  std::vector<std::pair<std::string, std::optional<double>>> changes;  ///< ("1h", percent)
};

using QueryParams = std::map<std::string, std::string>;

/// The query parameter, lower-cased ("" when absent).
std::string lowered(const QueryParams& params, std::string_view name);
/// `precision`: absent or "full" keeps every digit, 0 to 18 rounds to that many decimals; false
/// for anything else.
bool readPrecision(const QueryParams& params, std::optional<int>& out);
double withPrecision(double value, std::optional<int> precision);
/// Rounds to `digits` significant digits, as CoinGecko's prices look.
double roundSignificant(double value, int digits);

/// The time frames of `price_change_percentage`, in CoinGecko's order, with their length.
struct TimeFrame {
  const char* name;
  int64_t ms;
};
const std::vector<TimeFrame>& timeFrames();

/// GET /coins/markets parameters as CoinGecko reads them.
struct MarketsRequest {
  std::string vs_currency;
  /// The one lookup that applies, by CoinGecko's priority: category > ids > names > symbols.
  std::string category;
  std::vector<std::string> ids;  ///< sorted, unique
  std::vector<std::string> names;
  std::vector<std::string> symbols;
  bool all_tokens = false;  ///< include_tokens=all: every coin of a symbol, not only the top one
  std::string order = "market_cap_desc";
  int per_page = 100;
  int page = 1;
  bool sparkline = false;
  std::vector<std::string> time_frames;  ///< price_change_percentage, in CoinGecko's order
  std::string locale = "en";
  std::optional<int> precision;
};
/// nullopt with `*error` set to CoinGecko's message (a 400) for a query it refuses.
std::optional<MarketsRequest> readMarketsRequest(const QueryParams& params, std::string* error);
/// `rows` (in rank order) selected, ordered and paged as the request asks.
std::vector<const MarketRow*> pageOf(const std::vector<MarketRow>& rows,
                                     const MarketsRequest& request);
/// `extras` is empty or has one entry per row.
std::string marketsJson(const std::vector<const MarketRow*>& rows,
                        const std::vector<MarketExtras>& extras, std::optional<int> precision);

/// GET /simple/price parameters as CoinGecko reads them.
struct PriceRequest {
  /// The one lookup that applies, by CoinGecko's priority: ids > names > symbols.
  std::vector<std::string> ids;
  std::vector<std::string> names;
  std::vector<std::string> symbols;
  bool all_tokens = false;
  std::vector<std::string> vs_currencies;
  bool market_cap = false;
  bool volume = false;
  bool change = false;
  bool last_updated = false;
  std::optional<int> precision;
};
std::optional<PriceRequest> readPriceRequest(const QueryParams& params, std::string* error);
/// True when `display_name`, lower-cased, is one of `lowered_names`.
bool sameName(const std::string& display_name, const std::vector<std::string>& lowered_names);
/// Indexes into `coins` (anything with id, name and symbol, in rank order) of the coins the
/// request names, in the order it names them, each once. Ids go through an index: a batch of
/// 515 ids against a 20 000-coin universe stays cheap.
template <class Coin>
std::vector<size_t> priceSelection(const std::vector<Coin>& coins, const PriceRequest& request) {
  std::vector<size_t> selected;
  std::set<size_t> seen;
  auto take = [&](size_t i) {
    if (seen.insert(i).second)
      selected.push_back(i);
  };
  if (!request.ids.empty()) {
    std::unordered_map<std::string_view, size_t> index;
    index.reserve(coins.size());
    for (size_t i = 0; i < coins.size(); ++i)
      index.emplace(coins[i].id, i);
    for (const auto& id : request.ids) {
      if (auto it = index.find(id); it != index.end())
        take(it->second);
    }
  } else if (!request.names.empty()) {
    for (const auto& name : request.names) {
      for (size_t i = 0; i < coins.size(); ++i) {
        if (sameName(coins[i].name, {name}))
          take(i);
      }
    }
  } else {
    for (const auto& symbol : request.symbols) {
      // include_tokens=top: the best-ranked coin with that symbol; all: every one.
      for (size_t i = 0; i < coins.size(); ++i) {
        if (coins[i].symbol != symbol)
          continue;
        take(i);
        if (!request.all_tokens)
          break;
      }
    }
  }
  return selected;
}
/// `coins[i][c]` is coin i's row in request.vs_currencies[c].
std::string priceJson(const std::vector<std::vector<const MarketRow*>>& coins,
                      const PriceRequest& request);

/// GET /coins/list parameters.
struct ListRequest {
  bool include_platform = false;
  bool inactive = false;
};
std::optional<ListRequest> readListRequest(const QueryParams& params, std::string* error);
/// One coins/list entry; `platforms` is {asset platform id: contract address}.
struct ListedCoin {
  std::string id;
  std::string symbol;
  std::string name;
  std::vector<std::pair<std::string, std::string>> platforms;
};
/// Every coin, sorted by id.
std::string coinsListJson(std::vector<ListedCoin> coins, bool include_platform);

/// {"error":"..."}, CoinGecko's body for a bad request.
std::string flatErrorJson(std::string_view message);
/// {"status":{"error_code":..,"error_message":".."}}, CoinGecko's body for key and plan errors.
std::string statusErrorJson(int code, std::string_view message);
/// CoinGecko's 10005 (with status 401): the path or option is above the key's plan.
std::string planRestrictedJson();

}  // namespace coinrelay::simulate
