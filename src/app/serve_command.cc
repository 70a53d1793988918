// `coinrelay serve`: a replica of the serving layer, fed from Kafka alone.

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/query_pool.h"
#include "api/relay_routes.h"
#include "api/serve_limits.h"
#include "api/stream_hub.h"
#include "api/teams.h"
#include "app/command_support.h"
#include "coingecko/budget.h"
#include "coingecko/upstream_budget.h"
#include "common/json_writer.h"
#include "net/http_server.h"
#include "pipeline/kafka_feed.h"
#include "pipeline/snapshot.h"
#include "storage/history.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

int serveCommand(const CommonOptions& options, const StopSignal& stop) {
  // serve calls CoinGecko only for the misses it fetches itself: only then does it need a key.
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config) {
    return kExitUsage;
  }
  if (config->serve.on_miss == "fetch" && config->serve.miss_via.empty() &&
      config->upstream.plan != "public" && config->upstream.api_key.empty()) {
    return requireSetting(
        "serve", fmt::format("serve.on_miss is fetch and upstream.plan is '{}' but no API key is "
                             "set; set COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, or "
                             "let the fetch role fetch misses (serve.miss_via)",
                             config->upstream.plan));
  }
  if (config->kafka.brokers.empty()) {
    return requireSetting("serve",
                          "kafka.brokers is empty: `coinrelay serve` reads quotes from Kafka; set "
                          "COINRELAY_KAFKA_BROKERS=host:9092 or --brokers (or use `coinrelay "
                          "run`, which serves the same API on its own)");
  }
  auto log = telemetry::logger("serve");
  auto teams = api::Teams::load(config->serve.teams_file);
  if (!teams) {
    return fail("serve", teams.error());
  }
  pipeline::Snapshot snapshot;
  api::StreamHub hub;
  snapshot.addListener([&hub](std::span<const model::Quote> quotes) { hub.publish(quotes); });
  auto feed = pipeline::KafkaFeed::create(*config, snapshot, stop);
  if (!feed) {
    return fail("serve", feed.error());
  }
  std::unique_ptr<storage::ElasticsearchHistory> history;
  if (!config->elasticsearch.url.empty()) {
    history = std::make_unique<storage::ElasticsearchHistory>(config->elasticsearch);
  }
  // Without serve.miss_via this replica calls CoinGecko itself, within a budget of its own
  // built from the same configuration (it cannot see the fetch role's count). Declared first:
  // it outlives the miss fetcher's workers.
  std::unique_ptr<coingecko::UpstreamBudget> budget;
  auto misses = api::MissFetcher::fromConfig(*config);
  if (misses && !config->serve.miss_via.empty()) {
    misses->forwardTo(config->serve.miss_via);  // the active fetcher's budget
  } else if (misses) {
    budget = std::make_unique<coingecko::UpstreamBudget>(
        coingecko::budgetLimitsFor(*config, coingecko::planBudget(*config)), stop);
    misses->setBudget(budget.get());
  }
  api::CoinGeckoRoutes coingecko(snapshot, misses.get(),
                                 static_cast<size_t>(config->serve.response_cache_mib) << 20);
  // History queries run here, off the threads that answer cached requests.
  auto queries = std::make_unique<api::QueryPool>(
      config->serve.query_threads, static_cast<size_t>(config->serve.query_queue), "history");
  pipeline::KafkaFeed& source = **feed;
  auto healthJson = [&] {
    std::string body;
    JsonWriter(body)
        .beginObject()
        .field("status", source.caughtUp() ? "ok" : "starting")
        .field("role", "serve")
        .field("snapshot_complete", source.caughtUp())
        .field("quotes_consumed", static_cast<int64_t>(source.consumed()))
        .field("undecodable_messages", static_cast<int64_t>(source.undecodable()))
        .endObject();
    return body;
  };
  api::RelayRoutes routes(api::RelayRoutes::Parts{
      .snapshot = &snapshot,
      .coingecko = &coingecko,
      .stream = &hub,
      .history = history.get(),
      .queries = queries.get(),
      .teams = teams->get(),
      .health_json = healthJson,
      .healthy = [] { return true; },
      .status_fields =
          [&](JsonWriter& w) {
            w.field("role", "serve")
                .field("upstream_requests",
                       static_cast<int64_t>(misses ? misses->upstreamCalls() : 0))
                .key("kafka")
                .beginObject()
                .field("state", source.caughtUp() ? "ok" : "catching_up")
                .endObject()
                .key("search")
                .beginObject()
                .field("state", history ? "ok" : "disabled")
                .endObject();
          },
  });
  auto server = net::HttpServer::start(
      config->http.listen,
      [&routes](const net::Request& request) { return routes.handle(request); },
      config->http.threads, api::serverLimitsFor(*config));
  if (!server) {
    return fail("http", server.error());
  }
  hub.setLimits(api::streamLimitsFor(*config, (*server)->maxConnections()));
  log->info("serving http://{} from Kafka topic {} at {} (snapshot from the last {} s){}",
            config->http.listen, config->kafka.topic, config->kafka.brokers,
            config->serve.bootstrap_lookback_s,
            history ? "; history from " + config->elasticsearch.url : "");
  auto status = source.run();
  (*server)->stop();
  // Misses still waiting hold their connections: end them while the server's I/O context,
  // stopped but not yet destroyed, still exists.
  misses.reset();
  queries.reset();
  if (!status) {
    return fail("serve", status.error());
  }
  return 0;
}

}  // namespace coinrelay::app
