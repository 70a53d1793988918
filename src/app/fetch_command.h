#pragma once

#include "common/stop_signal.h"
#include "config/config.h"

namespace coinrelay::app {

/// The fetch role on a loaded configuration: checks the budget, opens the spool and the Kafka
/// producer, joins the election, serves /metrics and /healthz, and runs the fetch loop while
/// this process leads. Returns the process exit code.
int runFetchRole(const config::Config& config, int cycles, const StopSignal& stop);

/// `coinrelay budget` on a loaded configuration: prints the plan; 0 when it fits, 2 when not.
int printBudget(const config::Config& config);

}  // namespace coinrelay::app
