#include "elasticsearch/lifecycle.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "model/quote_fields.h"

namespace coinrelay::elasticsearch {

namespace {

/// Backing indices are numbered -000001, -000002... (the rollover API keeps the width), so this
/// pattern matches them and no other index that merely shares the prefix, such as a backfill
/// target `<name>-reindex`.
std::string backingPattern(const Layout& layout) {
  return layout.name + "-0*";
}

void writeProperties(JsonWriter& w) {
  w.field("dynamic", "strict").key("properties").beginObject();
  for (const model::QuoteField& field : model::kQuoteFields)
    w.key(field.name).raw(field.mapping);
  w.endObject();
}

void writeQuoteMappings(JsonWriter& w) {
  w.key("mappings").beginObject();
  writeProperties(w);
  w.endObject();
}

std::string days(int n) {
  return fmt::format("{}d", n);
}

}  // namespace

const char* toString(Engine engine) {
  return engine == Engine::OpenSearch ? "opensearch" : "elasticsearch";
}

Layout layoutOf(const config::ElasticsearchConfig& config) {
  Layout layout;
  layout.name = config.index;
  layout.rollover = config.lifecycle == "rollover";
  layout.shards = config.number_of_shards;
  layout.replicas = config.number_of_replicas;
  layout.max_size_gb = config.rollover_max_size_gb;
  layout.max_age_days = config.rollover_max_age_days;
  layout.retention_days = config.retention_days;
  return layout;
}

std::string indexTemplateBody(const Layout& layout, Engine engine) {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  w.key("index_patterns").beginArray();
  if (layout.rollover) {
    w.value(backingPattern(layout));
  } else {
    w.value(layout.name).value(layout.name + "-*");
  }
  w.endArray();
  // Two templates whose patterns overlap may not share a priority (both engines refuse the
  // second). Ours overlap only when one name extends the other ("crypto-prices" and
  // "crypto-prices-it-1"), so the longer, more specific name gets the higher priority.
  w.field("priority", static_cast<int64_t>(200 + layout.name.size()));
  w.key("template").beginObject();
  w.key("settings")
      .beginObject()
      .field("number_of_shards", layout.shards)
      .field("number_of_replicas", layout.replicas)
      .field("refresh_interval", "1s");
  if (layout.rollover) {
    if (engine == Engine::Elasticsearch) {
      w.field("index.lifecycle.name", layout.policyName())
          .field("index.lifecycle.rollover_alias", layout.name);
    } else {
      // ISM attaches the policy through its ism_template; the alias is an index setting.
      w.field("plugins.index_state_management.rollover_alias", layout.name);
    }
  }
  w.endObject();  // settings
  writeQuoteMappings(w);
  w.endObject();  // template
  w.key("_meta")
      .beginObject()
      .field("managed_by", "coinrelay")
      .field("schema_version", 1)
      .field("lifecycle", layout.rollover ? "rollover" : "none")
      .endObject();
  w.endObject();
  return out;
}

std::string ilmPolicyBody(const Layout& layout) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("policy").beginObject();
  w.key("_meta").beginObject().field("managed_by", "coinrelay").endObject();
  w.key("phases").beginObject();
  w.key("hot")
      .beginObject()
      .field("min_age", "0ms")
      .key("actions")
      .beginObject()
      .key("rollover")
      .beginObject()
      .field("max_size", fmt::format("{}gb", layout.max_size_gb))
      .field("max_age", days(layout.max_age_days))
      .endObject()
      .endObject()
      .endObject();
  if (layout.retention_days > 0) {
    // ILM counts a later phase's min_age from the rollover of the index.
    w.key("delete")
        .beginObject()
        .field("min_age", days(layout.retention_days))
        .key("actions")
        .beginObject()
        .key("delete")
        .beginObject()
        .endObject()
        .endObject()
        .endObject();
  }
  w.endObject();  // phases
  w.endObject().endObject();
  return out;
}

std::string ismPolicyBody(const Layout& layout) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("policy").beginObject();
  w.field("description",
          fmt::format("coinrelay: rollover of {} by size or age, deletion after the retention",
                      layout.name));
  w.field("default_state", "hot");
  w.key("states").beginArray();
  w.beginObject().field("name", "hot");
  w.key("actions")
      .beginArray()
      .beginObject()
      .key("rollover")
      .beginObject()
      .field("min_size", fmt::format("{}gb", layout.max_size_gb))
      .field("min_index_age", days(layout.max_age_days))
      .endObject()
      .endObject()
      .endArray();
  w.key("transitions").beginArray();
  if (layout.retention_days > 0) {
    w.beginObject()
        .field("state_name", "delete")
        .key("conditions")
        .beginObject()
        .field("min_rollover_age", days(layout.retention_days))
        .endObject()
        .endObject();
  }
  w.endArray();
  w.endObject();  // hot
  if (layout.retention_days > 0) {
    w.beginObject()
        .field("name", "delete")
        .key("actions")
        .beginArray()
        .beginObject()
        .key("delete")
        .beginObject()
        .endObject()
        .endObject()
        .endArray()
        .key("transitions")
        .beginArray()
        .endArray()
        .endObject();
  }
  w.endArray();  // states
  w.key("ism_template")
      .beginArray()
      .beginObject()
      .key("index_patterns")
      .beginArray()
      .value(backingPattern(layout))
      .endArray()
      .field("priority", static_cast<int64_t>(200 + layout.name.size()))
      .endObject()
      .endArray();
  w.endObject().endObject();
  return out;
}

std::string bootstrapIndexBody(const Layout& layout) {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .key("aliases")
      .beginObject()
      .key(layout.name)
      .beginObject()
      .field("is_write_index", true)
      .endObject()
      .endObject()
      .endObject();
  return out;
}

std::string mappingUpdateBody() {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  writeProperties(w);
  w.endObject();
  return out;
}

}  // namespace coinrelay::elasticsearch
