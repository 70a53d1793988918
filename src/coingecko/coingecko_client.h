#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "coingecko/budget.h"
#include "coingecko/coins_list_parser.h"
#include "coingecko/markets_parser.h"
#include "coingecko/simple_price_parser.h"
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

/// Sends CoinGecko (or `coinrelay simulate`) the requests the fetch planner asks for, with the
/// plan's key header,
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

  /// One `/coins/markets` request (`path`: what follows the base URL) for `vs_currency`.
  Result<MarketsPage> fetchMarkets(const std::string& path, const std::string& vs_currency,
                                   SystemTime deadline);
  /// One `/simple/price` request asked with every include flag for `vs_currencies`.
  Result<PricesPage> fetchPrices(const std::string& path,
                                 const std::vector<std::string>& vs_currencies,
                                 SystemTime deadline);
  /// One `/coins/list` request.
  Result<CoinsList> fetchCoinsList(const std::string& path, SystemTime deadline);

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
  /// Sends `path` until it gives a parsable answer, a failure retrying cannot cure, the last
  /// attempt, or the deadline; every attempt admitted by the gate. `parse` turns a 200 body
  /// into the result.
  template <class Parse>
  auto fetch(const std::string& path, const char* endpoint, SystemTime deadline, Parse parse)
      -> decltype(parse(std::string_view()));
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
