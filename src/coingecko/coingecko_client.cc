#include "coingecko/coingecko_client.h"

#include <charconv>

#include <fmt/format.h>

#include "common/backoff.h"
#include "common/strings.h"
#include "telemetry/logging.h"

namespace coinrelay::coingecko {

namespace {

constexpr int kMaxPerPage = 250;

Error classify(int status, const UpstreamError& detail) {
  const std::string text = detail.error_code != 0 && detail.error_code != status
                               ? fmt::format("HTTP {} (CoinGecko error {}): {}", status,
                                             detail.error_code, detail.message)
                               : fmt::format("HTTP {}: {}", status, detail.message);
  if (detail.error_code == 10010) {
    return makeError(ErrorCode::FailedPrecondition,
                     text +
                         " -- the key is a paid-plan key: set upstream.plan = \"pro\" and "
                         "upstream.base_url = \"https://pro-api.coingecko.com/api/v3\"");
  }
  if (detail.error_code == 10011) {
    return makeError(ErrorCode::FailedPrecondition,
                     text +
                         " -- the key is a Demo key: set upstream.plan = \"demo\" and "
                         "upstream.base_url = \"https://api.coingecko.com/api/v3\"");
  }
  if (status == 429)
    return makeError(ErrorCode::ResourceExhausted, text);
  if (status >= 500 || status == 408)
    return makeError(ErrorCode::Unavailable, text);
  if (status == 401 || status == 403) {
    // Cloudflare's 403 pages are transient blocks; CoinGecko's own 401 means a key problem.
    return makeError(
        detail.message.starts_with("HTML") ? ErrorCode::Unavailable : ErrorCode::FailedPrecondition,
        text);
  }
  return makeError(ErrorCode::InvalidArgument, text);
}

}  // namespace

CoinGeckoClient::CoinGeckoClient(const config::UpstreamConfig& config, const StopSignal& stop)
    : config_(config), stop_(stop), headers_(authHeaders(config.plan, config.api_key)) {
  headers_.emplace_back("Accept", "application/json");
}

net::Headers CoinGeckoClient::authHeaders(const std::string& plan, const std::string& api_key) {
  if (api_key.empty())
    return {};
  if (plan == "pro")
    return {{"x-cg-pro-api-key", api_key}};
  if (plan == "demo")
    return {{"x-cg-demo-api-key", api_key}};
  return {};
}

std::optional<std::chrono::milliseconds> CoinGeckoClient::retryAfter(
    const net::HttpResponse& response, SystemTime now) {
  if (auto value = response.header("retry-after")) {
    int seconds = 0;
    auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
    if (ec == std::errc() && ptr == value->data() + value->size() && seconds >= 0) {
      return std::chrono::seconds(seconds);
    }
  }
  if (auto value = response.header("x-ratelimit-reset")) {
    std::string_view text = trim(*value);
    long long number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    std::optional<int64_t> reset_ms;
    if (ec == std::errc() && ptr == text.data() + text.size()) {
      reset_ms = number > 100'000'000'000LL ? number : number * 1000;  // epoch s or ms
    } else {
      reset_ms = parseIso8601Millis(text);
    }
    if (reset_ms) {
      return std::chrono::milliseconds(std::max<int64_t>(0, *reset_ms - toUnixMillis(now)));
    }
  }
  return std::nullopt;
}

Result<MarketsPage> CoinGeckoClient::fetchTopMarkets(const std::string& vs_currency, int top_n,
                                                     SystemTime deadline) {
  MarketsPage all;
  const int per_page = std::min(top_n, kMaxPerPage);
  const int pages = (top_n + per_page - 1) / per_page;
  for (int page = 1; page <= pages; ++page) {
    const std::string url = fmt::format(
        "{}/coins/markets?vs_currency={}&order=market_cap_desc&per_page={}&page={}&sparkline=false",
        config_.base_url, vs_currency, per_page, page);
    CR_TRY(MarketsPage one, fetchPage(url, vs_currency, deadline));
    if (all.invalid_items == 0 && one.invalid_items > 0) {
      all.first_invalid_reason = one.first_invalid_reason;
    }
    all.invalid_items += one.invalid_items;
    const size_t received = one.quotes.size() + one.invalid_items;
    for (auto& quote : one.quotes) {
      if (static_cast<int>(all.quotes.size()) >= top_n)
        break;
      all.quotes.push_back(std::move(quote));
    }
    if (received < static_cast<size_t>(per_page))
      break;  // the universe ends before top_n
  }
  return all;
}

Result<MarketsPage> CoinGeckoClient::fetchPage(const std::string& url,
                                               const std::string& vs_currency,
                                               SystemTime deadline) {
  auto log = telemetry::logger("upstream");
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(30));
  Error last = makeError(ErrorCode::Unavailable, "no attempt made");
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (stop_.stopped())
      return makeError(ErrorCode::Unavailable, "stopping");
    net::HttpRequest request;
    request.url = url;
    request.headers = headers_;
    request.timeout = std::chrono::milliseconds(config_.timeout_ms);
    const auto now = std::chrono::system_clock::now();
    if (deadline - now < std::chrono::milliseconds(100))
      break;
    request.timeout = std::min(
        request.timeout, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    ++stats_.requests;
    auto response = http_.send(request);
    std::optional<std::chrono::milliseconds> wait;
    if (!response) {
      last = response.error();
    } else if (response->status == 200) {
      auto page = parseCoinsMarkets(response->body, vs_currency,
                                    toUnixMillis(std::chrono::system_clock::now()), parser_);
      if (page) {
        stats_.invalid_items += page->invalid_items;
        return page;
      }
      last = page.error();
    } else {
      last = classify(response->status, describeErrorBody(response->body, parser_));
      if (response->status == 429)
        wait = retryAfter(*response, std::chrono::system_clock::now());
    }
    ++stats_.failures;
    if (!last.retryable() || attempt == config_.max_attempts)
      break;
    const auto pause = std::max(wait.value_or(std::chrono::milliseconds(0)), backoff.next());
    if (std::chrono::system_clock::now() + pause >= deadline) {
      log->warn("upstream failed and the next wait ({} ms) would pass the cycle deadline: {}",
                pause.count(), last.message);
      break;
    }
    log->warn("upstream attempt {}/{} failed, retrying in {} ms: {}", attempt, config_.max_attempts,
              pause.count(), last.message);
    if (stop_.waitFor(pause))
      break;
  }
  return last;
}

}  // namespace coinrelay::coingecko
