#include "elasticsearch/bulk_encoder.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "model/quote_codec.h"

namespace coinrelay::elasticsearch {

void appendIndexAction(std::string& body, std::string_view index, const model::Quote& quote) {
  JsonWriter action(body);
  action.beginObject()
      .key("index")
      .beginObject()
      .field("_index", index)
      .field("_id", model::observationKey(quote))
      .endObject()
      .endObject();
  body.push_back('\n');
  model::encodeQuote(quote, body);
  body.push_back('\n');
}

Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body,
                                                      simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["items"].get_array().get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("bulk response without an items array: '{}'", excerpt(body)));
  }
  std::vector<BulkItemResult> out;
  out.reserve(items.size());
  for (simdjson::dom::element item : items) {
    BulkItemResult result;
    simdjson::dom::object wrapper;
    if (item.get_object().get(wrapper) == simdjson::SUCCESS && wrapper.begin() != wrapper.end()) {
      simdjson::dom::object action;
      if ((*wrapper.begin()).value.get_object().get(action) == simdjson::SUCCESS) {
        std::string ignored;
        result.status =
            static_cast<int>(json::optionalInteger(action, "status", &ignored).value_or(0));
        simdjson::dom::object error;
        if (action["error"].get_object().get(error) == simdjson::SUCCESS) {
          result.error =
              fmt::format("{}: {}", json::optionalString(error, "type", &ignored).value_or("?"),
                          json::optionalString(error, "reason", &ignored).value_or(""));
        }
      }
    }
    out.push_back(std::move(result));
  }
  return out;
}

std::string indexTemplateBody(std::string_view index, int shards, int replicas) {
  constexpr const char* kDouble = R"({"type":"double"})";
  constexpr const char* kLong = R"({"type":"long"})";
  constexpr const char* kKeyword = R"({"type":"keyword"})";
  constexpr const char* kDate =
      R"({"type":"date","format":"strict_date_optional_time||epoch_millis"})";
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  w.key("index_patterns").beginArray().value(index).value(std::string(index) + "-*").endArray();
  w.field("priority", 200);
  w.key("template").beginObject();
  w.key("settings")
      .beginObject()
      .field("number_of_shards", shards)
      .field("number_of_replicas", replicas)
      .field("refresh_interval", "1s")
      .endObject();
  w.key("mappings").beginObject().field("dynamic", "strict").key("properties").beginObject();
  w.key("schema_version").raw(R"({"type":"short"})");
  for (const char* name : {"id", "symbol", "vs_currency", "name"})
    w.key(name).raw(kKeyword);
  w.key("image").raw(R"({"type":"keyword","index":false,"doc_values":false})");
  for (const char* name : {"market_cap", "volume_24h", "fully_diluted_valuation"}) {
    w.key(name).raw(kLong);
  }
  w.key("market_cap_rank").raw(R"({"type":"integer"})");
  for (const char* name :
       {"price", "change_24h", "high_24h", "low_24h", "price_change_24h", "market_cap_change_24h",
        "market_cap_change_percentage_24h", "circulating_supply", "total_supply", "max_supply",
        "ath", "ath_change_percentage", "atl", "atl_change_percentage"}) {
    w.key(name).raw(kDouble);
  }
  for (const char* name : {"last_updated", "timestamp", "ath_date", "atl_date"}) {
    w.key(name).raw(kDate);
  }
  w.key("roi").raw(
      R"({"properties":{"times":{"type":"double"},"currency":{"type":"keyword"},"percentage":{"type":"double"}}})");
  w.endObject().endObject();  // properties, mappings
  w.endObject();              // template
  w.key("_meta")
      .beginObject()
      .field("managed_by", "coinrelay")
      .field("schema_version", 1)
      .endObject();
  w.endObject();
  return out;
}

}  // namespace coinrelay::elasticsearch
