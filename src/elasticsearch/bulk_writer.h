#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/stop_signal.h"
#include "config/config.h"
#include "elasticsearch/elasticsearch_client.h"

namespace coinrelay::elasticsearch {

/// One document to index: its id and its source, one line of JSON.
struct BulkDoc {
  std::string id;
  std::string source;
};

/// What became of one document.
struct DocOutcome {
  bool indexed = false;
  int status = 0;      ///< refused: the engine's HTTP status for it (e.g. 400)
  std::string reason;  ///< refused: "type: reason"
};

/// Whether the engine accepts writes, shared by every writer of a process, so an outage is
/// logged once when it starts (with the cause and what coinrelay does about it), reminded now
/// and then, and logged once when it ends (with its length).
/// Threading: thread-safe.
class EngineHealth {
 public:
  explicit EngineHealth(std::string url);
  /// A write failed as a whole (unreachable, 429, 5xx, cluster block...); it will be retried.
  void failed(const std::string& why);
  /// A write was answered (possibly with some items to retry).
  void succeeded();
  bool up() const;

 private:
  mutable std::mutex mutex_;
  std::string url_;
  bool up_ = true;
  uint64_t failures_ = 0;
  std::chrono::steady_clock::time_point down_since_;
  std::chrono::steady_clock::time_point last_reminder_;
};

/// Sends documents with `_bulk` until every one is indexed or refused for good, judging each
/// item of each answer:
/// - accepted items are done;
/// - items refused for a reason that heals (429, 5xx, a cluster block...) are sent again after a
///   jittered exponential backoff, capped by elasticsearch.retry_max_backoff_ms;
/// - items whose document is at fault (mapping or parse errors) are returned as refused, for the
///   caller to dead-letter;
/// - a whole request refused with 400 or 413 is split in halves until the one document at fault
///   is alone, so a single bad document never blocks the others;
/// - a whole request that fails otherwise (engine down, 429, 5xx, 401/403, cluster block) is
///   retried, forever: nothing is ever skipped. Only a stop request ends the retries.
/// Threading: one instance per thread; the EngineHealth may be shared.
class BulkWriter {
 public:
  BulkWriter(const config::ElasticsearchConfig& config, const StopSignal& stop,
             EngineHealth& health);

  /// The outcome of every document of `body`, in order; nullopt when stopping interrupted the
  /// retries (then nothing may be taken as durable). The body is sent as it is while every one
  /// of its documents is still to send (it is lent to the request, not copied); a subset (items
  /// to retry, halves of a split) is assembled from its documents' lines.
  std::optional<std::vector<DocOutcome>> write(BulkBody& body);
  /// The same for documents to encode into `index`.
  std::optional<std::vector<DocOutcome>> write(std::string_view index,
                                               const std::vector<BulkDoc>& docs);

 private:
  config::ElasticsearchConfig config_;
  const StopSignal& stop_;
  EngineHealth& health_;
  ElasticsearchClient client_;
  std::string subset_;  // reused between requests
};

}  // namespace coinrelay::elasticsearch
