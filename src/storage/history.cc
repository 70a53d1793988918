#include "storage/history.h"

#include <algorithm>
#include <climits>

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
/// The spacing assumed for raw observations when choosing a granularity (the default
/// upstream.interval_s).
constexpr int64_t kRawSpacingMs = kMinuteMs;
/// CoinGecko caches market_chart for 30 s; the engine's answers are kept as long.
constexpr int64_t kEngineGenerationMs = 30'000;

std::optional<double> minOf(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return std::min(*a, *b);
}

std::optional<double> maxOf(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return std::max(*a, *b);
}

}  // namespace

int64_t widthOf(Granularity granularity) {
  switch (granularity) {
    case Granularity::Raw:
      return 0;
    case Granularity::FiveMinutes:
      return 5 * kMinuteMs;
    case Granularity::Hourly:
      return kHourMs;
    case Granularity::Daily:
      return kDayMs;
  }
  return 0;
}

std::string_view nameOf(Granularity granularity) {
  switch (granularity) {
    case Granularity::Raw:
      return "raw";
    case Granularity::FiveMinutes:
      return "5m";
    case Granularity::Hourly:
      return "hourly";
    case Granularity::Daily:
      return "daily";
  }
  return "raw";
}

int64_t windowStart(int64_t t_ms, int64_t width) {
  if (width <= 0)
    return t_ms;
  int64_t start = t_ms - t_ms % width;
  return start > t_ms ? start - width : start;  // before 1970 the remainder is negative
}

Retention Retention::of(const config::StorageConfig& config) {
  Retention r;
  r.raw_ms = int64_t{config.raw_retention_hours} * kHourMs;
  r.five_minutes_ms = int64_t{config.five_minute_retention_days} * kDayMs;
  r.hourly_ms = int64_t{config.hourly_retention_days} * kDayMs;
  r.daily_ms = int64_t{config.daily_retention_days} * kDayMs;
  return r;
}

int64_t Retention::of(Granularity granularity) const {
  switch (granularity) {
    case Granularity::Raw:
      return raw_ms;
    case Granularity::FiveMinutes:
      return five_minutes_ms;
    case Granularity::Hourly:
      return hourly_ms;
    case Granularity::Daily:
      return daily_ms;
  }
  return raw_ms;
}

Bucket Bucket::of(const HistoryPoint& point) {
  Bucket b;
  b.start_ms = b.first_ms = b.last_ms = point.t_ms;
  b.open = b.high = b.low = b.close = point.price;
  b.market_cap = point.market_cap;
  b.volume = point.volume_24h;
  b.complete = true;
  return b;
}

void Bucket::merge(const Bucket& other) {
  // A value missing on one side is taken from the other; otherwise the earlier observation
  // gives the open and the later one the close, market cap and volume.
  if (other.open && (!open || other.first_ms < first_ms))
    open = other.open;
  if (other.close && (!close || other.last_ms > last_ms))
    close = other.close;
  if (other.market_cap && (!market_cap || other.last_ms > last_ms))
    market_cap = other.market_cap;
  if (other.volume && (!volume || other.last_ms > last_ms))
    volume = other.volume;
  first_ms = std::min(first_ms, other.first_ms);
  last_ms = std::max(last_ms, other.last_ms);
  high = maxOf(high, other.high);
  low = minOf(low, other.low);
}

std::vector<Bucket> rebucket(const std::vector<Bucket>& finer, int64_t width) {
  std::vector<Bucket> out;
  for (const auto& fine : finer) {
    const int64_t start = windowStart(fine.start_ms, width);
    if (out.empty() || out.back().start_ms != start) {
      Bucket b = fine;
      b.start_ms = start;
      b.complete = false;
      out.push_back(b);
    } else {
      out.back().merge(fine);
    }
  }
  return out;
}

Granularity historyGranularity(const HistorySource& source, const HistoryQuery& query) {
  const int64_t span = std::max<int64_t>(query.to_ms - query.from_ms, 0);
  const int64_t most = static_cast<int64_t>(query.max_points) * 4;
  for (Granularity g : kGranularities) {
    const int64_t spacing = g == Granularity::Raw ? kRawSpacingMs : widthOf(g);
    if (span / spacing <= most && source.keptSince(g) <= query.from_ms)
      return g;
  }
  return Granularity::Daily;
}

Result<std::vector<HistoryPoint>> HistorySource::points(const HistoryQuery& query) {
  auto read = [&](Granularity granularity) -> Result<std::vector<HistoryPoint>> {
    CR_TRY(auto data,
           chart(ChartQuery{query.id, query.vs_currency, query.from_ms, query.to_ms, granularity}));
    std::vector<HistoryPoint> out;
    const int64_t width = widthOf(granularity);
    for (const auto& b : data.buckets) {
      if (!b.complete)
        continue;
      const int64_t t = b.start_ms + width;
      if (t < query.from_ms || t > query.to_ms)
        continue;
      out.push_back(HistoryPoint{t, b.close, b.market_cap, b.volume});
    }
    if (data.latest && (out.empty() || data.latest->t_ms > out.back().t_ms) &&
        data.latest->t_ms >= query.from_ms) {
      out.push_back(*data.latest);
    }
    return out;
  };
  Granularity granularity = historyGranularity(*this, query);
  CR_TRY(auto out, read(granularity));
  // A history younger than one window of the tier the range calls for (a fresh install asked
  // for a day) has no complete window there yet: the finer tiers hold what there is, and they
  // are small exactly then.
  while (out.size() < 2 && granularity != Granularity::Raw) {
    granularity = finerThan(granularity);
    CR_TRY(auto finer, read(granularity));
    if (finer.size() > out.size())
      out = std::move(finer);
  }
  return out;
}

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

// ----- Elasticsearch ------------------------------------------------------------------------

namespace {

/// The answer of a search of the quotes index; nullopt when the index does not exist yet. A
/// client per call: chart workers ask at once, and a client serves one thread.
Result<std::optional<std::string>> searchIndex(const config::ElasticsearchConfig& config,
                                               std::string body) {
  elasticsearch::ElasticsearchClient client(config);
  CR_TRY(auto response, client.send("POST", "/" + config.index + "/_search", std::move(body),
                                    "application/json", kSearchTimeout));
  if (response.status == 404)
    return std::optional<std::string>();
  if (response.status != 200) {
    return makeError(ErrorCode::Unavailable, fmt::format("history search answered HTTP {}: {}",
                                                         response.status, excerpt(response.body)));
  }
  return std::optional<std::string>(std::move(response.body));
}

/// The bool filter of one coin in one currency.
void writeSeriesFilter(JsonWriter& w, const ChartQuery& query) {
  w.key("bool").beginObject().key("filter").beginArray();
  w.beginObject().key("term").beginObject().field("id", query.id).endObject().endObject();
  w.beginObject()
      .key("term")
      .beginObject()
      .field("vs_currency", query.vs_currency)
      .endObject()
      .endObject();
  w.endArray().endObject();
}

void writeRange(JsonWriter& w, int64_t from_ms, int64_t to_ms) {
  w.key("range")
      .beginObject()
      .key("last_updated")
      .beginObject()
      .field("gte", from_ms)
      .field("lte", to_ms)
      .field("format", "epoch_millis")
      .endObject()
      .endObject();
}

/// A top_hits of the first or last document by last_updated, reading `fields` from doc values.
void writeEdge(JsonWriter& w, const char* name, const char* order, std::string_view fields) {
  w.key(name)
      .beginObject()
      .key("top_hits")
      .beginObject()
      .field("size", 1)
      .key("sort")
      .raw(fmt::format(R"([{{"last_updated":"{}"}}])", order))
      .field("_source", false)
      .key("docvalue_fields")
      .raw(fields)
      .endObject()
      .endObject();
}

constexpr std::string_view kAllFields = R"(["price","market_cap","volume_24h"])";

struct EdgeHit {
  int64_t t_ms = 0;
  std::optional<double> price;
  std::optional<double> market_cap;
  std::optional<double> volume;
};

std::optional<double> docValue(simdjson::dom::element hit, std::string_view field) {
  double value = 0;
  if (hit["fields"][field].at(0).get_double().get(value) == simdjson::SUCCESS)
    return value;
  return std::nullopt;
}

/// A hit sorted by last_updated, read from its sort value and doc values.
std::optional<EdgeHit> hitOf(simdjson::dom::element hit) {
  EdgeHit edge;
  if (hit["sort"].at(0).get_int64().get(edge.t_ms) != simdjson::SUCCESS) {
    double t = 0;
    if (hit["sort"].at(0).get_double().get(t) != simdjson::SUCCESS)
      return std::nullopt;
    edge.t_ms = static_cast<int64_t>(t);
  }
  edge.price = docValue(hit, "price");
  edge.market_cap = docValue(hit, "market_cap");
  edge.volume = docValue(hit, "volume_24h");
  return edge;
}

/// The one hit of a top_hits aggregation.
std::optional<EdgeHit> edgeOf(simdjson::dom::element agg) {
  simdjson::dom::element hit;
  if (agg["hits"]["hits"].at(0).get(hit) != simdjson::SUCCESS)
    return std::nullopt;
  return hitOf(hit);
}

std::optional<double> metricValue(simdjson::dom::element agg) {
  double value = 0;
  if (agg["value"].get_double().get(value) == simdjson::SUCCESS)
    return value;
  return std::nullopt;
}

}  // namespace

uint64_t ElasticsearchHistory::generation() const {
  return static_cast<uint64_t>(toUnixMillis(clock_.now()) / kEngineGenerationMs);
}

Result<ChartData> ElasticsearchHistory::chart(const ChartQuery& query) {
  if (query.granularity == Granularity::Raw)
    return rawChart(query);
  const int64_t width = widthOf(query.granularity);
  const char* interval = query.granularity == Granularity::FiveMinutes ? "5m"
                         : query.granularity == Granularity::Hourly    ? "1h"
                                                                       : "1d";
  std::string body;
  JsonWriter w(body);
  w.beginObject().field("size", 0).key("query").beginObject();
  writeSeriesFilter(w, query);
  w.endObject().key("aggs").beginObject();
  w.key("first_seen")
      .beginObject()
      .key("min")
      .beginObject()
      .field("field", "last_updated")
      .endObject()
      .endObject();
  w.key("range").beginObject().key("filter").beginObject();
  writeRange(w, windowStart(query.from_ms, width), query.to_ms);
  w.endObject().key("aggs").beginObject();
  writeEdge(w, "latest", "desc", kAllFields);
  w.key("windows")
      .beginObject()
      .key("date_histogram")
      .beginObject()
      .field("field", "last_updated")
      .field("fixed_interval", interval)
      .field("min_doc_count", 1)
      .endObject()
      .key("aggs")
      .beginObject();
  w.key("high")
      .beginObject()
      .key("max")
      .beginObject()
      .field("field", "price")
      .endObject()
      .endObject();
  w.key("low")
      .beginObject()
      .key("min")
      .beginObject()
      .field("field", "price")
      .endObject()
      .endObject();
  writeEdge(w, "first", "asc", R"(["price"])");
  writeEdge(w, "last", "desc", kAllFields);
  w.endObject().endObject();  // windows
  w.endObject().endObject();  // range
  w.endObject().endObject();
  CR_TRY(auto found, searchIndex(config_, std::move(body)));
  ChartData data;
  if (!found)
    return data;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::element aggs;
  if (parser.parse(*found).get(doc) != simdjson::SUCCESS ||
      doc["aggregations"].get(aggs) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable, "history search answered without aggregations");
  }
  if (auto first = metricValue(aggs["first_seen"])) {
    data.known = true;
    data.first_ms = static_cast<int64_t>(*first);
  }
  if (auto latest = edgeOf(aggs["range"]["latest"])) {
    data.latest = HistoryPoint{latest->t_ms, latest->price, latest->market_cap, latest->volume};
  }
  const int64_t now_ms = toUnixMillis(clock_.now());
  simdjson::dom::array windows;
  if (aggs["range"]["windows"]["buckets"].get_array().get(windows) == simdjson::SUCCESS) {
    for (simdjson::dom::element window : windows) {
      int64_t start = 0;
      if (window["key"].get_int64().get(start) != simdjson::SUCCESS) {
        double key = 0;
        if (window["key"].get_double().get(key) != simdjson::SUCCESS)
          continue;
        start = static_cast<int64_t>(key);
      }
      auto first = edgeOf(window["first"]);
      auto last = edgeOf(window["last"]);
      if (!first || !last)
        continue;
      Bucket b;
      b.start_ms = start;
      b.first_ms = first->t_ms;
      b.last_ms = last->t_ms;
      b.open = first->price;
      b.close = last->price;
      b.high = metricValue(window["high"]);
      b.low = metricValue(window["low"]);
      b.market_cap = last->market_cap;
      b.volume = last->volume;
      b.complete = start + width <= now_ms;
      data.buckets.push_back(b);
    }
  }
  return data;
}

Result<ChartData> ElasticsearchHistory::rawChart(const ChartQuery& query) {
  std::string body;
  JsonWriter w(body);
  w.beginObject()
      .field("size", 10'000)
      .key("sort")
      .raw(R"([{"last_updated":"asc"}])")
      .field("_source", false)
      .key("docvalue_fields")
      .raw(kAllFields)
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
  w.beginObject();
  writeRange(w, query.from_ms, query.to_ms);
  w.endObject();
  w.endArray().endObject().endObject().endObject();
  CR_TRY(auto found, searchIndex(config_, std::move(body)));
  ChartData data;
  if (!found)
    return data;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array hits;
  if (parser.parse(*found).get(doc) != simdjson::SUCCESS ||
      doc["hits"]["hits"].get_array().get(hits) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable, "history search answered without hits");
  }
  for (simdjson::dom::element hit : hits) {
    auto edge = hitOf(hit);
    if (!edge)
      continue;
    HistoryPoint point{edge->t_ms, edge->price, edge->market_cap, edge->volume};
    data.buckets.push_back(Bucket::of(point));
    data.latest = point;
  }
  data.known = !data.buckets.empty();
  if (data.known)
    data.first_ms = data.buckets.front().first_ms;
  return data;
}

}  // namespace coinrelay::storage
