#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "net/http_server.h"
#include "simulate/market.h"
#include "simulate/sim_api.h"
#include "simulate/sim_spec.h"

// The answers the simulator builds from its market model beyond the three lists (coins/markets,
// simple/price, coins/list): one coin's page, its history, charts and candles, the global
// figures, the exchange rates, search and trending. Each body follows the response schema of
// CoinGecko's description (reference/coingecko/openapi-v3.json), values from the model.

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
