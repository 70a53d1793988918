#pragma once

#include <cstddef>

#include "api/stream_hub.h"
#include "config/config.h"
#include "net/http_server.h"

namespace coinrelay::api {

/// The HTTP server's bounds from the http.* keys: connections, request sizes, stream backlog.
net::ServerLimits serverLimitsFor(const config::Config& config);

/// The stream caps from serve.max_streams*, with streams held to three quarters of the
/// connections the server allows (`max_connections`, after the open-file limit), so that a
/// fresh client always finds a connection.
StreamLimits streamLimitsFor(const config::Config& config, size_t max_connections);

}  // namespace coinrelay::api
