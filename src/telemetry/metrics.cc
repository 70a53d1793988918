#include "telemetry/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace coinrelay::telemetry {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i] = 0;
}

void Histogram::observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  double current = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(current, current + value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(running);
  }
  out.sum = sum_.load(std::memory_order_relaxed);
  out.count = running;
  return out;
}

std::string renderLabels(const Labels& labels) {
  if (labels.empty())
    return {};
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1)
      out.push_back(',');
    out += name + "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"')
        out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Kind kind) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::Counter).counters[renderLabels(labels)];
  if (!slot)
    slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::Gauge).gauges[renderLabels(labels)];
  if (!slot)
    slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::Histogram).histograms[renderLabels(labels)];
  if (!slot)
    slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

namespace {

std::string number(double value) {
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

/// Inserts le="..." into an already rendered label set.
std::string withLe(const std::string& labels, const std::string& le) {
  if (labels.empty())
    return "{le=\"" + le + "\"}";
  return labels.substr(0, labels.size() - 1) + ",le=\"" + le + "\"}";
}

}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.kind == Kind::Counter ? "counter"
                       : family.kind == Kind::Gauge ? "gauge"
                                                    : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name, type);
    for (const auto& [labels, counter] : family.counters) {
      out += fmt::format("{}{} {}\n", name, labels, counter->value());
    }
    for (const auto& [labels, gauge] : family.gauges) {
      out += fmt::format("{}{} {}\n", name, labels, number(gauge->value()));
    }
    for (const auto& [labels, histogram] : family.histograms) {
      const auto snap = histogram->snapshot();
      for (size_t i = 0; i < snap.bounds.size(); ++i) {
        out += fmt::format("{}_bucket{} {}\n", name, withLe(labels, number(snap.bounds[i])),
                           snap.cumulative[i]);
      }
      out += fmt::format("{}_bucket{} {}\n", name, withLe(labels, "+Inf"), snap.count);
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, number(snap.sum), name,
                         labels, snap.count);
    }
  }
  return out;
}

Registry& metrics() {
  static Registry registry;
  return registry;
}

}  // namespace coinrelay::telemetry
