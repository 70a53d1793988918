#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace coinrelay::telemetry {

/// Sets up the default sink once per process: `text` is "time level [component] message" for
/// people, `json` one object per line ({"ts","level","component","msg"}) for log shippers.
void initLogging(const std::string& level, const std::string& format);

/// The named logger of one subsystem ("fetch", "kafka", "index", "http", ...).
std::shared_ptr<spdlog::logger> logger(const std::string& component);

}  // namespace coinrelay::telemetry
