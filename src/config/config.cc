#include "config/config.h"

#include <charconv>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/strings.h"

extern char** environ;

namespace coinrelay::config {

namespace {

constexpr long long kMaxCoins = 20'000;

const std::vector<OptionSpec> kOptions = {
    {"upstream.base_url", OptionType::String, "https://api.coingecko.com/api/v3",
     "CoinGecko API root (or a `coinrelay simulate` URL such as http://127.0.0.1:8090/api/v3). "
     "Left at its default, a paid plan uses https://pro-api.coingecko.com/api/v3."},
    {"upstream.plan", OptionType::String, "public",
     "CoinGecko plan: public (keyless), demo (free key, header x-cg-demo-api-key) or a paid plan "
     "(basic, analyst, lite, pro, enterprise: header x-cg-pro-api-key). It sets the key header, "
     "the default root and the budget (see `coinrelay budget`).",
     0, 0, "public,demo,basic,analyst,lite,pro,enterprise"},
    {"upstream.api_key", OptionType::String, "",
     "CoinGecko API key. From COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file only.", 0, 0,
     nullptr, true},
    {"upstream.api_key_file", OptionType::String, "",
     "File holding the CoinGecko API key (first line)."},
    {"upstream.top_n", OptionType::Int, "50",
     "How many coins to track, by market cap rank (pages of 250); 0: only upstream.ids.", 0,
     kMaxCoins},
    {"upstream.ids", OptionType::List, "",
     "CoinGecko ids tracked besides the top N (e.g. \"bitcoin,usd-coin\"); those outside the top "
     "N cost one more call per 250 ids."},
    {"upstream.vs_currencies", OptionType::List, "usd",
     "Quote currencies (CoinGecko vs_currency), comma-separated; each costs its own calls."},
    {"upstream.interval_s", OptionType::Int, "60",
     "Seconds between fetch cycles; cycles start on multiples of it on the wall clock.", 1, 86'400},
    {"upstream.timeout_ms", OptionType::Int, "10000", "Timeout of one upstream request.", 100,
     120'000},
    {"upstream.max_attempts", OptionType::Int, "4",
     "Attempts per upstream request within one cycle (retries use jittered backoff).", 1, 20},
    {"budget.calls_per_minute", OptionType::Int, "0",
     "Upstream calls allowed per minute, retries included; 0: the plan's published figure "
     "(public 5, demo 30, basic 250, analyst 500, lite 500, pro 1000).",
     0, 1'000'000},
    {"budget.monthly_credits", OptionType::Int, "0",
     "Call credits per month, retries included; 0: the plan's published figure (public: no "
     "monthly cap, demo 10000, basic 100000, analyst 500000, lite 2000000, pro 1000000).",
     0, 2'000'000'000},
    {"budget.retry_reserve_percent", OptionType::Int, "10",
     "Share of the per-minute and monthly budgets kept for retries; the schedule must fit in the "
     "rest or coinrelay refuses to start.",
     0, 90},
    {"budget.cache_period_s", OptionType::Int, "0",
     "How often CoinGecko refreshes /coins/markets; 0: the plan's figure (60 s keyless and demo, "
     "45 s paid). A shorter interval draws a warning: it buys no fresher data.",
     0, 86'400},
    {"budget.state_file", OptionType::String, "",
     "Where `coinrelay run` keeps the credits used this month and its last cycle across "
     "restarts; empty: next to storage.sqlite_path (<sqlite_path>.fetch-state.json). `coinrelay "
     "fetch` keeps them in Kafka (fetch.state_topic)."},
    {"fetch.publish_unchanged", OptionType::Bool, "false",
     "Publish a quote again even when its last_updated did not change since its last "
     "publication (by default it is skipped and counted as unchanged)."},
    {"fetch.metrics_listen", OptionType::String, "127.0.0.1:9464",
     "host:port of the /metrics and /healthz endpoint of `coinrelay fetch`; empty: none."},
    {"fetch.group_id", OptionType::String, "",
     "Consumer group through which `coinrelay fetch` processes elect the one that calls "
     "CoinGecko; empty: coinrelay-fetch-<kafka.topic>."},
    {"fetch.state_topic", OptionType::String, "",
     "Compacted topic whose partition 0 elects the active fetcher and keeps its state (credits "
     "used, last cycle); empty: <kafka.topic>-fetch-state."},
    {"fetch.spool_dir", OptionType::String, "coinrelay-spool",
     "Directory of the on-disk spool of quotes Kafka has not confirmed yet (a subdirectory per "
     "topic)."},
    {"fetch.spool_max_mib", OptionType::Int, "256",
     "Size bound of the spool in MiB; when it is full the oldest quotes are dropped and counted.",
     1, 1'048'576},
    {"kafka.brokers", OptionType::String, "",
     "Kafka bootstrap servers (host:port,...). Empty: no Kafka."},
    {"kafka.topic", OptionType::String, "crypto-data",
     "Topic of quote messages, keyed by coin id."},
    {"kafka.partitions", OptionType::Int, "3", "Partitions when coinrelay creates the topic.", 1,
     10'000},
    {"kafka.replication_factor", OptionType::Int, "1",
     "Replication factor when coinrelay creates the topic.", 1, 16},
    {"kafka.compression", OptionType::String, "zstd", "Producer compression codec.", 0, 0,
     "none,gzip,snappy,lz4,zstd"},
    {"kafka.linger_ms", OptionType::Int, "20", "Producer batching delay.", 0, 60'000},
    {"kafka.delivery_timeout_ms", OptionType::Int, "120000",
     "How long the producer keeps retrying a message before reporting it failed.", 1000, 3'600'000},
    {"kafka.group_id", OptionType::String, "coinrelay-indexer",
     "Consumer group of `coinrelay index`."},
    {"elasticsearch.url", OptionType::String, "",
     "Elasticsearch or OpenSearch URL (http://host:9200). Empty: no search engine."},
    {"elasticsearch.index", OptionType::String, "crypto-prices", "Index receiving quote history."},
    {"elasticsearch.username", OptionType::String, "", "Basic-auth user."},
    {"elasticsearch.password", OptionType::String, "",
     "Basic-auth password. From COINRELAY_ELASTICSEARCH_PASSWORD or elasticsearch.password_file.",
     0, 0, nullptr, true},
    {"elasticsearch.password_file", OptionType::String, "",
     "File holding the basic-auth password (first line)."},
    {"elasticsearch.api_key", OptionType::String, "",
     "API key, the base64 'id:api_key' that Elasticsearch returns as `encoded` (sent as "
     "'ApiKey <key>'). From COINRELAY_ELASTICSEARCH_API_KEY or elasticsearch.api_key_file.",
     0, 0, nullptr, true},
    {"elasticsearch.api_key_file", OptionType::String, "",
     "File holding the API key (first line)."},
    {"elasticsearch.ca_file", OptionType::String, "", "CA bundle for https URLs."},
    {"elasticsearch.bulk_max_docs", OptionType::Int, "1000", "Documents per bulk request.", 1,
     100'000},
    {"elasticsearch.bulk_max_bytes", OptionType::Int, "5242880", "Bytes per bulk request.", 1024,
     100 * 1024 * 1024},
    {"elasticsearch.flush_interval_ms", OptionType::Int, "1000",
     "Longest wait before a partial bulk is sent.", 1, 600'000},
    {"elasticsearch.number_of_shards", OptionType::Int, "1", "Shards in the index template.", 1,
     1024},
    {"elasticsearch.number_of_replicas", OptionType::Int, "0", "Replicas in the index template.", 0,
     16},
    {"elasticsearch.max_in_flight", OptionType::Int, "4",
     "Bulk requests in flight at once; `coinrelay index` pauses Kafka consumption while as many "
     "more batches wait, which bounds its memory to about 2 x max_in_flight x bulk_max_bytes.",
     1, 64},
    {"elasticsearch.retry_max_backoff_ms", OptionType::Int, "30000",
     "Longest wait between two attempts of a refused (429, 5xx, cluster block) or failed bulk "
     "request; attempts never stop, so nothing is skipped.",
     100, 600'000},
    {"elasticsearch.lifecycle", OptionType::String, "none",
     "none: elasticsearch.index is one plain index. rollover: it is a write alias over "
     "<index>-000001, <index>-000002... that a lifecycle policy (ILM on Elasticsearch, ISM on "
     "OpenSearch) rolls over and deletes; installed by `coinrelay setup elasticsearch`.",
     0, 0, "none,rollover"},
    {"elasticsearch.rollover_max_size_gb", OptionType::Int, "50",
     "lifecycle = rollover: start a new index once the primary shards of the current one hold "
     "this many GB.",
     1, 100'000},
    {"elasticsearch.rollover_max_age_days", OptionType::Int, "30",
     "lifecycle = rollover: start a new index once the current one is this many days old.", 1,
     3650},
    {"elasticsearch.retention_days", OptionType::Int, "730",
     "lifecycle = rollover: delete an index this many days after it was rolled over (so every "
     "quote is kept at least that long); 0: never delete.",
     0, 36'500},
    {"index.metrics_listen", OptionType::String, "127.0.0.1:9465",
     "host:port of the /metrics and /healthz endpoint of `coinrelay index`; empty: none."},
    {"index.dlq_topic", OptionType::String, "",
     "Dead-letter topic of `coinrelay index` (messages that cannot be decoded or that the search "
     "engine refuses for good); empty: <kafka.topic>.dlq."},
    {"index.instance_id", OptionType::String, "",
     "Static membership of `coinrelay index` in its consumer group (Kafka group.instance.id): a "
     "name that stays the same across restarts and differs between indexers (e.g. the pod "
     "name). A restarted indexer then gets its partitions back at once instead of after the "
     "session timeout. Empty: dynamic membership."},
    {"kibana.url", OptionType::String, "",
     "Kibana URL for `coinrelay setup kibana` (http://host:5601, with its base path if any)."},
    {"kibana.space", OptionType::String, "",
     "Kibana space to provision (its id); empty: the default space."},
    {"kibana.username", OptionType::String, "", "Kibana basic-auth user."},
    {"kibana.password", OptionType::String, "",
     "Kibana basic-auth password. From COINRELAY_KIBANA_PASSWORD or kibana.password_file.", 0, 0,
     nullptr, true},
    {"kibana.password_file", OptionType::String, "",
     "File holding the Kibana password (first line)."},
    {"kibana.api_key", OptionType::String, "",
     "Kibana API key, the base64 'id:api_key' (sent as 'ApiKey <key>'). From "
     "COINRELAY_KIBANA_API_KEY or kibana.api_key_file.",
     0, 0, nullptr, true},
    {"kibana.api_key_file", OptionType::String, "",
     "File holding the Kibana API key (first line)."},
    {"kibana.ca_file", OptionType::String, "", "CA bundle for an https Kibana URL."},
    {"http.listen", OptionType::String, "127.0.0.1:8080", "Address of the HTTP API (host:port)."},
    {"http.threads", OptionType::Int, "2", "Threads answering HTTP requests.", 1, 64},
    {"serve.on_miss", OptionType::String, "refuse",
     "A query for a coin or currency outside the tracked set: refuse (CoinGecko-shaped 404) or "
     "fetch (one coalesced upstream call, cached for serve.miss_ttl_s).",
     0, 0, "refuse,fetch"},
    {"serve.miss_ttl_s", OptionType::Int, "60", "How long an on-demand answer is reused.", 1,
     86'400},
    {"serve.miss_calls_per_minute", OptionType::Int, "10",
     "Upstream calls for on-demand answers allowed in any rate window (a minute and a second), "
     "counted in the process's one upstream budget with the schedule's calls, which keep their "
     "share.",
     1, 10'000},
    {"serve.miss_via", OptionType::List, "",
     "`coinrelay serve` with on_miss = fetch: the /metrics addresses of the fetch role(s) "
     "(http://fetch-1:9464,http://fetch-2:9464); misses are then fetched by the active fetcher "
     "within its rate limit and monthly credits, and serve needs no CoinGecko key. Empty: serve "
     "calls CoinGecko itself, outside the fetcher's budget."},
    {"serve.teams_file", OptionType::String, "",
     "TOML file of team keys and quotas ([teams.<name>] key, requests_per_minute); re-read when "
     "it changes. Empty: no keys needed."},
    {"serve.bootstrap_lookback_s", OptionType::Int, "900",
     "A new `serve` replica rebuilds its snapshot from the quotes published in this many "
     "seconds.",
     10, 7 * 86'400},
    {"storage.sqlite_path", OptionType::String, "coinrelay.db",
     "SQLite history of the embedded default (`coinrelay run`)."},
    {"log.level", OptionType::String, "info", "Log level.", 0, 0, "trace,debug,info,warn,error"},
    {"log.format", OptionType::String, "text", "Log format: text for people, json for machines.", 0,
     0, "text,json"},
};

std::string envNameOf(std::string_view option) {
  std::string name = "COINRELAY_" + toUpper(option);
  for (char& c : name) {
    if (c == '.')
      c = '_';
  }
  return name;
}

std::string fixHint(const OptionSpec& spec) {
  const std::string_view name(spec.name);
  const size_t dot = name.find('.');
  if (spec.secret) {
    return fmt::format("set {} in the environment", envNameOf(name));
  }
  return fmt::format("set {} = ... under [{}] in the config file, {} or --set {}=...",
                     name.substr(dot + 1), name.substr(0, dot), envNameOf(name), name);
}

bool isAllowed(const OptionSpec& spec, std::string_view value) {
  if (spec.allowed == nullptr)
    return true;
  for (const auto& item : splitCsv(spec.allowed)) {
    if (item == value)
      return true;
  }
  return false;
}

std::optional<long long> parseInt(std::string_view text) {
  long long out = 0;
  text = trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
    return std::nullopt;
  return out;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty())
      out.push_back('\n');
    out += line;
  }
  return out;
}

bool validHostPort(std::string_view text, bool allow_any_port = false) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  auto port = parseInt(text.substr(colon + 1));
  return port && *port >= (allow_any_port ? 0 : 1) && *port < 65536;
}

}  // namespace

const std::vector<OptionSpec>& optionSpecs() {
  return kOptions;
}

const OptionSpec* findOption(std::string_view name) {
  for (const auto& spec : kOptions) {
    if (name == spec.name)
      return &spec;
  }
  return nullptr;
}

const char* toString(Source source) {
  switch (source) {
    case Source::Default:
      return "default";
    case Source::File:
      return "file";
    case Source::Env:
      return "env";
    case Source::Flag:
      return "flag";
  }
  return "?";
}

RawConfig::RawConfig() {
  for (const auto& spec : kOptions)
    values_[spec.name] = Entry{spec.default_value, Source::Default};
}

const std::string& RawConfig::get(std::string_view name) const {
  static const std::string kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second.value;
}

Source RawConfig::sourceOf(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? Source::Default : it->second.source;
}

Status RawConfig::set(std::string_view name, std::string value, Source source) {
  const OptionSpec* spec = findOption(name);
  if (spec == nullptr) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("unknown configuration key '{}' (see `coinrelay config "
                                 "--reference` for the list)",
                                 name));
  }
  if (spec->secret && source == Source::Flag) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("{} is a secret and is not accepted as a flag (it would show in "
                                 "the process list): {}",
                                 name, fixHint(*spec)));
  }
  values_[spec->name] = Entry{std::move(value), source};
  return {};
}

Status RawConfig::loadFile(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return makeError(
        ErrorCode::InvalidArgument,
        fmt::format("config file {}:{}:{}: {}", path, where.line, where.column, e.description()));
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("config file {}: cannot read it: {}", path, e.what()));
  }
  file_path_ = path;
  std::vector<std::string> errors;
  for (const auto& [section_key, section_node] : root) {
    const auto* section = section_node.as_table();
    if (section == nullptr) {
      errors.push_back(
          fmt::format("config file {}: '{}' must be a [section] table, e.g. "
                      "[upstream], [budget], [fetch], [kafka], [elasticsearch], [http], [storage], "
                      "[log]",
                      path, section_key.str()));
      continue;
    }
    for (const auto& [key, node] : *section) {
      const std::string name = fmt::format("{}.{}", section_key.str(), key.str());
      const OptionSpec* spec = findOption(name);
      if (spec == nullptr) {
        errors.push_back(
            fmt::format("config file {}: unknown key '{}' (see `coinrelay config "
                        "--reference` for the list)",
                        path, name));
        continue;
      }
      std::string value;
      if (auto s = node.value<std::string>(); s && node.is_string()) {
        value = *s;
      } else if (auto i = node.value<int64_t>(); i && node.is_integer()) {
        value = std::to_string(*i);
      } else if (auto b = node.value<bool>(); b && node.is_boolean()) {
        value = *b ? "true" : "false";
      } else if (const auto* array = node.as_array();
                 array != nullptr && spec->type == OptionType::List) {
        for (const auto& item : *array) {
          auto text = item.value<std::string>();
          if (!text) {
            errors.push_back(
                fmt::format("config file {}: {} must be an array of strings", path, name));
            break;
          }
          value += value.empty() ? *text : "," + *text;
        }
      } else {
        errors.push_back(fmt::format("config file {}: {} has an unsupported value type; {}", path,
                                     name, fixHint(*spec)));
        continue;
      }
      if (auto status = set(name, std::move(value), Source::File); !status) {
        errors.push_back(status.error().message);
      }
    }
  }
  if (!errors.empty())
    return makeError(ErrorCode::InvalidArgument, joinLines(errors));
  return {};
}

Status RawConfig::loadEnv(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> errors;
  for (const auto& [name, value] : env) {
    if (!name.starts_with("COINRELAY_") || name == "COINRELAY_CONFIG")
      continue;
    const OptionSpec* match = nullptr;
    for (const auto& spec : kOptions) {
      if (envNameOf(spec.name) == name)
        match = &spec;
    }
    if (match == nullptr) {
      errors.push_back(
          fmt::format("unknown environment variable {} (variables are "
                      "COINRELAY_<SECTION>_<KEY>, e.g. COINRELAY_KAFKA_BROKERS; see "
                      "`coinrelay config --reference`)",
                      name));
      continue;
    }
    values_[match->name] = Entry{value, Source::Env};
  }
  if (!errors.empty())
    return makeError(ErrorCode::InvalidArgument, joinLines(errors));
  return {};
}

Status RawConfig::setFlag(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("--set '{}' needs the form section.key=value, e.g. --set "
                                 "upstream.top_n=100",
                                 assignment));
  }
  return set(trim(assignment.substr(0, eq)), std::string(assignment.substr(eq + 1)), Source::Flag);
}

Result<Config> validate(const RawConfig& raw, bool require_api_key) {
  std::vector<std::string> errors;
  auto describe = [&](const OptionSpec& spec) {
    const Source source = raw.sourceOf(spec.name);
    if (source == Source::Env)
      return fmt::format("{} (from {})", spec.name, envNameOf(spec.name));
    if (source == Source::File)
      return fmt::format("{} (from {})", spec.name, raw.filePath());
    if (source == Source::Flag)
      return fmt::format("{} (from a flag)", spec.name);
    return std::string(spec.name);
  };
  auto str = [&](const char* name) -> std::string {
    const OptionSpec& spec = *findOption(name);
    std::string value(trim(raw.get(name)));
    if (!isAllowed(spec, value)) {
      errors.push_back(fmt::format("{}: '{}' is not one of {}; {}", describe(spec), value,
                                   spec.allowed, fixHint(spec)));
    }
    return value;
  };
  auto integer = [&](const char* name) -> int {
    const OptionSpec& spec = *findOption(name);
    const std::string& text = raw.get(name);
    auto value = parseInt(text);
    if (!value) {
      errors.push_back(
          fmt::format("{}: '{}' is not an integer; {}", describe(spec), text, fixHint(spec)));
      return 0;
    }
    if ((spec.min != 0 || spec.max != 0) && (*value < spec.min || *value > spec.max)) {
      errors.push_back(fmt::format("{}: {} is outside the allowed range {}..{}; {}", describe(spec),
                                   *value, spec.min, spec.max, fixHint(spec)));
      return 0;
    }
    return static_cast<int>(*value);
  };
  auto boolean = [&](const char* name) -> bool {
    const OptionSpec& spec = *findOption(name);
    const std::string value = toLower(trim(raw.get(name)));
    if (value == "true" || value == "1" || value == "yes")
      return true;
    if (value == "false" || value == "0" || value == "no")
      return false;
    errors.push_back(fmt::format("{}: '{}' is not true or false; {}", describe(spec), raw.get(name),
                                 fixHint(spec)));
    return false;
  };

  Config c;
  c.upstream.base_url = str("upstream.base_url");
  while (c.upstream.base_url.ends_with('/'))
    c.upstream.base_url.pop_back();
  c.upstream.plan = str("upstream.plan");
  c.upstream.api_key = std::string(trim(raw.get("upstream.api_key")));
  const std::string key_file = str("upstream.api_key_file");
  if (c.upstream.api_key.empty() && !key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) {
      errors.push_back(
          fmt::format("upstream.api_key_file: cannot read '{}'; check the path and "
                      "that coinrelay's user may read it",
                      key_file));
    } else {
      std::getline(in, c.upstream.api_key);
      c.upstream.api_key = std::string(trim(c.upstream.api_key));
    }
  }
  c.upstream.top_n = integer("upstream.top_n");
  c.upstream.ids = splitCsv(toLower(raw.get("upstream.ids")));
  c.upstream.vs_currencies = splitCsv(toLower(raw.get("upstream.vs_currencies")));
  c.upstream.interval_s = integer("upstream.interval_s");
  c.upstream.timeout_ms = integer("upstream.timeout_ms");
  c.upstream.max_attempts = integer("upstream.max_attempts");
  c.budget.calls_per_minute = integer("budget.calls_per_minute");
  c.budget.monthly_credits = integer("budget.monthly_credits");
  c.budget.retry_reserve_percent = integer("budget.retry_reserve_percent");
  c.budget.cache_period_s = integer("budget.cache_period_s");
  c.budget.state_file = str("budget.state_file");
  c.fetch.publish_unchanged = boolean("fetch.publish_unchanged");
  c.fetch.metrics_listen = str("fetch.metrics_listen");
  c.fetch.metrics_listen_is_default = raw.sourceOf("fetch.metrics_listen") == Source::Default;
  c.fetch.group_id = str("fetch.group_id");
  c.fetch.state_topic = str("fetch.state_topic");
  c.fetch.spool_dir = str("fetch.spool_dir");
  c.fetch.spool_max_mib = integer("fetch.spool_max_mib");
  c.kafka.brokers = str("kafka.brokers");
  c.kafka.topic = str("kafka.topic");
  c.kafka.partitions = integer("kafka.partitions");
  c.kafka.replication_factor = integer("kafka.replication_factor");
  c.kafka.compression = str("kafka.compression");
  c.kafka.linger_ms = integer("kafka.linger_ms");
  c.kafka.delivery_timeout_ms = integer("kafka.delivery_timeout_ms");
  c.kafka.group_id = str("kafka.group_id");
  c.elasticsearch.url = str("elasticsearch.url");
  while (c.elasticsearch.url.ends_with('/'))
    c.elasticsearch.url.pop_back();
  c.elasticsearch.index = str("elasticsearch.index");
  c.elasticsearch.username = str("elasticsearch.username");
  c.elasticsearch.password = raw.get("elasticsearch.password");
  c.elasticsearch.api_key = std::string(trim(raw.get("elasticsearch.api_key")));
  // A secret left empty is read from its file; the error names the path, never the content.
  auto secretFromFile = [&](const char* option, std::string& secret) {
    const std::string path = str(option);
    if (!secret.empty() || path.empty())
      return;
    std::ifstream in(path);
    if (!in) {
      errors.push_back(
          fmt::format("{}: cannot read '{}'; check the path and that coinrelay's "
                      "user may read it",
                      describe(*findOption(option)), path));
      return;
    }
    std::getline(in, secret);
    secret = std::string(trim(secret));
    if (secret.empty()) {
      errors.push_back(fmt::format("{}: '{}' is empty; put the secret on its first line",
                                   describe(*findOption(option)), path));
    }
  };
  secretFromFile("elasticsearch.password_file", c.elasticsearch.password);
  secretFromFile("elasticsearch.api_key_file", c.elasticsearch.api_key);
  c.elasticsearch.ca_file = str("elasticsearch.ca_file");
  c.elasticsearch.bulk_max_docs = integer("elasticsearch.bulk_max_docs");
  c.elasticsearch.bulk_max_bytes = integer("elasticsearch.bulk_max_bytes");
  c.elasticsearch.flush_interval_ms = integer("elasticsearch.flush_interval_ms");
  c.elasticsearch.number_of_shards = integer("elasticsearch.number_of_shards");
  c.elasticsearch.number_of_replicas = integer("elasticsearch.number_of_replicas");
  c.elasticsearch.max_in_flight = integer("elasticsearch.max_in_flight");
  c.elasticsearch.retry_max_backoff_ms = integer("elasticsearch.retry_max_backoff_ms");
  c.elasticsearch.lifecycle = str("elasticsearch.lifecycle");
  c.elasticsearch.rollover_max_size_gb = integer("elasticsearch.rollover_max_size_gb");
  c.elasticsearch.rollover_max_age_days = integer("elasticsearch.rollover_max_age_days");
  c.elasticsearch.retention_days = integer("elasticsearch.retention_days");
  c.index.metrics_listen = str("index.metrics_listen");
  c.index.metrics_listen_is_default = raw.sourceOf("index.metrics_listen") == Source::Default;
  c.index.dlq_topic = str("index.dlq_topic");
  c.index.instance_id = str("index.instance_id");
  c.kibana.url = str("kibana.url");
  while (c.kibana.url.ends_with('/'))
    c.kibana.url.pop_back();
  c.kibana.space = str("kibana.space");
  c.kibana.username = str("kibana.username");
  c.kibana.password = raw.get("kibana.password");
  c.kibana.api_key = std::string(trim(raw.get("kibana.api_key")));
  // A secret left empty is read from its file; the error names the path, never the content.
  for (const auto& [option, secret] : {std::pair{"kibana.password_file", &c.kibana.password},
                                       std::pair{"kibana.api_key_file", &c.kibana.api_key}}) {
    const std::string path = str(option);
    if (!secret->empty() || path.empty())
      continue;
    std::ifstream in(path);
    std::getline(in, *secret);
    *secret = std::string(trim(*secret));
    if (secret->empty()) {
      errors.push_back(
          fmt::format("{}: cannot read a secret from '{}'; check the path, that "
                      "coinrelay's user may read it and that its first line holds it",
                      describe(*findOption(option)), path));
    }
  }
  c.kibana.ca_file = str("kibana.ca_file");
  c.http.listen = str("http.listen");
  c.http.threads = integer("http.threads");
  c.serve.on_miss = str("serve.on_miss");
  c.serve.miss_ttl_s = integer("serve.miss_ttl_s");
  c.serve.miss_calls_per_minute = integer("serve.miss_calls_per_minute");
  c.serve.miss_via = splitCsv(raw.get("serve.miss_via"));
  for (auto& url : c.serve.miss_via) {
    while (url.ends_with('/'))
      url.pop_back();
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("serve.miss_via: '{}' is not an http(s) URL; give the fetch "
                                   "role's fetch.metrics_listen address, e.g. http://fetch-1:9464",
                                   url));
    }
  }
  c.serve.teams_file = str("serve.teams_file");
  c.serve.bootstrap_lookback_s = integer("serve.bootstrap_lookback_s");
  c.storage.sqlite_path = str("storage.sqlite_path");
  c.log.level = str("log.level");
  c.log.format = str("log.format");

  // Cross-field and shape rules.
  auto httpUrl = [](std::string_view url) {
    return url.starts_with("http://") || url.starts_with("https://");
  };
  if (!httpUrl(c.upstream.base_url)) {
    errors.push_back(fmt::format("{}: '{}' is not an http(s) URL; {}",
                                 describe(*findOption("upstream.base_url")), c.upstream.base_url,
                                 fixHint(*findOption("upstream.base_url"))));
  }
  // Paid plans live on their own host; a root left at its default follows the plan.
  const bool paid_plan = c.upstream.plan != "public" && c.upstream.plan != "demo";
  if (paid_plan && raw.sourceOf("upstream.base_url") == Source::Default) {
    c.upstream.base_url = "https://pro-api.coingecko.com/api/v3";
  }
  if (c.upstream.plan == "enterprise" &&
      (c.budget.calls_per_minute == 0 || c.budget.monthly_credits == 0)) {
    errors.push_back(
        "upstream.plan is 'enterprise', which has no published limits: set "
        "budget.calls_per_minute and budget.monthly_credits to the figures of your contract");
  }
  if (parseInt(raw.get("upstream.top_n")) == 0 && c.upstream.ids.empty()) {
    errors.push_back(
        "upstream.top_n is 0 and upstream.ids is empty: nothing to track; set top_n to 1 or "
        "more, or list coin ids in upstream.ids");
  }
  for (const auto& id : c.upstream.ids) {
    if (id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos) {
      errors.push_back(
          fmt::format("upstream.ids: '{}' is not a CoinGecko coin id (lower case letters, "
                      "digits, '-', '_' and '.', e.g. usd-coin); ids are listed by /coins/list",
                      id));
    }
  }
  if (!c.fetch.metrics_listen.empty() && !validHostPort(c.fetch.metrics_listen, true)) {
    errors.push_back(
        fmt::format("{}: '{}' is not host:port, e.g. 127.0.0.1:9464 (port 0: any free port), "
                    "or empty for no endpoint; {}",
                    describe(*findOption("fetch.metrics_listen")), c.fetch.metrics_listen,
                    fixHint(*findOption("fetch.metrics_listen"))));
  }
  if (!c.kibana.url.empty() && !httpUrl(c.kibana.url)) {
    errors.push_back(fmt::format("{}: '{}' is not an http(s) URL, e.g. http://127.0.0.1:5601; {}",
                                 describe(*findOption("kibana.url")), c.kibana.url,
                                 fixHint(*findOption("kibana.url"))));
  }
  if (!c.kibana.api_key.empty() && (!c.kibana.username.empty() || !c.kibana.password.empty())) {
    errors.push_back(
        "kibana: both an API key and a username/password are set; keep one: "
        "COINRELAY_KIBANA_API_KEY (or kibana.api_key_file), or kibana.username with "
        "COINRELAY_KIBANA_PASSWORD (or kibana.password_file)");
  }
  if (c.budget.state_file.empty())
    c.budget.state_file = c.storage.sqlite_path + ".fetch-state.json";
  if (c.fetch.group_id.empty())
    c.fetch.group_id = "coinrelay-fetch-" + c.kafka.topic;
  if (c.fetch.state_topic.empty())
    c.fetch.state_topic = c.kafka.topic + "-fetch-state";
  if (c.fetch.spool_dir.empty()) {
    errors.push_back(
        "fetch.spool_dir is empty: `coinrelay fetch` needs a directory for quotes Kafka has not "
        "confirmed; set it to a writable path, e.g. /var/lib/coinrelay/spool");
  }
  if (require_api_key && c.upstream.plan != "public" && c.upstream.api_key.empty()) {
    errors.push_back(
        fmt::format("upstream.plan is '{}' but no API key is set; set "
                    "COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, or use "
                    "plan = \"public\"",
                    c.upstream.plan));
  }
  if (c.upstream.vs_currencies.empty()) {
    errors.push_back("upstream.vs_currencies is empty; list at least one, e.g. \"usd\"");
  }
  for (const auto& currency : c.upstream.vs_currencies) {
    if (currency.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
      errors.push_back(
          fmt::format("upstream.vs_currencies: '{}' is not a currency code such as "
                      "usd or eur",
                      currency));
    }
  }
  if (!c.elasticsearch.url.empty() && !httpUrl(c.elasticsearch.url)) {
    errors.push_back(fmt::format("{}: '{}' is not an http(s) URL; {}",
                                 describe(*findOption("elasticsearch.url")), c.elasticsearch.url,
                                 fixHint(*findOption("elasticsearch.url"))));
  }
  if (c.elasticsearch.index.empty() || c.elasticsearch.index != toLower(c.elasticsearch.index) ||
      c.elasticsearch.index.find_first_of(" \"*\\/<>|,#:?") != std::string::npos) {
    errors.push_back(
        fmt::format("elasticsearch.index: '{}' is not a valid index name (lower "
                    "case, no spaces or \\/*?\"<>|,#:)",
                    c.elasticsearch.index));
  }
  if (!c.elasticsearch.username.empty() && !c.elasticsearch.api_key.empty()) {
    errors.push_back(
        "elasticsearch.username and elasticsearch.api_key are both set: use one, basic auth "
        "(username + password) or an API key");
  }
  if (!c.elasticsearch.username.empty() && c.elasticsearch.password.empty()) {
    errors.push_back(
        "elasticsearch.username is set but no password: set COINRELAY_ELASTICSEARCH_PASSWORD or "
        "elasticsearch.password_file");
  }
  if (!c.elasticsearch.ca_file.empty() &&
      !std::filesystem::is_regular_file(c.elasticsearch.ca_file)) {
    errors.push_back(
        fmt::format("{}: '{}' is not a readable file; give the PEM file of the CA "
                    "that signed the search engine's certificate",
                    describe(*findOption("elasticsearch.ca_file")), c.elasticsearch.ca_file));
  }
  if (!c.index.metrics_listen.empty() && !validHostPort(c.index.metrics_listen, true)) {
    errors.push_back(
        fmt::format("{}: '{}' is not host:port, e.g. 127.0.0.1:9465 (port 0: any free port), "
                    "or empty for no endpoint; {}",
                    describe(*findOption("index.metrics_listen")), c.index.metrics_listen,
                    fixHint(*findOption("index.metrics_listen"))));
  }
  if (c.index.dlq_topic.empty())
    c.index.dlq_topic = c.kafka.topic + ".dlq";
  if (c.index.dlq_topic == c.kafka.topic) {
    errors.push_back(fmt::format(
        "index.dlq_topic is '{}', the quotes topic itself: dead letters would be read again; "
        "leave it empty for {}.dlq or name another topic",
        c.index.dlq_topic, c.kafka.topic));
  }
  if (c.kafka.topic.empty() ||
      c.kafka.topic.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    errors.push_back(
        fmt::format("kafka.topic: '{}' is not a valid topic name (letters, digits, "
                    "'.', '_' and '-')",
                    c.kafka.topic));
  }
  if (!validHostPort(c.http.listen)) {
    errors.push_back(fmt::format("{}: '{}' is not host:port, e.g. 127.0.0.1:8080; {}",
                                 describe(*findOption("http.listen")), c.http.listen,
                                 fixHint(*findOption("http.listen"))));
  }
  if (!errors.empty())
    return makeError(ErrorCode::InvalidArgument, joinLines(errors));
  return c;
}

std::vector<std::pair<std::string, std::string>> processEnvironment() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos)
      continue;
    out.emplace_back(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return out;
}

Result<std::pair<RawConfig, Config>> load(const LoadOptions& options) {
  RawConfig raw;
  std::string file = options.file;
  if (file.empty()) {
    for (const auto& [name, value] : options.environ) {
      if (name == "COINRELAY_CONFIG")
        file = value;
    }
  }
  if (file.empty() && std::filesystem::exists("coinrelay.toml"))
    file = "coinrelay.toml";
  if (!file.empty())
    CR_RETURN_IF_ERROR(raw.loadFile(file));
  CR_RETURN_IF_ERROR(raw.loadEnv(options.environ));
  for (const auto& assignment : options.assignments)
    CR_RETURN_IF_ERROR(raw.setFlag(assignment));
  CR_TRY(Config config, validate(raw, options.require_api_key));
  return std::make_pair(std::move(raw), std::move(config));
}

std::string render(const RawConfig& raw) {
  std::string out;
  std::string section;
  for (const auto& spec : kOptions) {
    const std::string_view name(spec.name);
    const size_t dot = name.find('.');
    if (name.substr(0, dot) != section) {
      section = std::string(name.substr(0, dot));
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
    }
    const std::string& value = raw.get(name);
    std::string shown;
    if (spec.secret) {
      shown = value.empty() ? "\"\"" : "\"********\"";
    } else if (spec.type == OptionType::Int || spec.type == OptionType::Bool) {
      shown = value;
    } else if (spec.type == OptionType::List) {
      shown = "[";
      for (const auto& item : splitCsv(value)) {
        shown += (shown.size() > 1 ? ", \"" : "\"") + item + "\"";
      }
      shown += "]";
    } else {
      shown = "\"";
      for (char c : value) {
        if (c == '"' || c == '\\')
          shown.push_back('\\');
        shown.push_back(c);
      }
      shown += "\"";
    }
    const Source source = raw.sourceOf(name);
    std::string origin = toString(source);
    if (source == Source::Env)
      origin = envNameOf(name);
    if (source == Source::File)
      origin = raw.filePath();
    out += fmt::format("{} = {}  # {}\n", name.substr(dot + 1), shown, origin);
  }
  return out;
}

std::string renderReference() {
  std::string out =
      "# coinrelay configuration reference\n\n"
      "Generated by `coinrelay config --reference`. Each key can be set in the TOML file "
      "(`[section]` then `key = value`), as an environment variable `COINRELAY_<SECTION>_<KEY>`, "
      "or with `--set section.key=value`, in increasing precedence. Secrets are never accepted "
      "as flags and never printed.\n\n"
      "| key | type | default | environment | description |\n|---|---|---|---|---|\n";
  for (const auto& spec : kOptions) {
    const char* type = spec.type == OptionType::Int    ? "integer"
                       : spec.type == OptionType::Bool ? "boolean"
                       : spec.type == OptionType::List ? "list"
                                                       : "string";
    std::string doc = spec.doc;
    if (spec.min != 0 || spec.max != 0)
      doc += fmt::format(" Range {}..{}.", spec.min, spec.max);
    if (spec.allowed != nullptr)
      doc += fmt::format(" One of: {}.", spec.allowed);
    out += fmt::format("| `{}` | {} | `{}` | `{}` | {} |\n", spec.name, type, spec.default_value,
                       envNameOf(spec.name), doc);
  }
  return out;
}

}  // namespace coinrelay::config
