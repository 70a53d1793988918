#include "app/commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <malloc.h>

#include "api/relay_routes.h"
#include "app/command_support.h"
#include "app/fetch_command.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "config/config.h"
#include "net/http_server.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/index_loop.h"
#include "pipeline/snapshot.h"
#include "sinks/elasticsearch_sink.h"
#include "sinks/sqlite_sink.h"
#include "storage/sqlite_quote_store.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

namespace {

/// Prints each line of a configuration error on its own, prefixed so it reads as one message.
void printConfigError(const Error& error) {
  size_t start = 0;
  const std::string& text = error.message;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    std::fprintf(stderr, "coinrelay: configuration error: %s\n",
                 text.substr(start, end - start).c_str());
    start = end + 1;
  }
}

}  // namespace

std::optional<config::Config> loadConfig(const CommonOptions& options, bool require_api_key) {
  config::LoadOptions load;
  load.file = options.config_file;
  load.assignments = options.assignments;
  load.environ = config::processEnvironment();
  load.require_api_key = require_api_key;
  auto loaded = config::load(load);
  if (!loaded) {
    printConfigError(loaded.error());
    return std::nullopt;
  }
  telemetry::initLogging(loaded->second.log.level, loaded->second.log.format);
  return loaded->second;
}

int fail(const std::string& component, const Error& error) {
  telemetry::logger(component)->error("{}", error.message);
  return error.code == ErrorCode::InvalidArgument ? kExitUsage : kExitRuntime;
}

int requireSetting(const std::string& component, const std::string& message) {
  telemetry::logger(component)->error("{}", message);
  return kExitUsage;
}

int fetchCommand(const CommonOptions& options, const StopSignal& stop) {
  auto config = loadConfig(options);
  if (!config)
    return kExitUsage;
  if (config->kafka.brokers.empty()) {
    return requireSetting("fetch",
                          "kafka.brokers is empty: `coinrelay fetch` publishes to Kafka; set "
                          "COINRELAY_KAFKA_BROKERS=host:9092 or --brokers (or use `coinrelay "
                          "run` for the embedded default)");
  }
  return runFetchRole(*config, options.cycles, stop);
}

int budgetCommand(const CommonOptions& options) {
  // Planning needs no key: the plan's published figures are enough.
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config)
    return kExitUsage;
  return printBudget(*config);
}

int simulateCommand(SimulateOptions options, const StopSignal& stop) {
  telemetry::initLogging("info", "text");
  auto log = telemetry::logger("simulate");
  options.market.update_interval_ms = static_cast<int64_t>(options.update_interval_s * 1000);
  options.market.start_ms = toUnixMillis(std::chrono::system_clock::now());
  simulate::KeyPolicy keys;
  if (!options.api_key_file.empty()) {
    std::ifstream in(options.api_key_file);
    std::getline(in, keys.key);
    keys.key = std::string(trim(keys.key));
    if (keys.key.empty()) {
      log->error("--api-key-file {}: no key on its first line", options.api_key_file);
      return kExitUsage;
    }
    keys.plan = options.api_key_plan;
  }
  simulate::Simulator simulator(options.market, options.faults, keys);
  auto server = net::HttpServer::start(options.listen, [&simulator](const net::Request& request) {
    return simulator.handle(request);
  });
  if (!server) {
    log->error("{}", server.error().message);
    return kExitUsage;
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  log->info(
      "CoinGecko-compatible upstream at http://{}:{}/api/v3 ({} coins, seed {}, {}); "
      "counters at /_sim/stats",
      host, (*server)->port(), options.market.coins, options.market.seed,
      options.market.update_interval_ms > 0
          ? fmt::format("prices move every {} s", options.update_interval_s)
          : std::string("prices frozen"));
  const auto& f = options.faults;
  if (f.rate_limited + f.server_error + f.html + f.truncated > 0 || f.latency_ms > 0) {
    log->info("faults: 429 {:.0f}%, 5xx {:.0f}%, HTML {:.0f}%, truncated {:.0f}%, +{} ms latency",
              f.rate_limited * 100, f.server_error * 100, f.html * 100, f.truncated * 100,
              f.latency_ms);
  }
  while (!stop.waitFor(std::chrono::seconds(1))) {
  }
  (*server)->stop();
  return 0;
}

int configCommand(const CommonOptions& options, const ConfigOptions& config_options) {
  if (config_options.reference) {
    std::fputs(config::renderReference().c_str(), stdout);
    return 0;
  }
  config::LoadOptions load;
  load.file = options.config_file;
  load.assignments = options.assignments;
  load.environ = config::processEnvironment();
  auto loaded = config::load(load);
  if (!loaded) {
    printConfigError(loaded.error());
    return kExitUsage;
  }
  std::fputs(config::render(loaded->first).c_str(), stdout);
  return 0;
}

void boundHeapRetention() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace coinrelay::app
