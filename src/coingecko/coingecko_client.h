#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include <simdjson.h>

#include "coingecko/markets_parser.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "common/time_util.h"
#include "config/config.h"
#include "net/http_client.h"

namespace coinrelay::coingecko {

/// Counters of what the client did upstream, for logs and the savings panel.
struct ClientStats {
  std::atomic<uint64_t> requests{0};  ///< every request sent, retries included
  std::atomic<uint64_t> failures{0};  ///< requests that did not give a usable page
  std::atomic<uint64_t> invalid_items{0};
};

/// Fetches market data from CoinGecko (or `coinrelay simulate`) with the plan's key header,
/// retrying transient failures with jittered backoff that honours retry-after and
/// x-ratelimit-reset, and never past the caller's deadline.
/// Threading: one instance per thread (owns one HTTP connection and one parser).
class CoinGeckoClient {
 public:
  CoinGeckoClient(const config::UpstreamConfig& config, const StopSignal& stop);

  /// The top `top_n` coins by market cap in `vs_currency`, in the fewest requests (pages of up
  /// to 250). Items that fail validation are skipped and counted in the page.
  Result<MarketsPage> fetchTopMarkets(const std::string& vs_currency, int top_n,
                                      SystemTime deadline);

  const ClientStats& stats() const { return stats_; }

  /// The request headers for a plan and key (exposed for tests; holds the secret).
  static net::Headers authHeaders(const std::string& plan, const std::string& api_key);

  /// How long a 429 asks us to wait: retry-after (seconds or HTTP date) first, then
  /// x-ratelimit-reset ("2025-07-25 14:54:00 +0000" or epoch seconds); nullopt if neither.
  static std::optional<std::chrono::milliseconds> retryAfter(const net::HttpResponse& response,
                                                             SystemTime now);

 private:
  Result<MarketsPage> fetchPage(const std::string& url, const std::string& vs_currency,
                                SystemTime deadline);

  config::UpstreamConfig config_;
  const StopSignal& stop_;
  net::HttpClient http_;
  net::Headers headers_;
  simdjson::dom::parser parser_;
  ClientStats stats_;
};

}  // namespace coinrelay::coingecko
