#include "api/relay_routes.h"

#include "common/json_writer.h"
#include "common/time_util.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

void HealthState::record(const pipeline::CycleReport& report) {
  std::lock_guard lock(mutex_);
  ++cycles_;
  if (!report.upstream_ok || !report.sinks_ok)
    ++failed_cycles_;
  last_ = report;
  has_last_ = true;
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

Reply RelayRoutes::handle(const Request& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    return Reply{405, "application/json", R"({"error":"method not allowed"})"};
  }
  if (request.path == "/healthz") {
    return Reply{200, "application/json", health_.json(upstream_requests_.load())};
  }
  if (request.path == "/metrics") {
    return Reply{200, "text/plain; version=0.0.4; charset=utf-8", telemetry::metrics().render()};
  }
  if (request.path == "/v1/quotes") {
    auto version = snapshot_.current();
    Reply reply{200, "application/json", version->quotes_json};
    reply.headers.emplace_back("ETag", "\"" + std::to_string(version->version) + "\"");
    return reply;
  }
  return Reply{404, "application/json", R"({"error":"not found: try /v1/quotes or /healthz"})"};
}

}  // namespace coinrelay::api
