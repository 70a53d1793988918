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

}  // namespace coinrelay::app
