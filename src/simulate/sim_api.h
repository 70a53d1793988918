#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
};

using QueryParams = std::map<std::string, std::string>;

/// GET /coins/markets parameters as CoinGecko reads them.
struct MarketsRequest {
  std::string vs_currency;
  std::vector<std::string> ids;  ///< sorted, unique; empty: every coin
  std::string order = "market_cap_desc";
  int per_page = 100;
  int page = 1;
  std::optional<int> precision;
};
/// nullopt with `*error` set to CoinGecko's message (a 400) for a query it refuses.
std::optional<MarketsRequest> readMarketsRequest(const QueryParams& params, std::string* error);
/// `rows` (in rank order) filtered, ordered and paged as the request asks.
std::vector<const MarketRow*> pageOf(const std::vector<MarketRow>& rows,
                                     const MarketsRequest& request);
std::string marketsJson(const std::vector<const MarketRow*>& rows, std::optional<int> precision);

/// GET /simple/price parameters as CoinGecko reads them.
struct PriceRequest {
  std::vector<std::string> ids;  ///< when given, symbols are ignored
  std::vector<std::string> symbols;
  std::vector<std::string> vs_currencies;
  bool market_cap = false;
  bool volume = false;
  bool change = false;
  bool last_updated = false;
  std::optional<int> precision;
};
std::optional<PriceRequest> readPriceRequest(const QueryParams& params, std::string* error);
/// `coins[i][c]` is coin i's row in request.vs_currencies[c].
std::string priceJson(const std::vector<std::vector<const MarketRow*>>& coins,
                      const PriceRequest& request);

/// GET /coins/list: every coin, by id.
std::string coinsListJson(std::vector<const MarketRow*> rows);

/// {"error":"..."}, CoinGecko's body for a bad request.
std::string flatErrorJson(std::string_view message);

}  // namespace coinrelay::simulate
