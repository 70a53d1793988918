#include "api/miss_fetcher.h"

#include <future>

#include <fmt/format.h>

#include "api/api_error.h"
#include "api/chart_routes.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// Refused answers (budget, upstream down) are kept this long, so a burst of clients does not
/// turn into a burst of attempts, yet the next minute's budget is used.
constexpr std::chrono::seconds kRefusalTtl{5};
constexpr size_t kMaxEntries = 10'000;

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
  for (int i = 0; i < kWorkers; ++i)
    workers_.emplace_back([this] { work(); });
}

std::unique_ptr<MissFetcher> MissFetcher::fromConfig(const config::Config& config,
                                                     const Clock& clock) {
  if (config.serve.on_miss != "fetch")
    return nullptr;
  return std::make_unique<MissFetcher>(config.upstream,
                                       std::chrono::seconds(config.serve.miss_ttl_s), clock);
}

MissFetcher::~MissFetcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& worker : workers_)
    worker.join();
}

uint64_t MissFetcher::upstreamCalls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

bool MissFetcher::forwardable(std::string_view path_and_query) {
  const std::string_view path = path_and_query.substr(0, path_and_query.find('?'));
  if (path.starts_with("/coins/") && ChartRoutes::routeOf("/api/v3" + std::string(path)))
    return true;  // market_chart and ohlc before coinrelay's history
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
  if (entries_.size() >= kMaxEntries) {  // forget expired answers rather than grow forever
    std::erase_if(entries_, [&](const auto& item) {
      return item.second->ready && item.second->expires <= now;
    });
  }
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
