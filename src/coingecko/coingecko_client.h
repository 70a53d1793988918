#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "coingecko/budget.h"
#include "coingecko/markets_parser.h"
#include "common/clock.h"
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

/// What the client asks before, and reports after, every request it sends (the fetch loop's
/// scheduled admissions from its UpstreamBudget). A request that is not admitted is not sent.
class RequestGate {
 public:
  virtual ~RequestGate() = default;
  /// Waits for the right to send one request before `deadline`; an error says why not (no rate
  /// slot in time, monthly credits exhausted, no longer the active fetcher, stopping).
  virtual Status admit(SystemTime deadline) = 0;
  /// The outcome of an admitted request: the HTTP status (0: no response) and the pause the
  /// upstream asked for, if any.
  virtual void settle(int status, std::optional<std::chrono::milliseconds> pause) = 0;
};

/// The quotes of one currency for the tracked set, fetched page by page: pages that failed do
/// not discard the ones that succeeded.
struct TrackedPages {
  MarketsPage page;  ///< valid quotes of every page that succeeded, and the invalid items
  int pages_sent = 0;
  int pages_ok = 0;
  std::optional<Error> error;            ///< the first failure; the quotes above stay valid
  std::vector<std::string> missing_ids;  ///< listed ids the upstream did not return
};

/// Fetches market data from CoinGecko (or `coinrelay simulate`) with the plan's key header,
/// retrying transient failures with jittered backoff that honours retry-after and
/// x-ratelimit-reset, never past the caller's deadline, and never without the gate's consent.
/// Deadlines, waits and the fetch time written into quotes are on `clock`.
/// Threading: one instance per thread (owns one HTTP connection and one parser).
class CoinGeckoClient {
 public:
  CoinGeckoClient(const config::UpstreamConfig& config, const StopSignal& stop,
                  const Clock& clock = systemClock());

  /// Every request asks `gate` first (nullptr: no limits). The gate must outlive the client.
  void setGate(RequestGate* gate) { gate_ = gate; }

  /// The top `top_n` coins by market cap plus the listed `ids` in `vs_currency`, in the fewest
  /// requests: ceil(top_n / 250) pages, then pages of up to 250 of the ids the top pages did
  /// not bring. Items that fail validation are skipped and counted.
  TrackedPages fetchTracked(const std::string& vs_currency, int top_n,
                            const std::vector<std::string>& ids, SystemTime deadline);

  /// The top `top_n` coins only; an error if any page failed (tests and tools).
  Result<MarketsPage> fetchTopMarkets(const std::string& vs_currency, int top_n,
                                      SystemTime deadline);

  /// The key's usage from `/key` (paid plans only); one request, no retry.
  Result<KeyUsage> fetchKeyUsage(SystemTime deadline);

  const ClientStats& stats() const { return stats_; }

  /// The request headers for a plan and key (exposed for tests; holds the secret).
  static net::Headers authHeaders(const std::string& plan, const std::string& api_key);

  /// How long a 429 asks us to wait: retry-after (seconds) first, then x-ratelimit-reset
  /// ("2025-07-25 14:54:00 +0000" or epoch seconds); nullopt if neither.
  static std::optional<std::chrono::milliseconds> retryAfter(const net::HttpResponse& response,
                                                             SystemTime now);
  /// The pause after a 429: what its headers ask, else until the next minute starts (the
  /// upstream counts per minute).
  static std::chrono::milliseconds rateLimitPause(const net::HttpResponse& response,
                                                  SystemTime now);

  /// Parses a `/key` body (exposed for tests).
  static Result<KeyUsage> parseKeyUsage(std::string_view body, simdjson::dom::parser& parser);

 private:
  Result<MarketsPage> fetchPage(const std::string& url, const std::string& vs_currency,
                                SystemTime deadline);
  /// Sends one admitted request; counts it by status and reports it to the gate.
  Result<net::HttpResponse> send(const std::string& url, const char* endpoint, SystemTime deadline);

  config::UpstreamConfig config_;
  const StopSignal& stop_;
  const Clock& clock_;
  RequestGate* gate_ = nullptr;
  net::HttpClient http_;
  net::Headers headers_;
  simdjson::dom::parser parser_;
  ClientStats stats_;
};

}  // namespace coinrelay::coingecko
