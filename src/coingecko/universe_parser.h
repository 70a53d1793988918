#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coingecko/coins_list_parser.h"  // parseCoinsList, with the platforms
#include "common/result.h"

namespace coinrelay::coingecko {

/// Parses a `/simple/supported_vs_currencies` answer: a JSON array of currency codes, lower-cased.
Result<std::vector<std::string>> parseSupportedCurrencies(std::string_view body);

}  // namespace coinrelay::coingecko
