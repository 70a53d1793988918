#include "api/static_assets.h"

#include <map>
#include <memory>
#include <string>

#include "api/api_error.h"
#include "api/response_cache.h"
#include "api/web_assets.h"

namespace coinrelay::api {

namespace {

constexpr std::string_view kAssetsPrefix = "/assets/";

// Only the page's own origin may be used: every script, style and request stays on this
// coinrelay, which is what "works without internet" means for a browser.
constexpr std::string_view kPagePolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

struct Served {
  std::shared_ptr<const CachedResponse> response;  ///< bytes, gzip form and ETag, made once
  bool immutable = false;
};

/// Built on first use: the gzip form of each file costs a few milliseconds once. Never
/// destroyed, as server threads may still answer while the process exits.
const std::map<std::string, Served, std::less<>>& servedFiles() {
  static const auto* files = [] {
    auto* built = new std::map<std::string, Served, std::less<>>();
    for (const WebAsset& asset : webAssets()) {
      (*built)[std::string(asset.path)] =
          Served{makeCachedResponse(200, std::string(asset.bytes), std::string(asset.content_type)),
                 asset.path.starts_with(kAssetsPrefix)};
    }
    return built;
  }();
  return *files;
}

}  // namespace

bool isDashboardPath(std::string_view path) {
  return path == "/" || path == "/index.html" || path.starts_with(kAssetsPrefix);
}

std::optional<net::Reply> dashboardRoute(const net::Request& request) {
  if (!isDashboardPath(request.path))
    return std::nullopt;
  const std::string_view path =
      request.path == "/" ? std::string_view("/index.html") : std::string_view(request.path);
  const auto& files = servedFiles();
  auto found = files.find(path);
  if (found == files.end()) {
    // Typically an asset of an older build, asked for by a page loaded before an upgrade.
    return errorReply(ApiErrorKind::NotFound,
                      "no such dashboard file: reload / to get the current dashboard");
  }
  net::Reply reply = replyFrom(*found->second.response, request);
  if (found->second.immutable) {
    reply.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  } else {
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.headers.emplace_back("Content-Security-Policy", std::string(kPagePolicy));
  }
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return reply;
}

}  // namespace coinrelay::api
