#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "sinks/sink.h"

namespace coinrelay::pipeline {

/// One immutable version of the latest quote per (coin, vs_currency), with its JSON listing
/// rendered once (on first use) so that every reader of this version is served the same bytes.
/// Quotes are shared between versions: a new version copies the index, not the quotes, so a
/// replica holding the whole universe keeps one copy of each quote.
struct SnapshotVersion {
  SnapshotVersion() = default;
  /// The same quotes, not rendered yet.
  SnapshotVersion(const SnapshotVersion& other);

  uint64_t version = 0;
  /// (id, vs_currency) -> quote.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const model::Quote>> quotes;
  /// Per vs_currency, pointers into `quotes` in market-cap rank order.
  std::map<std::string, std::vector<const model::Quote*>> by_currency;
  int64_t updated_ms = 0;       ///< when this version was built
  int64_t newest_fetch_ms = 0;  ///< the most recent `timestamp` among the quotes

  const model::Quote* find(const std::string& id, const std::string& vs_currency) const;
  /// {"version":..,"count":..,"quotes":[...]} by rank, rendered by the first caller.
  const std::string& quotesJson() const;

 private:
  mutable std::once_flag rendered_;
  mutable std::string quotes_json_;
};

/// The latest quotes held in memory. Writers build a new version and swap a pointer; readers
/// take the current pointer and never wait for a writer. Versions are stamped with `clock`'s
/// time. A large batch (a cycle of the whole universe) becomes several versions of at most
/// kChunk quotes each, so the quotes of the batch, of the version readers hold and of the next
/// one never all exist at once: memory stays near one copy of the universe, not three.
/// deliverShared() keeps the quotes it is given (the fetch planner's), copying none.
/// Threading: deliver() and deliverShared() from the fetch loop; current() from any thread.
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
  Status deliverShared(std::span<const sinks::SharedQuote> batch) override;

  static constexpr size_t kChunk = sinks::Sink::kCopyChunk;

 private:
  /// One version from the quotes of `shared` (kept as they are) or of `plain` (copied into the
  /// slots they take, and handed to the listeners as they are when every one changed
  /// something); the other span is empty.
  void deliverChunk(std::span<const sinks::SharedQuote> shared,
                    std::span<const model::Quote> plain);

  const Clock& clock_;
  mutable std::mutex mutex_;  // guards the pointer swap only
  std::shared_ptr<const SnapshotVersion> current_;
  std::vector<Listener> listeners_;
};

}  // namespace coinrelay::pipeline
