#include "pipeline/fetch_loop.h"

#include <fmt/format.h>

#include "common/time_util.h"
#include "telemetry/logging.h"

namespace coinrelay::pipeline {

namespace {

std::string samplePrices(const std::vector<model::Quote>& quotes, size_t count) {
  std::string out;
  for (size_t i = 0; i < quotes.size() && i < count; ++i) {
    if (!out.empty())
      out += ", ";
    const auto& q = quotes[i];
    out += q.price ? fmt::format("{} {} {}", q.name, *q.price, q.vs_currency)
                   : fmt::format("{} (no price)", q.name);
  }
  return out;
}

}  // namespace

FetchLoop::FetchLoop(const config::UpstreamConfig& config, std::vector<sinks::Sink*> sinks,
                     const StopSignal& stop)
    : config_(config), sinks_(std::move(sinks)), stop_(stop), client_(config, stop) {}

CycleReport FetchLoop::runCycle(std::chrono::system_clock::time_point deadline) {
  auto log = telemetry::logger("fetch");
  CycleReport report;
  const auto started = std::chrono::steady_clock::now();
  report.started_ms = toUnixMillis(std::chrono::system_clock::now());
  std::vector<model::Quote> quotes;
  for (const auto& currency : config_.vs_currencies) {
    auto page = client_.fetchTopMarkets(currency, config_.top_n, deadline);
    if (!page) {
      report.upstream_ok = false;
      report.error = fmt::format("upstream {}: {}", currency, page.error().message);
      log->error("cycle fetched nothing in {}: {}", currency, page.error().message);
      continue;
    }
    if (page->invalid_items > 0) {
      log->warn("{} invalid items skipped in {} (first: {})", page->invalid_items, currency,
                page->first_invalid_reason);
    }
    report.invalid += page->invalid_items;
    for (auto& quote : page->quotes)
      quotes.push_back(std::move(quote));
  }
  report.fetched = quotes.size();
  if (!quotes.empty()) {
    for (sinks::Sink* sink : sinks_) {
      if (auto status = sink->deliver(quotes); !status) {
        report.sinks_ok = false;
        report.error = fmt::format("{}: {}", sink->name(), status.error().message);
        log->error("cycle not delivered to {}: {}", sink->name(), status.error().message);
      }
    }
    if (report.sinks_ok)
      report.delivered = quotes.size();
  }
  report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::string names;
  for (sinks::Sink* sink : sinks_)
    names += (names.empty() ? "" : ",") + std::string(sink->name());
  if (report.delivered > 0) {
    log->info("sent {} quotes to {} in {} ms ({}); next cycle at {}", report.delivered, names,
              report.duration.count(), samplePrices(quotes, 3),
              formatIso8601Millis(toUnixMillis(deadline)));
  } else {
    log->warn("cycle sent nothing ({}); next cycle at {}",
              report.error.empty() ? "upstream returned no coins" : report.error,
              formatIso8601Millis(toUnixMillis(deadline)));
  }
  return report;
}

int FetchLoop::run(int max_cycles) {
  const auto interval = std::chrono::seconds(config_.interval_s);
  int cycles = 0;
  int delivered = 0;
  while (!stop_.stopped() && (max_cycles == 0 || cycles < max_cycles)) {
    const auto now = std::chrono::system_clock::now();
    auto next = nextAlignedTick(now, interval);
    // A tick that is almost due would leave the cycle no time for retries: aim for the one after.
    if (next - now < interval / 4)
      next += interval;
    CycleReport report = runCycle(next);
    ++cycles;
    if (report.delivered > 0 && report.upstream_ok && report.sinks_ok)
      ++delivered;
    if (on_cycle_)
      on_cycle_(report);
    if (max_cycles != 0 && cycles >= max_cycles)
      break;
    if (stop_.waitUntil(next))
      break;
  }
  return delivered;
}

}  // namespace coinrelay::pipeline
