#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"

namespace coinrelay::coingecko {

/// One currency's values in a `/simple/price` record (null when CoinGecko sent none).
struct PriceValues {
  std::optional<double> price;       ///< `<vs>`
  std::optional<double> market_cap;  ///< `<vs>_market_cap`
  std::optional<double> volume_24h;  ///< `<vs>_24h_vol`
  std::optional<double> change_24h;  ///< `<vs>_24h_change`, percent
};

/// One coin of a `/simple/price` answer.
struct PriceRecord {
  std::string id;
  int64_t last_updated_s = 0;       ///< `last_updated_at`, UNIX seconds (one per coin)
  std::vector<PriceValues> values;  ///< one per requested vs_currency, in the request's order
};

/// The valid records of one `/simple/price` answer, and what was wrong with the others.
struct PricesPage {
  std::vector<PriceRecord> records;
  int64_t fetched_ms = 0;
  size_t invalid_items = 0;
  std::string first_invalid_reason;
};

/// Parses a `/simple/price` body asked with every include flag (market cap, 24 h volume, 24 h
/// change, last_updated_at) for `vs_currencies`. A body that is not a JSON object is an
/// Unavailable error; a record that is not an object, lacks a whole `last_updated_at` or holds a
/// value that is not a number is counted as invalid and skipped. Ids CoinGecko does not know are
/// simply absent from the answer (CoinGecko leaves them out).
Result<PricesPage> parseSimplePrice(std::string_view body,
                                    const std::vector<std::string>& vs_currencies,
                                    int64_t fetched_ms, simdjson::dom::parser& parser);

}  // namespace coinrelay::coingecko
