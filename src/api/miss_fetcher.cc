#include "api/miss_fetcher.h"

#include <fmt/format.h>

#include "coingecko/api_format.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// Refused answers (budget, upstream down) are kept this long, so a burst of clients does not
/// turn into a burst of attempts, yet the next minute's budget is used.
constexpr std::chrono::seconds kRefusalTtl{5};

Reply replyOf(int status, const std::string& body,
              const std::vector<std::pair<std::string, std::string>>& headers) {
  Reply reply{status, "application/json", body};
  reply.headers = headers;
  return reply;
}

}  // namespace

MissFetcher::MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
                         int max_calls_per_minute)
    : upstream_(upstream), ttl_(ttl), max_calls_per_minute_(max_calls_per_minute) {}

uint64_t MissFetcher::upstreamCalls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

bool MissFetcher::forwardable(std::string_view path_and_query) {
  const std::string_view path = path_and_query.substr(0, path_and_query.find('?'));
  return path == "/simple/price" || path == "/coins/markets" ||
         path == "/simple/supported_vs_currencies" || path == "/coins/list";
}

Reply MissFetcher::ask(const std::string& path_and_query) {
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock lock(mutex_);
    auto it = entries_.find(path_and_query);
    if (it != entries_.end() && (!it->second->ready || it->second->expires > now)) {
      entry = it->second;
      ready_.wait(lock, [&] { return entry->ready; });
      return replyOf(entry->status, entry->body, entry->headers);
    }
    while (!recent_calls_.empty() && now - recent_calls_.front() > std::chrono::minutes(1))
      recent_calls_.pop_front();
    if (static_cast<int>(recent_calls_.size()) >= max_calls_per_minute_) {
      auto error = coingecko::statusApiError(
          429, 429,
          "coinrelay's budget for untracked coins is spent for this minute "
          "(serve.miss_calls_per_minute); retry later or ask the operator to track this coin "
          "(upstream.top_n / upstream.ids)");
      return replyOf(429, error.body, {{"retry-after", "60"}});
    }
    recent_calls_.push_back(now);
    entry = std::make_shared<Entry>();
    entries_[path_and_query] = entry;
  }
  // The one caller that goes upstream; the others wait on `ready_`.
  Entry result;
  const bool sent = call(path_and_query, result);
  std::lock_guard lock(mutex_);
  if (sent)
    ++calls_;
  const bool lasting =
      result.status == 200 || (result.status >= 400 && result.status < 500 && result.status != 429);
  result.expires = std::chrono::steady_clock::now() + (lasting ? ttl_ : kRefusalTtl);
  result.ready = true;
  *entry = std::move(result);
  ready_.notify_all();
  return replyOf(entry->status, entry->body, entry->headers);
}

bool MissFetcher::call(const std::string& path_and_query, Entry& entry) {
  return fetchers_.empty() ? callCoinGecko(path_and_query, entry)
                           : callFetchRoles(path_and_query, entry);
}

bool MissFetcher::callCoinGecko(const std::string& path_and_query, Entry& entry) {
  const auto timeout = std::chrono::milliseconds(upstream_.timeout_ms);
  if (gate_ != nullptr) {
    auto admitted = gate_->admit(std::chrono::system_clock::now() + timeout);
    if (!admitted) {
      const bool standby = admitted.error().code == ErrorCode::FailedPrecondition;
      entry.status = standby ? 503 : 429;
      entry.body = coingecko::statusApiError(
                       entry.status, entry.status,
                       fmt::format("coinrelay cannot fetch this untracked coin now: {}; retry "
                                   "later or ask the operator to track it (upstream.top_n / "
                                   "upstream.ids)",
                                   admitted.error().message))
                       .body;
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
  if (gate_ != nullptr) {
    std::optional<std::chrono::milliseconds> pause;
    if (response && response->status == 429)
      pause =
          coingecko::CoinGeckoClient::rateLimitPause(*response, std::chrono::system_clock::now());
    gate_->settle(response ? response->status : 0, pause);
  }
  if (response && (response->status == 200 || (response->status >= 400 && response->status < 500 &&
                                               response->status != 429))) {
    entry.status = response->status;  // CoinGecko's own answer, errors included
    entry.body = std::move(response->body);
    return true;
  }
  const std::string why = response ? "upstream answered HTTP " + std::to_string(response->status)
                                   : response.error().message;
  telemetry::logger("serve")->warn("on-demand fetch failed: {}", why);
  entry.status = 503;
  entry.body =
      coingecko::statusApiError(503, 503, "upstream unavailable for an untracked coin").body;
  return true;
}

bool MissFetcher::callFetchRoles(const std::string& path_and_query, Entry& entry) {
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
    return true;
  }
  telemetry::logger("serve")->warn("on-demand fetch through serve.miss_via failed: {}", last_error);
  entry.status = 503;
  entry.body = coingecko::statusApiError(503, 503,
                                         "no active fetcher reachable for an untracked coin "
                                         "(serve.miss_via)")
                   .body;
  return false;
}

}  // namespace coinrelay::api
