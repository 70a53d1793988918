#pragma once

#include <string>

#include "app/commands.h"
#include "common/stop_signal.h"

namespace coinrelay::app {

/// `coinrelay index` flags beyond the common ones: where to start (reindex and backfill).
struct IndexOptions {
  bool from_beginning = false;
  std::string from;  ///< ISO-8601 UTC or Unix milliseconds; empty: the group's offsets
  std::string
      group;  ///< consumer group; empty: kafka.group_id (plus -backfill-<index> with --from*)
};

/// Kafka -> Elasticsearch/OpenSearch (pipeline::IndexLoop), with /metrics and /healthz.
int indexCommand(const CommonOptions& options, const IndexOptions& index_options,
                 const StopSignal& stop);

/// `coinrelay setup elasticsearch`: the index template, and in rollover mode the lifecycle
/// policy and the first backing index with its write alias; prints each step.
int setupElasticsearchCommand(const CommonOptions& options);

}  // namespace coinrelay::app
