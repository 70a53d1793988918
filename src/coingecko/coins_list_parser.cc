#include "coingecko/coins_list_parser.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/strings.h"

namespace coinrelay::coingecko {

Result<CoinsList> parseCoinsList(std::string_view body, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("coins/list answered with invalid JSON ({}), {} bytes: '{}'",
                                 simdjson::error_message(err), body.size(), excerpt(body, 80)));
  }
  simdjson::dom::array items;
  if (doc.get_array().get(items) != simdjson::SUCCESS) {
    return makeError(
        ErrorCode::Unavailable,
        fmt::format("coins/list answered with JSON that is not an array: '{}'", excerpt(body, 80)));
  }
  CoinsList out;
  out.coins.reserve(items.size());
  for (simdjson::dom::element item : items) {
    simdjson::dom::object obj;
    std::string type_error;
    if (item.get_object().get(obj) != simdjson::SUCCESS) {
      ++out.invalid_items;
      continue;
    }
    const auto id = json::optionalString(obj, "id", &type_error);
    const auto symbol = json::optionalString(obj, "symbol", &type_error);
    const auto name = json::optionalString(obj, "name", &type_error);
    if (!id || !symbol || !name || id->empty() || symbol->empty() || name->empty()) {
      ++out.invalid_items;
      continue;
    }
    ListedCoin coin{std::string(*id), toLower(*symbol), std::string(*name), std::nullopt};
    simdjson::dom::object platforms;
    if (obj["platforms"].get(platforms) == simdjson::SUCCESS)
      coin.platforms = simdjson::minify(platforms);
    out.coins.push_back(std::move(coin));
  }
  return out;
}

}  // namespace coinrelay::coingecko
