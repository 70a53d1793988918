#include "app/fetch_command.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "api/api_error.h"
#include "api/miss_fetcher.h"
#include "coingecko/budget.h"
#include "coingecko/upstream_budget.h"
#include "common/json_writer.h"
#include "common/time_util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "pipeline/fetch_loop.h"
#include "pipeline/leader_election.h"
#include "sinks/spooled_kafka_sink.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::app {

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int fail(const Error& error) {
  telemetry::logger("fetch")->error("{}", error.message);
  return error.code == ErrorCode::InvalidArgument ? kExitUsage : kExitRuntime;
}

std::string healthJson(const pipeline::FetchLoop& loop, const sinks::SpooledKafkaSink& sink,
                       const coingecko::BudgetPlan& plan) {
  const pipeline::FetchStatus s = loop.status();
  const sinks::SpooledKafkaSink::Stats k = sink.stats();
  const bool ok = s.has_last && s.last.upstream_ok && s.last.sinks_ok && k.kafka_ok &&
                  s.state == pipeline::UpstreamState::Healthy;
  const char* status = s.role == "standby" ? "standby"
                       : !s.has_last       ? "starting"
                       : ok                ? "ok"
                                           : "degraded";
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .field("status", status)
      .field("role", s.role)
      .field("upstream_state", pipeline::toString(s.state))
      .field("cycles", static_cast<int64_t>(s.cycles))
      .field("failed_cycles", static_cast<int64_t>(s.failed_cycles))
      .field("upstream_requests", static_cast<int64_t>(s.upstream_requests));
  w.key("budget")
      .beginObject()
      .field("plan", plan.plan)
      .field("calls_per_minute", plan.calls_per_minute)
      .field("month", s.month)
      .field("credits_used", s.credits_used)
      .field("credits_monthly", s.monthly_credits);
  if (s.monthly_credits > 0)
    w.field("credits_left", std::max<int64_t>(0, s.monthly_credits - s.credits_used));
  w.endObject();
  w.key("kafka")
      .beginObject()
      .field("confirming", k.kafka_ok)
      .field("spooled", static_cast<int64_t>(k.pending))
      .field("spooled_bytes", static_cast<int64_t>(k.pending_bytes))
      .field("dropped", static_cast<int64_t>(k.dropped))
      .field("delivered", static_cast<int64_t>(k.delivered))
      .endObject();
  if (s.has_last) {
    w.key("last_cycle")
        .beginObject()
        .field("started_at", formatIso8601Millis(s.last.started_ms))
        .field("fetched", static_cast<int64_t>(s.last.fetched))
        .field("delivered", static_cast<int64_t>(s.last.delivered))
        .field("unchanged", static_cast<int64_t>(s.last.unchanged))
        .field("invalid", static_cast<int64_t>(s.last.invalid))
        .field("upstream_requests", static_cast<int64_t>(s.last.requests))
        .field("upstream_ok", s.last.upstream_ok)
        .field("sinks_ok", s.last.sinks_ok)
        .field("error", s.last.error)
        .endObject();
  }
  w.endObject();
  return out;
}

}  // namespace

int printBudget(const config::Config& config) {
  const coingecko::BudgetPlan plan = coingecko::planBudget(config);
  std::fputs(coingecko::describeBudget(plan).c_str(), stdout);
  // What the serving layer may call besides the schedule: never more than the schedule leaves.
  const int universe_per_day = 2 * 86'400 / config.serve.universe_refresh_s;
  std::string on_demand = fmt::format(
      "on demand: coin and currency lists {} calls a day at most (2 every "
      "serve.universe_refresh_s = {} s, only when used)",
      universe_per_day, config.serve.universe_refresh_s);
  if (config.serve.on_miss == "fetch") {
    on_demand += fmt::format(
        "; relayed answers (paths and parameters coinrelay does not hold: coins/{{id}}, "
        "sparkline, price_change_percentage, untracked coins...) one call per distinct query "
        "per cache period, at most {} a minute (serve.miss_calls_per_minute)",
        config.serve.miss_calls_per_minute);
  } else {
    on_demand += "; nothing relayed (serve.on_miss = refuse)";
  }
  if (plan.monthly_credits > 0 && plan.fits()) {
    on_demand += fmt::format("; all of it within the {} credits a month the schedule leaves",
                             plan.usable_credits - plan.calls_per_month);
  }
  std::puts(on_demand.c_str());
  return plan.fits() ? 0 : kExitUsage;
}

int runFetchRole(const config::Config& config, int cycles, const StopSignal& stop) {
  auto log = telemetry::logger("fetch");
  const coingecko::BudgetPlan plan = coingecko::planBudget(config);
  if (!plan.fits())
    return fail(coingecko::budgetRefusal(plan));
  if (auto warning = coingecko::cacheWarning(plan); !warning.empty())
    log->warn("{}", warning);

  const std::string spool_dir =
      (std::filesystem::path(config.fetch.spool_dir) / config.kafka.topic).string();
  auto sink = sinks::SpooledKafkaSink::create(
      config.kafka, spool_dir, static_cast<uint64_t>(config.fetch.spool_max_mib) << 20);
  if (!sink)
    return fail(sink.error());
  auto election = pipeline::KafkaLeaderElection::create(config);
  if (!election)
    return fail(election.error());

  // One budget for every upstream call of this process: the schedule's and the misses'.
  coingecko::UpstreamBudget budget(coingecko::budgetLimitsFor(config, plan), stop,
                                   pipeline::leadershipOf(**election));
  pipeline::FetchOptions options = pipeline::fetchOptionsFor(config);
  options.coordinator = election->get();
  pipeline::FetchLoop loop(config.upstream, {sink->get()}, stop, budget, options);
  // Serve replicas with serve.miss_via send their calls here: the active fetcher makes them
  // within its own budget (a standby answers 503 with MissFetcher::kStandbyHeader). Only with
  // the shared secret: without one the relay is off.
  std::unique_ptr<api::MissFetcher> misses;
  if (config.serve.on_miss == "fetch" && !config.serve.miss_via_secret.empty()) {
    misses = api::MissFetcher::fromConfig(config);
    if (misses)
      misses->setBudget(&budget);
  }

  std::unique_ptr<net::HttpServer> server;
  if (!config.fetch.metrics_listen.empty()) {
    auto started = net::HttpServer::start(
        config.fetch.metrics_listen, [&](const net::Request& request) -> net::Reply {
          if (request.path == "/metrics") {
            return net::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                              telemetry::metrics().render()};
          }
          if (request.path == "/healthz")
            return net::Reply{200, "application/json", healthJson(loop, **sink, plan)};
          constexpr std::string_view kUpstream = "/v1/upstream";
          if (request.path.starts_with(kUpstream))
            return api::MissFetcher::answerReplica(misses.get(), config.serve.miss_via_secret,
                                                   request);
          return api::errorReply(api::ApiErrorKind::NotFound,
                                 "not found: try /metrics or /healthz");
        });
    if (started) {
      server = std::move(started).value();
    } else if (config.fetch.metrics_listen_is_default) {
      // The default port may be taken by another coinrelay on this host: fetching matters more.
      log->warn(
          "no /metrics and /healthz: {} (set fetch.metrics_listen to a free host:port, "
          "or empty for none)",
          started.error().message);
    } else {
      return fail(
          makeError(started.error().code, started.error().message + " (fetch.metrics_listen)"));
    }
  }
  const std::string endpoint = server ? fmt::format("; /metrics and /healthz on {}:{}",
                                                    config.fetch.metrics_listen.substr(
                                                        0, config.fetch.metrics_listen.rfind(':')),
                                                    server->port())
                                      : std::string();
  log->info(
      "fetching {} from {} every {} s into Kafka topic {} at {} (plan {}: {}, {:.2f} calls per "
      "cycle on average, {} calls/min and {} credits/month allowed){}",
      plan.tracked, net::redactUrl(config.upstream.base_url), config.upstream.interval_s,
      config.kafka.topic, config.kafka.brokers, plan.plan,
      coingecko::toString(plan.planned.strategy), plan.planned.perCycle(),
      plan.calls_per_minute > 0 ? std::to_string(plan.calls_per_minute) : "unlimited",
      plan.monthly_credits > 0 ? std::to_string(plan.monthly_credits) : "unlimited", endpoint);
  const int delivered = loop.run(cycles);
  log->info("stopped after {} delivered cycles and {} upstream requests", delivered,
            loop.upstreamStats().requests.load());
  if (server)
    server->stop();
  misses.reset();     // misses still waiting end while the server's I/O context exists
  election->reset();  // leave the group first, so that a standby takes over at once
  sink->reset();      // then give the spool a few seconds to reach Kafka
  return cycles > 0 && delivered < cycles ? kExitRuntime : 0;
}

}  // namespace coinrelay::app
