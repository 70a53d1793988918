#include "storage/history.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "elasticsearch/elasticsearch_client.h"

namespace coinrelay::storage {

namespace {

/// A dashboard waits for this answer: a slow engine gets a 503, not a hung chart.
constexpr std::chrono::seconds kSearchTimeout{10};

}  // namespace

std::string renderHistory(const HistoryQuery& query, const std::vector<HistoryPoint>& points) {
  const size_t stride = points.size() > query.max_points
                            ? (points.size() + query.max_points - 1) / query.max_points
                            : 1;
  std::string out;
  JsonWriter w(out);
  w.beginObject().field("id", query.id).field("vs_currency", query.vs_currency);
  auto series = [&](const char* name, auto member) {
    w.key(name).beginArray();
    for (size_t i = 0; i < points.size(); i += stride) {
      w.beginArray().value(points[i].t_ms).value(points[i].*member).endArray();
    }
    w.endArray();
  };
  series("prices", &HistoryPoint::price);
  series("market_caps", &HistoryPoint::market_cap);
  series("total_volumes", &HistoryPoint::volume_24h);
  w.endObject();
  return out;
}

Result<std::vector<HistoryPoint>> ElasticsearchHistory::points(const HistoryQuery& query) {
  std::string body;
  JsonWriter w(body);
  w.beginObject()
      .field("size", static_cast<int64_t>(std::min<size_t>(query.max_points * 4, 10'000)))
      .key("sort")
      .raw(R"([{"last_updated":"asc"}])")
      .key("_source")
      .raw(R"(["last_updated","price","market_cap","volume_24h"])")
      .key("query")
      .beginObject()
      .key("bool")
      .beginObject()
      .key("filter")
      .beginArray();
  w.beginObject().key("term").beginObject().field("id", query.id).endObject().endObject();
  w.beginObject()
      .key("term")
      .beginObject()
      .field("vs_currency", query.vs_currency)
      .endObject()
      .endObject();
  w.beginObject()
      .key("range")
      .beginObject()
      .key("last_updated")
      .beginObject()
      .field("gte", query.from_ms)
      .field("lte", query.to_ms)
      .field("format", "epoch_millis")
      .endObject()
      .endObject()
      .endObject();
  w.endArray().endObject().endObject().endObject();
  // A client per call: server threads ask at once, and a client serves one thread.
  elasticsearch::ElasticsearchClient client(config_);
  CR_TRY(auto response, client.send("POST", "/" + config_.index + "/_search", std::move(body),
                                    "application/json", kSearchTimeout));
  if (response.status == 404)
    return std::vector<HistoryPoint>{};
  if (response.status != 200) {
    return makeError(ErrorCode::Unavailable, fmt::format("history search answered HTTP {}: {}",
                                                         response.status, excerpt(response.body)));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array hits;
  if (parser.parse(response.body).get(doc) != simdjson::SUCCESS ||
      doc["hits"]["hits"].get_array().get(hits) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable, "history search answered without hits");
  }
  std::vector<HistoryPoint> out;
  for (simdjson::dom::element hit : hits) {
    simdjson::dom::object source;
    if (hit["_source"].get_object().get(source) != simdjson::SUCCESS)
      continue;
    std::string ignored;
    auto when = json::optionalString(source, "last_updated", &ignored);
    auto ms = when ? parseIso8601Millis(*when) : std::nullopt;
    if (!ms)
      continue;
    out.push_back(HistoryPoint{*ms, json::optionalNumber(source, "price", &ignored),
                               json::optionalNumber(source, "market_cap", &ignored),
                               json::optionalNumber(source, "volume_24h", &ignored)});
  }
  return out;
}

}  // namespace coinrelay::storage
