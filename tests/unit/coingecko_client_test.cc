#include "coingecko/coingecko_client.h"

#include <gtest/gtest.h>

namespace coinrelay::coingecko {
namespace {

net::HttpResponse withHeaders(net::Headers headers) {
  net::HttpResponse response;
  response.status = 429;
  response.headers = std::move(headers);
  return response;
}

TEST(CoinGeckoClientTest, SendsThePlansKeyHeader) {
  EXPECT_EQ(CoinGeckoClient::authHeaders("demo", "CG-k"),
            (net::Headers{{"x-cg-demo-api-key", "CG-k"}}));
  EXPECT_EQ(CoinGeckoClient::authHeaders("pro", "CG-k"),
            (net::Headers{{"x-cg-pro-api-key", "CG-k"}}));
  EXPECT_TRUE(CoinGeckoClient::authHeaders("public", "").empty());
}

TEST(CoinGeckoClientTest, HonoursRetryAfterSeconds) {
  const auto now = fromUnixMillis(1753455000000);
  EXPECT_EQ(CoinGeckoClient::retryAfter(withHeaders({{"retry-after", "60"}}), now),
            std::chrono::seconds(60));
}

TEST(CoinGeckoClientTest, FallsBackToRateLimitResetAsADate) {
  const auto now = fromUnixMillis(1753455210000);  // 2025-07-25 14:53:30 UTC
  EXPECT_EQ(CoinGeckoClient::retryAfter(
                withHeaders({{"x-ratelimit-reset", "2025-07-25 14:54:00 +0000"}}), now),
            std::chrono::seconds(30));
  EXPECT_EQ(CoinGeckoClient::retryAfter(withHeaders({{"x-ratelimit-reset", "1753455240"}}), now),
            std::chrono::seconds(30));
  // A reset in the past means "now", never a negative wait.
  EXPECT_EQ(CoinGeckoClient::retryAfter(withHeaders({{"x-ratelimit-reset", "1753455000"}}), now),
            std::chrono::milliseconds(0));
}

TEST(CoinGeckoClientTest, RetryAfterWinsOverResetAndGarbageIsIgnored) {
  const auto now = fromUnixMillis(1753455210000);
  EXPECT_EQ(CoinGeckoClient::retryAfter(
                withHeaders({{"retry-after", "5"}, {"x-ratelimit-reset", "1753455240"}}), now),
            std::chrono::seconds(5));
  EXPECT_FALSE(CoinGeckoClient::retryAfter(withHeaders({{"retry-after", "soon"}}), now));
  EXPECT_FALSE(CoinGeckoClient::retryAfter(withHeaders({}), now));
}

}  // namespace
}  // namespace coinrelay::coingecko
