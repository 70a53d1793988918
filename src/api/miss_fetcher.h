#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/coingecko_paths.h"
#include "api/query_grammar.h"
#include "coingecko/coingecko_client.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "config/config.h"
#include "net/http_server.h"

namespace coinrelay::api {

/// The relay: answers every request coinrelay does not answer from its own data (a path it does
/// not serve natively, a coin or currency outside the tracked set) by asking the upstream, once:
/// - only calls of the path table, rebuilt by coinrelay from their parsed parameters (ApiCall),
///   so nothing a client wrote reaches the upstream, and no other URL (no open proxy);
/// - concurrent identical calls wait for the same upstream call (single flight);
/// - an answer is kept for its path's cache period (ApiPath::ttl, or serve.miss_ttl_s when set),
///   then served stale for as long again while one background call refreshes it
///   (stale-while-revalidate); CoinGecko's 404s and 400s are kept like answers (negative
///   caching); refusals (budget, upstream down) for a few seconds;
/// - each client (a team, or an address without teams) may start at most
///   serve.miss_calls_per_client upstream calls per rate window, so one client cannot spend the
///   on-demand budget of everyone.
/// So the number of upstream calls depends on the distinct calls and their periods, never on the
/// number of clients.
///
/// Where the call goes:
/// - with a budget (`coinrelay run`, the fetch role answering serve replicas, and `coinrelay
///   serve` calling CoinGecko itself), to CoinGecko, each call an on-demand admission of the
///   process's UpstreamBudget: same rate window and monthly credits as the schedule, which keeps
///   what it needs, and at most serve.miss_calls_per_minute such calls in the window;
/// - forwarded (`coinrelay serve` with serve.miss_via), to the active fetch role's
///   /v1/upstream/..., with the shared secret; standbys answer 503 and the next address is tried;
/// - with neither (tests), to CoinGecko without limits.
/// Times are on `clock`.
/// Threading: askAsync() from any thread; the calls run on the fetcher's own workers, so a slow
/// upstream never holds a server thread. ask() waits for the answer (tests, tools).
class MissFetcher {
 public:
  /// `ttl_override` zero: each path's own period.
  MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl_override,
              const Clock& clock = systemClock());
  /// The relay `config` asks for (serve.miss_ttl_s, serve.miss_calls_per_client: 0 is half of
  /// serve.miss_calls_per_minute), or nullptr when the upstream cannot be reached: no key for a
  /// keyed plan and no fetch role to forward to.
  static std::unique_ptr<MissFetcher> fromConfig(const config::Config& config,
                                                 const Clock& clock = systemClock());
  ~MissFetcher();
  MissFetcher(const MissFetcher&) = delete;
  MissFetcher& operator=(const MissFetcher&) = delete;

  /// Every upstream call is an on-demand admission of `budget`; it must outlive this object.
  void setBudget(coingecko::UpstreamBudget* budget) { budget_ = budget; }
  /// Sends calls to these fetch roles (base URLs of their /metrics listener) instead, with
  /// `secret` in kSecretHeader.
  void forwardTo(std::vector<std::string> fetchers, std::string secret = {}) {
    fetchers_ = std::move(fetchers);
    secret_ = std::move(secret);
  }
  /// Upstream calls one client may start per rate window (0: no limit).
  void setCallsPerClient(int calls, std::chrono::milliseconds window) {
    per_client_ = calls;
    client_window_ = window;
  }
  /// Bounds the answers kept (serve.miss_cache_mib): beyond, the oldest answers go first, the
  /// expired ones before any other.
  void setMaxBytes(size_t max_bytes);
  static constexpr size_t kDefaultMaxBytes = 16 << 20;

  /// `done` is called once with the answer: at once from the cache or a refusal, or from a
  /// worker when the call it waits for (its own or an identical one) completes. `client` names
  /// who asks, for the fair share (empty: coinrelay itself, not limited).
  void askAsync(const ApiCall& call, const std::string& client,
                std::function<void(net::Reply)> done);
  net::Reply ask(const ApiCall& call, const std::string& client = {});
  /// The same for an upstream target ("/simple/price?ids=x&vs_currencies=usd"), parsed against
  /// the path table first (a target it refuses is answered with the refusal).
  net::Reply ask(std::string_view target, const std::string& client = {});
  void askAsync(std::string_view target, const std::string& client,
                std::function<void(net::Reply)> done);
  /// A reply the server completes later with askAsync (Reply::deferred).
  net::Reply deferred(ApiCall call, std::string client);
  net::Reply deferred(std::string_view target, std::string client = {});
  /// Requests this process sent to CoinGecko (answers relayed by a fetch role are not).
  uint64_t upstreamCalls() const;
  /// How long an answer of `path` stays fresh in this process.
  std::chrono::seconds ttlOf(const ApiPath& path) const;
  /// The plan tier of the upstream, which decides the paths it has and their periods.
  PlanTier tier() const { return tier_; }

  /// /v1/upstream/<path>?<query> of the fetch role: a serve replica's call, made by `relay`
  /// (the active fetcher's, within its budget). Only with `secret` in kSecretHeader (403
  /// otherwise, and always when `relay` is null or `secret` empty: the relay is off), and parsed
  /// against the path table and rebuilt like a client's: no raw query string goes upstream.
  static net::Reply answerReplica(MissFetcher* relay, const std::string& secret,
                                  const net::Request& request);

  /// The header a fetch role in standby puts on its 503 answers to /v1/upstream.
  static constexpr const char* kStandbyHeader = "x-coinrelay-standby";
  /// The header that carries the shared secret of /v1/upstream (serve.miss_via_secret).
  static constexpr const char* kSecretHeader = "x-coinrelay-relay-secret";

 private:
  struct Answer {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  struct Entry {
    const ApiPath* path = nullptr;
    bool ready = false;      ///< an answer is held
    bool lasting = false;    ///< it is the upstream's verdict (servable while stale)
    bool in_flight = false;  ///< a call is under way
    Answer answer;
    SteadyTime fresh_until{};
    SteadyTime stale_until{};  ///< lasting answers: served stale until then
    SteadyTime retry_at{};     ///< after a failed refresh, no new one before then
    std::vector<std::function<void(net::Reply)>> waiters;  ///< until the call completes
    size_t bytes = 0;                                      ///< accounted in bytes_, once kept
    std::optional<std::list<std::string>::iterator> kept;  ///< its place in kept_, once kept
  };
  struct Job {
    std::string target;
    std::string client;
    std::shared_ptr<Entry> entry;
  };
  void work();
  /// True when `client` may start one more upstream call now (and charges it).
  bool chargeClient(const std::string& client, SteadyTime now);
  void refundClient(const std::string& client);
  net::Reply clientRefusal(const std::string& client) const;
  // mutex_ held: memory accounting of the answers kept.
  void keep(const std::string& key, Entry& entry);
  void forget(std::map<std::string, std::shared_ptr<Entry>>::iterator it);
  void keepWithinBytes(SteadyTime now);

  /// Gets the answer into `out`: from CoinGecko (true when a request was sent, false when the
  /// budget refused it) or relayed by a fetch role.
  bool callCoinGecko(const std::string& target, Answer& out);
  void callFetchRoles(const std::string& target, Answer& out);

  config::UpstreamConfig upstream_;
  PlanTier tier_;
  std::chrono::seconds ttl_override_;
  const Clock& clock_;
  coingecko::UpstreamBudget* budget_ = nullptr;
  std::vector<std::string> fetchers_;
  std::string secret_;
  int per_client_ = 0;
  std::chrono::milliseconds client_window_{61'000};
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::map<std::string, std::deque<SteadyTime>> client_calls_;
  std::list<std::string> kept_;  ///< keys of the entries holding an answer, oldest answer first
  size_t bytes_ = 0;             ///< of those entries
  size_t max_bytes_ = kDefaultMaxBytes;
  uint64_t calls_ = 0;
  // Upstream calls run here: at most kWorkers at once, the rest queued (one job per distinct
  // call; refusals are answered at once by the budget).
  static constexpr int kWorkers = 4;
  std::deque<Job> jobs_;
  std::condition_variable work_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace coinrelay::api
