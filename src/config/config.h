#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace coinrelay::config {

struct UpstreamConfig {
  std::string base_url;
  std::string plan;     ///< public | demo | basic | analyst | lite | pro | enterprise
  std::string api_key;  ///< secret: from COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file
  int top_n = 50;       ///< 0: only `ids`
  std::vector<std::string> ids;  ///< tracked besides the top N
  std::vector<std::string> vs_currencies;
  int interval_s = 60;
  /// How often the cheapest mix refreshes ranks and the slow fields from /coins/markets; at or
  /// below interval_s every field comes from /coins/markets every cycle.
  int details_interval_s = 3600;
  int timeout_ms = 10'000;
  int max_attempts = 4;
};

/// The upstream budget; zeros stand for the plan's published figures (coingecko/budget.h).
struct BudgetConfig {
  int calls_per_minute = 0;
  int monthly_credits = 0;
  int retry_reserve_percent = 10;
  int cache_period_s = 0;  ///< /coins/markets
  int price_cache_period_s = 0;
  int list_cache_period_s = 0;
  std::string state_file;  ///< `coinrelay run` only
};

/// The fetch role: change detection, its endpoint, election and spool.
struct FetchConfig {
  bool publish_unchanged = false;
  std::string metrics_listen;  ///< empty: no endpoint
  bool metrics_listen_is_default = true;
  std::string group_id;     ///< resolved: never empty after validate()
  std::string state_topic;  ///< resolved: never empty after validate()
  std::string spool_dir;
  int spool_max_mib = 256;
};

struct KafkaConfig {
  std::string brokers;  ///< empty: no Kafka (the embedded default)
  std::string topic;
  int partitions = 3;
  int replication_factor = 1;
  std::string compression;
  int linger_ms = 20;
  std::string group_id;
  int delivery_timeout_ms = 120'000;
};

struct ElasticsearchConfig {
  std::string url;  ///< empty: no search engine (the embedded default)
  std::string index;
  std::string username;
  std::string password;  ///< secret
  std::string api_key;   ///< secret
  std::string ca_file;
  int bulk_max_docs = 2000;
  int bulk_max_bytes = 5 * 1024 * 1024;
  int flush_interval_ms = 1000;
  int number_of_shards = 1;
  int number_of_replicas = 0;
  int max_in_flight = 4;  ///< bulk requests sent concurrently
  int retry_max_backoff_ms = 30'000;
  std::string lifecycle;  ///< none (one plain index) | rollover (alias + ILM/ISM policy)
  int rollover_max_size_gb = 50;
  int rollover_max_age_days = 30;
  int retention_days = 730;  ///< 0: never delete
};

/// The index role (`coinrelay index`): its endpoint and dead-letter topic.
struct IndexConfig {
  std::string metrics_listen;  ///< empty: no endpoint
  bool metrics_listen_is_default = true;
  std::string dlq_topic;       ///< resolved: never empty after validate()
  std::string instance_id;     ///< Kafka static membership (group.instance.id); empty: none
  int prefetch_kbytes = 4096;  ///< librdkafka's queue of prefetched messages (uncompressed)
  int fetch_kbytes = 64;       ///< bytes per partition of one fetch (compressed, as on the wire)
};

struct HttpConfig {
  std::string listen;  ///< host:port
  int threads = 2;
  int max_connections = 4096;
  int max_header_kib = 16;
  int max_body_kib = 64;
  int max_stream_backlog_kib = 1024;
};

/// The serving layer (`serve`, and the API of `run`).
struct ServeConfig {
  std::string on_miss;  ///< refuse | fetch: what coinrelay cannot answer from its own data
  int miss_ttl_s = 0;   ///< 0: each path's own cache period
  int miss_calls_per_minute = 10;
  int miss_calls_per_client = 0;  ///< 0: a quarter of miss_calls_per_minute, at least 1
  int universe_refresh_s = 3600;
  std::vector<std::string> miss_via;  ///< fetch-role base URLs that fetch misses for serve
  std::string miss_via_secret;        ///< secret: shared by serve replicas and the fetch role
  std::string teams_file;             ///< empty: no team keys, everyone admitted
  int bootstrap_lookback_s = 900;
  int chart_workers = 2;  ///< threads answering chart and history queries
  int chart_cache_mib = 16;
  int response_cache_mib = 32;
  int miss_cache_mib = 16;
  int max_streams = 1000;
  int max_streams_per_client = 100;
};

struct StorageConfig {
  std::string sqlite_path;
  int raw_retention_hours = 48;
  int five_minute_retention_days = 10;
  int hourly_retention_days = 100;
  int daily_retention_days = 366;
};

/// Where `coinrelay setup kibana` provisions the data view and the dashboard.
struct KibanaConfig {
  std::string url;  ///< without a trailing slash
  std::string space;
  std::string username;
  std::string password;  ///< secret
  std::string api_key;   ///< secret
  std::string ca_file;
};

struct LogConfig {
  std::string level;
  std::string format;  ///< text | json
};

/// The validated configuration every role starts from.
struct Config {
  UpstreamConfig upstream;
  BudgetConfig budget;
  FetchConfig fetch;
  KafkaConfig kafka;
  ElasticsearchConfig elasticsearch;
  IndexConfig index;
  HttpConfig http;
  ServeConfig serve;
  StorageConfig storage;
  KibanaConfig kibana;
  LogConfig log;
};

/// The order of the alternatives of `Target`.
enum class OptionType { String, Int, Bool, List };

/// Where a key's value lands in `Config`: a function returning the field, of the key's type.
using Target = std::variant<std::string& (*)(Config&), int& (*)(Config&), bool& (*)(Config&),
                            std::vector<std::string>& (*)(Config&)>;

/// A secret comes from its environment variable or from its `_file` key, never from the config
/// file or a flag.
enum class Role { Plain, Secret, SecretFile };

/// How text (each item of a list) is tidied before it is checked and lands: trimmed, as given
/// (passwords), trimmed without trailing slashes (URLs), trimmed and lower-cased.
enum class Shape { Trimmed, Verbatim, Url, Lower };

/// One configuration key, declared once: its name, where it lands, default, range, allowed
/// values, format and documentation drive parsing, typing, `coinrelay config` and the docs.
struct OptionSpec {
  const char* name;  ///< "section.key"
  Target into;       ///< for a SecretFile key: the secret it fills
  const char* default_value = "";
  const char* doc = "";
  Role role = Role::Plain;
  long long min = 0;
  long long max = 0;              ///< min == max == 0: no range check
  const char* allowed = nullptr;  ///< comma-separated allowed values for strings
  Shape shape = Shape::Trimmed;
  bool (*valid)(std::string_view value) = nullptr;  ///< the format of a tidied value (list item)
  const char* what = nullptr;                       ///< what a valid value is: "'x' is not <what>"

  OptionType type() const { return static_cast<OptionType>(into.index()); }
};

const std::vector<OptionSpec>& optionSpecs();
const OptionSpec* findOption(std::string_view name);

/// Where a value came from, lowest precedence first.
enum class Source { Default, File, Env, Flag };
const char* toString(Source source);

/// The layered key/value view before validation.
class RawConfig {
 public:
  RawConfig();  ///< all defaults

  /// Reads a TOML file; unknown sections or keys, and values of the wrong type, are errors.
  Status loadFile(const std::string& path);
  /// Reads COINRELAY_<SECTION>_<KEY> variables from `environ` (COINRELAY_CONFIG excepted).
  Status loadEnv(const std::vector<std::pair<std::string, std::string>>& environ);
  /// Applies one `section.key=value` flag.
  Status setFlag(std::string_view assignment);
  Status set(std::string_view name, std::string value, Source source);

  const std::string& get(std::string_view name) const;
  Source sourceOf(std::string_view name) const;
  const std::string& filePath() const { return file_path_; }

 private:
  struct Entry {
    std::string value;
    Source source = Source::Default;
  };
  std::map<std::string, Entry, std::less<>> values_;
  std::string file_path_;
};

/// Fills a Config from the table (types, ranges, allowed values, formats, secret files), then
/// applies the cross-field rules of each section; reports every problem, one line each.
/// `require_api_key` false skips the "a keyed plan needs a key" rule, for commands that only
/// plan (`coinrelay budget`) and never call the upstream.
Result<Config> validate(const RawConfig& raw, bool require_api_key = true);

/// The process environment as pairs (a seam for tests).
std::vector<std::pair<std::string, std::string>> processEnvironment();

/// Loads defaults, then the file (`path`, or COINRELAY_CONFIG, or ./coinrelay.toml when it
/// exists), then the environment, then flags, and validates.
struct LoadOptions {
  std::string file;                      ///< empty: COINRELAY_CONFIG or ./coinrelay.toml if present
  std::vector<std::string> assignments;  ///< section.key=value, in order
  std::vector<std::pair<std::string, std::string>> environ;
  bool require_api_key = true;  ///< see validate()
};
Result<std::pair<RawConfig, Config>> load(const LoadOptions& options);

/// The effective configuration as TOML, secrets masked, each line commented with its source.
std::string render(const RawConfig& raw);

/// The reference table of every option, as Markdown (docs/configuration.md).
std::string renderReference();

}  // namespace coinrelay::config
