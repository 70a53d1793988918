#pragma once

#include <optional>
#include <string_view>

#include "net/http_server.h"

namespace coinrelay::api {

/// The dashboard's paths: "/", "/index.html" and "/assets/...". They hold no quote (the page
/// reads the API like any client), so they need no team key and are not counted as client
/// requests.
bool isDashboardPath(std::string_view path);

/// GET/HEAD of a dashboard path: the embedded file with its content type, an ETag (304 on
/// If-None-Match), gzip when accepted, and caching fit for it: assets/ names carry a content
/// hash, so they are immutable for a year; index.html is revalidated on every load, so a new
/// binary's dashboard shows at once. nullopt for any other path.
std::optional<net::Reply> dashboardRoute(const net::Request& request);

}  // namespace coinrelay::api
