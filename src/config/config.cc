#include "config/config.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "common/strings.h"

extern char** environ;

namespace coinrelay::config {

namespace {

using Problems = std::vector<std::string>;

constexpr long long kMaxCoins = 20'000;

std::optional<long long> parseInt(std::string_view text) {
  long long out = 0;
  text = trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
    return std::nullopt;
  return out;
}

bool validHostPort(std::string_view text, bool allow_any_port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  auto port = parseInt(text.substr(colon + 1));
  return port && *port >= (allow_any_port ? 0 : 1) && *port < 65536;
}

// The formats of single keys, checked on the tidied value (on each item of a list).

bool isHttpUrl(std::string_view value) {
  return value.starts_with("http://") || value.starts_with("https://");
}
bool isHttpUrlOrNone(std::string_view value) {
  return value.empty() || isHttpUrl(value);
}
bool isHostPort(std::string_view value) {
  return validHostPort(value, false);
}
bool isListenOrNone(std::string_view value) {
  return value.empty() || validHostPort(value, true);
}
bool isCoinId(std::string_view value) {
  return value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
}
bool isCurrency(std::string_view value) {
  return value.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos;
}
bool isTopicName(std::string_view value) {
  return !value.empty() && toLower(value).find_first_not_of(
                               "abcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
}
bool isIndexName(std::string_view value) {
  return !value.empty() && value == toLower(value) &&
         value.find_first_of(" \"*\\/<>|,#:?") == std::string_view::npos;
}
bool isFileOrNone(std::string_view value) {
  return value.empty() || std::filesystem::is_regular_file(value);
}
bool isNotEmpty(std::string_view value) {
  return !value.empty();
}

/// The field a key lands in.
template <auto section, auto field>
auto& fieldOf(Config& config) {
  return config.*section.*field;
}

// A key's name and its field, written once so that they cannot disagree.
#define CR_KEY(section, field, default_text, doc_text)                   \
  .name = #section "." #field,                                           \
  .into = &fieldOf<&Config::section, &decltype(Config::section)::field>, \
  .default_value = default_text, .doc = doc_text
// The key naming the file a secret is read from fills the secret's field.
#define CR_SECRET_FILE(section, field, doc_text)                                          \
  .name = #section "." #field "_file",                                                    \
  .into = &fieldOf<&Config::section, &decltype(Config::section)::field>, .doc = doc_text, \
  .role = Role::SecretFile

const std::vector<OptionSpec> kOptions = {
    {CR_KEY(
         upstream, base_url, "https://api.coingecko.com/api/v3",
         "CoinGecko API root (or a `coinrelay simulate` URL such as http://127.0.0.1:8090/api/v3). "
         "Left at its default, a paid plan uses https://pro-api.coingecko.com/api/v3."),
     .shape = Shape::Url, .valid = isHttpUrl, .what = "an http(s) URL"},
    {CR_KEY(upstream, plan, "public",
            "CoinGecko plan: public (keyless), demo (free key, header x-cg-demo-api-key) or a paid "
            "plan (basic, analyst, lite, pro, enterprise: header x-cg-pro-api-key). It sets the "
            "key header, the default root and the budget (see `coinrelay budget`)."),
     .allowed = "public,demo,basic,analyst,lite,pro,enterprise"},
    {CR_KEY(upstream, api_key, "",
            "CoinGecko API key. From COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file only."),
     .role = Role::Secret},
    {CR_SECRET_FILE(upstream, api_key, "File holding the CoinGecko API key (first line).")},
    {CR_KEY(upstream, top_n, "50",
            "How many coins to track, by market cap rank (pages of 250); 0: only upstream.ids."),
     .min = 0, .max = kMaxCoins},
    {CR_KEY(upstream, ids, "",
            "CoinGecko ids tracked besides the top N (e.g. \"bitcoin,usd-coin\"); those outside "
            "the top N cost one more call per 250 ids."),
     .shape = Shape::Lower, .valid = isCoinId,
     .what = "a CoinGecko coin id (lower case letters, digits, '-', '_' and '.', e.g. usd-coin); "
             "ids are listed by /coins/list"},
    {CR_KEY(upstream, vs_currencies, "usd",
            "Quote currencies (CoinGecko vs_currency), comma-separated; each costs its own calls."),
     .shape = Shape::Lower, .valid = isCurrency, .what = "a currency code such as usd or eur"},
    {CR_KEY(upstream, interval_s, "60",
            "Seconds between fetch cycles; cycles start on multiples of it on the wall clock."),
     .min = 1, .max = 86'400},
    {CR_KEY(upstream, details_interval_s, "3600",
            "Seconds between two reads of ranks and the slow fields (name, image, supplies, "
            "ATH/ATL, ROI, 24 h high/low and market cap change) from /coins/markets when prices "
            "come from the cheaper /simple/price in between; an hour keeps the top N and those "
            "fields at most an hour old (each quote says how old in details_fetched) for a small "
            "share of the calls. At or below upstream.interval_s, every field comes from "
            "/coins/markets every cycle."),
     .min = 0, .max = 7 * 86'400},
    {CR_KEY(upstream, timeout_ms, "10000", "Timeout of one upstream request."), .min = 100,
     .max = 120'000},
    {CR_KEY(upstream, max_attempts, "4",
            "Attempts per upstream request within one cycle (retries use jittered backoff)."),
     .min = 1, .max = 20},
    {CR_KEY(budget, calls_per_minute, "0",
            "Upstream calls allowed per minute, retries included; 0: the plan's published figure "
            "(public 5, demo 30, basic 250, analyst 500, lite 500, pro 1000)."),
     .min = 0, .max = 1'000'000},
    {CR_KEY(budget, monthly_credits, "0",
            "Call credits per month, retries included; 0: the plan's published figure (public: no "
            "monthly cap, demo 10000, basic 100000, analyst 500000, lite 2000000, pro 1000000)."),
     .min = 0, .max = 2'000'000'000},
    {CR_KEY(budget, retry_reserve_percent, "10",
            "Share of the per-minute and monthly budgets kept for retries; the schedule must fit "
            "in the rest or coinrelay refuses to start."),
     .min = 0, .max = 90},
    {CR_KEY(budget, cache_period_s, "0",
            "How often CoinGecko refreshes /coins/markets; 0: the plan's figure (60 s keyless and "
            "demo, 45 s paid). coinrelay never reads it more often: a shorter interval buys no "
            "fresher data, and draws a warning."),
     .min = 0, .max = 86'400},
    {CR_KEY(budget, price_cache_period_s, "0",
            "How often CoinGecko refreshes /simple/price; 0: the plan's figure (60 s keyless and "
            "demo, 20 s paid). coinrelay never reads it more often."),
     .min = 0, .max = 86'400},
    {CR_KEY(budget, list_cache_period_s, "0",
            "How often CoinGecko refreshes /coins/list, which coinrelay reads when the top N "
            "reaches the end of the universe; 0: the plan's figure (30 min keyless and demo, "
            "5 min paid)."),
     .min = 0, .max = 86'400},
    {CR_KEY(budget, state_file, "",
            "Where `coinrelay run` keeps the credits used this month and its last cycle across "
            "restarts; empty: next to storage.sqlite_path (<sqlite_path>.fetch-state.json). "
            "`coinrelay fetch` keeps them in Kafka (fetch.state_topic).")},
    {CR_KEY(fetch, publish_unchanged, "false",
            "Publish a quote again even when its last_updated did not change since its last "
            "publication (by default it is skipped and counted as unchanged).")},
    {CR_KEY(fetch, metrics_listen, "127.0.0.1:9464",
            "host:port of the /metrics and /healthz endpoint of `coinrelay fetch`; empty: none."),
     .valid = isListenOrNone,
     .what = "host:port, e.g. 127.0.0.1:9464 (port 0: any free port), or empty for no endpoint"},
    {CR_KEY(fetch, group_id, "",
            "Consumer group through which `coinrelay fetch` processes elect the one that calls "
            "CoinGecko; empty: coinrelay-fetch-<kafka.topic>.")},
    {CR_KEY(fetch, state_topic, "",
            "Compacted topic whose partition 0 elects the active fetcher and keeps its state "
            "(credits used, last cycle); empty: <kafka.topic>-fetch-state.")},
    {CR_KEY(fetch, spool_dir, "coinrelay-spool",
            "Directory of the on-disk spool of quotes Kafka has not confirmed yet (a subdirectory "
            "per topic)."),
     .valid = isNotEmpty,
     .what =
         "a directory name: `coinrelay fetch` keeps the quotes Kafka has not confirmed there (a "
         "writable path such as /var/lib/coinrelay/spool)"},
    {CR_KEY(fetch, spool_max_mib, "256",
            "Size bound of the spool in MiB; when it is full the oldest quotes are dropped and "
            "counted."),
     .min = 1, .max = 1'048'576},
    {CR_KEY(kafka, brokers, "", "Kafka bootstrap servers (host:port,...). Empty: no Kafka.")},
    {CR_KEY(kafka, topic, "crypto-data", "Topic of quote messages, keyed by coin id."),
     .valid = isTopicName, .what = "a valid topic name (letters, digits, '.', '_' and '-')"},
    {CR_KEY(kafka, partitions, "3", "Partitions when coinrelay creates the topic."), .min = 1,
     .max = 10'000},
    {CR_KEY(kafka, replication_factor, "1", "Replication factor when coinrelay creates the topic."),
     .min = 1, .max = 16},
    {CR_KEY(kafka, compression, "zstd", "Producer compression codec."),
     .allowed = "none,gzip,snappy,lz4,zstd"},
    {CR_KEY(kafka, linger_ms, "20", "Producer batching delay."), .min = 0, .max = 60'000},
    {CR_KEY(kafka, delivery_timeout_ms, "120000",
            "How long the producer keeps retrying a message before reporting it failed."),
     .min = 1000, .max = 3'600'000},
    {CR_KEY(kafka, group_id, "coinrelay-indexer", "Consumer group of `coinrelay index`.")},
    {CR_KEY(elasticsearch, url, "",
            "Elasticsearch or OpenSearch URL (http://host:9200). Empty: no search engine."),
     .shape = Shape::Url, .valid = isHttpUrlOrNone, .what = "an http(s) URL"},
    {CR_KEY(elasticsearch, index, "crypto-prices", "Index receiving quote history."),
     .valid = isIndexName, .what = "a valid index name (lower case, no spaces or \\/*?\"<>|,#:)"},
    {CR_KEY(elasticsearch, username, "", "Basic-auth user.")},
    {CR_KEY(elasticsearch, password, "",
            "Basic-auth password. From COINRELAY_ELASTICSEARCH_PASSWORD or "
            "elasticsearch.password_file."),
     .role = Role::Secret, .shape = Shape::Verbatim},
    {CR_SECRET_FILE(elasticsearch, password, "File holding the basic-auth password (first line).")},
    {CR_KEY(elasticsearch, api_key, "",
            "API key, the base64 'id:api_key' that Elasticsearch returns as `encoded` (sent as "
            "'ApiKey <key>'). From COINRELAY_ELASTICSEARCH_API_KEY or elasticsearch.api_key_file."),
     .role = Role::Secret},
    {CR_SECRET_FILE(elasticsearch, api_key, "File holding the API key (first line).")},
    {CR_KEY(elasticsearch, ca_file, "", "CA bundle for https URLs."), .valid = isFileOrNone,
     .what = "a readable file; give the PEM file of the CA that signed the search engine's "
             "certificate"},
    {CR_KEY(elasticsearch, bulk_max_docs, "2000",
            "Documents per bulk request (each request is sent in id order; see docs/indexing.md "
            "for what larger and smaller batches cost)."),
     .min = 1, .max = 100'000},
    {CR_KEY(elasticsearch, bulk_max_bytes, "5242880", "Bytes per bulk request."), .min = 1024,
     .max = 100 * 1024 * 1024},
    {CR_KEY(elasticsearch, flush_interval_ms, "1000",
            "Longest wait before a partial bulk is sent."),
     .min = 1, .max = 600'000},
    {CR_KEY(elasticsearch, number_of_shards, "1", "Shards in the index template."), .min = 1,
     .max = 1024},
    {CR_KEY(elasticsearch, number_of_replicas, "0", "Replicas in the index template."), .min = 0,
     .max = 16},
    {CR_KEY(elasticsearch, max_in_flight, "4",
            "Bulk requests in flight at once; `coinrelay index` reads nothing more while as many "
            "more batches wait (its memory budget is in docs/indexing.md)."),
     .min = 1, .max = 64},
    {CR_KEY(elasticsearch, retry_max_backoff_ms, "30000",
            "Longest wait between two attempts of a refused (429, 5xx, cluster block) or failed "
            "bulk request; attempts never stop, so nothing is skipped."),
     .min = 100, .max = 600'000},
    {CR_KEY(elasticsearch, lifecycle, "none",
            "none: elasticsearch.index is one plain index. rollover: it is a write alias over "
            "<index>-000001, <index>-000002... that a lifecycle policy (ILM on Elasticsearch, ISM "
            "on OpenSearch) rolls over and deletes; installed by `coinrelay setup elasticsearch`."),
     .allowed = "none,rollover"},
    {CR_KEY(elasticsearch, rollover_max_size_gb, "50",
            "lifecycle = rollover: start a new index once the primary shards of the current one "
            "hold this many GB."),
     .min = 1, .max = 100'000},
    {CR_KEY(elasticsearch, rollover_max_age_days, "30",
            "lifecycle = rollover: start a new index once the current one is this many days old."),
     .min = 1, .max = 3650},
    {CR_KEY(elasticsearch, retention_days, "730",
            "lifecycle = rollover: delete an index this many days after it was rolled over (so "
            "every quote is kept at least that long); 0: never delete."),
     .min = 0, .max = 36'500},
    {CR_KEY(index, metrics_listen, "127.0.0.1:9465",
            "host:port of the /metrics and /healthz endpoint of `coinrelay index`; empty: none."),
     .valid = isListenOrNone,
     .what = "host:port, e.g. 127.0.0.1:9465 (port 0: any free port), or empty for no endpoint"},
    {CR_KEY(index, dlq_topic, "",
            "Dead-letter topic of `coinrelay index` (messages that cannot be decoded or that the "
            "search engine refuses for good); empty: <kafka.topic>.dlq.")},
    {CR_KEY(index, instance_id, "",
            "Static membership of `coinrelay index` in its consumer group (Kafka "
            "group.instance.id): a name that stays the same across restarts and differs between "
            "indexers (e.g. the pod name). A restarted indexer then gets its partitions back at "
            "once instead of after the session timeout. Empty: dynamic membership.")},
    {CR_KEY(index, prefetch_kbytes, "4096",
            "Kilobytes of messages `coinrelay index` lets librdkafka read ahead of what it is "
            "indexing (queued.max.messages.kbytes, counted uncompressed); part of its memory "
            "budget (docs/indexing.md)."),
     .min = 256, .max = 1'048'576},
    {CR_KEY(index, fetch_kbytes, "64",
            "Kilobytes one fetch may bring per partition (max.partition.fetch.bytes, counted as "
            "on the wire, compressed; a larger record batch still comes whole); part of the "
            "memory budget of `coinrelay index`."),
     .min = 16, .max = 65'536},
    {CR_KEY(
         kibana, url, "",
         "Kibana URL for `coinrelay setup kibana` (http://host:5601, with its base path if any)."),
     .shape = Shape::Url, .valid = isHttpUrlOrNone,
     .what = "an http(s) URL, e.g. http://127.0.0.1:5601"},
    {CR_KEY(kibana, space, "", "Kibana space to provision (its id); empty: the default space.")},
    {CR_KEY(kibana, username, "", "Kibana basic-auth user.")},
    {CR_KEY(kibana, password, "",
            "Kibana basic-auth password. From COINRELAY_KIBANA_PASSWORD or kibana.password_file."),
     .role = Role::Secret, .shape = Shape::Verbatim},
    {CR_SECRET_FILE(kibana, password, "File holding the Kibana password (first line).")},
    {CR_KEY(kibana, api_key, "",
            "Kibana API key, the base64 'id:api_key' (sent as 'ApiKey <key>'). From "
            "COINRELAY_KIBANA_API_KEY or kibana.api_key_file."),
     .role = Role::Secret},
    {CR_SECRET_FILE(kibana, api_key, "File holding the Kibana API key (first line).")},
    {CR_KEY(kibana, ca_file, "", "CA bundle for an https Kibana URL.")},
    {CR_KEY(http, listen, "127.0.0.1:8080", "Address of the HTTP API (host:port)."),
     .valid = isHostPort, .what = "host:port, e.g. 127.0.0.1:8080"},
    {CR_KEY(http, threads, "2", "Threads answering HTTP requests."), .min = 1, .max = 64},
    {CR_KEY(http, max_connections, "4096",
            "Connections open at once, streams included. At the cap a new connection closes the "
            "one waiting longest for its next request, or gets a 503 when none waits. Lowered at "
            "start, with a warning, to what the open-file limit (RLIMIT_NOFILE) allows after "
            "raising it to its hard limit."),
     .min = 16, .max = 1'000'000},
    {CR_KEY(http, max_header_kib, "16",
            "Largest request line and headers; larger ones get 431 and the connection closes."),
     .min = 1, .max = 1024},
    {CR_KEY(http, max_body_kib, "64",
            "Largest request body; larger ones get 413 and the connection closes."),
     .min = 1, .max = 65'536},
    {CR_KEY(http, max_stream_backlog_kib, "1024",
            "Event bytes queued for one /v1/stream client that does not read them; beyond, it is "
            "disconnected rather than buffered for."),
     .min = 16, .max = 1'048'576},
    {CR_KEY(serve, on_miss, "fetch",
            "What coinrelay cannot answer from its own data (a coin or currency outside the "
            "tracked set, a path or parameter it does not serve natively): fetch (relayed "
            "upstream: one coalesced call per distinct query, cached for the path's period, within "
            "the on-demand budget) or refuse (the tracked part of an answer, naming what was left "
            "out in x-coinrelay-left-out; a 404 for a path coinrelay cannot answer)."),
     .allowed = "refuse,fetch"},
    {CR_KEY(serve, miss_ttl_s, "0",
            "How long a relayed answer is reused; 0: the path's CoinGecko cache period (the "
            "table in docs/serving.md), then as long again served stale while one call "
            "refreshes it."),
     .min = 0, .max = 86'400},
    {CR_KEY(
         serve, miss_calls_per_minute, "10",
         "Upstream calls for on-demand answers allowed in any rate window (a minute and a "
         "second), counted in the process's one upstream budget with the schedule's calls, which "
         "keep their share."),
     .min = 1, .max = 10'000},
    {CR_KEY(serve, miss_calls_per_client, "0",
            "Of serve.miss_calls_per_minute, how many one client may start in a rate window: a "
            "team (with serve.teams_file) or a client address; 0: half of them (at least 1). "
            "Cached answers are never limited by it."),
     .min = 0, .max = 10'000},
    {CR_KEY(serve, universe_refresh_s, "3600",
            "How often coinrelay refreshes its copy of CoinGecko's coin and currency lists "
            "(coins/list, simple/supported_vs_currencies), when they are used; never more often "
            "than their cache periods. It tells unknown ids from untracked ones and answers the "
            "two lists."),
     .min = 60, .max = 7 * 86'400},
    {CR_KEY(serve, miss_via, "",
            "`coinrelay serve` with on_miss = fetch: the /metrics addresses of the fetch role(s) "
            "(http://fetch-1:9464,http://fetch-2:9464); misses are then fetched by the active "
            "fetcher within its rate limit and monthly credits, and serve needs no CoinGecko key. "
            "Empty: serve calls CoinGecko itself, outside the fetcher's budget."),
     .shape = Shape::Url, .valid = isHttpUrl,
     .what = "an http(s) URL; give the fetch role's fetch.metrics_listen address, e.g. "
             "http://fetch-1:9464"},
    {CR_KEY(serve, miss_via_secret, "",
            "Shared secret between serve replicas (serve.miss_via) and the fetch role, whose "
            "/v1/upstream relays their calls only with it (header x-coinrelay-relay-secret; at "
            "least 16 characters). Unset: the fetch role's /v1/upstream is off (403). From "
            "COINRELAY_SERVE_MISS_VIA_SECRET or serve.miss_via_secret_file only."),
     .role = Role::Secret},
    {CR_SECRET_FILE(serve, miss_via_secret, "File holding serve.miss_via_secret (first line).")},
    {CR_KEY(serve, teams_file, "",
            "TOML file of team keys and quotas ([teams.<name>] key, requests_per_minute); re-read "
            "when it changes. Empty: no keys needed.")},
    {CR_KEY(serve, chart_workers, "2",
            "Threads answering market_chart, ohlc and /v1/history from the history, apart from the "
            "HTTP threads (a slow chart never holds up a cached answer); queries beyond 32 per "
            "thread waiting are refused with 503."),
     .min = 1, .max = 64},
    {CR_KEY(serve, chart_cache_mib, "16",
            "Memory for rendered charts (market_chart, ohlc, /v1/history), each kept for 30 s or "
            "until the history changes; beyond, the least recently used are dropped. A 90-day "
            "market_chart is about 300 KB: size it for the charts your clients ask at once. 0: "
            "no cache."),
     .min = 0, .max = 65'536},
    {CR_KEY(serve, bootstrap_lookback_s, "900",
            "A new `serve` replica rebuilds its snapshot from the quotes published in this many "
            "seconds."),
     .min = 10, .max = 7 * 86'400},
    {CR_KEY(serve, response_cache_mib, "32",
            "Memory for rendered CoinGecko answers kept for the current snapshot; beyond, the "
            "least recently used are dropped (and rendered again when asked)."),
     .min = 1, .max = 65'536},
    {CR_KEY(serve, miss_cache_mib, "16",
            "Memory for on-demand answers kept for serve.miss_ttl_s; beyond, the oldest are "
            "dropped, the expired ones first."),
     .min = 1, .max = 65'536},
    {CR_KEY(serve, max_streams, "1000",
            "/v1/stream clients at once (503 beyond); at most three quarters of the connections "
            "http.max_connections allows, so that streams never take them all."),
     .min = 1, .max = 1'000'000},
    {CR_KEY(serve, max_streams_per_client, "100",
            "/v1/stream clients at once from one client address (429 beyond)."),
     .min = 1, .max = 1'000'000},
    {CR_KEY(storage, sqlite_path, "coinrelay.db",
            "SQLite history of the embedded default (`coinrelay run`).")},
    {CR_KEY(storage, raw_retention_hours, "48",
            "Every observation (price, market cap, volume at each last_updated) is kept this long "
            "in the SQLite history; older ones live on in the 5-minute, hourly and daily tiers."),
     .min = 1, .max = 24 * 3660},
    {CR_KEY(storage, five_minute_retention_days, "10",
            "5-minute windows (open/high/low/close, market cap, volume) are kept this long: "
            "market_chart of 1 day and ohlc of 1-2 days read them."),
     .min = 2, .max = 3660},
    {CR_KEY(storage, hourly_retention_days, "100",
            "Hourly windows are kept this long: market_chart of 2-90 days and ohlc of 3-30 days "
            "read them."),
     .min = 2, .max = 3660},
    {CR_KEY(storage, daily_retention_days, "366",
            "Daily windows (00:00 UTC) are kept this long: market_chart beyond 90 days and ohlc "
            "beyond 30 days read them."),
     .min = 2, .max = 36600},
    {CR_KEY(log, level, "info", "Log level."), .allowed = "trace,debug,info,warn,error"},
    {CR_KEY(log, format, "text", "Log format: text for people, json for machines."),
     .allowed = "text,json"},
};

#undef CR_KEY
#undef CR_SECRET_FILE

std::string envNameOf(std::string_view option) {
  std::string name = "COINRELAY_" + toUpper(option);
  std::ranges::replace(name, '.', '_');
  return name;
}

/// Where a key's value came from: its variable, the file, "flag" or "default".
std::string originOf(const RawConfig& raw, std::string_view name) {
  const Source source = raw.sourceOf(name);
  return source == Source::Env    ? envNameOf(name)
         : source == Source::File ? raw.filePath()
                                  : toString(source);
}

std::string fixHint(const OptionSpec& spec) {
  const std::string_view name(spec.name);
  const size_t dot = name.find('.');
  if (spec.role == Role::Secret) {
    return fmt::format(
        "set {} in the environment, or put it on the first line of the file named by {}_file",
        envNameOf(name), name);
  }
  return fmt::format("set {} = ... under [{}] in the config file, {} or --set {}=...",
                     name.substr(dot + 1), name.substr(0, dot), envNameOf(name), name);
}

/// The key and where its value came from, to start a message.
std::string describe(const RawConfig& raw, const OptionSpec& spec) {
  const Source source = raw.sourceOf(spec.name);
  if (source == Source::Default)
    return spec.name;
  return fmt::format("{} (from {})", spec.name,
                     source == Source::Flag ? "a flag" : originOf(raw, spec.name));
}

std::string joinLines(const std::vector<std::string>& lines) {
  return fmt::format("{}", fmt::join(lines, "\n"));
}

std::string tidy(Shape shape, std::string_view text) {
  if (shape == Shape::Verbatim)
    return std::string(text);
  std::string value(trim(text));
  if (shape == Shape::Lower)
    value = toLower(value);
  while (shape == Shape::Url && value.ends_with('/'))
    value.pop_back();
  return value;
}

// Parsers: each reads a key's text into its field's type and adds what is wrong with it.

void checkText(const OptionSpec& spec, const std::string& value, Problems& found) {
  if (spec.allowed != nullptr && std::ranges::count(splitCsv(spec.allowed), value) == 0) {
    found.push_back(fmt::format("'{}' is not one of {}", value, spec.allowed));
  } else if (spec.valid != nullptr && !spec.valid(value)) {
    found.push_back(fmt::format("'{}' is not {}", value, spec.what));
  }
}

void parse(const OptionSpec& spec, std::string_view text, std::string& out, Problems& found) {
  out = tidy(spec.shape, text);
  checkText(spec, out, found);
}

void parse(const OptionSpec& spec, std::string_view text, std::vector<std::string>& out,
           Problems& found) {
  out = splitCsv(text);
  for (auto& item : out) {
    item = tidy(spec.shape, item);
    checkText(spec, item, found);
  }
}

void parse(const OptionSpec& spec, std::string_view text, int& out, Problems& found) {
  const auto value = parseInt(text);
  if (!value) {
    found.push_back(fmt::format("'{}' is not an integer", text));
  } else if ((spec.min != 0 || spec.max != 0) && (*value < spec.min || *value > spec.max)) {
    found.push_back(
        fmt::format("{} is outside the allowed range {}..{}", *value, spec.min, spec.max));
  } else {
    out = static_cast<int>(*value);
  }
}

void parse(const OptionSpec&, std::string_view text, bool& out, Problems& found) {
  const std::string value = toLower(trim(text));
  if (value == "true" || value == "1" || value == "yes")
    out = true;
  else if (value == "false" || value == "0" || value == "no")
    out = false;
  else
    found.push_back(fmt::format("'{}' is not true or false", text));
}

/// The first line of a secret file, trimmed. Problems name the path, never the content.
Result<std::string> readSecretFile(const std::string& path) {
  auto fail = [](std::string message) {
    return makeError(ErrorCode::InvalidArgument, std::move(message));
  };
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found)
    return fail(fmt::format("'{}' does not exist; check the path", path));
  if (type == std::filesystem::file_type::directory)
    return fail(fmt::format("'{}' is a directory; name the file that holds the secret", path));
  std::ifstream in(path);
  std::string line;
  if (!in || (!std::getline(in, line) && in.bad())) {
    return fail(fmt::format("cannot read '{}'; check that coinrelay's user may read it", path));
  }
  if (line.empty() && in.eof())
    return fail(fmt::format("'{}' is empty; put the secret on its first line", path));
  line = std::string(trim(line));
  if (line.empty()) {
    return fail(
        fmt::format("the first line of '{}' is blank; put the secret on its first line", path));
  }
  return line;
}

/// Reads a key into its field; each problem names the key, where its value came from and the fix.
void land(const OptionSpec& spec, const RawConfig& raw, Config& config, Problems& problems) {
  std::visit(
      [&](auto into) {
        Problems found;
        parse(spec, raw.get(spec.name), into(config), found);
        for (const auto& problem : found)
          problems.push_back(
              fmt::format("{}: {}; {}", describe(raw, spec), problem, fixHint(spec)));
      },
      spec.into);
}

/// Fills a secret from the file a SecretFile key names, unless the environment set it.
void landSecretFile(const OptionSpec& spec, const RawConfig& raw, Config& config,
                    Problems& problems) {
  std::string& secret = std::get<std::string& (*)(Config&)>(spec.into)(config);
  const std::string path(trim(raw.get(spec.name)));
  if (path.empty() || !secret.empty())
    return;
  auto read = readSecretFile(path);
  if (read)
    secret = std::move(*read);
  else
    problems.push_back(fmt::format("{}: {}", describe(raw, spec), read.error().message));
}

// Cross-field rules, a function a section: each adds every problem it finds and fills in the
// values that follow from other keys.

void upstreamRules(const RawConfig& raw, Config& c, bool require_api_key, Problems& problems) {
  // Paid plans live on their own host; a root left at its default follows the plan.
  if (c.upstream.plan != "public" && c.upstream.plan != "demo" &&
      raw.sourceOf("upstream.base_url") == Source::Default) {
    c.upstream.base_url = "https://pro-api.coingecko.com/api/v3";
  }
  if (c.upstream.plan == "enterprise" &&
      (c.budget.calls_per_minute == 0 || c.budget.monthly_credits == 0)) {
    problems.push_back(
        "upstream.plan is 'enterprise', which has no published limits: set "
        "budget.calls_per_minute and budget.monthly_credits to the figures of your contract");
  }
  if (c.upstream.top_n == 0 && c.upstream.ids.empty()) {
    problems.push_back(
        "upstream.top_n is 0 and upstream.ids is empty: nothing to track; set top_n to 1 or "
        "more, or list coin ids in upstream.ids");
  }
  if (c.upstream.vs_currencies.empty())
    problems.push_back("upstream.vs_currencies is empty; list at least one, e.g. \"usd\"");
  // A key file that could not be read has been reported already.
  if (require_api_key && c.upstream.plan != "public" && c.upstream.api_key.empty() &&
      trim(raw.get("upstream.api_key_file")).empty()) {
    problems.push_back(
        fmt::format("upstream.plan is '{}' but no API key is set; set "
                    "COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, or use "
                    "plan = \"public\"",
                    c.upstream.plan));
  }
}

void budgetRules(Config& c) {
  if (c.budget.state_file.empty())
    c.budget.state_file = c.storage.sqlite_path + ".fetch-state.json";
}

void fetchRules(const RawConfig& raw, Config& c) {
  c.fetch.metrics_listen_is_default = raw.sourceOf("fetch.metrics_listen") == Source::Default;
  if (c.fetch.group_id.empty())
    c.fetch.group_id = "coinrelay-fetch-" + c.kafka.topic;
  if (c.fetch.state_topic.empty())
    c.fetch.state_topic = c.kafka.topic + "-fetch-state";
}

void elasticsearchRules(const RawConfig& raw, const Config& c, Problems& problems) {
  const ElasticsearchConfig& es = c.elasticsearch;
  if (!es.username.empty() && !es.api_key.empty()) {
    problems.push_back(
        "elasticsearch.username and elasticsearch.api_key are both set: use one, basic auth "
        "(username + password) or an API key");
  }
  // A password file that could not be read has been reported already.
  if (!es.username.empty() && es.password.empty() &&
      trim(raw.get("elasticsearch.password_file")).empty()) {
    problems.push_back(
        "elasticsearch.username is set but no password: set COINRELAY_ELASTICSEARCH_PASSWORD or "
        "elasticsearch.password_file");
  }
}

void indexRules(const RawConfig& raw, Config& c, Problems& problems) {
  c.index.metrics_listen_is_default = raw.sourceOf("index.metrics_listen") == Source::Default;
  if (c.index.dlq_topic.empty())
    c.index.dlq_topic = c.kafka.topic + ".dlq";
  if (c.index.dlq_topic == c.kafka.topic) {
    problems.push_back(fmt::format(
        "index.dlq_topic is '{}', the quotes topic itself: dead letters would be read again; "
        "leave it empty for {}.dlq or name another topic",
        c.index.dlq_topic, c.kafka.topic));
  }
}

void serveRules(const RawConfig& raw, const Config& c, Problems& problems) {
  const bool secret_file = !trim(raw.get("serve.miss_via_secret_file")).empty();
  if (!c.serve.miss_via.empty() && c.serve.miss_via_secret.empty() && !secret_file) {
    problems.push_back(
        "serve.miss_via is set but serve.miss_via_secret is not: the fetch role relays only "
        "with the shared secret; set COINRELAY_SERVE_MISS_VIA_SECRET or "
        "serve.miss_via_secret_file, the same as the fetch role's");
  }
  if (!c.serve.miss_via_secret.empty() && c.serve.miss_via_secret.size() < 16) {
    problems.push_back(
        "serve.miss_via_secret is shorter than 16 characters: use a long random value, e.g. "
        "`openssl rand -hex 24`");
  }
}

void kibanaRules(const Config& c, Problems& problems) {
  if (!c.kibana.api_key.empty() && (!c.kibana.username.empty() || !c.kibana.password.empty())) {
    problems.push_back(
        "kibana: both an API key and a username/password are set; keep one: "
        "COINRELAY_KIBANA_API_KEY (or kibana.api_key_file), or kibana.username with "
        "COINRELAY_KIBANA_PASSWORD (or kibana.password_file)");
  }
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
  static constexpr const char* kNames[] = {"default", "file", "env", "flag"};
  return kNames[static_cast<int>(source)];
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
  // An empty secret in the file holds nothing to leak, and is what `coinrelay config` prints for
  // an unset one: its output still loads.
  if (spec->role == Role::Secret &&
      (source == Source::Flag || (source == Source::File && !value.empty()))) {
    return makeError(
        ErrorCode::InvalidArgument,
        source == Source::Flag
            ? fmt::format("{} is a secret and is not accepted as a flag (it would show in the "
                          "process list): {}",
                          name, fixHint(*spec))
            : fmt::format("config file {}: {} is a secret and is not accepted in the config file "
                          "(config files get shared and committed): remove it, and {}",
                          file_path_, name, fixHint(*spec)));
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
                 array != nullptr && spec->type() == OptionType::List) {
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
  Config config;
  Problems problems;
  for (const auto& spec : kOptions) {
    if (spec.role != Role::SecretFile)
      land(spec, raw, config, problems);
  }
  // Once every secret from the environment has landed: a file fills only a secret left empty.
  for (const auto& spec : kOptions) {
    if (spec.role == Role::SecretFile)
      landSecretFile(spec, raw, config, problems);
  }
  upstreamRules(raw, config, require_api_key, problems);
  budgetRules(config);
  fetchRules(raw, config);
  elasticsearchRules(raw, config, problems);
  indexRules(raw, config, problems);
  serveRules(raw, config, problems);
  kibanaRules(config, problems);
  if (!problems.empty())
    return makeError(ErrorCode::InvalidArgument, joinLines(problems));
  return config;
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
    // fmt quotes and escapes strings (and the items of a list) as TOML does.
    std::string shown;
    if (spec.role == Role::Secret)
      shown = value.empty() ? "\"\"" : "\"********\"";
    else if (spec.type() == OptionType::Int || spec.type() == OptionType::Bool)
      shown = value;
    else if (spec.type() == OptionType::List)
      shown = fmt::format("{}", splitCsv(value));
    else
      shown = fmt::format("{:?}", value);
    out += fmt::format("{} = {}  # {}\n", name.substr(dot + 1), shown, originOf(raw, name));
  }
  return out;
}

std::string renderReference() {
  std::string secrets;
  for (const auto& spec : kOptions) {
    if (spec.role == Role::Secret)
      secrets += fmt::format("{}`{}`", secrets.empty() ? "" : ", ", spec.name);
  }
  std::string out = fmt::format(
      "# coinrelay configuration reference\n\n"
      "Generated by `coinrelay config --reference`. Each key can be set in the TOML file "
      "(`[section]` then `key = value`), as an environment variable `COINRELAY_<SECTION>_<KEY>`, "
      "or with `--set section.key=value`, in increasing precedence. Secrets ({}) come only from "
      "their environment variable or from the first line of the file their `_file` key names: "
      "the config file and flags refuse them, and they are never printed.\n\n"
      "| key | type | default | environment | description |\n|---|---|---|---|---|\n",
      secrets);
  for (const auto& spec : kOptions) {
    static constexpr const char* kTypeNames[] = {"string", "integer", "boolean", "list"};
    const char* type = kTypeNames[static_cast<int>(spec.type())];
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
