#include "api/miss_fetcher.h"

#include <future>

#include <fmt/format.h>

#include "api/api_error.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// Refused answers (budget, upstream down) are kept this long, so a burst of clients does not
/// turn into a burst of attempts, yet the next minute's budget is used.
constexpr std::chrono::seconds kRefusalTtl{5};
/// Distinct queries waiting for a worker at most; more are refused at once, not queued.
constexpr size_t kMaxQueued = 1000;

telemetry::Gauge& keptBytesGauge() {
  static telemetry::Gauge& gauge = telemetry::metrics().gauge(
      "coinrelay_miss_cache_bytes", "Bytes of the on-demand answers kept for serve.miss_ttl_s.");
  return gauge;
}

telemetry::Gauge& maxBytesGauge() {
  static telemetry::Gauge& gauge =
      telemetry::metrics().gauge("coinrelay_miss_cache_max_bytes",
                                 "The bound of the on-demand answers kept (serve.miss_cache_mib).");
  return gauge;
}

/// An answer CoinGecko gave about the query itself (a result, or an error in the request), to
/// relay as it is and keep for the TTL; 429 and 5xx say something about the moment instead.
bool coinGeckoVerdict(int status) {
  return status == 200 || (status >= 400 && status < 500 && status != 429);
}

net::Reply replyOf(int status, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
  net::Reply reply{status, "application/json", body};
  reply.headers = headers;
  return reply;
}

/// Makes a cache entry coinrelay's own refusal (api_error.h).
template <class Entry>
void refuse(Entry& entry, ApiErrorKind kind, std::string_view message) {
  net::Reply reply = errorReply(kind, message);
  entry.status = reply.status;
  entry.body = std::move(reply.body);
}

}  // namespace

MissFetcher::MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
                         const Clock& clock)
    : upstream_(upstream), ttl_(ttl), clock_(clock) {
  maxBytesGauge().add(static_cast<double>(max_bytes_));
  for (int i = 0; i < kWorkers; ++i)
    workers_.emplace_back([this] { work(); });
}

std::unique_ptr<MissFetcher> MissFetcher::fromConfig(const config::Config& config,
                                                     const Clock& clock) {
  if (config.serve.on_miss != "fetch")
    return nullptr;
  auto fetcher = std::make_unique<MissFetcher>(
      config.upstream, std::chrono::seconds(config.serve.miss_ttl_s), clock);
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
  keepWithinBytes();
}

void MissFetcher::keep(const std::string& key, Entry& entry) {
  constexpr size_t kOverhead = 256;  // map and list nodes, the entry, its shared_ptr block
  entry.bytes = kOverhead + 2 * key.size() + entry.body.size();
  for (const auto& [name, value] : entry.headers)
    entry.bytes += name.size() + value.size();
  entry.kept = kept_.insert(kept_.end(), key);
  bytes_ += entry.bytes;
  keptBytesGauge().add(static_cast<double>(entry.bytes));
}

void MissFetcher::forget(std::map<std::string, std::shared_ptr<Entry>>::iterator it) {
  Entry& entry = *it->second;
  if (entry.kept) {
    kept_.erase(*entry.kept);
    bytes_ -= entry.bytes;
    keptBytesGauge().add(-static_cast<double>(entry.bytes));
  }
  entries_.erase(it);
}

void MissFetcher::keepWithinBytes() {
  // With one TTL for answers, the oldest kept answer expires first; refusals live shorter still.
  while (bytes_ > max_bytes_ && !kept_.empty())
    forget(entries_.find(kept_.front()));
}

uint64_t MissFetcher::upstreamCalls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

bool MissFetcher::forwardable(std::string_view path_and_query) {
  const std::string_view path = path_and_query.substr(0, path_and_query.find('?'));
  return path == "/simple/price" || path == "/coins/markets" ||
         path == "/simple/supported_vs_currencies" || path == "/coins/list";
}

net::Reply MissFetcher::ask(const std::string& path_and_query) {
  std::promise<net::Reply> answer;
  auto future = answer.get_future();
  askAsync(path_and_query, [&answer](net::Reply reply) { answer.set_value(std::move(reply)); });
  return future.get();
}

net::Reply MissFetcher::deferred(std::string path_and_query) {
  net::Reply reply;
  reply.deferred = [this, path = std::move(path_and_query)](std::function<void(net::Reply)> done) {
    askAsync(path, std::move(done));
  };
  return reply;
}

void MissFetcher::askAsync(const std::string& path_and_query,
                           std::function<void(net::Reply)> done) {
  const auto now = clock_.steadyNow();
  std::unique_lock lock(mutex_);
  auto it = entries_.find(path_and_query);
  if (it != entries_.end() && !it->second->ready) {
    it->second->waiters.push_back(std::move(done));  // the same call is under way
    return;
  }
  if (it != entries_.end() && it->second->expires > now) {
    net::Reply reply = replyOf(it->second->status, it->second->body, it->second->headers);
    lock.unlock();
    return done(std::move(reply));
  }
  if (jobs_.size() >= kMaxQueued) {
    lock.unlock();
    net::Reply busy = errorReply(ApiErrorKind::UpstreamUnavailable,
                                 "too many untracked queries wait for the upstream; retry later");
    busy.headers.emplace_back("retry-after", "5");
    return done(std::move(busy));
  }
  if (it != entries_.end())
    forget(it);  // expired
  auto entry = std::make_shared<Entry>();
  entry->waiters.push_back(std::move(done));
  entries_[path_and_query] = entry;
  jobs_.emplace_back(path_and_query, entry);
  lock.unlock();
  work_.notify_one();
}

void MissFetcher::work() {
  for (;;) {
    std::pair<std::string, std::shared_ptr<Entry>> job;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_)
        return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Entry result;
    bool sent = false;
    if (fetchers_.empty())
      sent = callCoinGecko(job.first, result);
    else
      callFetchRoles(job.first, result);
    std::vector<std::function<void(net::Reply)>> waiters;
    net::Reply reply = replyOf(result.status, result.body, result.headers);
    {
      std::lock_guard lock(mutex_);
      if (sent)
        ++calls_;
      Entry& entry = *job.second;
      const bool lasting = coinGeckoVerdict(result.status);
      entry.status = result.status;
      entry.body = std::move(result.body);
      entry.headers = std::move(result.headers);
      entry.expires = clock_.steadyNow() + (lasting ? ttl_ : kRefusalTtl);
      entry.ready = true;
      waiters.swap(entry.waiters);
      keep(job.first, entry);
      keepWithinBytes();
    }
    for (auto& waiter : waiters)
      waiter(reply);  // outside the lock: a waiter may ask again
  }
}

bool MissFetcher::callCoinGecko(const std::string& path_and_query, Entry& entry) {
  const auto timeout = std::chrono::milliseconds(upstream_.timeout_ms);
  if (budget_ != nullptr) {
    auto admitted = budget_->admitOnDemand();
    if (!admitted) {
      const bool standby = admitted.error().code == ErrorCode::FailedPrecondition;
      refuse(entry, standby ? ApiErrorKind::UpstreamUnavailable : ApiErrorKind::RateLimited,
             fmt::format("coinrelay cannot fetch this untracked coin now: {}; retry later or ask "
                         "the operator to track it (upstream.top_n / upstream.ids)",
                         admitted.error().message));
      entry.headers = {{standby ? kStandbyHeader : "retry-after", standby ? "1" : "60"}};
      return false;
    }
  }
  net::HttpRequest request;
  request.url = upstream_.base_url + path_and_query;
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
  if (response && (response->status == 401 || response->status == 403)) {
    // The operator's key or plan is wrong: no client can fix that, and CoinGecko's answer
    // must not reach them as if it were about their query.
    telemetry::logger("serve")->error(
        "CoinGecko refused coinrelay's credentials (HTTP {}) on an on-demand fetch: check the "
        "key in COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file, and upstream.plan ('{}')",
        response->status, upstream_.plan);
    refuse(entry, ApiErrorKind::UpstreamUnavailable,
           "coinrelay's upstream refused its credentials: the operator must check coinrelay's "
           "configuration");
    return true;
  }
  if (response && coinGeckoVerdict(response->status)) {
    entry.status = response->status;  // CoinGecko's own answer, errors included
    entry.body = std::move(response->body);
    return true;
  }
  const std::string why = response ? "upstream answered HTTP " + std::to_string(response->status)
                                   : response.error().message;
  telemetry::logger("serve")->warn("on-demand fetch failed: {}", why);
  refuse(entry, ApiErrorKind::UpstreamUnavailable, "upstream unavailable for an untracked coin");
  return true;
}

void MissFetcher::callFetchRoles(const std::string& path_and_query, Entry& entry) {
  net::HttpClient http;
  std::string last_error = "no fetch role answered";
  for (const auto& base : fetchers_) {
    net::HttpRequest request;
    request.url = base + "/v1/upstream" + path_and_query;
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
    entry.status = response->status;
    entry.body = std::move(response->body);
    if (response->status == 429)
      entry.headers = {{"retry-after", "60"}};
    return;
  }
  telemetry::logger("serve")->warn("on-demand fetch through serve.miss_via failed: {}", last_error);
  refuse(entry, ApiErrorKind::UpstreamUnavailable,
         "no active fetcher reachable for an untracked coin (serve.miss_via)");
}

}  // namespace coinrelay::api
