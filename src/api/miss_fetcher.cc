#include "api/miss_fetcher.h"

#include "coingecko/api_format.h"
#include "coingecko/coingecko_client.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

MissFetcher::MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
                         int max_calls_per_minute)
    : upstream_(upstream), ttl_(ttl), max_calls_per_minute_(max_calls_per_minute) {}

uint64_t MissFetcher::upstreamCalls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

Reply MissFetcher::ask(const std::string& path_and_query) {
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<Entry> entry;
  bool leader = false;
  {
    std::unique_lock lock(mutex_);
    auto it = entries_.find(path_and_query);
    if (it != entries_.end() && (!it->second->ready || it->second->expires > now)) {
      entry = it->second;
    } else {
      while (!recent_calls_.empty() && now - recent_calls_.front() > std::chrono::minutes(1)) {
        recent_calls_.pop_front();
      }
      if (static_cast<int>(recent_calls_.size()) >= max_calls_per_minute_) {
        auto error = coingecko::statusApiError(
            429, 429,
            "coinrelay's budget for untracked coins is spent for this minute; retry later or ask "
            "the operator to track this coin (upstream.top_n / upstream.ids)");
        Reply reply{429, "application/json", std::move(error.body)};
        reply.headers.emplace_back("retry-after", "60");
        return reply;
      }
      recent_calls_.push_back(now);
      ++calls_;
      entry = std::make_shared<Entry>();
      entries_[path_and_query] = entry;
      leader = true;
    }
    if (!leader) {
      ready_.wait(lock, [&] { return entry->ready; });
      return Reply{entry->status, "application/json", entry->body};
    }
  }
  // The one caller that goes upstream; the others wait on `ready_`.
  net::HttpRequest request;
  request.url = upstream_.base_url + path_and_query;
  request.headers = coingecko::CoinGeckoClient::authHeaders(upstream_.plan, upstream_.api_key);
  request.timeout = std::chrono::milliseconds(upstream_.timeout_ms);
  net::HttpClient http;
  auto response = http.send(request);
  telemetry::metrics()
      .counter("coinrelay_serve_miss_upstream_calls_total",
               "Upstream calls made to answer queries outside the tracked set.")
      .inc();
  std::lock_guard lock(mutex_);
  if (response && (response->status == 200 || (response->status >= 400 && response->status < 500 &&
                                               response->status != 429))) {
    entry->status = response->status;  // CoinGecko's own answer, errors included
    entry->body = std::move(response->body);
    entry->expires = std::chrono::steady_clock::now() + ttl_;
  } else {
    const std::string why = response ? "upstream answered HTTP " + std::to_string(response->status)
                                     : response.error().message;
    telemetry::logger("serve")->warn("on-demand fetch failed: {}", why);
    auto error = coingecko::statusApiError(503, 503, "upstream unavailable for an untracked coin");
    entry->status = 503;
    entry->body = std::move(error.body);
    entry->expires = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  }
  entry->ready = true;
  ready_.notify_all();
  return Reply{entry->status, "application/json", entry->body};
}

}  // namespace coinrelay::api
