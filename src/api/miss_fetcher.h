#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "coingecko/coingecko_client.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "config/config.h"
#include "net/http_server.h"

namespace coinrelay::api {

/// Answers queries the snapshot cannot (a coin or currency outside the tracked set) by asking
/// the upstream once: concurrent identical queries wait for the same call (single flight) and
/// the answer is kept for a TTL. So the number of upstream calls depends on the distinct misses,
/// never on the number of clients.
///
/// Where the call goes:
/// - with a budget (`coinrelay run`, the fetch role answering serve replicas, and `coinrelay
///   serve` calling CoinGecko itself), to CoinGecko, each call an on-demand admission of the
///   process's UpstreamBudget: same rate window and monthly credits as the schedule, which keeps
///   what it needs, and at most serve.miss_calls_per_minute such calls in the window;
/// - forwarded (`coinrelay serve` with serve.miss_via), to the active fetch role's
///   /v1/upstream/..., which does the above; standbys answer 503 and the next address is tried;
/// - with neither (tests), to CoinGecko without limits.
/// TTLs are on `clock`.
/// Threading: askAsync() from any thread; the calls run on the fetcher's own workers, so a
/// slow upstream never holds a server thread. ask() waits for the answer (tests, tools).
class MissFetcher {
 public:
  MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
              const Clock& clock = systemClock());
  /// The miss fetcher `config` asks for (serve.on_miss = fetch, with its TTL), or nullptr when
  /// misses are refused.
  static std::unique_ptr<MissFetcher> fromConfig(const config::Config& config,
                                                 const Clock& clock = systemClock());
  ~MissFetcher();
  MissFetcher(const MissFetcher&) = delete;
  MissFetcher& operator=(const MissFetcher&) = delete;

  /// Every upstream call is an on-demand admission of `budget`; it must outlive this object.
  void setBudget(coingecko::UpstreamBudget* budget) { budget_ = budget; }
  /// Sends misses to these fetch roles (base URLs of their /metrics listener) instead.
  void forwardTo(std::vector<std::string> fetchers) { fetchers_ = std::move(fetchers); }
  /// Bounds the answers kept (serve.miss_cache_mib): beyond, the oldest go first, which are the
  /// expired ones before any other.
  void setMaxBytes(size_t max_bytes);
  static constexpr size_t kDefaultMaxBytes = 16 << 20;

  /// `path_and_query` is the normalised upstream request, e.g. "/simple/price?ids=x&...".
  /// `done` is called once with the answer: at once from the cache or a refusal, or from a
  /// worker when the call it waits for (its own or an identical one) completes.
  void askAsync(const std::string& path_and_query, std::function<void(net::Reply)> done);
  net::Reply ask(const std::string& path_and_query);
  /// A reply the server completes later with askAsync (Reply::deferred).
  net::Reply deferred(std::string path_and_query);
  /// Requests this process sent to CoinGecko (answers relayed by a fetch role are not).
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
    SteadyTime expires;
    std::vector<std::function<void(net::Reply)>> waiters;  ///< until ready
    size_t bytes = 0;                                      ///< once ready
    std::optional<std::list<std::string>::iterator> kept;  ///< its place in kept_, once ready
  };
  void work();
  // mutex_ held: memory accounting of the answers kept.
  void keep(const std::string& key, Entry& entry);
  void forget(std::map<std::string, std::shared_ptr<Entry>>::iterator it);
  void keepWithinBytes();

  /// Gets the answer into status, body and headers of `entry`: from CoinGecko (true when a
  /// request was sent, false when the budget refused it) or relayed by a fetch role.
  bool callCoinGecko(const std::string& path_and_query, Entry& entry);
  void callFetchRoles(const std::string& path_and_query, Entry& entry);

  config::UpstreamConfig upstream_;
  std::chrono::seconds ttl_;
  const Clock& clock_;
  coingecko::UpstreamBudget* budget_ = nullptr;
  std::vector<std::string> fetchers_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::list<std::string> kept_;  ///< keys of the ready entries, oldest answer first
  size_t bytes_ = 0;             ///< of the ready entries
  size_t max_bytes_ = kDefaultMaxBytes;
  uint64_t calls_ = 0;
  // Upstream calls run here: at most kWorkers at once, the rest queued (one entry per distinct
  // query; refusals are answered at once by the budget).
  static constexpr int kWorkers = 4;
  std::deque<std::pair<std::string, std::shared_ptr<Entry>>> jobs_;
  std::condition_variable work_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace coinrelay::api
