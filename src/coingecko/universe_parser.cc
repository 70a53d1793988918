#include "coingecko/universe_parser.h"

#include <simdjson.h>

#include "common/strings.h"

namespace coinrelay::coingecko {

Result<std::vector<ListedCoin>> parseCoinsList(std::string_view body, size_t* skipped) {
  simdjson::dom::parser parser;
  simdjson::dom::array items;
  if (parser.parse(simdjson::padded_string(body)).get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::InvalidArgument, "coins/list: not a JSON array: " + excerpt(body));
  }
  std::vector<ListedCoin> coins;
  coins.reserve(items.size());
  size_t bad = 0;
  for (auto item : items) {
    std::string_view id, symbol, name;
    if (item["id"].get(id) != simdjson::SUCCESS ||
        item["symbol"].get(symbol) != simdjson::SUCCESS ||
        item["name"].get(name) != simdjson::SUCCESS || id.empty()) {
      ++bad;
      continue;
    }
    ListedCoin coin{std::string(id), std::string(symbol), std::string(name), std::nullopt};
    simdjson::dom::object platforms;
    if (item["platforms"].get(platforms) == simdjson::SUCCESS)
      coin.platforms = simdjson::minify(platforms);
    coins.push_back(std::move(coin));
  }
  if (skipped != nullptr)
    *skipped = bad;
  return coins;
}

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
