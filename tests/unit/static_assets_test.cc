// The dashboard's files as the binary serves them: the page, the hashed assets it references,
// their content types, validators and caching, and that they stay outside team admission and
// the client request count.

#include "api/static_assets.h"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/coingecko_routes.h"
#include "api/relay_routes.h"
#include "api/stream_hub.h"
#include "api/web_assets.h"
#include "pipeline/snapshot.h"

namespace coinrelay {
namespace {

net::Request get(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::Request request;
  request.method = "GET";
  request.path = std::move(path);
  request.headers = std::move(headers);
  return request;
}

std::string header(const net::Reply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name)
      return value;
  }
  return {};
}

std::string body(const net::Reply& reply) {
  return reply.shared_body ? *reply.shared_body : reply.body;
}

/// The /assets/... files index.html loads (none when built with COINRELAY_BUILD_WEB=OFF).
std::vector<std::string> referencedAssets(const std::string& html) {
  std::vector<std::string> found;
  const std::regex reference(R"re((?:src|href)="(/assets/[^"]+)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference);
       it != std::sregex_iterator(); ++it) {
    found.push_back((*it)[1]);
  }
  return found;
}

TEST(StaticAssetsTest, ServesThePageAtTheRootWithRevalidationAndItsOwnOriginOnly) {
  auto reply = api::dashboardRoute(get("/"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(*reply, "Cache-Control"), "no-cache");
  EXPECT_NE(header(*reply, "Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_FALSE(header(*reply, "ETag").empty());
  EXPECT_NE(body(*reply).find("coinrelay"), std::string::npos);
  auto same = api::dashboardRoute(get("/index.html"));
  ASSERT_TRUE(same);
  EXPECT_EQ(body(*same), body(*reply));
}

TEST(StaticAssetsTest, EveryAssetThePageLoadsIsEmbeddedWithItsTypeAndCachedForAYear) {
  const std::string html = body(*api::dashboardRoute(get("/")));
  const auto assets = referencedAssets(html);
  if (assets.empty())
    GTEST_SKIP() << "built with COINRELAY_BUILD_WEB=OFF: the placeholder page loads no asset";
  bool script = false;
  bool style = false;
  for (const auto& path : assets) {
    SCOPED_TRACE(path);
    auto reply = api::dashboardRoute(get(path));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(header(*reply, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_FALSE(body(*reply).empty());
    if (path.ends_with(".js")) {
      script = true;
      EXPECT_EQ(reply->content_type, "text/javascript; charset=utf-8");
    } else if (path.ends_with(".css")) {
      style = true;
      EXPECT_EQ(reply->content_type, "text/css; charset=utf-8");
    }
  }
  EXPECT_TRUE(script) << html;
  EXPECT_TRUE(style) << html;
  for (const auto& asset : api::webAssets()) {
    EXPECT_TRUE(asset.path == "/index.html" || asset.path.starts_with("/assets/"))
        << asset.path << ": only index.html may have a name without a content hash";
  }
}

TEST(StaticAssetsTest, AnswersNotModifiedToItsETagAndGzipWhenAccepted) {
  const std::string html = body(*api::dashboardRoute(get("/")));
  const auto assets = referencedAssets(html);
  const std::string path = assets.empty() ? "/" : assets.front();
  auto first = api::dashboardRoute(get(path));
  const std::string etag = header(*first, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = api::dashboardRoute(get(path, {{"if-none-match", etag}}));
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(body(*again).empty());
  if (body(*first).size() > 4096) {
    auto gzip = api::dashboardRoute(get(path, {{"accept-encoding", "gzip, deflate"}}));
    EXPECT_EQ(header(*gzip, "Content-Encoding"), "gzip");
    EXPECT_LT(body(*gzip).size(), body(*first).size());
  }
}

TEST(StaticAssetsTest, UnknownAssetIs404AndOtherPathsAreNotItsBusiness) {
  auto missing = api::dashboardRoute(get("/assets/index-OLDHASH.js"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("reload /"), std::string::npos);
  EXPECT_FALSE(api::dashboardRoute(get("/v1/quotes")));
  EXPECT_FALSE(api::dashboardRoute(get("/index.htm")));
  EXPECT_TRUE(api::isDashboardPath("/"));
  EXPECT_FALSE(api::isDashboardPath("/assetsx"));
}

TEST(StaticAssetsTest, RelayRoutesServeThePageWithoutCountingItAsAClientRequest) {
  pipeline::Snapshot snapshot;
  api::StreamHub hub;
  api::CoinGeckoRoutes coingecko(snapshot, nullptr);
  api::RelayRoutes::Parts parts;
  parts.snapshot = &snapshot;
  parts.coingecko = &coingecko;
  parts.stream = &hub;
  parts.health_json = [] { return std::string("{}"); };
  api::RelayRoutes routes(std::move(parts));
  auto page = routes.handle(get("/"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  auto status = routes.handle(get("/v1/status"));
  EXPECT_NE(body(status).find("\"client_requests\":0"), std::string::npos) << body(status);
  auto post_request = get("/");
  post_request.method = "POST";
  auto post = routes.handle(post_request);
  EXPECT_EQ(post.status, 405);
}

}  // namespace
}  // namespace coinrelay
