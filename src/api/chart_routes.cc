#include "api/chart_routes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "api/api_error.h"
#include "coingecko/api_format.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

using storage::Granularity;
using storage::kDayMs;
using storage::kHourMs;
using storage::kMinuteMs;
using Kind = ChartRequest::Kind;

/// CoinGecko caches market_chart for 30 s (FACTS §2.2): an answer is reused as long.
constexpr int64_t kCachePeriodMs = 30'000;
constexpr std::string_view kCoinsPrefix = "/api/v3/coins/";

struct Route {
  Kind kind;
  std::string id;
};

std::optional<Route> routeFor(std::string_view path) {
  if (path == "/v1/history")
    return Route{Kind::History, {}};
  if (!path.starts_with(kCoinsPrefix))
    return std::nullopt;
  std::string_view rest = path.substr(kCoinsPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos)
    return std::nullopt;
  const std::string_view id = rest.substr(0, slash);
  const std::string_view endpoint = rest.substr(slash);
  static const std::pair<std::string_view, Kind> kEndpoints[] = {
      {"/market_chart", Kind::MarketChart},
      {"/market_chart/range", Kind::MarketChartRange},
      {"/ohlc", Kind::Ohlc},
      {"/ohlc/range", Kind::OhlcRange},
  };
  for (const auto& [suffix, kind] : kEndpoints) {
    if (endpoint == suffix)
      return Route{kind, toLower(id)};
  }
  return std::nullopt;
}

std::optional<double> parseNumber(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

/// A time parameter: UNIX seconds (CoinGecko's convention; a number this large is taken as
/// milliseconds), or an ISO date as CoinGecko accepts it: YYYY-MM-DD, YYYY-MM-DDTHH:MM, or
/// full ISO-8601.
/// Never before 1970 (nullopt); anything after the year 9999 is the year 9999, so that the
/// arithmetic on times (windows, steps) cannot overflow.
std::optional<int64_t> parseTime(std::string_view text) {
  constexpr int64_t kLatestMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
  if (text.empty())
    return std::nullopt;
  if (auto number = parseNumber(text)) {
    if (*number < 0)
      return std::nullopt;
    const double ms = *number < 100'000'000'000.0 ? *number * 1000 : *number;
    return ms >= static_cast<double>(kLatestMs) ? kLatestMs
                                                : static_cast<int64_t>(std::llround(ms));
  }
  std::string iso(text);
  if (iso.size() == 10)
    iso += "T00:00:00Z";
  else if (iso.size() == 16)
    iso += ":00Z";
  auto ms = parseIso8601Millis(iso);
  if (!ms || *ms < 0)
    return std::nullopt;
  return std::min(*ms, kLatestMs);
}

/// "full" or 0..18, CoinGecko's `precision`.
bool parsePrecision(const std::string& text, std::optional<int>& precision) {
  if (text.empty() || text == "full")
    return true;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || value > 18)
    return false;
  precision = value;
  return true;
}

std::optional<double> rounded(const std::optional<double>& value, std::optional<int> precision) {
  if (!value || !precision)
    return value;
  return coingecko::roundDecimals(*value, *precision);
}

/// The upstream form of the request: CoinGecko's path with the parameters it was given.
std::string upstreamOf(const net::Request& request, const Route& route) {
  std::string path = fmt::format("/coins/{}", route.id);
  path += route.kind == Kind::MarketChart        ? "/market_chart"
          : route.kind == Kind::MarketChartRange ? "/market_chart/range"
          : route.kind == Kind::Ohlc             ? "/ohlc"
                                                 : "/ohlc/range";
  char separator = '?';
  for (const char* name : {"vs_currency", "days", "from", "to", "interval", "precision"}) {
    const std::string value = request.param(name);
    if (value.empty())
      continue;
    path += fmt::format("{}{}={}", separator, name, toLower(value));
    separator = '&';
  }
  return path;
}

std::optional<ChartRequest> parseHistory(const net::Request& request, int64_t now_ms,
                                         std::string* error) {
  ChartRequest out;
  out.kind = Kind::History;
  auto& query = out.history;
  query.id = toLower(request.param("id"));
  query.vs_currency = toLower(request.param("vs_currency", "usd"));
  if (query.id.empty()) {
    *error = "id: missing; e.g. /v1/history?id=bitcoin";
    return std::nullopt;
  }
  const std::string from = request.param("from");
  const std::string to = request.param("to");
  auto from_ms = from.empty() ? std::optional<int64_t>(now_ms - kDayMs) : parseTime(from);
  auto to_ms = to.empty() ? std::optional<int64_t>(now_ms) : parseTime(to);
  if (!from_ms) {
    *error = "from: '" + from + "' is not epoch seconds or ISO-8601";
    return std::nullopt;
  }
  if (!to_ms) {
    *error = "to: '" + to + "' is not epoch seconds or ISO-8601";
    return std::nullopt;
  }
  if (*from_ms > *to_ms) {
    *error = "from is after to";
    return std::nullopt;
  }
  query.from_ms = *from_ms;
  query.to_ms = *to_ms;
  const std::string points = request.param("points");
  if (!points.empty()) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(points.data(), points.data() + points.size(), value);
    if (ec != std::errc() || ptr != points.data() + points.size() || value < 1 || value > 10'000) {
      *error = "points: '" + points + "' is not a number between 1 and 10000";
      return std::nullopt;
    }
    query.max_points = static_cast<size_t>(value);
  }
  out.id = query.id;
  out.vs_currency = query.vs_currency;
  out.from_ms = query.from_ms;
  out.to_ms = query.to_ms;
  return out;
}

/// Reads `interval` of market_chart: empty (automatic), 5m, hourly or daily.
bool marketChartInterval(const std::string& interval, std::optional<Granularity>& out) {
  if (interval.empty())
    return true;
  if (interval == "5m")
    out = Granularity::FiveMinutes;
  else if (interval == "hourly")
    out = Granularity::Hourly;
  else if (interval == "daily")
    out = Granularity::Daily;
  return out.has_value();
}

}  // namespace

std::optional<ChartRequest> parseChartRequest(const net::Request& request, int64_t now_ms,
                                              std::string* error) {
  auto route = routeFor(request.path);
  if (!route) {
    *error = "not a chart path";
    return std::nullopt;
  }
  if (route->kind == Kind::History)
    return parseHistory(request, now_ms, error);
  ChartRequest out;
  out.kind = route->kind;
  out.id = route->id;
  out.vs_currency = toLower(request.param("vs_currency"));
  if (out.vs_currency.empty()) {
    *error = "Missing parameter vs_currency";
    return std::nullopt;
  }
  if (!parsePrecision(toLower(request.param("precision")), out.precision)) {
    *error = "invalid precision";
    return std::nullopt;
  }
  const std::string interval = toLower(request.param("interval"));
  const bool ranged = out.kind == Kind::MarketChartRange || out.kind == Kind::OhlcRange;
  double days = 0;
  if (ranged) {
    const std::string from = request.param("from");
    const std::string to = request.param("to");
    if (from.empty() || to.empty()) {
      *error = from.empty() ? "Missing parameter from" : "Missing parameter to";
      return std::nullopt;
    }
    auto from_ms = parseTime(from);
    auto to_ms = parseTime(to);
    if (!from_ms || !to_ms) {
      *error = !from_ms ? "invalid from" : "invalid to";
      return std::nullopt;
    }
    if (*from_ms > *to_ms) {
      *error = "from is after to";
      return std::nullopt;
    }
    out.from_ms = *from_ms;
    out.to_ms = *to_ms;
    days = static_cast<double>(out.to_ms - out.from_ms) / kDayMs;
  } else {
    const std::string text = toLower(request.param("days"));
    if (text.empty()) {
      *error = "Missing parameter days";
      return std::nullopt;
    }
    if (text == "max") {
      out.from_origin = true;
      days = 1e9;
    } else {
      auto number = parseNumber(text);
      static const std::set<std::string> kOhlcDays = {"1", "7", "14", "30", "90", "180", "365"};
      if (!number || *number <= 0 || (out.kind == Kind::Ohlc && !kOhlcDays.contains(text))) {
        *error = "invalid days";
        return std::nullopt;
      }
      days = *number;
    }
    out.to_ms = now_ms;
    out.from_ms = out.from_origin ? 0 : now_ms - static_cast<int64_t>(days * kDayMs);
  }
  if (out.kind == Kind::MarketChart || out.kind == Kind::MarketChartRange) {
    std::optional<Granularity> chosen;
    if (!marketChartInterval(interval, chosen)) {
      *error = "invalid interval";
      return std::nullopt;
    }
    // CoinGecko's limits of the explicit intervals.
    if ((chosen == Granularity::FiveMinutes && days > 10) ||
        (chosen == Granularity::Hourly && days > 100)) {
      *error = fmt::format("interval {} covers at most {} days", interval,
                           chosen == Granularity::FiveMinutes ? 10 : 100);
      return std::nullopt;
    }
    if (!chosen) {
      // Automatic: 5-minutely for a day up to now, hourly up to 90 days, daily beyond.
      const bool recent_day = days <= 1 && out.from_ms >= now_ms - kDayMs;
      chosen = recent_day   ? Granularity::FiveMinutes
               : days <= 90 ? Granularity::Hourly
                            : Granularity::Daily;
    }
    out.source = *chosen;
    out.step_ms = storage::widthOf(*chosen);
  } else {
    if (out.kind == Kind::OhlcRange && interval.empty()) {
      *error = "Missing parameter interval";
      return std::nullopt;
    }
    if (!interval.empty() && interval != "daily" && interval != "hourly") {
      *error = "invalid interval";
      return std::nullopt;
    }
    if (interval == "daily") {
      out.source = Granularity::Daily;
      out.step_ms = kDayMs;
    } else if (interval == "hourly") {
      out.source = Granularity::Hourly;
      out.step_ms = kHourMs;
    } else if (days <= 2) {  // CoinGecko's candles: 30 minutes, 4 hours or 4 days by range
      out.source = Granularity::FiveMinutes;
      out.step_ms = 30 * kMinuteMs;
    } else if (days <= 30) {
      out.source = Granularity::Hourly;
      out.step_ms = 4 * kHourMs;
    } else {
      out.source = Granularity::Daily;
      out.step_ms = 4 * kDayMs;
    }
  }
  out.upstream = upstreamOf(request, *route);
  out.cache_key = out.upstream;
  return out;
}

std::string renderChart(const ChartRequest& request, const storage::ChartData& data,
                        int64_t now_ms) {
  std::string out;
  JsonWriter w(out);
  const int64_t until = std::min(request.to_ms, now_ms);
  if (request.kind == Kind::Ohlc || request.kind == Kind::OhlcRange) {
    // Candles are stamped with their close time; the one still open with its last observation.
    w.beginArray();
    for (const auto& candle : storage::rebucket(data.buckets, request.step_ms)) {
      const int64_t end = candle.start_ms + request.step_ms;
      const int64_t t = end <= now_ms ? end : candle.last_ms;
      if (t < request.from_ms || t > request.to_ms || !candle.open || !candle.close)
        continue;
      if (data.first_ms && candle.start_ms < *data.first_ms)
        continue;  // the history does not cover its whole window (retention, a new coin)
      w.beginArray()
          .value(t)
          .value(rounded(candle.open, request.precision))
          .value(rounded(candle.high, request.precision))
          .value(rounded(candle.low, request.precision))
          .value(rounded(candle.close, request.precision))
          .endArray();
    }
    w.endArray();
    return out;
  }
  // A point at the end of every window that has ended, then the newest observation ("now").
  std::vector<storage::HistoryPoint> points;
  for (const auto& bucket : data.buckets) {
    const int64_t end = bucket.start_ms + request.step_ms;
    if (end < request.from_ms || end > until)
      continue;
    points.push_back({end, bucket.close, bucket.market_cap, bucket.volume});
  }
  if (data.latest && data.latest->t_ms >= request.from_ms && data.latest->t_ms <= request.to_ms &&
      (points.empty() || data.latest->t_ms > points.back().t_ms)) {
    points.push_back(*data.latest);
  }
  w.beginObject();
  auto series = [&](const char* name, auto member, bool price) {
    w.key(name).beginArray();
    for (const auto& point : points) {
      const std::optional<double>& value = point.*member;
      if (!value)
        continue;
      w.beginArray().value(point.t_ms);
      w.value(price ? rounded(value, request.precision) : value);
      w.endArray();
    }
    w.endArray();
  };
  series("prices", &storage::HistoryPoint::price, true);
  series("market_caps", &storage::HistoryPoint::market_cap, false);
  series("total_volumes", &storage::HistoryPoint::volume_24h, false);
  w.endObject();
  return out;
}

// ----- ChartRoutes ---------------------------------------------------------------------------

ChartRoutes::ChartRoutes(storage::HistorySource* history, MissFetcher* misses, Options options,
                         const Clock& clock)
    : history_(history),
      misses_(misses),
      options_(options),
      clock_(clock),
      cache_(options.cache_bytes, "charts") {
  for (int i = 0; i < std::max(options_.workers, 1); ++i)
    workers_.emplace_back([this] { work(); });
}

ChartRoutes::~ChartRoutes() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_)
    worker.join();
}

std::optional<std::string> ChartRoutes::routeOf(std::string_view path) {
  auto route = routeFor(path);
  if (!route)
    return std::nullopt;
  switch (route->kind) {
    case Kind::History:
      return "/v1/history";
    case Kind::MarketChart:
      return "/coins/market_chart";
    case Kind::MarketChartRange:
      return "/coins/market_chart/range";
    case Kind::Ohlc:
      return "/coins/ohlc";
    case Kind::OhlcRange:
      return "/coins/ohlc/range";
  }
  return std::nullopt;
}

ChartRoutes::Stats ChartRoutes::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string ChartRoutes::cacheKey(const ChartRequest& request, int64_t now_ms) const {
  if (request.cache_key.empty() || options_.cache_bytes == 0 || history_ == nullptr)
    return {};
  // Each answer is kept for one cache period, whose boundaries are shifted by a hash of the
  // query: were they the same for every query, every chart would expire at once and the next
  // requests would all wait for the history together.
  const auto phase = static_cast<int64_t>(std::hash<std::string>{}(request.cache_key) %
                                          static_cast<uint64_t>(kCachePeriodMs));
  return fmt::format("{}|{}", request.cache_key, (now_ms + phase) / kCachePeriodMs);
}

net::Reply ChartRoutes::handle(const net::Request& request, const std::string& client) {
  const int64_t now_ms = toUnixMillis(clock_.now());
  std::string error;
  auto parsed = parseChartRequest(request, now_ms, &error);
  if (!parsed)
    return errorReply(ApiErrorKind::BadRequest, error);
  if (history_ == nullptr) {
    if (parsed->kind != Kind::History && misses_ != nullptr)
      return misses_->deferred(parsed->upstream, client);
    return errorReply(ApiErrorKind::Unavailable,
                      "history is not available: configure elasticsearch.url for serve");
  }
  Job job{std::move(*parsed), {}, 0, client};
  job.key = cacheKey(job.request, now_ms);
  job.generation = history_->generation();
  if (!job.key.empty()) {
    if (auto hit = cache_.find(job.generation, job.key))
      return replyFrom(*hit, request);
  }
  net::Request conditions;
  for (const auto& header : request.headers) {
    if (header.first == "accept-encoding" || header.first == "if-none-match")
      conditions.headers.push_back(header);
  }
  net::Reply reply;
  reply.deferred = [this, job = std::move(job), conditions = std::move(conditions)](
                       std::function<void(net::Reply)> done) mutable {
    std::unique_lock lock(mutex_);
    if (job.key.empty()) {
      static std::atomic<uint64_t> unique{0};
      job.key = fmt::format("#{}", ++unique);  // not shared: its own entry in flight
    }
    if (auto flying = inflight_.find(job.key); flying != inflight_.end()) {
      flying->second.push_back({std::move(done), std::move(conditions)});
      return;
    }
    if (jobs_.size() >= options_.queue_per_worker * workers_.size()) {
      ++stats_.refused_busy;
      lock.unlock();
      net::Reply busy = errorReply(ApiErrorKind::Unavailable,
                                   "too many chart queries waiting; retry in a second");
      busy.headers.emplace_back("retry-after", "1");
      return done(std::move(busy));
    }
    inflight_[job.key].push_back({std::move(done), std::move(conditions)});
    jobs_.push_back(std::move(job));
    lock.unlock();
    wake_.notify_one();
  };
  return reply;
}

void ChartRoutes::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_)
        return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    run(job);
  }
}

void ChartRoutes::finish(const std::string& key,
                         const std::function<net::Reply(const net::Request&)>& reply) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = inflight_.find(key);
    if (it == inflight_.end())
      return;
    waiters = std::move(it->second);
    inflight_.erase(it);
  }
  for (auto& waiter : waiters)
    waiter.done(reply(waiter.conditions));  // outside the lock: a waiter may ask again
}

void ChartRoutes::run(const Job& job) {
  const ChartRequest& request = job.request;
  auto plain = [](net::Reply reply) {
    return [reply = std::move(reply)](const net::Request&) { return reply; };
  };
  if (request.kind == Kind::History) {
    auto points = history_->points(request.history);
    if (!points) {
      return finish(job.key, plain(errorReply(ApiErrorKind::Unavailable,
                                              "history unavailable: " + points.error().message)));
    }
    return finish(job.key, plain(net::Reply{200, "application/json",
                                            storage::renderHistory(request.history, *points)}));
  }
  const auto started = std::chrono::steady_clock::now();
  // From the start of the first window or candle, so that it is whole.
  auto data = history_->chart(storage::ChartQuery{
      request.id, request.vs_currency, storage::windowStart(request.from_ms, request.step_ms),
      request.to_ms, request.source});
  if (!data) {
    return finish(job.key, plain(errorReply(ApiErrorKind::Unavailable,
                                            "history unavailable: " + data.error().message)));
  }
  // The part of the range before coinrelay's history (or a coin it never tracked) is CoinGecko's
  // to answer: the request is relayed whole, so the answer keeps CoinGecko's granularity.
  const bool before_history =
      !data->known || request.from_origin || !data->first_ms ||
      *data->first_ms >
          request.from_ms + std::max(request.step_ms, storage::widthOf(request.source));
  if (before_history && misses_ != nullptr) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.relayed;
    }
    // The waiters go with the call: the miss fetcher may answer after this object is gone,
    // and it coalesces identical calls itself.
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mutex_);
      if (auto it = inflight_.find(job.key); it != inflight_.end()) {
        waiters = std::move(it->second);
        inflight_.erase(it);
      }
    }
    misses_->askAsync(request.upstream, job.client,
                      [waiters = std::move(waiters)](const net::Reply& reply) mutable {
                        for (auto& waiter : waiters)
                          waiter.done(reply);
                      });
    return;
  }
  if (!data->known) {
    return finish(job.key,
                  plain(errorReply(ApiErrorKind::NotFound,
                                   fmt::format("coin not tracked by coinrelay: {} in {}; ask its "
                                               "operator to add it to upstream.ids",
                                               request.id, request.vs_currency))));
  }
  auto cached = makeCachedResponse(200, renderChart(request, *data, toUnixMillis(clock_.now())));
  {
    std::lock_guard lock(mutex_);
    ++stats_.computed;
  }
  if (!job.key.starts_with('#'))
    cache_.insert(job.generation, job.key, cached);
  static telemetry::Histogram& seconds = telemetry::metrics().histogram(
      "coinrelay_chart_query_seconds", "Time to read and render one chart from the history.",
      {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  finish(job.key,
         [cached](const net::Request& conditions) { return replyFrom(*cached, conditions); });
}

}  // namespace coinrelay::api
