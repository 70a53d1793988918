#include "app/commands.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "api/http_server.h"
#include "api/relay_routes.h"
#include "common/time_util.h"
#include "config/config.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/index_loop.h"
#include "pipeline/snapshot.h"
#include "sinks/elasticsearch_sink.h"
#include "sinks/kafka_sink.h"
#include "sinks/sqlite_sink.h"
#include "storage/sqlite_quote_store.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

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

std::optional<config::Config> loadConfig(const CommonOptions& options) {
  config::LoadOptions load;
  load.file = options.config_file;
  load.assignments = options.assignments;
  load.environ = config::processEnvironment();
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

}  // namespace

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
  auto kafka = sinks::KafkaSink::create(config->kafka);
  if (!kafka)
    return fail("fetch", kafka.error());
  auto log = telemetry::logger("fetch");
  log->info("fetching the top {} coins in {} from {} every {} s into Kafka topic {} at {}",
            config->upstream.top_n, fmt::join(config->upstream.vs_currencies, ","),
            net::redactUrl(config->upstream.base_url), config->upstream.interval_s,
            config->kafka.topic, config->kafka.brokers);
  pipeline::FetchLoop loop(config->upstream, {kafka->get()}, stop);
  const int delivered = loop.run(options.cycles);
  log->info("stopped after {} delivered cycles and {} upstream requests", delivered,
            loop.upstreamStats().requests.load());
  return options.cycles > 0 && delivered < options.cycles ? kExitRuntime : 0;
}

int indexCommand(const CommonOptions& options, const StopSignal& stop) {
  auto config = loadConfig(options);
  if (!config)
    return kExitUsage;
  if (config->kafka.brokers.empty()) {
    return requireSetting("index",
                          "kafka.brokers is empty: `coinrelay index` consumes from Kafka; set "
                          "COINRELAY_KAFKA_BROKERS=host:9092 or --brokers");
  }
  if (config->elasticsearch.url.empty()) {
    return requireSetting("index",
                          "elasticsearch.url is empty: `coinrelay index` writes to Elasticsearch "
                          "or OpenSearch; set COINRELAY_ELASTICSEARCH_URL=http://host:9200 or "
                          "--elasticsearch");
  }
  auto loop = pipeline::IndexLoop::create(*config, stop);
  if (!loop)
    return fail("index", loop.error());
  if (auto status = (*loop)->run(); !status)
    return fail("index", status.error());
  return 0;
}

int runCommand(const CommonOptions& options, const StopSignal& stop) {
  auto config = loadConfig(options);
  if (!config)
    return kExitUsage;
  auto log = telemetry::logger("run");
  auto store = storage::SqliteQuoteStore::open(config->storage.sqlite_path);
  if (!store)
    return fail("run", store.error());

  pipeline::Snapshot snapshot;
  if (auto history = (*store)->latest(); history && !history->empty()) {
    (void)snapshot.deliver(*history);  // serve the last known quotes at once after a restart
    log->info("loaded {} latest quotes from {}", history->size(), config->storage.sqlite_path);
  }
  sinks::SqliteSink sqlite(**store);
  std::vector<sinks::Sink*> sinks = {&sqlite, &snapshot};
  std::unique_ptr<sinks::KafkaSink> kafka;
  if (!config->kafka.brokers.empty()) {
    auto created = sinks::KafkaSink::create(config->kafka);
    if (!created)
      return fail("run", created.error());
    kafka = std::move(created).value();
    sinks.push_back(kafka.get());
  }
  std::unique_ptr<sinks::ElasticsearchSink> search;
  if (!config->elasticsearch.url.empty()) {
    auto created = sinks::ElasticsearchSink::create(config->elasticsearch, stop);
    if (!created)
      return fail("run", created.error());
    search = std::move(created).value();
    sinks.push_back(search.get());
  }

  pipeline::FetchLoop loop(config->upstream, sinks, stop);
  api::HealthState health;
  loop.onCycle([&health](const pipeline::CycleReport& report) { health.record(report); });
  api::RelayRoutes routes(snapshot, health, loop.upstreamStats().requests);
  auto server = api::HttpServer::start(config->http.listen, [&routes](const api::Request& request) {
    return routes.handle(request);
  });
  if (!server)
    return fail("http", server.error());
  log->info(
      "serving http://{}/v1/quotes and /healthz; history in {}; fetching the top {} coins "
      "from {} every {} s{}{}",
      config->http.listen, config->storage.sqlite_path, config->upstream.top_n,
      net::redactUrl(config->upstream.base_url), config->upstream.interval_s,
      kafka ? "; publishing to Kafka " + config->kafka.brokers : "",
      search ? "; indexing into " + net::redactUrl(config->elasticsearch.url) : "");
  loop.run(options.cycles);
  if (options.cycles > 0) {
    // Keep answering after the last cycle until stopped, so the result can be inspected.
    while (!stop.waitFor(std::chrono::seconds(1))) {
    }
  }
  (*server)->stop();
  return 0;
}

int simulateCommand(SimulateOptions options, const StopSignal& stop) {
  telemetry::initLogging("info", "text");
  auto log = telemetry::logger("simulate");
  options.market.update_interval_ms = static_cast<int64_t>(options.update_interval_s * 1000);
  options.market.start_ms = toUnixMillis(std::chrono::system_clock::now());
  simulate::Simulator simulator(options.market, options.faults);
  auto server = api::HttpServer::start(options.listen, [&simulator](const api::Request& request) {
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

}  // namespace coinrelay::app
