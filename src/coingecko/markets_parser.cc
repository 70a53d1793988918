#include "coingecko/markets_parser.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::coingecko {

namespace {

/// Fills `q` from one item; returns a reason when the item must be skipped.
std::string readItem(simdjson::dom::element element, model::Quote& q) {
  simdjson::dom::object obj;
  if (element.get_object().get(obj) != simdjson::SUCCESS)
    return "item is not an object";
  std::string type_error;
  auto id = json::optionalString(obj, "id", &type_error);
  if (!id || id->empty())
    return "item has no id";
  q.id = std::string(*id);
  auto symbol = json::optionalString(obj, "symbol", &type_error);
  auto name = json::optionalString(obj, "name", &type_error);
  if (!symbol || symbol->empty() || !name || name->empty()) {
    return fmt::format("{}: no symbol or name", q.id);
  }
  q.symbol = toLower(*symbol);
  q.name = std::string(*name);
  auto last_updated = json::optionalString(obj, "last_updated", &type_error);
  std::optional<int64_t> last_updated_ms;
  if (last_updated)
    last_updated_ms = parseIso8601Millis(*last_updated);
  if (!last_updated_ms) {
    return fmt::format("{}: last_updated '{}' is not ISO-8601", q.id,
                       last_updated ? excerpt(*last_updated, 40) : "null");
  }
  q.last_updated_ms = *last_updated_ms;
  q.image = std::string(json::optionalString(obj, "image", &type_error).value_or(""));
  q.price = json::optionalNumber(obj, "current_price", &type_error);
  q.market_cap = json::optionalNumber(obj, "market_cap", &type_error);
  q.market_cap_rank = json::optionalInteger(obj, "market_cap_rank", &type_error);
  q.fully_diluted_valuation = json::optionalNumber(obj, "fully_diluted_valuation", &type_error);
  q.volume_24h = json::optionalNumber(obj, "total_volume", &type_error);
  q.high_24h = json::optionalNumber(obj, "high_24h", &type_error);
  q.low_24h = json::optionalNumber(obj, "low_24h", &type_error);
  q.price_change_24h = json::optionalNumber(obj, "price_change_24h", &type_error);
  q.change_24h = json::optionalNumber(obj, "price_change_percentage_24h", &type_error);
  q.market_cap_change_24h = json::optionalNumber(obj, "market_cap_change_24h", &type_error);
  q.market_cap_change_percentage_24h =
      json::optionalNumber(obj, "market_cap_change_percentage_24h", &type_error);
  q.circulating_supply = json::optionalNumber(obj, "circulating_supply", &type_error);
  q.total_supply = json::optionalNumber(obj, "total_supply", &type_error);
  q.max_supply = json::optionalNumber(obj, "max_supply", &type_error);
  q.ath = json::optionalNumber(obj, "ath", &type_error);
  q.ath_change_percentage = json::optionalNumber(obj, "ath_change_percentage", &type_error);
  if (auto date = json::optionalString(obj, "ath_date", &type_error)) {
    q.ath_date_ms = parseIso8601Millis(*date);
  }
  q.atl = json::optionalNumber(obj, "atl", &type_error);
  q.atl_change_percentage = json::optionalNumber(obj, "atl_change_percentage", &type_error);
  if (auto date = json::optionalString(obj, "atl_date", &type_error)) {
    q.atl_date_ms = parseIso8601Millis(*date);
  }
  simdjson::dom::element roi_element;
  if (obj.at_key("roi").get(roi_element) == simdjson::SUCCESS && !roi_element.is_null()) {
    simdjson::dom::object roi;
    if (roi_element.get_object().get(roi) != simdjson::SUCCESS) {
      type_error = type_error.empty() ? "roi" : type_error;
    } else {
      model::Roi r;
      r.times = json::optionalNumber(roi, "times", &type_error).value_or(0);
      r.currency = std::string(json::optionalString(roi, "currency", &type_error).value_or(""));
      r.percentage = json::optionalNumber(roi, "percentage", &type_error).value_or(0);
      q.roi = r;
    }
  }
  if (!type_error.empty())
    return fmt::format("{}: field '{}' has the wrong type", q.id, type_error);
  return {};
}

}  // namespace

Result<MarketsPage> parseCoinsMarkets(std::string_view body, std::string_view vs_currency,
                                      int64_t fetched_ms, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("coins/markets answered with invalid JSON ({}), {} bytes: '{}'",
                                 simdjson::error_message(err), body.size(), excerpt(body, 80)));
  }
  simdjson::dom::array items;
  if (doc.get_array().get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("coins/markets answered with JSON that is not an array: '{}'",
                                 excerpt(body, 80)));
  }
  MarketsPage page;
  page.quotes.reserve(items.size());
  for (simdjson::dom::element item : items) {
    model::Quote q;
    q.vs_currency = std::string(vs_currency);
    q.fetched_ms = fetched_ms;
    std::string reason = readItem(item, q);
    if (reason.empty()) {
      page.quotes.push_back(std::move(q));
    } else {
      if (page.invalid_items == 0)
        page.first_invalid_reason = std::move(reason);
      ++page.invalid_items;
    }
  }
  return page;
}

UpstreamError describeErrorBody(std::string_view body, simdjson::dom::parser& parser) {
  UpstreamError out;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS) {
    auto readStatus = [&](simdjson::dom::object status) {
      std::string ignored;
      out.error_code =
          static_cast<int>(json::optionalInteger(status, "error_code", &ignored).value_or(0));
      out.message =
          std::string(json::optionalString(status, "error_message", &ignored).value_or(""));
    };
    simdjson::dom::object status;
    std::string_view text;
    if (doc["status"].get_object().get(status) == simdjson::SUCCESS) {
      readStatus(status);  // {"status":{"error_code":429,"error_message":"..."}}
    } else if (doc["error"]["status"].get_object().get(status) == simdjson::SUCCESS) {
      readStatus(status);  // {"error":{"status":{...}}}
    } else if (doc["error"].get_string().get(text) == simdjson::SUCCESS) {
      out.message = std::string(text);  // {"error":"invalid vs_currency"}
    }
    if (!out.message.empty())
      return out;
  }
  // Not JSON: Cloudflare pages carry the useful part in <title>; plain text is kept as it is.
  const size_t title = body.find("<title>");
  if (title != std::string_view::npos) {
    const size_t end = body.find("</title>", title);
    out.message =
        "HTML page: " +
        excerpt(body.substr(title + 7, end == std::string_view::npos ? 80 : end - title - 7));
  } else {
    out.message = excerpt(trim(body));
  }
  if (out.message.empty())
    out.message = "empty body";
  return out;
}

}  // namespace coinrelay::coingecko
