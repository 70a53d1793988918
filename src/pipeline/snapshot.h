#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "sinks/sink.h"

namespace coinrelay::pipeline {

/// One immutable version of the latest quote per (coin, vs_currency), with its JSON listing
/// rendered once so that every reader of this version is served the same bytes.
struct SnapshotVersion {
  uint64_t version = 0;
  std::map<std::pair<std::string, std::string>, model::Quote> quotes;  ///< (id, vs_currency)
  /// Per vs_currency, pointers into `quotes` in market-cap rank order.
  std::map<std::string, std::vector<const model::Quote*>> by_currency;
  std::string quotes_json;      ///< {"version":..,"count":..,"quotes":[...]} by rank
  int64_t updated_ms = 0;       ///< when this version was built
  int64_t newest_fetch_ms = 0;  ///< the most recent `timestamp` among the quotes

  const model::Quote* find(const std::string& id, const std::string& vs_currency) const;
};

/// The latest quotes held in memory. Writers build a new version and swap a pointer; readers
/// take the current pointer and never wait for a writer to finish rendering. Versions are
/// stamped with `clock`'s time.
/// Threading: deliver() from the fetch loop; current() from any thread.
class Snapshot final : public sinks::Sink {
 public:
  explicit Snapshot(const Clock& clock = systemClock());

  std::shared_ptr<const SnapshotVersion> current() const;

  /// Called after every new version with the quotes that changed it (from deliver()'s thread);
  /// used by the live stream. Register before quotes flow.
  using Listener = std::function<void(std::span<const model::Quote>)>;
  void addListener(Listener listener);

  // Sink
  std::string_view name() const override { return "snapshot"; }
  Status deliver(std::span<const model::Quote> batch) override;

 private:
  const Clock& clock_;
  mutable std::mutex mutex_;  // guards the pointer swap only
  std::shared_ptr<const SnapshotVersion> current_;
  std::vector<Listener> listeners_;
};

}  // namespace coinrelay::pipeline
