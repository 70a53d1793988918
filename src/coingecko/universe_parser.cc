#include "coingecko/universe_parser.h"

#include <simdjson.h>

#include "common/strings.h"

namespace coinrelay::coingecko {

Result<std::vector<std::string>> parseSupportedCurrencies(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::array items;
  if (parser.parse(simdjson::padded_string(body)).get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::InvalidArgument,
                     "supported_vs_currencies: not a JSON array: " + excerpt(body));
  }
  std::vector<std::string> currencies;
  for (auto item : items) {
    std::string_view code;
    if (item.get(code) == simdjson::SUCCESS && !code.empty())
      currencies.push_back(toLower(code));
  }
  if (currencies.empty()) {
    return makeError(ErrorCode::InvalidArgument,
                     "supported_vs_currencies: no currency in the answer: " + excerpt(body));
  }
  return currencies;
}

}  // namespace coinrelay::coingecko
