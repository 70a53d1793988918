#include "elasticsearch/layout_setup.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "common/strings.h"

namespace coinrelay::elasticsearch {

namespace {

constexpr const char* kJson = "application/json";

Status installTemplate(ElasticsearchClient& client, const EngineInfo& engine, const Layout& layout,
                       std::vector<std::string>& steps) {
  CR_TRY(auto response, client.send("PUT", "/_index_template/" + layout.templateName(),
                                    indexTemplateBody(layout, engine.engine), kJson));
  if (response.status != 200) {
    return callError(client.config(),
                     fmt::format("installing index template {}", layout.templateName()), response);
  }
  steps.push_back(fmt::format("index template {} installed (explicit mappings, dynamic: strict)",
                              layout.templateName()));
  return {};
}

/// Maps the fields added to the quote document since `name` (an index, or the alias of the
/// backing indices) was created: its mapping is `dynamic: strict`, so a document with a field it
/// lacks would be refused. Adding fields is allowed on a live index; nothing to do when it does
/// not exist yet (the template maps everything).
Status updateMappings(ElasticsearchClient& client, const Layout& layout,
                      std::vector<std::string>& steps) {
  CR_TRY(auto response,
         client.send("PUT", "/" + layout.name + "/_mapping", mappingUpdateBody(), kJson));
  if (response.status == 404)
    return {};
  if (response.status != 200) {
    return callError(client.config(), fmt::format("mapping the new fields of {}", layout.name),
                     response);
  }
  steps.push_back(fmt::format("mappings of {} up to date", layout.name));
  return {};
}

/// Whether `name` is an alias (200) or not (404).
Result<bool> isAlias(ElasticsearchClient& client, const std::string& name) {
  CR_TRY(auto response, client.send("GET", "/_alias/" + name));
  if (response.status == 200)
    return true;
  if (response.status == 404)
    return false;
  return callError(client.config(), "GET /_alias/" + name, response);
}

Status checkLifecycleManager(ElasticsearchClient& client, const EngineInfo& engine) {
  const bool es = engine.engine == Engine::Elasticsearch;
  const std::string path = es ? "/_ilm/status" : "/_plugins/_ism/policies?size=1";
  CR_TRY(auto response, client.send("GET", path));
  if (response.status == 200)
    return {};
  if (response.status == 401 || response.status == 403)
    return callError(client.config(), "GET " + path, response);
  return makeError(
      ErrorCode::FailedPrecondition,
      fmt::format("{} {} at {} has no {} (GET {} answered HTTP {}: '{}'); elasticsearch.lifecycle "
                  "= \"rollover\" needs it: {}, or set elasticsearch.lifecycle = \"none\" for one "
                  "plain index",
                  engine.distribution, engine.version, net::redactUrl(client.config().url),
                  es ? "index lifecycle management (ILM)" : "Index State Management (ISM) plugin",
                  path, response.status, excerpt(response.body),
                  es ? "use a distribution with the x-pack ILM module (every official one has it)"
                     : "install the opensearch-index-management plugin (with "
                       "opensearch-job-scheduler)"));
}

Status installIlmPolicy(ElasticsearchClient& client, const Layout& layout,
                        std::vector<std::string>& steps) {
  CR_TRY(auto response,
         client.send("PUT", "/_ilm/policy/" + layout.policyName(), ilmPolicyBody(layout), kJson));
  if (response.status != 200) {
    return callError(client.config(), "installing ILM policy " + layout.policyName(), response);
  }
  steps.push_back(fmt::format("ILM policy {} installed", layout.policyName()));
  return {};
}

Status installIsmPolicy(ElasticsearchClient& client, const Layout& layout,
                        std::vector<std::string>& steps) {
  const std::string path = "/_plugins/_ism/policies/" + layout.policyName();
  CR_TRY(auto existing, client.send("GET", path));
  std::string query;
  if (existing.status == 200) {
    // ISM refuses to overwrite a policy unless told which version is being replaced.
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    int64_t seq_no = 0, primary_term = 0;
    if (parser.parse(existing.body).get(doc) != simdjson::SUCCESS ||
        doc["_seq_no"].get(seq_no) != simdjson::SUCCESS ||
        doc["_primary_term"].get(primary_term) != simdjson::SUCCESS) {
      return makeError(ErrorCode::FailedPrecondition,
                       fmt::format("ISM policy {} exists but its version could not be read: '{}'",
                                   layout.policyName(), excerpt(existing.body)));
    }
    query = fmt::format("?if_seq_no={}&if_primary_term={}", seq_no, primary_term);
  } else if (existing.status != 404) {
    return callError(client.config(), "GET " + path, existing);
  }
  CR_TRY(auto response, client.send("PUT", path + query, ismPolicyBody(layout), kJson));
  if (response.status != 200 && response.status != 201) {
    return callError(client.config(), "installing ISM policy " + layout.policyName(), response);
  }
  steps.push_back(fmt::format("ISM policy {} {}", layout.policyName(),
                              query.empty() ? "installed" : "updated"));
  return {};
}

Status bootstrapWriteAlias(ElasticsearchClient& client, const Layout& layout,
                           std::vector<std::string>& steps) {
  CR_TRY(bool exists, isAlias(client, layout.name));
  if (exists) {
    steps.push_back(fmt::format("write alias {} already in place", layout.name));
    return {};
  }
  CR_TRY(auto response,
         client.send("PUT", "/" + layout.firstIndex(), bootstrapIndexBody(layout), kJson));
  if (response.status == 200) {
    steps.push_back(
        fmt::format("index {} created with write alias {}", layout.firstIndex(), layout.name));
    return {};
  }
  // Another indexer may have created it a moment ago.
  if (response.status == 400 &&
      response.body.find("resource_already_exists_exception") != std::string::npos) {
    CR_TRY(bool now, isAlias(client, layout.name));
    if (now) {
      steps.push_back(fmt::format("write alias {} already in place", layout.name));
      return {};
    }
  }
  return callError(client.config(),
                   fmt::format("creating {} with write alias {}", layout.firstIndex(), layout.name),
                   response);
}

}  // namespace

Result<std::vector<std::string>> ensureLayout(ElasticsearchClient& client, const EngineInfo& engine,
                                              const Layout& layout) {
  std::vector<std::string> steps;
  CR_TRY(bool alias, isAlias(client, layout.name));
  if (!layout.rollover) {
    if (alias) {
      // A plain template under the same name would detach future backing indices from the
      // policy: refuse instead of silently undoing the rollover layout.
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("{} is the write alias of a rollover layout; set "
                                   "elasticsearch.lifecycle = \"rollover\" as when it was set "
                                   "up, or choose another elasticsearch.index",
                                   layout.name));
    }
    CR_RETURN_IF_ERROR(installTemplate(client, engine, layout, steps));
    CR_RETURN_IF_ERROR(updateMappings(client, layout, steps));
    return steps;
  }
  if (!alias) {
    CR_TRY(auto index, client.send("HEAD", "/" + layout.name));
    if (index.status == 200) {
      return makeError(
          ErrorCode::FailedPrecondition,
          fmt::format("{0} is a plain index, and elasticsearch.lifecycle = \"rollover\" needs "
                      "that name for the write alias over {0}-000001...: _reindex it into "
                      "{0}-plain, delete {0}, run `coinrelay setup elasticsearch` and _reindex "
                      "{0}-plain back into {0} (or re-read Kafka with `coinrelay index "
                      "--from-beginning`); or keep elasticsearch.lifecycle = \"none\"",
                      layout.name));
    }
  }
  CR_RETURN_IF_ERROR(checkLifecycleManager(client, engine));
  if (engine.engine == Engine::Elasticsearch) {
    CR_RETURN_IF_ERROR(installIlmPolicy(client, layout, steps));
  } else {
    CR_RETURN_IF_ERROR(installIsmPolicy(client, layout, steps));
  }
  CR_RETURN_IF_ERROR(installTemplate(client, engine, layout, steps));
  if (alias)
    CR_RETURN_IF_ERROR(updateMappings(client, layout, steps));
  CR_RETURN_IF_ERROR(bootstrapWriteAlias(client, layout, steps));
  return steps;
}

}  // namespace coinrelay::elasticsearch
