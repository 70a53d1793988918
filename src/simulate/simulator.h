#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <utility>

#include "net/http_server.h"
#include "simulate/market.h"
#include "simulate/sim_api.h"
#include "simulate/sim_ledger.h"

namespace coinrelay::simulate {

/// Shares of requests answered with a fault instead of data, and added latency.
struct FaultOptions {
  double rate_limited = 0;   ///< 429 with CoinGecko's body and retry-after
  double server_error = 0;   ///< 503
  double html = 0;           ///< 403 Cloudflare HTML page instead of JSON
  double truncated = 0;      ///< 200 with the JSON cut in half
  double invalid_items = 0;  ///< share of /coins/markets items made invalid in good pages
  int latency_ms = 0;        ///< added to every /api/v3 answer
  int retry_after_s = 1;     ///< the retry-after header of simulated 429s
  uint64_t seed = 7;
};

/// A CoinGecko-compatible upstream for tests, benchmarks and offline demos: the /api/v3
/// endpoints coinrelay uses, with CoinGecko's field names, types and error bodies, over a
/// simulated market, plus injected faults and request counters at /_sim/stats. It answers
/// through its own reading of CoinGecko's API (sim_api.h), never through coinrelay's.
/// Threading: handle() is safe from any number of server threads.
class Simulator {
 public:
  Simulator(const MarketOptions& market, const FaultOptions& faults, KeyPolicy keys = {});

  net::Reply handle(const net::Request& request);
  std::string statsJson();

 private:
  net::Reply coinsMarkets(const net::Request& request);
  net::Reply simplePrice(const net::Request& request);
  net::Reply coinsList();
  net::Reply control(const net::Request& request);
  MarketRow rowOf(const SimCoin& coin, double rate) const;
  /// Every coin in rank order, in the currency worth `rate` units per USD.
  std::vector<MarketRow> rowsIn(double rate) const;
  std::optional<net::Reply> injectFault(const std::string& body);
  void count(const std::string& path, int status);

  std::mutex mutex_;
  Market market_;
  FaultOptions faults_;
  std::mt19937_64 fault_rng_;
  uint64_t requests_total_ = 0;
  std::map<std::string, std::map<int, uint64_t>> by_path_;
  SimLedger ledger_;  ///< request log, served observations, key checks
};

}  // namespace coinrelay::simulate
