#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "coingecko/coingecko_client.h"
#include "config/config.h"

namespace coinrelay::api {

/// Answers queries the snapshot cannot (a coin or currency outside the tracked set) by asking
/// the upstream once: concurrent identical queries wait for the same call (single flight), the
/// answer is kept for a TTL, and calls are capped per minute. So the number of upstream calls
/// depends on the distinct misses, never on the number of clients.
///
/// Where the call goes:
/// - with a gate (`coinrelay run`, and the fetch role answering serve replicas), to CoinGecko,
///   each call admitted by the fetch loop's on-demand gate: same rate limiter and monthly
///   credits as the schedule, which keeps what it needs;
/// - forwarded (`coinrelay serve` with serve.miss_via), to the active fetch role's
///   /v1/upstream/..., which does the above; standbys answer 503 and the next address is tried;
/// - otherwise to CoinGecko with the per-minute cap only.
/// Threading: ask() is called from the server's threads and blocks the caller during the call.
class MissFetcher {
 public:
  MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
              int max_calls_per_minute);

  /// Every upstream call asks `gate` first; it must outlive this object.
  void setGate(coingecko::RequestGate* gate) { gate_ = gate; }
  /// Sends misses to these fetch roles (base URLs of their /metrics listener) instead.
  void forwardTo(std::vector<std::string> fetchers) { fetchers_ = std::move(fetchers); }

  /// `path_and_query` is the normalised upstream request, e.g. "/simple/price?ids=x&...".
  Reply ask(const std::string& path_and_query);
  uint64_t upstreamCalls() const;

  /// The header a fetch role in standby puts on its 503 answers to /v1/upstream.
  static constexpr const char* kStandbyHeader = "x-coinrelay-standby";
  /// True for the paths a fetch role fetches for serve replicas (so it is no open proxy).
  static bool forwardable(std::string_view path_and_query);

 private:
  struct Entry {
    bool ready = false;
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::steady_clock::time_point expires;
  };

  /// One upstream (or fetch role) call; fills status, body and headers of `entry`. Returns
  /// false when nothing was sent (refused by the gate, or no fetch role reachable).
  bool call(const std::string& path_and_query, Entry& entry);
  bool callCoinGecko(const std::string& path_and_query, Entry& entry);
  bool callFetchRoles(const std::string& path_and_query, Entry& entry);

  config::UpstreamConfig upstream_;
  std::chrono::seconds ttl_;
  int max_calls_per_minute_;
  coingecko::RequestGate* gate_ = nullptr;
  std::vector<std::string> fetchers_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::chrono::steady_clock::time_point> recent_calls_;  // sliding minute window
  uint64_t calls_ = 0;
};

}  // namespace coinrelay::api
