#include "coingecko/simple_price_parser.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/strings.h"

namespace coinrelay::coingecko {

namespace {

/// Fills `record` from one coin's object; returns a reason when it must be skipped.
std::string readRecord(simdjson::dom::element element,
                       const std::vector<std::string>& vs_currencies, PriceRecord& record) {
  simdjson::dom::object obj;
  if (element.get_object().get(obj) != simdjson::SUCCESS)
    return fmt::format("{}: record is not an object", record.id);
  std::string type_error;
  const auto updated = json::optionalInteger(obj, "last_updated_at", &type_error);
  if (!updated)
    return fmt::format("{}: no whole last_updated_at", record.id);
  record.last_updated_s = *updated;
  record.values.reserve(vs_currencies.size());
  for (const std::string& vs : vs_currencies) {
    PriceValues values;
    values.price = json::optionalNumber(obj, vs, &type_error);
    values.market_cap = json::optionalNumber(obj, vs + "_market_cap", &type_error);
    values.volume_24h = json::optionalNumber(obj, vs + "_24h_vol", &type_error);
    values.change_24h = json::optionalNumber(obj, vs + "_24h_change", &type_error);
    record.values.push_back(values);
  }
  if (!type_error.empty())
    return fmt::format("{}: field '{}' has the wrong type", record.id, type_error);
  return {};
}

}  // namespace

Result<PricesPage> parseSimplePrice(std::string_view body,
                                    const std::vector<std::string>& vs_currencies,
                                    int64_t fetched_ms, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("simple/price answered with invalid JSON ({}), {} bytes: '{}'",
                                 simdjson::error_message(err), body.size(), excerpt(body, 80)));
  }
  simdjson::dom::object coins;
  if (doc.get_object().get(coins) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("simple/price answered with JSON that is not an object: '{}'",
                                 excerpt(body, 80)));
  }
  PricesPage page;
  page.fetched_ms = fetched_ms;
  page.records.reserve(coins.size());
  for (auto [key, value] : coins) {
    PriceRecord record;
    record.id = std::string(key);
    std::string reason = record.id.empty() ? std::string("record has an empty id")
                                           : readRecord(value, vs_currencies, record);
    if (reason.empty()) {
      page.records.push_back(std::move(record));
    } else {
      if (page.invalid_items == 0)
        page.first_invalid_reason = std::move(reason);
      ++page.invalid_items;
    }
  }
  return page;
}

}  // namespace coinrelay::coingecko
