#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "elasticsearch/elasticsearch_client.h"
#include "elasticsearch/lifecycle.h"

namespace coinrelay::elasticsearch {

/// Makes the search engine ready for `layout`, idempotently (every step checks before it
/// writes, so running it again, or from several indexers at once, changes nothing):
/// - plain: the index template (the index itself is created by the first write);
/// - rollover: the lifecycle policy (ILM on Elasticsearch, ISM on OpenSearch), the template that
///   attaches new backing indices to it, and the first backing index holding the write alias.
/// Returns one line per step taken, for `coinrelay setup elasticsearch`. Errors name the step,
/// what the engine answered and the fix, e.g. an engine without ILM/ISM, or a plain index that
/// already holds the name a rollover layout needs for its alias.
Result<std::vector<std::string>> ensureLayout(ElasticsearchClient& client, const EngineInfo& engine,
                                              const Layout& layout);

}  // namespace coinrelay::elasticsearch
