#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "common/json_writer.h"
#include "net/http_server.h"
#include "simulate/sim_spec.h"

namespace coinrelay::simulate {

struct FaultOptions;

/// How the simulator checks API keys, like CoinGecko's two hosts do.
struct KeyPolicy {
  std::string key;  ///< empty: keyless, keys ignored, the public API's plan
  /// "demo", "pro" or "enterprise": which header (or query parameter) the key belongs in (pro
  /// and enterprise both use x-cg-pro-api-key) and which paths it may call.
  std::string plan;
  int64_t monthly_credits = 1'000'000;  ///< what /key reports on a paid plan
  int rate_limit_per_minute = 500;

  /// The paths this key may call: Demo for keyless and demo keys.
  Plan access() const;
};

/// What the simulator observed, so tests can judge a client by the upstream's own counts: a
/// timestamped log of every /api/v3 request (calls per calendar minute, per sliding minute, per
/// schedule slot), the observations it served in whole, valid pages (so a test can check that
/// every one of them reached Kafka), and the API key checks.
/// Threading: not synchronised; the Simulator calls it under its own lock.
class SimLedger {
 public:
  explicit SimLedger(KeyPolicy keys = {});

  /// One /api/v3 request answered at `t_ms` with `status`, and the auth header it carried.
  /// `target` is the path and query as received.
  void record(int64_t t_ms, const std::string& path, int status, const net::Request& request);
  /// A whole 200 /coins/markets page about to be sent: turns a share of its items invalid
  /// (last_updated garbled) and remembers the observations of the others.
  void serveMarkets(net::Reply& reply, const std::string& vs_currency, double invalid_share,
                    std::mt19937_64& rng);
  /// CoinGecko's key checks (401 10002 missing, 400 10010/10011 wrong host, 401 invalid key),
  /// or nullopt when the request may proceed. The key is read from the x-cg-*-api-key headers
  /// or, as CoinGecko also takes it, the x_cg_*_api_key query parameters.
  std::optional<net::Reply> checkKey(const net::Request& request) const;
  /// The paths the simulator's key policy opens: Demo when keyless.
  Plan access() const { return keys_.access(); }
  /// GET /api/v3/key (paid plans): the key's usage, from what was counted.
  net::Reply keyUsage(const net::Request& request) const;

  /// The /_sim/ paths this ledger answers (stats parts, requests, served, faults); nullopt for
  /// others.
  std::optional<net::Reply> control(const net::Request& request, FaultOptions& faults);
  /// Fields for /_sim/stats, into its open object: per_minute, max_per_minute, max_per_60s,
  /// requests by auth header.
  void writeStats(JsonWriter& w) const;
  void reset();

  /// Most requests in any window of `window_ms`, for requests whose path starts with `prefix`.
  uint64_t maxInWindow(int64_t window_ms, const std::string& prefix = "/api/v3/") const;

 private:
  struct Entry {
    int64_t t_ms;
    std::string path;
    int status;
    std::string target;
  };
  KeyPolicy keys_;
  std::deque<Entry> log_;
  std::map<int64_t, uint64_t> per_minute_;  ///< minute start (epoch ms) -> requests
  std::map<std::string, uint64_t> by_auth_;
  std::vector<std::string> served_;  ///< "id:vs:last_updated_ms", in serving order
  uint64_t requests_ = 0;
  simdjson::dom::parser parser_;
};

}  // namespace coinrelay::simulate
