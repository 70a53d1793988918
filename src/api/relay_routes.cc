#include "api/relay_routes.h"

#include <unordered_map>

#include "api/api_error.h"
#include "api/schemas.h"
#include "api/static_assets.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

int64_t nowMs() {
  return toUnixMillis(std::chrono::system_clock::now());
}

}  // namespace

void HealthState::record(const pipeline::CycleReport& report) {
  std::lock_guard lock(mutex_);
  ++cycles_;
  if (!report.upstream_ok || !report.sinks_ok)
    ++failed_cycles_;
  last_ = report;
  has_last_ = true;
}

bool HealthState::healthy() const {
  std::lock_guard lock(mutex_);
  return !has_last_ || (last_.upstream_ok && last_.sinks_ok) || cycles_ > failed_cycles_;
}

std::string HealthState::json(uint64_t upstream_requests) const {
  std::lock_guard lock(mutex_);
  std::string out;
  JsonWriter w(out);
  const char* status = !has_last_                            ? "starting"
                       : last_.upstream_ok && last_.sinks_ok ? "ok"
                                                             : "degraded";
  w.beginObject()
      .field("status", status)
      .field("cycles", static_cast<int64_t>(cycles_))
      .field("failed_cycles", static_cast<int64_t>(failed_cycles_))
      .field("upstream_requests", static_cast<int64_t>(upstream_requests));
  if (has_last_) {
    w.key("last_cycle")
        .beginObject()
        .field("started_at", formatIso8601Millis(last_.started_ms))
        .field("fetched", static_cast<int64_t>(last_.fetched))
        .field("delivered", static_cast<int64_t>(last_.delivered))
        .field("invalid", static_cast<int64_t>(last_.invalid))
        .field("upstream_ok", last_.upstream_ok)
        .field("sinks_ok", last_.sinks_ok)
        .field("error", last_.error)
        .endObject();
  }
  w.endObject();
  return out;
}

namespace {

/// Request counter by route, status and team, and the latency histogram by route.
void recordRequest(const std::string& route_name, const std::string& team, int status,
                   std::chrono::steady_clock::time_point started, bool timed) {
  // Series live as long as the process, so each thread keeps the ones it used: the hot path
  // then skips the registry's lock and the label rendering.
  thread_local std::unordered_map<std::string, telemetry::Counter*> counters;
  thread_local std::unordered_map<std::string, telemetry::Histogram*> histograms;
  std::string counter_key = route_name;
  counter_key.append("|").append(std::to_string(status)).append("|").append(team);
  auto& counter = counters[counter_key];
  if (counter == nullptr) {
    counter = &telemetry::metrics().counter(
        "coinrelay_http_requests_total", "HTTP requests by route, status and team.",
        {{"route", route_name}, {"status", std::to_string(status)}, {"team", team}});
  }
  counter->inc();
  if (!timed)
    return;
  auto& histogram = histograms[route_name];
  if (histogram == nullptr) {
    histogram = &telemetry::metrics().histogram(
        "coinrelay_http_request_duration_seconds", "Time to produce an answer, by route.",
        {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}, {{"route", route_name}});
  }
  histogram->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace

RelayRoutes::RelayRoutes(Parts parts) : parts_(std::move(parts)) {}

net::Reply RelayRoutes::handle(const net::Request& request) {
  const auto started = std::chrono::steady_clock::now();
  std::string team = "anonymous";
  std::string route_name = "other";
  net::Reply reply;
  const bool public_path = request.path == "/healthz" || request.path == "/readyz" ||
                           request.path == "/metrics" || isDashboardPath(request.path);
  std::optional<net::Reply> refusal;
  // Who asks, for the fair share of upstream calls: the team, or the address without teams.
  std::string client = "address:" + request.remote_address;
  if (parts_.teams != nullptr && parts_.teams->enabled() && !public_path) {
    auto admission = parts_.teams->admit(request);
    team = admission.team;
    client = "team:" + team;
    refusal = std::move(admission.refusal);
  }
  if (refusal) {
    reply = std::move(*refusal);
    route_name = "refused";
  } else {
    reply = route(request, route_name, client);
  }
  if (!public_path)
    ++client_requests_;
  if (reply.deferred) {
    // Counted when the answer is known (an on-demand upstream call), with its real status.
    reply.deferred = [inner = std::move(reply.deferred), route_name, team,
                      started](std::function<void(net::Reply)> done) {
      inner([done = std::move(done), route_name, team, started](net::Reply late) {
        recordRequest(route_name, team, late.status, started, true);
        done(std::move(late));
      });
    };
    return reply;
  }
  recordRequest(route_name, team, reply.status, started, !reply.stream);
  return reply;
}

net::Reply RelayRoutes::route(const net::Request& request, std::string& route_name,
                              const std::string& client) {
  if (request.method != "GET" && request.method != "HEAD") {
    route_name = "method_not_allowed";
    return errorReply(ApiErrorKind::MethodNotAllowed,
                      "method not allowed: coinrelay answers GET and HEAD");
  }
  const std::string& path = request.path;
  // CoinGecko's chart paths come through /api/v3 below (the path table, the plan, the coin
  // universe), which hands them to the charts; /v1/history is coinrelay's own.
  if (path == "/v1/history") {
    route_name = path;
    if (parts_.charts != nullptr)
      return parts_.charts->handle(request, client);
    return errorReply(ApiErrorKind::Unavailable,
                      "history is not available: configure elasticsearch.url for serve");
  }
  if (path.starts_with("/api/v3/")) {
    // One label per path template of the API (a bounded set), never the raw path.
    std::string_view templ;
    net::Reply reply = *parts_.coingecko->handle(request, client, &templ);
    route_name = templ == "unknown" ? "/api/v3/other" : std::string(templ);
    return reply;
  }
  route_name = path;
  if (path == "/healthz") {
    const bool healthy = !parts_.healthy || parts_.healthy();
    return net::Reply{healthy ? 200 : 503, "application/json", parts_.health_json()};
  }
  if (path == "/readyz") {
    auto version = parts_.snapshot->current();
    const bool ready = !version->quotes.empty();
    std::string body;
    JsonWriter(body)
        .beginObject()
        .field("ready", ready)
        .field("quotes", static_cast<int64_t>(version->quotes.size()))
        .field("snapshot_version", static_cast<int64_t>(version->version))
        .endObject();
    return net::Reply{ready ? 200 : 503, "application/json", std::move(body)};
  }
  if (path == "/metrics") {
    auto version = parts_.snapshot->current();
    telemetry::metrics()
        .gauge("coinrelay_snapshot_age_seconds",
               "Seconds since the newest quote of the snapshot was fetched.")
        .set(version->newest_fetch_ms ? (nowMs() - version->newest_fetch_ms) / 1000.0 : -1);
    telemetry::metrics()
        .gauge("coinrelay_snapshot_quotes", "Quotes held in the snapshot.")
        .set(static_cast<double>(version->quotes.size()));
    return net::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                      telemetry::metrics().render()};
  }
  if (path == "/v1/quotes") {
    auto version = parts_.snapshot->current();
    net::Reply reply{200, "application/json", {}};
    reply.shared_body = std::shared_ptr<const std::string>(version, &version->quotesJson());
    reply.headers.emplace_back("ETag", "\"v" + std::to_string(version->version) + "\"");
    return reply;
  }
  if (path == "/v1/stream")
    return stream(request);
  if (path == "/v1/status")
    return status();
  if (auto schema = schemaRoute(path)) {
    route_name = "/v1/schemas";  // one label for all names: unknown ones must not add series
    return *schema;
  }
  if (auto file = dashboardRoute(request)) {
    route_name = "/dashboard";  // one label for every file: asset names change with each build
    return *file;
  }
  route_name = "not_found";
  return errorReply(ApiErrorKind::NotFound,
                    "not found: coinrelay answers /api/v3/*, /v1/quotes, /v1/stream, "
                    "/v1/history, /v1/status, /healthz, /readyz, /metrics and the dashboard at /");
}

net::Reply RelayRoutes::stream(const net::Request& request) {
  std::set<std::string> ids;
  for (const auto& id : splitCsv(toLower(request.param("ids"))))
    ids.insert(id);
  if (ids.size() > 1000)
    return errorReply(ApiErrorKind::BadRequest, "ids: at most 1000 coins per stream");
  auto admission = parts_.stream->admit(request.remote_address);
  if (admission.refusal)
    return std::move(*admission.refusal);
  auto version = parts_.snapshot->current();
  net::Reply reply;
  reply.stream = [hub = parts_.stream, ids = std::move(ids), version,
                  slot = std::move(admission.slot)](std::shared_ptr<net::EventSink> sink) mutable {
    std::vector<const model::Quote*> initial;
    initial.reserve(version->quotes.size());
    for (const auto& [key, quote] : version->quotes)
      initial.push_back(quote.get());
    hub->subscribe(std::move(sink), std::move(ids), initial, std::move(slot));
  };
  return reply;
}

net::Reply RelayRoutes::status() {
  auto version = parts_.snapshot->current();
  std::string body;
  JsonWriter w(body);
  w.beginObject()
      .field("client_requests", static_cast<int64_t>(client_requests_.load()))
      .field("snapshot_version", static_cast<int64_t>(version->version))
      .field("quotes", static_cast<int64_t>(version->quotes.size()))
      .field("stream_clients", static_cast<int64_t>(parts_.stream->clients()));
  if (parts_.status_fields)
    parts_.status_fields(w);
  w.endObject();
  return net::Reply{200, "application/json", std::move(body)};
}

}  // namespace coinrelay::api
