#pragma once

#include <string>
#include <vector>

#include "common/stop_signal.h"
#include "simulate/market.h"
#include "simulate/simulator.h"

namespace coinrelay::app {

/// Options every role shares: where the configuration comes from and flag overrides, already
/// turned into `section.key=value` assignments in command-line order.
struct CommonOptions {
  std::string config_file;
  std::vector<std::string> assignments;
  int cycles = 0;  ///< fetch/run: stop after this many cycles (0: run until stopped)
};

struct SimulateOptions {
  std::string listen = "127.0.0.1:8090";
  simulate::MarketOptions market;
  double update_interval_s = 10;
  simulate::FaultOptions faults;
  std::string api_key_file;  ///< when set, requests must carry this key (CoinGecko's checks)
  std::string api_key_plan = "demo";  ///< demo or pro: the header the key belongs in
};

struct ConfigOptions {
  bool reference = false;
};

// Each returns the process exit code: 0 success, 2 bad configuration or command line, 1 a
// service that cannot be reached or failed at run time.
int runCommand(const CommonOptions& options, const StopSignal& stop);
int serveCommand(const CommonOptions& options, const StopSignal& stop);
int setupKafkaCommand(const CommonOptions& options);
int fetchCommand(const CommonOptions& options, const StopSignal& stop);
int simulateCommand(SimulateOptions options, const StopSignal& stop);
int configCommand(const CommonOptions& options, const ConfigOptions& config_options);
int budgetCommand(const CommonOptions& options);

}  // namespace coinrelay::app
