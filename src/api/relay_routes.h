#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "api/http_server.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/snapshot.h"

namespace coinrelay::api {

/// What /healthz reports, updated by the fetch loop after every cycle.
class HealthState {
 public:
  void record(const pipeline::CycleReport& report);
  std::string json(uint64_t upstream_requests) const;

 private:
  mutable std::mutex mutex_;
  uint64_t cycles_ = 0;
  uint64_t failed_cycles_ = 0;
  pipeline::CycleReport last_;
  bool has_last_ = false;
};

/// The HTTP API of `coinrelay run`: /healthz and /v1/quotes (the latest quote per coin and
/// currency, as one JSON document rendered once per snapshot version).
class RelayRoutes {
 public:
  RelayRoutes(const pipeline::Snapshot& snapshot, const HealthState& health,
              const std::atomic<uint64_t>& upstream_requests)
      : snapshot_(snapshot), health_(health), upstream_requests_(upstream_requests) {}

  Reply handle(const Request& request) const;

 private:
  const pipeline::Snapshot& snapshot_;
  const HealthState& health_;
  const std::atomic<uint64_t>& upstream_requests_;
};

}  // namespace coinrelay::api
