#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"

namespace coinrelay::coingecko {

/// One coin of `/coins/list`.
struct ListedCoin {
  std::string id;
  std::string symbol;  ///< lower case, as CoinGecko sends it
  std::string name;
  /// The `platforms` object as CoinGecko sent it (include_platform=true), compact JSON; nullopt
  /// when the answer had none.
  std::optional<std::string> platforms;
};

/// The coins of one `/coins/list` answer (the universe), and how many items were unusable.
struct CoinsList {
  std::vector<ListedCoin> coins;
  size_t invalid_items = 0;
};

/// Parses a `/coins/list` body. A body that is not a JSON array is an Unavailable error; an item
/// without a non-empty id, symbol and name is counted and skipped.
Result<CoinsList> parseCoinsList(std::string_view body, simdjson::dom::parser& parser);

}  // namespace coinrelay::coingecko
