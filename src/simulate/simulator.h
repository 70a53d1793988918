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
#include "simulate/sim_spec.h"

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

/// A CoinGecko-compatible upstream for tests, benchmarks and offline demos: every path of
/// CoinGecko's API v3 description (third_party/coingecko/openapi-v3.json) with CoinGecko's field
/// names, order, types, plan rules and error bodies. The lists, prices, coin pages, charts,
/// candles, global figures, rates, search and trending come from a simulated market; every other
/// path answers a body built from its response schema and example values. Faults can be
/// injected, and /_sim/stats counts requests per path. It answers through its own reading of
/// CoinGecko's API (sim_api.h, sim_spec.h, sim_pages.h), never through coinrelay's.
/// Threading: handle() is safe from any number of server threads.
class Simulator {
 public:
  Simulator(const MarketOptions& market, const FaultOptions& faults, KeyPolicy keys = {});

  net::Reply handle(const net::Request& request);
  std::string statsJson();

 private:
  /// The answer of a path of the description the key may call.
  net::Reply answer(const PathMatch& match, const net::Request& request);
  net::Reply coinsMarkets(const net::Request& request);
  net::Reply simplePrice(const net::Request& request);
  net::Reply coinsList(const net::Request& request);
  /// A path the model does not cover: the body of its response schema, once its parameters
  /// pass CoinGecko's checks.
  net::Reply fromSchema(const PathMatch& match, const net::Request& request);
  net::Reply control(const net::Request& request);
  /// Every coin in rank order, in the currency worth `rate` units per USD.
  std::vector<MarketRow> rowsIn(double rate) const;
  std::optional<net::Reply> injectFault(const std::string& body);
  void count(const std::string& path, const std::string& templ, int status);

  std::mutex mutex_;
  Market market_;
  FaultOptions faults_;
  std::mt19937_64 fault_rng_;
  uint64_t requests_total_ = 0;
  std::map<std::string, std::map<int, uint64_t>> by_path_;
  std::map<std::string, std::map<int, uint64_t>> by_template_;  ///< "/api/v3/coins/{id}"...
  std::map<std::string, std::string> schema_bodies_;            ///< by path template
  SimLedger ledger_;  ///< request log, served observations, key checks
};

}  // namespace coinrelay::simulate
