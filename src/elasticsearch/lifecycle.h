#pragma once

#include <string>

#include "config/config.h"

namespace coinrelay::elasticsearch {

/// The two engines coinrelay writes to. Their document APIs (`_bulk`, `_search`, `_count`,
/// composable templates) are the same; their lifecycle managers are not (ILM vs the ISM plugin).
enum class Engine { Elasticsearch, OpenSearch };
const char* toString(Engine engine);

/// Where quotes go, derived from the configuration.
/// - plain: `name` is one index, created by the template on the first write.
/// - rollover: `name` is a write alias over `<name>-000001`, `<name>-000002`...; the lifecycle
///   policy `<name>-lifecycle` rolls the write index over by size or age and deletes old indices
///   after the retention. Readers query `name` (the alias spans every backing index).
struct Layout {
  std::string name;
  bool rollover = false;
  int shards = 1;
  int replicas = 0;
  int max_size_gb = 50;
  int max_age_days = 30;
  int retention_days = 730;  ///< 0: never delete

  std::string policyName() const { return name + "-lifecycle"; }
  std::string firstIndex() const { return name + "-000001"; }
  std::string templateName() const { return name; }
};
Layout layoutOf(const config::ElasticsearchConfig& config);

/// The composable index template: explicit mappings of every field of the quote document with
/// `dynamic: strict`, so a malformed document is refused (and dead-lettered) instead of adding
/// fields to the mapping. In rollover mode it also attaches the backing indices to the policy
/// and names their rollover alias, in the setting each engine reads.
std::string indexTemplateBody(const Layout& layout, Engine engine);

/// Elasticsearch ILM policy (PUT _ilm/policy/<name>): hot phase with rollover on max_size /
/// max_age, then a delete phase `retention_days` after the rollover.
std::string ilmPolicyBody(const Layout& layout);

/// OpenSearch ISM policy (PUT _plugins/_ism/policies/<name>): state hot with a rollover action,
/// a transition to state delete `retention_days` after the rollover, and an ism_template that
/// attaches every new backing index to the policy.
std::string ismPolicyBody(const Layout& layout);

/// The first backing index of a rollover layout, carrying the write alias.
std::string bootstrapIndexBody(const Layout& layout);

/// PUT <index or alias>/_mapping: every field of the quote document, so that indices created
/// before a field was added to it (additive changes keep schema_version 1) take it too.
std::string mappingUpdateBody();

}  // namespace coinrelay::elasticsearch
