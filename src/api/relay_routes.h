#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "api/coingecko_routes.h"
#include "api/query_pool.h"
#include "api/stream_hub.h"
#include "api/teams.h"
#include "common/json_writer.h"
#include "net/http_server.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/snapshot.h"
#include "storage/history.h"

namespace coinrelay::api {

/// What /healthz reports about the fetch cycles of `run`, updated after every cycle.
class HealthState {
 public:
  void record(const pipeline::CycleReport& report);
  std::string json(uint64_t upstream_requests) const;
  bool healthy() const;

 private:
  mutable std::mutex mutex_;
  uint64_t cycles_ = 0;
  uint64_t failed_cycles_ = 0;
  pipeline::CycleReport last_;
  bool has_last_ = false;
};

/// The HTTP API shared by `run` and `serve`: CoinGecko's /api/v3, /v1/quotes, /v1/stream,
/// /v1/history, /v1/status, /healthz, /readyz, /metrics and the dashboard at / (static_assets.h),
/// with team admission and per-route metrics. The role supplies the parts that differ (history
/// source, health and status).
class RelayRoutes {
 public:
  struct Parts {
    const pipeline::Snapshot* snapshot = nullptr;
    CoinGeckoRoutes* coingecko = nullptr;
    StreamHub* stream = nullptr;
    storage::HistorySource* history = nullptr;  ///< null: /v1/history answers 503
    QueryPool* queries = nullptr;  ///< runs history queries; null: on the server's thread
    Teams* teams = nullptr;
    std::function<std::string()> health_json;        ///< the /healthz body
    std::function<bool()> healthy;                   ///< /healthz status 200 or 503
    std::function<void(JsonWriter&)> status_fields;  ///< role-specific /v1/status fields
  };
  explicit RelayRoutes(Parts parts);

  net::Reply handle(const net::Request& request);

 private:
  net::Reply route(const net::Request& request, std::string& route_name);
  net::Reply history(const net::Request& request);
  net::Reply stream(const net::Request& request);
  net::Reply status();

  Parts parts_;
  std::atomic<uint64_t> client_requests_{0};
};

}  // namespace coinrelay::api
