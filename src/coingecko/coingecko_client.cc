#include "coingecko/coingecko_client.h"

#include <charconv>

#include <fmt/format.h>

#include "common/backoff.h"
#include "common/json_read.h"
#include "common/strings.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::coingecko {

namespace {

/// Below this, a request could not complete before the deadline anyway; not sending it saves a
/// credit and keeps the cycle from overrunning into the next.
constexpr std::chrono::milliseconds kMinRequestTime{250};

Error classify(int status, const UpstreamError& detail) {
  const std::string text = detail.error_code != 0 && detail.error_code != status
                               ? fmt::format("HTTP {} (CoinGecko error {}): {}", status,
                                             detail.error_code, detail.message)
                               : fmt::format("HTTP {}: {}", status, detail.message);
  if (detail.error_code == 10010) {
    return makeError(ErrorCode::FailedPrecondition,
                     text +
                         " -- the key is a paid-plan key: set upstream.plan to your paid plan "
                         "(basic, analyst, lite, pro or enterprise) and leave upstream.base_url "
                         "at its default (https://pro-api.coingecko.com/api/v3)");
  }
  if (detail.error_code == 10011) {
    return makeError(ErrorCode::FailedPrecondition,
                     text +
                         " -- the key is a Demo key: set upstream.plan = \"demo\" and "
                         "upstream.base_url = \"https://api.coingecko.com/api/v3\"");
  }
  if (detail.error_code == 10002) {
    return makeError(ErrorCode::FailedPrecondition,
                     text +
                         " -- set the key in COINRELAY_UPSTREAM_API_KEY or "
                         "upstream.api_key_file, with the matching upstream.plan");
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

telemetry::Counter& requestCounter(const char* endpoint, int status) {
  return telemetry::metrics().counter(
      "coinrelay_upstream_requests_total",
      "Upstream requests sent, retries included, by endpoint and HTTP status (0: no response)",
      {{"endpoint", endpoint}, {"status", std::to_string(status)}});
}

}  // namespace

CoinGeckoClient::CoinGeckoClient(const config::UpstreamConfig& config, const StopSignal& stop,
                                 const Clock& clock)
    : config_(config),
      stop_(stop),
      clock_(clock),
      headers_(authHeaders(config.plan, config.api_key)) {
  headers_.emplace_back("Accept", "application/json");
}

net::Headers CoinGeckoClient::authHeaders(const std::string& plan, const std::string& api_key) {
  if (api_key.empty() || plan == "public")
    return {};
  if (plan == "demo")
    return {{"x-cg-demo-api-key", api_key}};
  return {{"x-cg-pro-api-key", api_key}};  // every paid plan
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

std::chrono::milliseconds CoinGeckoClient::rateLimitPause(const net::HttpResponse& response,
                                                          SystemTime now) {
  if (auto wait = retryAfter(response, now))
    return *wait;
  const int64_t ms = toUnixMillis(now);
  return std::chrono::milliseconds(60'000 - ms % 60'000);
}

Result<KeyUsage> CoinGeckoClient::parseKeyUsage(std::string_view body,
                                                simdjson::dom::parser& parser) {
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return makeError(ErrorCode::DataLoss,
                     "the /key answer is not a JSON object: " + excerpt(body, 80));
  }
  std::string type_error;
  KeyUsage usage;
  usage.plan = std::string(json::optionalString(obj, "plan", &type_error).value_or(""));
  usage.rate_limit_per_minute =
      json::optionalInteger(obj, "rate_limit_request_per_minute", &type_error).value_or(0);
  usage.monthly_credits =
      json::optionalInteger(obj, "monthly_call_credit", &type_error).value_or(0);
  auto used = json::optionalInteger(obj, "current_total_monthly_calls", &type_error);
  auto remaining = json::optionalInteger(obj, "current_remaining_monthly_calls", &type_error);
  if (!used && !remaining) {
    return makeError(ErrorCode::DataLoss,
                     "the /key answer has no current_total_monthly_calls: " + excerpt(body, 80));
  }
  usage.used = used.value_or(usage.monthly_credits - remaining.value_or(0));
  usage.remaining = remaining.value_or(usage.monthly_credits - usage.used);
  return usage;
}

Result<net::HttpResponse> CoinGeckoClient::send(const std::string& url, const char* endpoint,
                                                SystemTime deadline) {
  const auto now = clock_.now();
  net::HttpRequest request;
  request.url = url;
  request.headers = headers_;
  request.timeout =
      std::min(std::chrono::milliseconds(config_.timeout_ms),
               std::max(kMinRequestTime, std::chrono::duration_cast<Millis>(deadline - now)));
  ++stats_.requests;
  auto response = http_.send(request);
  const int status = response ? response->status : 0;
  requestCounter(endpoint, status).inc();
  if (gate_ != nullptr) {
    std::optional<std::chrono::milliseconds> pause;
    if (status == 429)
      pause = rateLimitPause(*response, clock_.now());
    gate_->settle(status, pause);
  }
  return response;
}

Result<KeyUsage> CoinGeckoClient::fetchKeyUsage(SystemTime deadline) {
  if (gate_ != nullptr)
    CR_RETURN_IF_ERROR(gate_->admit(deadline - kMinRequestTime));
  auto response = send(config_.base_url + "/key", "key", deadline);
  if (!response)
    return response.error();
  if (response->status != 200)
    return classify(response->status, describeErrorBody(response->body, parser_));
  return parseKeyUsage(response->body, parser_);
}

template <class Parse>
auto CoinGeckoClient::fetch(const std::string& path, const char* endpoint, SystemTime deadline,
                            Parse parse) -> decltype(parse(std::string_view())) {
  auto log = telemetry::logger("upstream");
  const std::string url = config_.base_url + path;
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(30));
  Error last = makeError(ErrorCode::Unavailable, "no attempt made before the cycle deadline");
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (stop_.stopped())
      return makeError(ErrorCode::Unavailable, "stopping");
    if (deadline - clock_.now() < kMinRequestTime)
      break;
    if (gate_ != nullptr) {
      // Not admitted (no rate slot in time, budget, leadership): nothing is sent, and waiting
      // cannot help within this cycle.
      if (auto admitted = gate_->admit(deadline - kMinRequestTime); !admitted) {
        last = admitted.error();
        break;
      }
    }
    auto response = send(url, endpoint, deadline);
    std::optional<std::chrono::milliseconds> wait;
    if (!response) {
      last = response.error();
    } else if (response->status == 200) {
      auto parsed = parse(std::string_view(response->body));
      if (parsed) {
        stats_.invalid_items += parsed->invalid_items;
        return parsed;
      }
      last = parsed.error();
    } else {
      last = classify(response->status, describeErrorBody(response->body, parser_));
      if (response->status == 429)
        wait = rateLimitPause(*response, clock_.now());
    }
    ++stats_.failures;
    if (!last.retryable() || attempt == config_.max_attempts)
      break;
    const auto pause = std::max(wait.value_or(std::chrono::milliseconds(0)), backoff.next());
    if (clock_.now() + pause + kMinRequestTime >= deadline) {
      log->warn("upstream failed and the next wait ({} ms) would pass the cycle deadline: {}",
                pause.count(), last.message);
      break;
    }
    log->warn("upstream attempt {}/{} failed, retrying in {} ms: {}", attempt, config_.max_attempts,
              pause.count(), last.message);
    if (clock_.sleepFor(pause, stop_))
      break;
  }
  return last;
}

Result<MarketsPage> CoinGeckoClient::fetchMarkets(const std::string& path,
                                                  const std::string& vs_currency,
                                                  SystemTime deadline) {
  return fetch(path, "coins/markets", deadline, [&](std::string_view body) {
    return parseCoinsMarkets(body, vs_currency, toUnixMillis(clock_.now()), parser_);
  });
}

Result<PricesPage> CoinGeckoClient::fetchPrices(const std::string& path,
                                                const std::vector<std::string>& vs_currencies,
                                                SystemTime deadline) {
  return fetch(path, "simple/price", deadline, [&](std::string_view body) {
    return parseSimplePrice(body, vs_currencies, toUnixMillis(clock_.now()), parser_);
  });
}

Result<CoinsList> CoinGeckoClient::fetchCoinsList(const std::string& path, SystemTime deadline) {
  return fetch(path, "coins/list", deadline,
               [&](std::string_view body) { return parseCoinsList(body, parser_); });
}

}  // namespace coinrelay::coingecko
