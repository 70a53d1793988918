#include "api/api_error.h"

#include "common/json_writer.h"

namespace coinrelay::api {

namespace {

/// CoinGecko's two error bodies: {"error":"..."} for bad requests and unknown paths, and
/// {"status":{"error_code":N,"error_message":"..."}} for keys, rate limits and outages.
/// 0 selects the flat one.
int statusShapeCode(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::UnknownKey:
      return 10002;  // CoinGecko's code for a missing or invalid key
    case ApiErrorKind::PlanRestricted:
      return 10005;  // CoinGecko's code for a path the plan does not have
    case ApiErrorKind::RateLimited:
      return 429;
    case ApiErrorKind::UpstreamUnavailable:
      return 503;
    case ApiErrorKind::BadRequest:
    case ApiErrorKind::Forbidden:
    case ApiErrorKind::NotFound:
    case ApiErrorKind::MethodNotAllowed:
    case ApiErrorKind::Unavailable:
      return 0;
  }
  return 0;
}

}  // namespace

int statusOf(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::BadRequest:
      return 400;
    case ApiErrorKind::UnknownKey:
    case ApiErrorKind::PlanRestricted:
      return 401;
    case ApiErrorKind::Forbidden:
      return 403;
    case ApiErrorKind::NotFound:
      return 404;
    case ApiErrorKind::MethodNotAllowed:
      return 405;
    case ApiErrorKind::RateLimited:
      return 429;
    case ApiErrorKind::Unavailable:
    case ApiErrorKind::UpstreamUnavailable:
      return 503;
  }
  return 500;
}

net::Reply errorReply(ApiErrorKind kind, std::string_view message) {
  net::Reply reply{statusOf(kind), "application/json", {}};
  JsonWriter w(reply.body);
  if (const int code = statusShapeCode(kind); code != 0) {
    w.beginObject()
        .key("status")
        .beginObject()
        .field("error_code", code)
        .field("error_message", message)
        .endObject()
        .endObject();
  } else {
    w.beginObject().field("error", message).endObject();
  }
  return reply;
}

}  // namespace coinrelay::api
