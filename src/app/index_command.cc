#include "app/index_command.h"

#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "api/api_error.h"
#include "app/command_support.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "elasticsearch/elasticsearch_client.h"
#include "elasticsearch/layout_setup.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "pipeline/index_loop.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::app {

namespace {

std::optional<int64_t> parseStartTime(std::string_view text) {
  if (auto iso = parseIso8601Millis(text))
    return iso;
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && ptr == text.data() + text.size() && ms >= 0)
    return ms;
  return std::nullopt;
}

std::string healthJson(const pipeline::IndexStatus& s) {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .field("status", s.engine_up ? "ok" : "degraded")
      .field("engine_up", s.engine_up)
      .field("paused", s.paused)
      .field("consumed", static_cast<int64_t>(s.consumed))
      .field("indexed", static_cast<int64_t>(s.indexed))
      .field("dead_lettered", static_cast<int64_t>(s.dead_lettered))
      .field("batches_in_flight", static_cast<int64_t>(s.batches_in_flight))
      .field("pending_messages", static_cast<int64_t>(s.pending_messages));
  w.key("lag").beginObject();
  for (const auto& [partition, lag] : s.lag)
    w.field(std::to_string(partition), lag);
  w.endObject().endObject();
  return out;
}

std::optional<int> requireServices(const config::Config& config, const char* role) {
  if (config.kafka.brokers.empty() && std::string_view(role) == "index") {
    return requireSetting("index",
                          "kafka.brokers is empty: `coinrelay index` consumes from Kafka; set "
                          "COINRELAY_KAFKA_BROKERS=host:9092 or --brokers");
  }
  if (config.elasticsearch.url.empty()) {
    return requireSetting(
        role, fmt::format("elasticsearch.url is empty: `coinrelay {}` needs Elasticsearch or "
                          "OpenSearch; set COINRELAY_ELASTICSEARCH_URL=http://host:9200 or "
                          "--elasticsearch",
                          std::string_view(role) == "index" ? "index" : "setup elasticsearch"));
  }
  return std::nullopt;
}

}  // namespace

int indexCommand(const CommonOptions& options, const IndexOptions& index_options,
                 const StopSignal& stop) {
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config)
    return kExitUsage;
  if (auto code = requireServices(*config, "index"))
    return *code;
  auto log = telemetry::logger("index");
  pipeline::IndexStart start;
  if (index_options.from_beginning && !index_options.from.empty()) {
    return requireSetting("index",
                          "--from-beginning and --from exclude each other: give one of them");
  }
  if (index_options.from_beginning)
    start.mode = pipeline::IndexStart::Mode::Beginning;
  if (!index_options.from.empty()) {
    auto ms = parseStartTime(index_options.from);
    if (!ms) {
      return requireSetting("index",
                            fmt::format("--from '{}' is not a time: give ISO-8601 UTC such as "
                                        "2024-06-12T00:00:00Z, or Unix milliseconds",
                                        index_options.from));
    }
    start.mode = pipeline::IndexStart::Mode::Timestamp;
    start.timestamp_ms = *ms;
  }
  if (!index_options.group.empty()) {
    config->kafka.group_id = index_options.group;
  } else if (start.mode != pipeline::IndexStart::Mode::Committed) {
    // A backfill in the live indexer's group would take partitions away from it.
    config->kafka.group_id += "-backfill-" + config->elasticsearch.index;
  }

  auto loop = pipeline::IndexLoop::create(*config, start, stop);
  if (!loop)
    return fail("index", loop.error());

  std::unique_ptr<net::HttpServer> server;
  const std::string& listen = config->index.metrics_listen;
  if (!listen.empty()) {
    pipeline::IndexLoop* raw = loop->get();
    auto started = net::HttpServer::start(listen, [raw](const net::Request& request) -> net::Reply {
      if (request.path == "/metrics") {
        return net::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                          telemetry::metrics().render()};
      }
      if (request.path == "/healthz")
        return net::Reply{200, "application/json", healthJson(raw->status())};
      return api::errorReply(api::ApiErrorKind::NotFound, "not found: try /metrics or /healthz");
    });
    if (started) {
      server = std::move(started).value();
      log->info("/metrics and /healthz on {}:{}", listen.substr(0, listen.rfind(':')),
                server->port());
    } else if (config->index.metrics_listen_is_default) {
      // The default port may be taken by another indexer on this host: indexing matters more.
      log->warn(
          "no /metrics and /healthz: {} (set index.metrics_listen to a free host:port, or "
          "empty for none)",
          started.error().message);
    } else {
      return fail("index", makeError(started.error().code,
                                     started.error().message + " (index.metrics_listen)"));
    }
  }
  const Status status = (*loop)->run();
  if (server)
    server->stop();
  if (!status)
    return fail("index", status.error());
  return 0;
}

int setupElasticsearchCommand(const CommonOptions& options) {
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config)
    return kExitUsage;
  if (auto code = requireServices(*config, "setup"))
    return *code;
  elasticsearch::ElasticsearchClient client(config->elasticsearch);
  auto engine = client.probe();
  if (!engine)
    return fail("setup", engine.error());
  const elasticsearch::Layout layout = elasticsearch::layoutOf(config->elasticsearch);
  std::printf("%s %s at %s, %s layout %s\n", engine->distribution.c_str(), engine->version.c_str(),
              net::redactUrl(config->elasticsearch.url).c_str(),
              layout.rollover ? "rollover" : "plain", layout.name.c_str());
  auto steps = elasticsearch::ensureLayout(client, *engine, layout);
  if (!steps)
    return fail("setup", steps.error());
  for (const auto& step : *steps)
    std::printf("  %s\n", step.c_str());
  if (layout.rollover) {
    std::printf(
        "  rollover at %d GB of primary shards or %d days; %s\n", layout.max_size_gb,
        layout.max_age_days,
        layout.retention_days > 0
            ? fmt::format("indices deleted {} days after their rollover", layout.retention_days)
                  .c_str()
            : "indices never deleted");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace coinrelay::app
