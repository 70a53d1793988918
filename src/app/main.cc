// coinrelay: one binary, one role per subcommand (see docs/architecture.md).

#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>

#include "app/commands.h"
#include "app/index_command.h"
#include "app/setup_kibana_command.h"

namespace {

using coinrelay::app::CommonOptions;

/// Adds the options every configured role shares; each shortcut becomes a `section.key=value`
/// assignment, applied after the file and the environment, in command-line order.
void addCommonOptions(CLI::App* command, CommonOptions& options, bool with_cycles) {
  command->add_option("-c,--config", options.config_file,
                      "TOML configuration file (default: $COINRELAY_CONFIG, else ./coinrelay.toml "
                      "if present)");
  command->add_option_function<std::vector<std::string>>(
      "--set",
      [&options](const std::vector<std::string>& values) {
        for (const auto& v : values)
          options.assignments.push_back(v);
      },
      "Override one key: --set section.key=value (repeatable)");
  auto shortcut = [&](const char* flag, const char* key, const char* help) {
    command->add_option_function<std::string>(
        flag,
        [&options, key](const std::string& value) {
          options.assignments.push_back(std::string(key) + "=" + value);
        },
        help);
  };
  shortcut("--upstream", "upstream.base_url",
           "CoinGecko API root, e.g. http://127.0.0.1:8090/api/v3");
  shortcut("--plan", "upstream.plan",
           "CoinGecko plan: public, demo, basic, analyst, lite, pro or enterprise");
  shortcut("--top", "upstream.top_n", "How many coins to track by market cap");
  shortcut("--interval", "upstream.interval_s", "Seconds between fetch cycles");
  shortcut("--brokers", "kafka.brokers", "Kafka bootstrap servers, host:port[,...]");
  shortcut("--topic", "kafka.topic", "Kafka topic of quotes");
  shortcut("--elasticsearch", "elasticsearch.url", "Elasticsearch/OpenSearch URL");
  shortcut("--index", "elasticsearch.index", "Index of quote history");
  shortcut("--listen", "http.listen", "HTTP listen address host:port");
  shortcut("--sqlite", "storage.sqlite_path", "SQLite history file");
  shortcut("--log-level", "log.level", "trace, debug, info, warn or error");
  shortcut("--log-format", "log.format", "text or json");
  if (with_cycles) {
    command->add_option("--cycles", options.cycles, "Stop after this many fetch cycles (0: never)")
        ->check(CLI::NonNegativeNumber);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread with sigwait so every other thread can ignore them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "coinrelay: the one process that calls CoinGecko, and the relay that shares its quotes\n"
      "through Kafka, Elasticsearch and a CoinGecko-compatible HTTP API."};
  app.set_version_flag("--version", std::string("coinrelay ") + COINRELAY_VERSION);
  app.require_subcommand(1);

  CommonOptions run_options, fetch_options, index_options, config_cmd_options;
  auto* run = app.add_subcommand(
      "run",
      "The embedded default: fetch -> SQLite history -> HTTP API, in one process (Kafka "
      "and Elasticsearch too when configured)");
  addCommonOptions(run, run_options, true);
  auto* fetch = app.add_subcommand(
      "fetch", "Poll CoinGecko on a schedule and publish each quote to Kafka (key = coin id)");
  addCommonOptions(fetch, fetch_options, true);
  // `setup` groups the one-shot provisioning steps of a deployment.
  auto* setup = app.add_subcommand(
      "setup", "Provision a deployment once: Kafka topics, search-engine templates, dashboards");
  setup->require_subcommand(1);
  CommonOptions setup_kafka_options;
  auto* setup_kafka = setup->add_subcommand(
      "kafka",
      "Create the quotes topic and its dead-letter topic with the configured partitions "
      "and replication (min.insync.replicas 2 when replicated)");
  addCommonOptions(setup_kafka, setup_kafka_options, false);
  CommonOptions setup_kibana_options;
  coinrelay::app::SetupKibanaOptions kibana_options;
  auto* setup_kibana = setup->add_subcommand(
      "kibana",
      "Create the data view crypto-prices (time field timestamp) and import the dashboard "
      "(deploy/kibana/crypto-prices.ndjson) into Kibana 8.11+; safe to run again. Credentials: "
      "COINRELAY_KIBANA_API_KEY, or kibana.username with COINRELAY_KIBANA_PASSWORD (or the "
      "*_file keys)");
  addCommonOptions(setup_kibana, setup_kibana_options, false);
  setup_kibana->add_option_function<std::string>(
      "--url",
      [&setup_kibana_options](const std::string& value) {
        setup_kibana_options.assignments.push_back("kibana.url=" + value);
      },
      "Kibana URL, e.g. http://127.0.0.1:5601 (kibana.url)");
  setup_kibana->add_option(
      "--objects", kibana_options.objects_file,
      "Import this saved objects export (.ndjson) instead of the built-in one");
  CommonOptions setup_elasticsearch_options;
  auto* setup_elasticsearch = setup->add_subcommand(
      "elasticsearch",
      "Install the index template (explicit mappings, dynamic: strict) and, with "
      "elasticsearch.lifecycle = rollover, the lifecycle policy (ILM on Elasticsearch, ISM on "
      "OpenSearch) and the first index behind the write alias; safe to run again");
  addCommonOptions(setup_elasticsearch, setup_elasticsearch_options, false);
  CommonOptions serve_options;
  auto* serve = app.add_subcommand(
      "serve",
      "Answer CoinGecko-compatible /api/v3, /v1/stream, /v1/history and /metrics from a "
      "snapshot fed by Kafka (run any number of replicas)");
  addCommonOptions(serve, serve_options, false);
  auto* index = app.add_subcommand(
      "index", "Consume the quotes topic and bulk-index it into Elasticsearch/OpenSearch");
  addCommonOptions(index, index_options, false);
  coinrelay::app::IndexOptions index_flags;
  index->add_flag("--from-beginning", index_flags.from_beginning,
                  "Reindex: read the topic from its first message (in group "
                  "<kafka.group_id>-backfill-<index> unless --group is given)");
  index->add_option("--from", index_flags.from,
                    "Backfill: read from the first message at or after this time (ISO-8601 UTC "
                    "or Unix ms), in the same backfill group");
  index->add_option("--group", index_flags.group, "Consumer group (default: kafka.group_id)");

  coinrelay::app::SimulateOptions sim;
  auto* simulate = app.add_subcommand(
      "simulate", "A CoinGecko-compatible upstream on loopback, for tests, benchmarks and demos");
  simulate->add_option("--listen", sim.listen, "host:port to listen on (port 0: any free port)")
      ->capture_default_str();
  simulate->add_option("--coins", sim.market.coins, "Number of coins (the top 50 are real ones)")
      ->check(CLI::Range(1, 20'000))
      ->capture_default_str();
  simulate->add_option("--seed", sim.market.seed, "Seed of the price random walk")
      ->capture_default_str();
  simulate
      ->add_option("--update-interval", sim.update_interval_s,
                   "Seconds between price moves (last_updated advances); 0 freezes the market")
      ->check(CLI::Range(0.0, 86'400.0))
      ->capture_default_str();
  simulate
      ->add_option("--fail-429", sim.faults.rate_limited, "Share of requests answered 429 (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  simulate->add_option("--fail-5xx", sim.faults.server_error, "Share answered 503 (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  simulate
      ->add_option("--fail-html", sim.faults.html,
                   "Share answered with a Cloudflare HTML page (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  simulate
      ->add_option("--fail-truncated", sim.faults.truncated,
                   "Share answered with truncated JSON (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  simulate->add_option("--latency-ms", sim.faults.latency_ms, "Latency added to every answer")
      ->check(CLI::Range(0, 600'000));
  simulate
      ->add_option("--retry-after", sim.faults.retry_after_s,
                   "retry-after seconds of simulated 429s")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  simulate->add_option("--fault-seed", sim.faults.seed, "Seed of the fault dice");
  simulate
      ->add_option("--fail-items", sim.faults.invalid_items,
                   "Share of /coins/markets items made invalid in otherwise good pages (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  simulate->add_option("--api-key-file", sim.api_key_file,
                       "Require the API key on this file's first line, as CoinGecko does");
  simulate
      ->add_option("--api-key-plan", sim.api_key_plan,
                   "demo, pro or enterprise: the header the key belongs in (the other one gets "
                   "CoinGecko's 10010/10011 host-mismatch errors) and the paths it may call")
      ->check(CLI::IsMember({"demo", "pro", "enterprise"}))
      ->capture_default_str();

  CommonOptions budget_options;
  auto* budget = app.add_subcommand(
      "budget",
      "Print the upstream budget of the configuration (calls per cycle, per minute and per "
      "month against the plan) and the shortest interval that fits; exit 2 when it does not");
  addCommonOptions(budget, budget_options, false);

  coinrelay::app::ConfigOptions config_options;
  auto* config = app.add_subcommand(
      "config",
      "Print the effective configuration (secrets masked), or the reference of every key");
  addCommonOptions(config, config_cmd_options, false);
  config->add_flag("--reference", config_options.reference, "Print every key as a Markdown table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (sim.faults.rate_limited + sim.faults.server_error + sim.faults.html + sim.faults.truncated >
      1.0) {
    std::fprintf(stderr, "coinrelay simulate: the fault shares add up to more than 1\n");
    return 2;
  }

  coinrelay::StopSignal stop;
  std::thread([&stop, signals] {
    int received = 0;
    sigwait(&signals, &received);
    stop.request();
  }).detach();

  if (*run)
    return coinrelay::app::runCommand(run_options, stop);
  if (*fetch)
    return coinrelay::app::fetchCommand(fetch_options, stop);
  if (*index)
    return coinrelay::app::indexCommand(index_options, index_flags, stop);
  if (*setup_elasticsearch)
    return coinrelay::app::setupElasticsearchCommand(setup_elasticsearch_options);
  if (*serve)
    return coinrelay::app::serveCommand(serve_options, stop);
  if (*setup_kafka)
    return coinrelay::app::setupKafkaCommand(setup_kafka_options);
  if (*setup_kibana)
    return coinrelay::app::setupKibanaCommand(setup_kibana_options, kibana_options);
  if (*simulate)
    return coinrelay::app::simulateCommand(sim, stop);
  if (*config)
    return coinrelay::app::configCommand(config_cmd_options, config_options);
  if (*budget)
    return coinrelay::app::budgetCommand(budget_options);
  return 2;
}
