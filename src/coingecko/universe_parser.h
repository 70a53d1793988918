#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace coinrelay::coingecko {

/// One coin of CoinGecko's `/coins/list`.
struct ListedCoin {
  std::string id;
  std::string symbol;
  std::string name;
  /// The `platforms` object as CoinGecko sent it (include_platform=true), compact JSON; nullopt
  /// when the answer had none.
  std::optional<std::string> platforms;
};

/// Parses a `/coins/list` answer (with or without platforms). Items without a string id, symbol
/// and name are skipped and counted in `*skipped`; a body that is not a JSON array is an error.
Result<std::vector<ListedCoin>> parseCoinsList(std::string_view body, size_t* skipped = nullptr);

/// Parses a `/simple/supported_vs_currencies` answer: a JSON array of currency codes, lower-cased.
Result<std::vector<std::string>> parseSupportedCurrencies(std::string_view body);

}  // namespace coinrelay::coingecko
