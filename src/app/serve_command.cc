// `coinrelay serve`: a replica of the serving layer, fed from Kafka alone.

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "api/chart_routes.h"
#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/relay_routes.h"
#include "api/serve_limits.h"
#include "api/stream_hub.h"
#include "api/teams.h"
#include "api/universe.h"
#include "app/api_parts.h"
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
  boundHeapRetention();
  if (config->serve.on_miss == "fetch" && config->serve.miss_via.empty() &&
      config->upstream.plan != "public" && config->upstream.api_key.empty()) {
    return requireSetting(
        "serve", fmt::format("serve.on_miss is fetch and upstream.plan is '{}' but no API key is "
                             "set; set COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, let "
                             "the fetch role fetch misses (serve.miss_via), or set "
                             "serve.on_miss = refuse",
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
    // The active fetcher's budget, with the shared secret its /v1/upstream asks for.
    misses->forwardTo(config->serve.miss_via, config->serve.miss_via_secret);
  } else if (misses) {
    budget = std::make_unique<coingecko::UpstreamBudget>(
        coingecko::budgetLimitsFor(*config, coingecko::planBudget(*config)), stop);
    misses->setBudget(budget.get());
  }
  auto universe = universeFor(*config, misses.get());
  api::CoinGeckoRoutes coingecko(snapshot, misses.get(), universe.get(),
                                 api::routeOptionsFor(*config));
  auto charts = chartsFor(*config, history.get(), misses.get(), coingecko);
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
      .charts = charts.get(),
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
  auto server = startApiServer(*config, routes, hub);
  if (!server) {
    return fail("http", server.error());
  }
  log->info("serving http://{} from Kafka topic {} at {} (snapshot from the last {} s){}",
            config->http.listen, config->kafka.topic, config->kafka.brokers,
            config->serve.bootstrap_lookback_s,
            history ? "; history from " + config->elasticsearch.url : "");
  auto status = source.run();
  (*server)->stop();
  // Streams, misses and charts still waiting hold their connections: end them while the
  // server's I/O context, stopped but not yet destroyed, still exists.
  hub.closeAll();
  charts.reset();
  misses.reset();
  if (!status) {
    return fail("serve", status.error());
  }
  return 0;
}

}  // namespace coinrelay::app
