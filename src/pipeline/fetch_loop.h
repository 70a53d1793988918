#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coingecko/coingecko_client.h"
#include "common/stop_signal.h"
#include "config/config.h"
#include "sinks/sink.h"

namespace coinrelay::pipeline {

/// What one cycle did, for the console line, logs and tests.
struct CycleReport {
  int64_t started_ms = 0;
  size_t fetched = 0;
  size_t invalid = 0;
  size_t delivered = 0;  ///< quotes every sink acknowledged
  bool upstream_ok = true;
  bool sinks_ok = true;
  std::string error;
  std::chrono::milliseconds duration{0};
};

/// Runs fetch cycles: the first at once, the next ones on multiples of the interval on the wall
/// clock. A cycle never overlaps the next: its upstream retries stop at the next tick. Each
/// cycle's quotes go to every sink; the cycle counts as sent only when all acknowledged.
/// Threading: run() blocks the calling thread until `stop` is requested or `max_cycles` ran.
class FetchLoop {
 public:
  FetchLoop(const config::UpstreamConfig& config, std::vector<sinks::Sink*> sinks,
            const StopSignal& stop);

  /// max_cycles == 0: until stopped. Returns the number of cycles whose quotes were all
  /// delivered.
  int run(int max_cycles = 0);
  CycleReport runCycle(std::chrono::system_clock::time_point deadline);

  const coingecko::ClientStats& upstreamStats() const { return client_.stats(); }
  void onCycle(std::function<void(const CycleReport&)> callback) {
    on_cycle_ = std::move(callback);
  }

 private:
  config::UpstreamConfig config_;
  std::vector<sinks::Sink*> sinks_;
  const StopSignal& stop_;
  coingecko::CoinGeckoClient client_;
  std::function<void(const CycleReport&)> on_cycle_;
};

}  // namespace coinrelay::pipeline
