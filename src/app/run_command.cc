// `coinrelay run`: the embedded default, every part in one process.

#include <chrono>
#include <filesystem>

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
#include "net/http_client.h"
#include "net/http_server.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/snapshot.h"
#include "sinks/elasticsearch_sink.h"
#include "sinks/spooled_kafka_sink.h"
#include "sinks/sqlite_sink.h"
#include "storage/sqlite_quote_store.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

int runCommand(const CommonOptions& options, const StopSignal& stop) {
  auto config = loadConfig(options);
  if (!config) {
    return kExitUsage;
  }
  boundHeapRetention();
  auto log = telemetry::logger("run");
  auto store = storage::SqliteQuoteStore::open(config->storage.sqlite_path,
                                               storage::Retention::of(config->storage));
  if (!store) {
    return fail("run", store.error());
  }
  auto teams = api::Teams::load(config->serve.teams_file);
  if (!teams) {
    return fail("run", teams.error());
  }

  pipeline::Snapshot snapshot;
  api::StreamHub hub;
  snapshot.addListener([&hub](std::span<const model::Quote> quotes) { hub.publish(quotes); });
  if (auto history = (*store)->latest(); history && !history->empty()) {
    (void)snapshot.deliver(*history);  // serve the last known quotes at once after a restart
    log->info("loaded {} latest quotes from {}", history->size(), config->storage.sqlite_path);
  }
  sinks::SqliteSink sqlite(**store);
  std::vector<sinks::Sink*> sinks = {&sqlite, &snapshot};
  // Kafka, when configured, is fed through the same on-disk spool as `coinrelay fetch`: a broker
  // outage neither stalls the schedule nor loses the quotes the other sinks already hold.
  std::unique_ptr<sinks::SpooledKafkaSink> kafka;
  if (!config->kafka.brokers.empty()) {
    auto created = sinks::SpooledKafkaSink::create(
        config->kafka,
        (std::filesystem::path(config->fetch.spool_dir) / config->kafka.topic).string(),
        static_cast<uint64_t>(config->fetch.spool_max_mib) << 20);
    if (!created) {
      return fail("run", created.error());
    }
    kafka = std::move(created).value();
    sinks.push_back(kafka.get());
  }
  std::unique_ptr<sinks::ElasticsearchSink> search;
  if (!config->elasticsearch.url.empty()) {
    auto created = sinks::ElasticsearchSink::create(config->elasticsearch, stop);
    if (!created) {
      return fail("run", created.error());
    }
    search = std::move(created).value();
    sinks.push_back(search.get());
  }

  const coingecko::BudgetPlan plan = coingecko::planBudget(*config);
  if (!plan.fits())
    return fail("run", coingecko::budgetRefusal(plan));
  if (auto warning = coingecko::cacheWarning(plan); !warning.empty())
    log->warn("{}", warning);
  // Alone by construction: the credits used and the schedule survive restarts in a file.
  pipeline::FileCoordinator coordinator(config->budget.state_file);
  // One budget for every upstream call of this process: the schedule's and the misses'.
  coingecko::UpstreamBudget budget(coingecko::budgetLimitsFor(*config, plan), stop,
                                   pipeline::leadershipOf(coordinator));
  pipeline::FetchOptions fetch_options = pipeline::fetchOptionsFor(*config);
  fetch_options.coordinator = &coordinator;
  pipeline::FetchLoop loop(config->upstream, sinks, stop, budget, fetch_options);
  api::HealthState health;
  loop.onCycle([&health](const pipeline::CycleReport& report) { health.record(report); });
  // The relay: CoinGecko's answers for what coinrelay does not hold, and its coin and currency
  // lists, within the schedule's rate window and credits.
  auto misses = api::MissFetcher::fromConfig(*config);
  if (misses)
    misses->setBudget(&budget);  // within the schedule's rate window and credits
  auto universe = universeFor(*config, misses.get());
  api::CoinGeckoRoutes coingecko(snapshot, misses.get(), universe.get(),
                                 api::routeOptionsFor(*config));
  auto charts = chartsFor(*config, store->get(), misses.get(), coingecko);
  const auto& upstream_requests = loop.upstreamStats().requests;
  api::RelayRoutes routes(api::RelayRoutes::Parts{
      .snapshot = &snapshot,
      .coingecko = &coingecko,
      .stream = &hub,
      .charts = charts.get(),
      .teams = teams->get(),
      .health_json =
          [&] {
            // The fetch loop's upstream state (healthy, backing_off, budget_exhausted) joins
            // the cycle report in the object HealthState renders.
            std::string body = health.json(upstream_requests.load());
            body.insert(body.size() - 1, fmt::format(R"(,"upstream_state":"{}")",
                                                     pipeline::toString(loop.status().state)));
            return body;
          },
      .healthy = [&] { return health.healthy(); },
      .status_fields =
          [&](JsonWriter& w) {
            const auto spool = kafka ? kafka->stats() : sinks::SpooledKafkaSink::Stats{};
            w.field("role", "run")
                .field("upstream_requests",
                       static_cast<int64_t>(upstream_requests.load() +
                                            (misses ? misses->upstreamCalls() : 0)))
                .key("upstream")
                .raw(health.json(upstream_requests.load()))
                .key("kafka")
                .beginObject()
                .field("state", !kafka           ? "disabled"
                                : spool.kafka_ok ? "ok"
                                                 : "spooling")
                .field("spooled", static_cast<int64_t>(spool.pending))
                .endObject()
                .key("search")
                .beginObject()
                .field("state", search ? "ok" : "disabled")
                .endObject();
            // The dashboard's "credits left in the plan": this process fetches, so it counts.
            const auto& ledger = budget.credits();
            w.key("credits")
                .beginObject()
                .field("month", ledger.month())
                .field("used", ledger.used())
                .field("monthly", ledger.monthlyCredits())
                .field("left", ledger.left())  // null: the plan has no monthly cap
                .endObject();
          },
  });
  auto server = startApiServer(*config, routes, hub);
  if (!server) {
    return fail("http", server.error());
  }
  log->info(
      "serving http://{} (CoinGecko-compatible /api/v3, /v1/quotes, /v1/stream, /v1/history, "
      "/metrics); history in {}; fetching the top {} coins from {} every {} s{}{}",
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
  // Streams, misses and charts still waiting hold their connections: end them while the
  // server's I/O context, stopped but not yet destroyed, still exists.
  hub.closeAll();
  charts.reset();
  misses.reset();
  return 0;
}

}  // namespace coinrelay::app
