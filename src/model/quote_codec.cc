#include "model/quote_codec.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::model {

namespace {

void writeDate(JsonWriter& w, std::string_view key, const std::optional<int64_t>& ms) {
  w.key(key);
  if (ms) {
    w.value(formatIso8601Millis(*ms));
  } else {
    w.null();
  }
}

}  // namespace

void encodeQuote(const Quote& q, std::string& out) {
  JsonWriter w(out);
  w.beginObject();
  w.field("schema_version", kQuoteSchemaVersion);
  w.field("id", q.id);
  w.field("symbol", toUpper(q.symbol));
  w.field("name", q.name);
  w.field("vs_currency", q.vs_currency);
  w.field("price", q.price);
  w.field("market_cap", q.market_cap);
  w.field("market_cap_rank", q.market_cap_rank);
  w.field("volume_24h", q.volume_24h);
  w.field("change_24h", q.change_24h);
  w.field("last_updated", formatIso8601Millis(q.last_updated_ms));
  w.field("timestamp", formatIso8601Millis(q.fetched_ms));
  w.field("image", q.image);
  w.field("fully_diluted_valuation", q.fully_diluted_valuation);
  w.field("high_24h", q.high_24h);
  w.field("low_24h", q.low_24h);
  w.field("price_change_24h", q.price_change_24h);
  w.field("market_cap_change_24h", q.market_cap_change_24h);
  w.field("market_cap_change_percentage_24h", q.market_cap_change_percentage_24h);
  w.field("circulating_supply", q.circulating_supply);
  w.field("total_supply", q.total_supply);
  w.field("max_supply", q.max_supply);
  w.field("ath", q.ath);
  w.field("ath_change_percentage", q.ath_change_percentage);
  writeDate(w, "ath_date", q.ath_date_ms);
  w.field("atl", q.atl);
  w.field("atl_change_percentage", q.atl_change_percentage);
  writeDate(w, "atl_date", q.atl_date_ms);
  w.key("roi");
  if (q.roi) {
    w.beginObject()
        .field("times", q.roi->times)
        .field("currency", q.roi->currency)
        .field("percentage", q.roi->percentage)
        .endObject();
  } else {
    w.null();
  }
  w.endObject();
}

std::string encodeQuote(const Quote& quote) {
  std::string out;
  out.reserve(768);
  encodeQuote(quote, out);
  return out;
}

Result<Quote> decodeQuote(std::string_view text, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(text.data(), text.size()).get(doc); err) {
    return makeError(ErrorCode::DataLoss,
                     fmt::format("quote message is not valid JSON ({}): '{}'",
                                 simdjson::error_message(err), excerpt(text, 80)));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return makeError(ErrorCode::DataLoss, "quote message is not a JSON object");
  }
  std::string type_error;
  const auto version = json::optionalInteger(obj, "schema_version", &type_error);
  if (!version || *version != kQuoteSchemaVersion) {
    return makeError(
        ErrorCode::DataLoss,
        fmt::format("quote message has schema_version {}, this coinrelay reads {}",
                    version ? std::to_string(*version) : "missing", kQuoteSchemaVersion));
  }
  Quote q;
  auto requiredString = [&](std::string_view key, std::string& out) {
    auto value = json::optionalString(obj, key, &type_error);
    if (!value || value->empty())
      return false;
    out = std::string(*value);
    return true;
  };
  auto requiredDate = [&](std::string_view key, int64_t& out) {
    auto value = json::optionalString(obj, key, &type_error);
    if (!value)
      return false;
    auto ms = parseIso8601Millis(*value);
    if (!ms)
      return false;
    out = *ms;
    return true;
  };
  for (auto [key, target] : {std::pair<const char*, std::string*>{"id", &q.id},
                             {"symbol", &q.symbol},
                             {"name", &q.name},
                             {"vs_currency", &q.vs_currency}}) {
    if (!requiredString(key, *target)) {
      return makeError(ErrorCode::DataLoss,
                       fmt::format("quote message lacks a non-empty string '{}'", key));
    }
  }
  q.symbol = toLower(q.symbol);
  if (!requiredDate("last_updated", q.last_updated_ms) ||
      !requiredDate("timestamp", q.fetched_ms)) {
    return makeError(ErrorCode::DataLoss,
                     "quote message lacks an ISO-8601 'last_updated' or 'timestamp'");
  }
  q.price = json::optionalNumber(obj, "price", &type_error);
  q.market_cap = json::optionalNumber(obj, "market_cap", &type_error);
  q.market_cap_rank = json::optionalInteger(obj, "market_cap_rank", &type_error);
  q.volume_24h = json::optionalNumber(obj, "volume_24h", &type_error);
  q.change_24h = json::optionalNumber(obj, "change_24h", &type_error);
  q.image = std::string(json::optionalString(obj, "image", &type_error).value_or(""));
  q.fully_diluted_valuation = json::optionalNumber(obj, "fully_diluted_valuation", &type_error);
  q.high_24h = json::optionalNumber(obj, "high_24h", &type_error);
  q.low_24h = json::optionalNumber(obj, "low_24h", &type_error);
  q.price_change_24h = json::optionalNumber(obj, "price_change_24h", &type_error);
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
  simdjson::dom::object roi;
  if (obj["roi"].get_object().get(roi) == simdjson::SUCCESS) {
    Roi r;
    r.times = json::optionalNumber(roi, "times", &type_error).value_or(0);
    r.currency = std::string(json::optionalString(roi, "currency", &type_error).value_or(""));
    r.percentage = json::optionalNumber(roi, "percentage", &type_error).value_or(0);
    q.roi = r;
  }
  if (!type_error.empty()) {
    return makeError(
        ErrorCode::DataLoss,
        fmt::format("quote message for '{}' has a wrongly typed field '{}'", q.id, type_error));
  }
  return q;
}

}  // namespace coinrelay::model
