#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "net/http_server.h"
#include "simulate/market.h"
#include "simulate/sim_api.h"
#include "simulate/sim_spec.h"

// The answers the simulator builds from its market model beyond the three lists (coins/markets,
// simple/price, coins/list): one coin's page, its history, charts and candles, the global
// figures, the exchange rates, search and trending. Each body follows the response schema of
// CoinGecko's description (third_party/coingecko/openapi-v3.json), values from the model.

namespace coinrelay::simulate {

/// `coin` in the currency worth `rate` units per USD, as coins/markets shows it.
MarketRow marketRow(const SimCoin& coin, double rate);

/// Threading: reads the market it is given; the simulator calls it under its lock.
class CoinPages {
 public:
  /// `access` is what the caller's key is entitled to (Demo for keyless and demo keys).
  CoinPages(const Market& market, Plan access) : market_(market), access_(access) {}

  net::Reply coin(const SimCoin& coin, const QueryParams& params) const;
  net::Reply history(const SimCoin& coin, const QueryParams& params) const;
  net::Reply marketChart(const SimCoin& coin, const QueryParams& params) const;
  net::Reply marketChartRange(const SimCoin& coin, const QueryParams& params) const;
  net::Reply ohlc(const SimCoin& coin, const QueryParams& params) const;
  net::Reply ohlcRange(const SimCoin& coin, const QueryParams& params) const;
  net::Reply global() const;
  net::Reply exchangeRates() const;
  net::Reply search(const QueryParams& params) const;
  net::Reply trending(const QueryParams& params) const;

 private:
  struct Days {
    std::string vs;
    int64_t from_ms = 0;  ///< `days` before the market's present, or the coin's genesis (max)
    std::optional<int> precision;
  };
  /// vs_currency, days and precision of market_chart and ohlc, or CoinGecko's refusal.
  std::variant<Days, net::Reply> readDays(const SimCoin& coin, const QueryParams& params) const;
  struct Range {
    std::string vs;
    int64_t from_ms = 0;
    int64_t to_ms = 0;  ///< at most the market's present
  };
  /// vs_currency, from and to of the range paths, or CoinGecko's 400 naming the bad one.
  std::variant<Range, net::Reply> readRange(const QueryParams& params) const;
  /// The step of a chart: `interval` when given (hourly and 5m for enterprise only: nullopt
  /// otherwise), else CoinGecko's automatic one for a span of `span_ms`.
  std::optional<int64_t> chartStep(const QueryParams& params, int64_t span_ms) const;
  /// The price of `coin` in `vs` at `t_ms`.
  double priceIn(const SimCoin& coin, double usd_rate_now, const std::string& vs,
                 int64_t t_ms) const;
  /// CoinGecko's 10012 when a public key asks for data older than 365 days.
  std::optional<net::Reply> beyondPublicHistory(int64_t from_ms) const;
  /// [[t, price], ...], [[t, cap], ...], [[t, volume], ...] at `times`.
  net::Reply chart(const SimCoin& coin, const std::string& vs, const std::vector<int64_t>& times,
                   std::optional<int> precision) const;
  net::Reply candles(const SimCoin& coin, const std::string& vs, int64_t from_ms, int64_t to_ms,
                     int64_t candle_ms, std::optional<int> precision) const;

  const Market& market_;
  Plan access_;
};

}  // namespace coinrelay::simulate
