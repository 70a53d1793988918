#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace coinrelay::model {

/// CoinGecko's return-on-investment block, present for coins that had an ICO price.
struct Roi {
  double times = 0;
  std::string currency;
  double percentage = 0;
  bool operator==(const Roi&) const = default;
};

/// One coin's market data in one vs_currency at one moment: the unit every part of coinrelay
/// moves around. It carries the whole upstream `coins/markets` record (not only the fields the
/// seed indexed) so that the serving layer can answer CoinGecko-compatible requests from it.
/// Optional fields are null upstream for some coins (max_supply of ETH, roi of most coins).
struct Quote {
  // Identity.
  std::string id;               ///< CoinGecko API id, e.g. "bitcoin"; the Kafka key
  std::string symbol;           ///< lower case as CoinGecko sends it; messages carry it upper case
  std::string name;             ///< "Bitcoin"
  std::string vs_currency;      ///< lower case, e.g. "usd"
  int64_t last_updated_ms = 0;  ///< CoinGecko's last_updated: when the price last changed upstream
  int64_t fetched_ms = 0;       ///< when coinrelay fetched it (the seed's `timestamp`)

  // The seed's fields.
  std::optional<double> price;       ///< current_price
  std::optional<double> market_cap;  ///< in vs_currency
  std::optional<int64_t> market_cap_rank;
  std::optional<double> volume_24h;  ///< total_volume
  std::optional<double> change_24h;  ///< price_change_percentage_24h, percent

  // The rest of the upstream record.
  std::string image;
  std::optional<double> fully_diluted_valuation;
  std::optional<double> high_24h;
  std::optional<double> low_24h;
  std::optional<double> price_change_24h;
  std::optional<double> market_cap_change_24h;
  std::optional<double> market_cap_change_percentage_24h;
  std::optional<double> circulating_supply;
  std::optional<double> total_supply;
  std::optional<double> max_supply;
  std::optional<double> ath;
  std::optional<double> ath_change_percentage;
  std::optional<int64_t> ath_date_ms;
  std::optional<double> atl;
  std::optional<double> atl_change_percentage;
  std::optional<int64_t> atl_date_ms;
  std::optional<Roi> roi;

  // When each group of fields was fetched: coinrelay may take them from different endpoints at
  // different cadences (the fetch planner). nullopt: with the rest of the quote, at fetched_ms
  // (documents written before these fields existed, and quotes not assembled by the planner).
  /// price, market_cap, volume_24h, change_24h, last_updated and the fields derived from them
  std::optional<int64_t> price_fetched_ms;
  /// rank, name, symbol, image, supplies, ATH/ATL, ROI, 24 h high/low, 24 h market cap change
  std::optional<int64_t> details_fetched_ms;

  bool operator==(const Quote&) const = default;
};

/// A quote held in several places at once (the fetch planner's last quote of a coin, the cycle
/// being delivered, the snapshot) without copies: never changed once made; a new price makes a
/// new quote.
using SharedQuote = std::shared_ptr<const Quote>;

/// The identity of one observation: a redelivered message or an unchanged re-fetched quote has
/// the same key, so sinks can store it idempotently (Elasticsearch _id, SQLite primary key).
std::string observationKey(const Quote& quote);

}  // namespace coinrelay::model
