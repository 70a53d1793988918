#pragma once

#include <optional>
#include <string>

#include "app/commands.h"
#include "common/result.h"
#include "config/config.h"

namespace coinrelay::app {

inline constexpr int kExitRuntime = 1;  ///< a service failed or could not be reached
inline constexpr int kExitUsage = 2;    ///< bad configuration or command line

/// Loads and validates the configuration (printing every problem), then sets up logging.
/// `require_api_key` false: for commands that only plan and never call the upstream.
std::optional<config::Config> loadConfig(const CommonOptions& options, bool require_api_key = true);
/// Logs the error and returns the matching exit code.
int fail(const std::string& component, const Error& error);
/// Logs a missing-setting message and returns kExitUsage.
int requireSetting(const std::string& component, const std::string& message);
/// For the long-running roles that hold the whole universe (run, serve): blocks of 1 MiB and
/// more are mapped and unmapped on their own, so the buffers of a cycle go back to the system
/// when freed instead of staying in the heap (glibc otherwise raises that threshold to 32 MiB
/// as such blocks come and go), and two malloc arenas serve every thread. Measured in
/// BENCHMARKS.md: 130 -> 116 MB peak at 20 000 coins x 3 currencies.
void boundHeapRetention();

}  // namespace coinrelay::app
