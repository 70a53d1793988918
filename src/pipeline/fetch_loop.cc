#include "pipeline/fetch_loop.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/time_util.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::pipeline {

namespace {

constexpr UpstreamState kStates[] = {UpstreamState::Healthy, UpstreamState::BackingOff,
                                     UpstreamState::BudgetExhausted, UpstreamState::Standby};

/// How many of a cycle's quotes its log line shows.
constexpr size_t kSampleQuotes = 3;

std::string samplePrices(const std::vector<SharedQuote>& quotes) {
  std::string out;
  for (const auto& quote : quotes) {
    if (!out.empty())
      out += ", ";
    const auto& q = *quote;
    out += q.price ? fmt::format("{} {} {}", q.name, *q.price, q.vs_currency)
                   : fmt::format("{} (no price)", q.name);
  }
  return out;
}

std::string changeKey(const model::Quote& quote) {
  std::string key = quote.id;
  key.push_back('\0');
  key += quote.vs_currency;
  return key;
}

struct LoopMetrics {
  telemetry::Counter& published;
  telemetry::Counter& unchanged;
  telemetry::Counter& invalid;
  telemetry::Counter& cycles_ok;
  telemetry::Counter& cycles_failed;
  telemetry::Counter& cycles_skipped;
  telemetry::Histogram& duration;
  telemetry::Gauge& leading;
};

LoopMetrics& loopMetrics() {
  auto& r = telemetry::metrics();
  const char* cycles_help = "Fetch cycles by result (skipped: monthly credits used up)";
  static LoopMetrics m{
      r.counter("coinrelay_quotes_published_total", "Quotes handed to every sink and acknowledged"),
      r.counter("coinrelay_quotes_unchanged_total",
                "Quotes not published again: last_updated unchanged since their last "
                "publication"),
      r.counter("coinrelay_quotes_invalid_total", "Upstream items skipped as invalid"),
      r.counter("coinrelay_fetch_cycles_total", cycles_help, {{"result", "ok"}}),
      r.counter("coinrelay_fetch_cycles_total", cycles_help, {{"result", "failed"}}),
      r.counter("coinrelay_fetch_cycles_total", cycles_help, {{"result", "skipped"}}),
      r.histogram("coinrelay_fetch_cycle_duration_seconds", "Duration of fetch cycles",
                  {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}),
      r.gauge("coinrelay_fetch_leading",
              "1 while this process is the active fetcher (the one calling the upstream)"),
  };
  return m;
}

void publishState(UpstreamState state) {
  for (UpstreamState s : kStates) {
    telemetry::metrics()
        .gauge("coinrelay_upstream_state",
               "1 for the current upstream state: healthy, backing_off, budget_exhausted, "
               "standby",
               {{"state", toString(s)}})
        .set(s == state ? 1 : 0);
  }
}

}  // namespace

const char* toString(UpstreamState state) {
  switch (state) {
    case UpstreamState::Healthy:
      return "healthy";
    case UpstreamState::BackingOff:
      return "backing_off";
    case UpstreamState::BudgetExhausted:
      return "budget_exhausted";
    case UpstreamState::Standby:
      return "standby";
  }
  return "?";
}

FetchOptions fetchOptionsFor(const config::Config& config) {
  FetchOptions options;
  options.publish_unchanged = config.fetch.publish_unchanged;
  const auto* facts = coingecko::findPlan(config.upstream.plan);
  options.read_key_usage = facts != nullptr && facts->paid;
  // The same arithmetic `coinrelay budget` shows and the start-up check applied.
  const coingecko::BudgetPlan plan = coingecko::planBudget(config);
  options.cache = plan.cache;
  options.strategy = plan.planned.strategy;
  return options;
}

namespace {

coingecko::Strategy strategyOf(const config::UpstreamConfig& config, const FetchOptions& options) {
  if (options.strategy)
    return *options.strategy;
  return coingecko::cheapestSchedule(coingecko::trackedShapeOf(config), options.cache,
                                     config.details_interval_s, config.interval_s)
      .strategy;
}

}  // namespace

coingecko::UpstreamBudget::Leadership leadershipOf(const Coordinator& coordinator) {
  return [&coordinator] { return coordinator.leading(); };
}

FetchLoop::FetchLoop(const config::UpstreamConfig& config, std::vector<sinks::Sink*> sinks,
                     const StopSignal& stop, coingecko::UpstreamBudget& budget,
                     FetchOptions options)
    : config_(config),
      sinks_(std::move(sinks)),
      stop_(stop),
      budget_(budget),
      clock_(budget.clock()),
      options_(options),
      client_(config, stop, budget.clock()),
      planner_(plannerConfigFor(config, options.cache, strategyOf(config, options))) {
  client_.setGate(this);
  publishState(state_);
  loopMetrics().leading.set(options_.coordinator == nullptr ? 1 : 0);
}

FetchStatus FetchLoop::status() const {
  FetchStatus out;
  {
    std::lock_guard lock(mutex_);
    out.state = state_;
    out.cycles = cycles_;
    out.failed_cycles = failed_cycles_;
    out.has_last = has_last_;
    out.last = last_;
  }
  out.role = options_.coordinator ? options_.coordinator->role() : "active";
  out.upstream_requests = client_.stats().requests.load();
  const coingecko::CreditLedger& credits = budget_.credits();
  out.month = credits.month();
  out.credits_used = credits.used();
  out.monthly_credits = credits.monthlyCredits();
  return out;
}

void FetchLoop::setState(UpstreamState state, const std::string& why) {
  UpstreamState before;
  {
    std::lock_guard lock(mutex_);
    before = state_;
    state_ = state;
  }
  if (before == state)
    return;
  publishState(state);
  auto log = telemetry::logger("fetch");
  const std::string text = fmt::format("upstream state {} -> {}{}{}", toString(before),
                                       toString(state), why.empty() ? "" : ": ", why);
  if (state == UpstreamState::Healthy || state == UpstreamState::Standby)
    log->info("{}", text);
  else
    log->warn("{}", text);
}

Status FetchLoop::admit(SystemTime deadline) {
  auto admitted = budget_.admitScheduled(deadline);
  if (!admitted && admitted.error().code == ErrorCode::FailedPrecondition &&
      budget_.creditsExhausted()) {
    const auto& credits = budget_.credits();
    setState(
        UpstreamState::BudgetExhausted,
        fmt::format("the {} credits of {} are used up", credits.monthlyCredits(), credits.month()));
  }
  return admitted;
}

void FetchLoop::settle(int status, std::optional<std::chrono::milliseconds> pause) {
  if (pause)
    budget_.holdFor(*pause);
  if (status != 200) {
    setState(UpstreamState::BackingOff,
             status == 0 ? std::string("no response") : fmt::format("HTTP {}", status));
  }
}

void FetchLoop::saveState() {
  if (options_.coordinator == nullptr)
    return;
  FetchState state;
  state.month = budget_.credits().month();
  state.credits_used = budget_.credits().used();
  state.last_cycle_ms = last_slot_ms_;
  state.updated_ms = toUnixMillis(clock_.now());
  state.owner = processIdentity();
  options_.coordinator->saveState(state);
}

void FetchLoop::takeOver() {
  auto log = telemetry::logger("fetch");
  term_ = options_.coordinator->term();
  loopMetrics().leading.set(1);
  key_usage_unavailable_ = false;
  key_read_at_ = {};
  if (auto state = options_.coordinator->loadState()) {
    budget_.restoreCredits(state->month, state->credits_used);
    last_slot_ms_ = std::max(last_slot_ms_, state->last_cycle_ms);
    log->info(
        "{} the fetch (term {}): the last cycle covered the slot of {}; {} credits used in {} "
        "(state left by {})",
        options_.coordinator->role() == "active" ? "resuming" : "leading", term_,
        formatIso8601Millis(state->last_cycle_ms), budget_.credits().used(),
        budget_.credits().month(), state->owner.empty() ? "?" : state->owner);
  } else {
    log->info("{} the fetch (term {}), no earlier state",
              options_.coordinator->role() == "active" ? "starting" : "leading", term_);
  }
  setState(UpstreamState::Healthy, "this process is the active fetcher");
}

void FetchLoop::readKeyUsage() {
  if (!options_.read_key_usage || key_usage_unavailable_)
    return;
  const auto now = clock_.now();
  if (key_read_at_ != SystemTime{} && now - key_read_at_ < std::chrono::hours(1))
    return;
  key_read_at_ = now;
  auto log = telemetry::logger("upstream");
  auto usage = client_.fetchKeyUsage(now + std::chrono::seconds(10));
  if (!usage) {
    key_usage_unavailable_ = true;
    log->warn("cannot read the key's usage from /key ({}); counting credits locally",
              usage.error().message);
    return;
  }
  budget_.applyKeyUsage(*usage);
  log->info("CoinGecko /key: plan {}, {} calls/min, {} of {} monthly credits used, {} left",
            usage->plan, usage->rate_limit_per_minute, usage->used, usage->monthly_credits,
            usage->remaining);
}

CycleReport FetchLoop::runCycle(SystemTime deadline) {
  auto log = telemetry::logger("fetch");
  auto& metrics = loopMetrics();
  CycleReport report;
  const auto started = clock_.steadyNow();
  report.started_ms = toUnixMillis(clock_.now());
  report.slot_ms = toUnixMillis(deadline) - int64_t{config_.interval_s} * 1000;
  const uint64_t requests_before = client_.stats().requests.load();
  report.kind = planner_.begin(fromUnixMillis(report.slot_ms));
  std::vector<SharedQuote> sample;  // the first quotes sent, for the log line
  while (auto call = planner_.next()) {
    switch (call->kind) {
      case PlannedCall::Kind::Prices:
        planner_.onPrices(*call, client_.fetchPrices(call->path, config_.vs_currencies, deadline));
        break;
      case PlannedCall::Kind::Universe:
        planner_.onList(*call, client_.fetchCoinsList(call->path, deadline));
        break;
      default:
        planner_.onMarkets(*call, client_.fetchMarkets(call->path, call->vs_currency, deadline));
        break;
    }
    // Each batch as soon as it is final: the snapshot then lets go of the quotes it replaces
    // while the cycle goes on, instead of holding the whole previous cycle until its end.
    auto ready = planner_.takeReady();
    publish(ready, report, sample);
  }
  PlannedCycle planned = planner_.finish();
  if (planned.error) {
    report.upstream_ok = false;
    if (report.sinks_ok)  // a sink's failure, once there is one, is the cycle's error
      report.error = fmt::format("upstream {} ({} of {} calls answered): {}", planned.failed_call,
                                 planned.calls_ok, planned.calls, planned.error->message);
  }
  report.invalid = planned.invalid;
  const std::string first_invalid = std::move(planned.first_invalid);
  const std::vector<std::string> missing = std::move(planned.missing_ids);
  publish(planned.quotes, report, sample);
  report.requests = client_.stats().requests.load() - requests_before;
  if (report.invalid > 0) {
    // One line per cycle, whatever the count: a flood of bad items must not flood the log.
    log->warn("{} invalid upstream items skipped (first: {})", report.invalid, first_invalid);
    metrics.invalid.inc(report.invalid);
  }
  if (!missing.empty() && !missing_ids_logged_) {
    missing_ids_logged_ = true;
    log->warn(
        "CoinGecko returned nothing for {} listed id(s): {} (unknown or delisted; fix "
        "upstream.ids)",
        missing.size(), fmt::join(missing, ", "));
  }
  report.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steadyNow() - started);
  metrics.duration.observe(static_cast<double>(report.duration.count()) / 1000.0);
  if (report.upstream_ok)
    setState(UpstreamState::Healthy, "");
  std::string names;
  for (sinks::Sink* sink : sinks_)
    names += (names.empty() ? "" : ",") + std::string(sink->name());
  const std::string next = formatIso8601Millis(toUnixMillis(deadline));
  if (report.delivered > 0) {
    log->info(
        "sent {} quotes to {} ({} unchanged, {} invalid, {} upstream requests for {}) in {} ms "
        "({}); next cycle at {}",
        report.delivered, names, report.unchanged, report.invalid, report.requests,
        toString(report.kind), report.duration.count(), samplePrices(sample), next);
  } else if (report.kind == CycleKind::Idle) {
    log->debug("nothing due: every endpoint was read within its cache period; next cycle at {}",
               next);
  } else if (report.fetched > 0 && report.sinks_ok) {
    log->info(
        "sent 0 quotes: all {} unchanged since their last publication ({} invalid, {} "
        "upstream requests for {}); next cycle at {}",
        report.unchanged, report.invalid, report.requests, toString(report.kind), next);
  } else {
    log->warn("cycle sent nothing ({}); next cycle at {}",
              report.error.empty() ? "upstream returned no coins" : report.error, next);
  }
  if ((!report.upstream_ok || !report.sinks_ok) && report.delivered > 0)
    log->warn("cycle incomplete: {}", report.error);
  return report;
}

void FetchLoop::publish(std::vector<SharedQuote>& quotes, CycleReport& report,
                        std::vector<SharedQuote>& sample) {
  // Shared with the planner (its last quote of each coin) and, once delivered, the snapshot.
  report.fetched += quotes.size();
  if (!options_.publish_unchanged) {
    // In place: the quotes already published with this last_updated leave the batch.
    const size_t unchanged = std::erase_if(quotes, [&](const SharedQuote& quote) {
      auto it = last_published_.find(changeKey(*quote));
      return it != last_published_.end() && it->second == quote->last_updated_ms;
    });
    report.unchanged += unchanged;
    loopMetrics().unchanged.inc(unchanged);
  }
  if (quotes.empty())
    return;
  bool acknowledged = true;
  for (sinks::Sink* sink : sinks_) {
    if (auto status = sink->deliverShared(quotes); !status) {
      acknowledged = false;
      if (report.sinks_ok) {  // one line per cycle
        telemetry::logger("fetch")->error("cycle not delivered to {}: {}", sink->name(),
                                          status.error().message);
        report.error = fmt::format("{}: {}", sink->name(), status.error().message);
      }
      report.sinks_ok = false;
    }
  }
  if (!acknowledged)
    return;
  // Durable in every sink: not published again while its last_updated stays.
  report.delivered += quotes.size();
  for (const auto& quote : quotes)
    last_published_[changeKey(*quote)] = quote->last_updated_ms;
  loopMetrics().published.inc(quotes.size());
  for (size_t i = 0; i < quotes.size() && sample.size() < kSampleQuotes; ++i)
    sample.push_back(quotes[i]);
}

void FetchLoop::finish(const CycleReport& report) {
  auto& metrics = loopMetrics();
  const bool ok = !report.skipped && report.upstream_ok && report.sinks_ok;
  (report.skipped ? metrics.cycles_skipped : ok ? metrics.cycles_ok : metrics.cycles_failed).inc();
  {
    std::lock_guard lock(mutex_);
    ++cycles_;
    if (!ok)
      ++failed_cycles_;
    last_ = report;
    has_last_ = true;
  }
  if (on_cycle_)
    on_cycle_(report);
}

bool FetchLoop::sleepUntil(SystemTime until) {
  for (;;) {
    const auto now = clock_.now();
    if (now >= until)
      return true;
    // Wake at least every second to notice a lost lead.
    if (clock_.sleepUntil(std::min(until, now + std::chrono::seconds(1)), stop_))
      return false;
    if (options_.coordinator != nullptr && !options_.coordinator->leading())
      return false;
  }
}

int FetchLoop::run(int max_cycles) {
  const auto interval = std::chrono::milliseconds(int64_t{config_.interval_s} * 1000);
  const int64_t interval_ms = interval.count();
  int cycles = 0;
  int delivered = 0;
  auto log = telemetry::logger("fetch");
  while (!stop_.stopped() && (max_cycles == 0 || cycles < max_cycles)) {
    if (options_.coordinator != nullptr) {
      if (!options_.coordinator->leading()) {
        if (term_ != 0)
          loopMetrics().leading.set(0);
        setState(UpstreamState::Standby, "another process is the active fetcher");
        options_.coordinator->awaitLead(stop_, std::chrono::seconds(1));
        continue;
      }
      if (options_.coordinator->term() != term_)
        takeOver();
    }
    const auto now = clock_.now();
    const auto slot_end = nextAlignedTick(now, interval);
    const int64_t slot_ms = toUnixMillis(slot_end) - interval_ms;
    if (last_slot_ms_ >= slot_ms) {
      // This slot already had its cycle (before a restart, or by the previous leader).
      sleepUntil(slot_end);
      continue;
    }
    auto deadline = slot_end;
    // A tick that is almost due would leave the cycle no time for retries: aim for the one after.
    if (deadline - now < interval / 4)
      deadline += interval;
    readKeyUsage();
    CycleReport report;
    if (budget_.creditsExhausted()) {
      setState(UpstreamState::BudgetExhausted,
               fmt::format("the {} credits of {} are used up; waiting for the next month",
                           budget_.credits().monthlyCredits(), budget_.credits().month()));
      report.skipped = true;
      report.upstream_ok = false;
      report.started_ms = toUnixMillis(now);
      report.slot_ms = toUnixMillis(deadline) - interval_ms;
      report.error = "monthly credits used up";
    } else {
      report = runCycle(deadline);
    }
    last_slot_ms_ = toUnixMillis(deadline) - interval_ms;
    saveState();
    ++cycles;
    if (!report.skipped && report.upstream_ok && report.sinks_ok &&
        (report.fetched > 0 || report.kind == CycleKind::Idle))
      ++delivered;
    finish(report);
    if (max_cycles != 0 && cycles >= max_cycles)
      break;
    sleepUntil(deadline);
  }
  return delivered;
}

}  // namespace coinrelay::pipeline
