#include "api/miss_fetcher.h"

#include <future>

#include <fmt/format.h>
#include <simdjson.h>

#include "api/api_error.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// Refused answers (budget, upstream down) are kept this long, so a burst of clients does not
/// turn into a burst of attempts, yet the next minute's budget is used.
constexpr std::chrono::seconds kRefusalTtl{5};
constexpr size_t kMaxEntries = 10'000;
/// Distinct calls waiting for a worker at most; more are refused at once, not queued.
constexpr size_t kMaxQueued = 1000;

telemetry::Gauge& keptBytesGauge() {
  static telemetry::Gauge& gauge = telemetry::metrics().gauge(
      "coinrelay_miss_cache_bytes", "Bytes of the relayed answers kept for their cache period.");
  return gauge;
}

telemetry::Gauge& maxBytesGauge() {
  static telemetry::Gauge& gauge =
      telemetry::metrics().gauge("coinrelay_miss_cache_max_bytes",
                                 "The bound of the relayed answers kept (serve.miss_cache_mib).");
  return gauge;
}

/// CoinGecko's error code in a refusal, {"status":{"error_code":N}} or
/// {"error":{"status":{"error_code":N}}}; nullopt when the body has none.
std::optional<int64_t> errorCodeOf(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(body)).get(doc) != simdjson::SUCCESS)
    return std::nullopt;
  int64_t code = 0;
  if (doc["status"]["error_code"].get(code) == simdjson::SUCCESS ||
      doc["error"]["status"]["error_code"].get(code) == simdjson::SUCCESS)
    return code;
  return std::nullopt;
}

/// An answer the upstream gave about the call itself, to relay as it is and keep for the
/// path's period: a result, a bad request, a 404, or a 401 that refuses the call rather than
/// the key (10005: the path or option is above the plan; 10012: a date beyond the plan's
/// history). The rest (429, 5xx, and the other 401/403, which are about coinrelay's own key) say
/// something about the moment, or about coinrelay, not the call.
bool verdict(int status, std::string_view body) {
  if (status == 200 || status == 400 || status == 404)
    return true;
  if (status != 401)
    return false;
  const auto code = errorCodeOf(body);
  return code == 10005 || code == 10012;
}

net::Reply replyOf(const auto& answer) {
  net::Reply reply{answer.status, "application/json", answer.body};
  reply.headers = answer.headers;
  return reply;
}

/// Makes `out` coinrelay's own refusal (api_error.h).
void refuse(auto& out, ApiErrorKind kind, std::string_view message) {
  net::Reply reply = errorReply(kind, message);
  out.status = reply.status;
  out.body = std::move(reply.body);
}

telemetry::Counter& pathCounter(const char* name, const char* help, const ApiPath* path) {
  return telemetry::metrics().counter(name, help, {{"path", path ? path->templ : "unknown"}});
}

void countCacheHit(const ApiPath* path) {
  pathCounter("coinrelay_api_cache_hits_total",
              "Requests of a relayed path answered from the relay's cache (fresh or stale), by "
              "path template.",
              path)
      .inc();
}

}  // namespace

MissFetcher::MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl_override,
                         const Clock& clock)
    : upstream_(upstream),
      tier_(tierOfPlan(upstream.plan)),
      ttl_override_(ttl_override),
      clock_(clock) {
  maxBytesGauge().add(static_cast<double>(max_bytes_));
  for (int i = 0; i < kWorkers; ++i)
    workers_.emplace_back([this] { work(); });
}

std::unique_ptr<MissFetcher> MissFetcher::fromConfig(const config::Config& config,
                                                     const Clock& clock) {
  const bool keyed = config.upstream.plan == "public" || !config.upstream.api_key.empty();
  if (!keyed && config.serve.miss_via.empty())
    return nullptr;
  auto fetcher = std::make_unique<MissFetcher>(
      config.upstream, std::chrono::seconds(config.serve.miss_ttl_s), clock);
  int per_client = config.serve.miss_calls_per_client;
  if (per_client == 0)
    per_client = std::max(1, config.serve.miss_calls_per_minute / 2);
  fetcher->setCallsPerClient(per_client, coingecko::RateLimiter::kDefaultWindow);
  fetcher->setMaxBytes(static_cast<size_t>(config.serve.miss_cache_mib) << 20);
  return fetcher;
}

MissFetcher::~MissFetcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& worker : workers_)
    worker.join();
  keptBytesGauge().add(-static_cast<double>(bytes_));
  maxBytesGauge().add(-static_cast<double>(max_bytes_));
}

void MissFetcher::setMaxBytes(size_t max_bytes) {
  std::lock_guard lock(mutex_);
  maxBytesGauge().add(static_cast<double>(max_bytes) - static_cast<double>(max_bytes_));
  max_bytes_ = max_bytes;
  keepWithinBytes(clock_.steadyNow());
}

void MissFetcher::keep(const std::string& key, Entry& entry) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.get() != &entry)
    return;  // dropped while its call was under way: its waiters got the answer, nobody keeps it
  if (entry.kept) {  // a refreshed answer: accounted again, as the newest
    kept_.erase(*entry.kept);
    bytes_ -= entry.bytes;
    keptBytesGauge().add(-static_cast<double>(entry.bytes));
  }
  constexpr size_t kOverhead = 256;  // map and list nodes, the entry, its shared_ptr block
  entry.bytes = kOverhead + 2 * key.size() + entry.answer.body.size();
  for (const auto& [name, value] : entry.answer.headers)
    entry.bytes += name.size() + value.size();
  entry.kept = kept_.insert(kept_.end(), key);
  bytes_ += entry.bytes;
  keptBytesGauge().add(static_cast<double>(entry.bytes));
}

void MissFetcher::forget(std::map<std::string, std::shared_ptr<Entry>>::iterator it) {
  Entry& entry = *it->second;
  if (entry.kept) {
    kept_.erase(*entry.kept);
    entry.kept.reset();
    bytes_ -= entry.bytes;
    keptBytesGauge().add(-static_cast<double>(entry.bytes));
  }
  entries_.erase(it);
}

void MissFetcher::keepWithinBytes(SteadyTime now) {
  if (bytes_ <= max_bytes_)
    return;
  // Answers past their stale period first, then the oldest answers.
  for (auto key = kept_.begin(); key != kept_.end() && bytes_ > max_bytes_;) {
    auto it = entries_.find(*key++);
    const Entry& entry = *it->second;
    if (!entry.in_flight && entry.fresh_until <= now &&
        (!entry.lasting || entry.stale_until <= now))
      forget(it);
  }
  while (bytes_ > max_bytes_ && !kept_.empty())
    forget(entries_.find(kept_.front()));
}

uint64_t MissFetcher::upstreamCalls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::chrono::seconds MissFetcher::ttlOf(const ApiPath& path) const {
  if (ttl_override_.count() > 0)
    return ttl_override_;
  return std::max(path.ttl(tier_), std::chrono::seconds(1));
}

net::Reply MissFetcher::ask(const ApiCall& call, const std::string& client) {
  std::promise<net::Reply> answer;
  auto future = answer.get_future();
  askAsync(call, client, [&answer](net::Reply reply) { answer.set_value(std::move(reply)); });
  return future.get();
}

namespace {

ParsedCall parseTarget(std::string_view target) {
  const size_t question = target.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  return parseCall(target.substr(0, question), net::parseQuery(query), query);
}

}  // namespace

net::Reply MissFetcher::ask(std::string_view target, const std::string& client) {
  ParsedCall parsed = parseTarget(target);
  return parsed ? ask(*parsed.call, client) : refusalOf(parsed);
}

void MissFetcher::askAsync(std::string_view target, const std::string& client,
                           std::function<void(net::Reply)> done) {
  ParsedCall parsed = parseTarget(target);
  if (!parsed)
    return done(refusalOf(parsed));
  askAsync(*parsed.call, client, std::move(done));
}

net::Reply MissFetcher::deferred(std::string_view target, std::string client) {
  ParsedCall parsed = parseTarget(target);
  return parsed ? deferred(*parsed.call, std::move(client)) : refusalOf(parsed);
}

net::Reply MissFetcher::deferred(ApiCall call, std::string client) {
  net::Reply reply;
  reply.deferred = [this, call = std::move(call),
                    client = std::move(client)](std::function<void(net::Reply)> done) {
    askAsync(call, client, std::move(done));
  };
  return reply;
}

bool MissFetcher::chargeClient(const std::string& client, SteadyTime now) {
  if (client.empty() || per_client_ <= 0)
    return true;
  auto& starts = client_calls_[client];
  while (!starts.empty() && starts.front() + client_window_ <= now)
    starts.pop_front();
  if (static_cast<int>(starts.size()) >= per_client_)
    return false;
  starts.push_back(now);
  if (client_calls_.size() > kMaxEntries) {  // forget clients idle for a whole window
    std::erase_if(client_calls_, [&](const auto& item) {
      return item.second.empty() || item.second.back() + client_window_ <= now;
    });
  }
  return true;
}

void MissFetcher::refundClient(const std::string& client) {
  if (client.empty() || per_client_ <= 0)
    return;
  auto it = client_calls_.find(client);
  if (it != client_calls_.end() && !it->second.empty())
    it->second.pop_back();
}

net::Reply MissFetcher::clientRefusal(const std::string& client) const {
  static telemetry::Counter& refused = telemetry::metrics().counter(
      "coinrelay_serve_client_share_refusals_total",
      "Upstream calls refused because the client (team or address) used its share of the "
      "on-demand budget (serve.miss_calls_per_client).");
  refused.inc();
  net::Reply reply = errorReply(
      ApiErrorKind::RateLimited,
      fmt::format("You've exceeded your share of coinrelay's upstream calls: {} per minute for "
                  "each {} (serve.miss_calls_per_client); cached answers are still served",
                  per_client_, client.starts_with("team:") ? "team" : "client address"));
  reply.headers.emplace_back(
      "retry-after",
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(client_window_).count()));
  return reply;
}

void MissFetcher::askAsync(const ApiCall& call, const std::string& client,
                           std::function<void(net::Reply)> done) {
  const std::string target = call.target();
  const auto now = clock_.steadyNow();
  std::unique_lock lock(mutex_);
  auto it = entries_.find(target);
  std::shared_ptr<Entry> entry = it == entries_.end() ? nullptr : it->second;
  if (entry && entry->ready && entry->fresh_until > now) {
    net::Reply reply = replyOf(entry->answer);
    lock.unlock();
    countCacheHit(call.path);
    return done(std::move(reply));
  }
  if (entry && entry->ready && entry->lasting && entry->stale_until > now) {
    // Stale while revalidating: this client gets the last answer now, and one call (at most)
    // refreshes it for the next ones.
    net::Reply reply = replyOf(entry->answer);
    if (!entry->in_flight && entry->retry_at <= now && chargeClient(client, now)) {
      entry->in_flight = true;
      jobs_.push_back(Job{target, client, entry});
      work_.notify_one();
    }
    lock.unlock();
    countCacheHit(call.path);
    return done(std::move(reply));
  }
  if (entry && entry->in_flight) {
    entry->waiters.push_back(std::move(done));  // the same call is under way
    return;
  }
  if (jobs_.size() >= kMaxQueued) {
    lock.unlock();
    net::Reply busy = errorReply(ApiErrorKind::UpstreamUnavailable,
                                 "too many distinct queries wait for the upstream; retry later");
    busy.headers.emplace_back("retry-after", "5");
    return done(std::move(busy));
  }
  if (!chargeClient(client, now)) {
    lock.unlock();
    return done(clientRefusal(client));
  }
  if (!entry) {
    if (entries_.size() >= kMaxEntries) {  // forget unusable answers rather than grow forever
      for (auto it = entries_.begin(); it != entries_.end();) {
        const Entry& e = *(it++)->second;
        if (!e.in_flight && e.fresh_until <= now && (!e.lasting || e.stale_until <= now))
          forget(std::prev(it));
      }
    }
    entry = std::make_shared<Entry>();
    entry->path = call.path;
    entries_[target] = entry;
  }
  entry->in_flight = true;
  entry->waiters.push_back(std::move(done));
  jobs_.push_back(Job{target, client, entry});
  lock.unlock();
  work_.notify_one();
}

void MissFetcher::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_)
        return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Answer result;
    bool sent = true;
    if (fetchers_.empty())
      sent = callCoinGecko(job.target, result);
    else
      callFetchRoles(job.target, result);
    if (sent) {
      pathCounter("coinrelay_api_upstream_calls_total",
                  "Upstream calls made for client requests and coinrelay's own lists, by path "
                  "template (forwarded to a fetch role or sent to CoinGecko).",
                  job.entry->path)
          .inc();
    }
    std::vector<std::function<void(net::Reply)>> waiters;
    net::Reply reply;
    {
      std::lock_guard lock(mutex_);
      if (sent && fetchers_.empty())
        ++calls_;
      if (!sent)
        refundClient(job.client);  // nothing was sent: the client's share is not spent
      Entry& entry = *job.entry;
      const auto now = clock_.steadyNow();
      const std::chrono::seconds ttl = entry.path ? ttlOf(*entry.path) : kRefusalTtl;
      if (verdict(result.status, result.body)) {
        entry.answer = std::move(result);
        entry.lasting = true;
        entry.fresh_until = now + ttl;
        entry.stale_until = entry.fresh_until + ttl;
        entry.ready = true;
      } else if (entry.ready && entry.lasting && entry.stale_until > now) {
        entry.retry_at = now + kRefusalTtl;  // the refresh failed: keep serving the last answer
      } else {
        entry.answer = std::move(result);
        entry.lasting = false;
        entry.fresh_until = now + kRefusalTtl;
        entry.ready = true;
      }
      entry.in_flight = false;
      reply = replyOf(entry.answer);
      waiters.swap(entry.waiters);
      keep(job.target, entry);
      keepWithinBytes(now);
    }
    for (auto& waiter : waiters)
      waiter(reply);  // outside the lock: a waiter may ask again
  }
}

bool MissFetcher::callCoinGecko(const std::string& target, Answer& out) {
  const auto timeout = std::chrono::milliseconds(upstream_.timeout_ms);
  if (budget_ != nullptr) {
    auto admitted = budget_->admitOnDemand();
    if (!admitted) {
      const bool standby = admitted.error().code == ErrorCode::FailedPrecondition;
      refuse(out, standby ? ApiErrorKind::UpstreamUnavailable : ApiErrorKind::RateLimited,
             fmt::format("coinrelay cannot call CoinGecko for this request now: {}; retry later, "
                         "or ask the operator to track it (upstream.top_n / upstream.ids)",
                         admitted.error().message));
      out.headers = {{standby ? kStandbyHeader : "retry-after", standby ? "1" : "60"}};
      return false;
    }
  }
  net::HttpRequest request;
  request.url = upstream_.base_url + target;
  request.headers = coingecko::CoinGeckoClient::authHeaders(upstream_.plan, upstream_.api_key);
  request.timeout = timeout;
  net::HttpClient http;
  auto response = http.send(request);
  telemetry::metrics()
      .counter("coinrelay_serve_miss_upstream_calls_total",
               "Upstream calls made to answer queries outside the tracked set.")
      .inc();
  // A pause the upstream asks for holds every request, scheduled ones included; an error
  // answer to one on-demand query says nothing about the upstream's health.
  if (budget_ != nullptr && response && response->status == 429)
    budget_->holdFor(coingecko::CoinGeckoClient::rateLimitPause(*response, clock_.now()));
  if (response && verdict(response->status, response->body)) {
    out.status = response->status;  // CoinGecko's own answer, its errors about the call included
    out.body = std::move(response->body);
    return true;
  }
  if (response && (response->status == 401 || response->status == 403)) {
    // The operator's key or plan is wrong: no client can fix that, and CoinGecko's answer must
    // not reach them as if it were about their query. The log names the settings.
    telemetry::logger("serve")->error(
        "CoinGecko refused coinrelay's credentials (HTTP {}) on an on-demand call: check the key "
        "in COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, and upstream.plan ('{}')",
        response->status, upstream_.plan);
    refuse(out, ApiErrorKind::UpstreamUnavailable,
           "coinrelay's upstream refused its credentials: the operator must check coinrelay's "
           "configuration");
    return true;
  }
  const std::string why = response ? "upstream answered HTTP " + std::to_string(response->status)
                                   : response.error().message;
  telemetry::logger("serve")->warn("on-demand call {} failed: {}", target.substr(0, 200), why);
  refuse(out, ApiErrorKind::UpstreamUnavailable, "upstream unavailable; retry later");
  return true;
}

net::Reply MissFetcher::answerReplica(MissFetcher* relay, const std::string& secret,
                                      const net::Request& request) {
  if (relay == nullptr || secret.empty()) {
    return errorReply(ApiErrorKind::Forbidden,
                      "this fetcher relays no calls for serve replicas: set serve.on_miss = "
                      "fetch and serve.miss_via_secret (COINRELAY_SERVE_MISS_VIA_SECRET) in its "
                      "configuration");
  }
  const std::string_view given = request.header(kSecretHeader);
  // Compared in constant time: the answer's timing tells nothing about the secret.
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < secret.size(); ++i)
    diff |= static_cast<unsigned char>(secret[i] ^ (i < given.size() ? given[i] : 0));
  if (diff != 0) {
    return errorReply(ApiErrorKind::Forbidden,
                      "wrong or missing x-coinrelay-relay-secret: give serve replicas the fetch "
                      "role's serve.miss_via_secret");
  }
  constexpr std::string_view kPrefix = "/v1/upstream";
  net::Request inner = request;
  inner.path = request.path.substr(std::min(request.path.size(), kPrefix.size()));
  inner.target = request.target.substr(std::min(request.target.size(), kPrefix.size()));
  ParsedCall parsed = parseCall(inner);
  if (!parsed)
    return refusalOf(parsed);
  if (parsed.call->path->plan > relay->tier())
    return errorReply(ApiErrorKind::PlanRestricted, "This request is limited Pro API subscribers");
  // The replicas applied their own clients' shares: the fetch role does not limit them again.
  return relay->deferred(*parsed.call, {});
}

void MissFetcher::callFetchRoles(const std::string& target, Answer& out) {
  net::HttpClient http;
  std::string last_error = "no fetch role answered";
  for (const auto& base : fetchers_) {
    net::HttpRequest request;
    request.url = base + "/v1/upstream" + target;
    request.headers = {{kSecretHeader, secret_}};
    // The fetch role may wait for its own upstream call: give it that time and a margin.
    request.timeout = std::chrono::milliseconds(upstream_.timeout_ms) + std::chrono::seconds(5);
    auto response = http.send(request);
    if (!response) {
      last_error = base + ": " + response.error().message;
      continue;
    }
    if (response->header(kStandbyHeader)) {
      last_error = base + " is a standby fetcher";
      continue;
    }
    if (response->status == 401 || response->status == 403) {
      last_error = base + " refused serve.miss_via_secret";
      continue;
    }
    out.status = response->status;
    out.body = std::move(response->body);
    if (auto retry = response->header("retry-after"))
      out.headers = {{"retry-after", std::string(*retry)}};
    else if (response->status == 429)
      out.headers = {{"retry-after", "60"}};
    return;
  }
  telemetry::logger("serve")->warn("on-demand call through serve.miss_via failed: {}", last_error);
  refuse(out, ApiErrorKind::UpstreamUnavailable,
         "no active fetcher reachable for this request (serve.miss_via); retry later");
}

}  // namespace coinrelay::api
