#pragma once

#include <string_view>

#include "net/http_server.h"

namespace coinrelay::api {

/// What went wrong with a request, as the API answers it. errorReply() is the one place that
/// turns a kind into an HTTP status and a body in one of CoinGecko's two error shapes, so that
/// every handler refuses alike and CoinGecko clients parse every refusal.
enum class ApiErrorKind {
  BadRequest,           ///< 400 {"error":"..."}: a parameter is missing or invalid
  UnknownKey,           ///< 401 {"status":{"error_code":10002,...}}: no team key, or a wrong one
  PlanRestricted,       ///< 401 {"status":{"error_code":10005,...}}: a path above the plan
  Forbidden,            ///< 403 {"error":"..."}: a listener that needs a secret not given
  NotFound,             ///< 404 {"error":"..."}: no such path, file, or tracked coin/currency
  MethodNotAllowed,     ///< 405 {"error":"..."}
  RateLimited,          ///< 429 {"status":{"error_code":429,...}}: a quota or budget is spent
  Unavailable,          ///< 503 {"error":"..."}: a part of coinrelay cannot answer (history)
  UpstreamUnavailable,  ///< 503 {"status":{"error_code":503,...}}: the upstream cannot answer
};

/// The HTTP status of `kind`.
int statusOf(ApiErrorKind kind);

/// The refusal of `kind` with `message`, as application/json. Headers (retry-after...) are the
/// caller's to add.
net::Reply errorReply(ApiErrorKind kind, std::string_view message);

}  // namespace coinrelay::api
