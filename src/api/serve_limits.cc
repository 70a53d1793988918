#include "api/serve_limits.h"

#include <algorithm>

#include "telemetry/logging.h"

namespace coinrelay::api {

net::ServerLimits serverLimitsFor(const config::Config& config) {
  net::ServerLimits limits;
  limits.max_connections = static_cast<size_t>(config.http.max_connections);
  limits.max_header_bytes = static_cast<size_t>(config.http.max_header_kib) << 10;
  limits.max_body_bytes = static_cast<size_t>(config.http.max_body_kib) << 10;
  limits.max_stream_backlog_bytes = static_cast<size_t>(config.http.max_stream_backlog_kib) << 10;
  return limits;
}

StreamLimits streamLimitsFor(const config::Config& config, size_t max_connections) {
  StreamLimits limits;
  limits.max_streams = static_cast<size_t>(config.serve.max_streams);
  limits.max_per_client = static_cast<size_t>(config.serve.max_streams_per_client);
  const size_t room = std::max<size_t>(max_connections * 3 / 4, 1);
  if (limits.max_streams > room) {
    telemetry::logger("http")->warn(
        "serve.max_streams = {} leaves too few of the {} connections allowed for other "
        "requests: serving at most {} streams (raise http.max_connections and the open-file "
        "limit, or lower serve.max_streams)",
        limits.max_streams, max_connections, room);
    limits.max_streams = room;
  }
  return limits;
}

}  // namespace coinrelay::api
