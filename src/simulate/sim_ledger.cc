#include "simulate/sim_ledger.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/time_util.h"
#include "simulate/sim_api.h"
#include "simulate/simulator.h"

namespace coinrelay::simulate {

namespace {

constexpr size_t kMaxLog = 500'000;
constexpr size_t kMaxMinutes = 240;

net::Reply json(int status, std::string body) {
  net::Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

net::Reply statusError(int status, int code, std::string_view message) {
  return json(status, statusErrorJson(code, message));
}

/// The key a request carries: a header first, else the query parameter CoinGecko also takes.
std::string_view sentKey(const net::Request& request, std::string_view header,
                         const std::string& param) {
  const std::string_view in_header = request.header(header);
  if (!in_header.empty())
    return in_header;
  auto it = request.query.find(param);
  return it == request.query.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

Plan KeyPolicy::access() const {
  if (key.empty() || plan == "demo")
    return Plan::Demo;
  return plan == "enterprise" ? Plan::Enterprise : Plan::Paid;
}

SimLedger::SimLedger(KeyPolicy keys) : keys_(std::move(keys)) {}

void SimLedger::record(int64_t t_ms, const std::string& path, int status,
                       const net::Request& request) {
  ++requests_;
  log_.push_back(Entry{t_ms, path, status, std::string(request.target)});
  if (log_.size() > kMaxLog)
    log_.pop_front();
  ++per_minute_[t_ms - t_ms % 60'000];
  while (per_minute_.size() > kMaxMinutes)
    per_minute_.erase(per_minute_.begin());
  // Which header carried a key, never the key itself.
  std::string auth = "none";
  if (!request.header("x-cg-pro-api-key").empty())
    auth = "x-cg-pro-api-key";
  else if (!request.header("x-cg-demo-api-key").empty())
    auth = "x-cg-demo-api-key";
  else if (request.query.contains("x_cg_pro_api_key"))
    auth = "x_cg_pro_api_key";
  else if (request.query.contains("x_cg_demo_api_key"))
    auth = "x_cg_demo_api_key";
  ++by_auth_[auth];
}

void SimLedger::serveMarkets(net::Reply& reply, const std::string& vs_currency,
                             double invalid_share, std::mt19937_64& rng) {
  simdjson::padded_string padded(reply.body);
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser_.parse(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_array().get(items) != simdjson::SUCCESS)
    return;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::string out = "[";
  bool changed = false;
  for (simdjson::dom::element item : items) {
    std::string text = simdjson::to_string(item);
    std::string_view id, updated;
    const bool whole = item["id"].get(id) == simdjson::SUCCESS &&
                       item["last_updated"].get(updated) == simdjson::SUCCESS;
    if (invalid_share > 0 && unit(rng) < invalid_share) {
      // A value of the wrong shape, as CoinGecko's data sometimes holds: the client must skip
      // this item and keep the others.
      const size_t at = text.find("\"last_updated\":\"");
      if (at != std::string::npos) {
        text.insert(at + 16, "not a date ");
        changed = true;
      }
    } else if (whole) {
      if (auto ms = parseIso8601Millis(updated)) {
        served_.push_back(fmt::format("{}:{}:{}", id, vs_currency, *ms));
      }
    }
    out += (out.size() > 1 ? "," : "") + text;
  }
  out += "]";
  if (changed)
    reply.body = std::move(out);
}

std::optional<net::Reply> SimLedger::checkKey(const net::Request& request) const {
  if (keys_.key.empty())
    return std::nullopt;
  const std::string_view pro = sentKey(request, "x-cg-pro-api-key", "x_cg_pro_api_key");
  const std::string_view demo = sentKey(request, "x-cg-demo-api-key", "x_cg_demo_api_key");
  const std::string_view sent = !pro.empty() ? pro : demo;
  if (sent.empty()) {
    return statusError(401, 10002,
                       keys_.plan != "demo"
                           ? "API Key Missing. Please make sure you're using the right API Key "
                             "header (x_cg_pro_api_key)"
                           : "API Key Missing. Please make sure you're using the right API Key "
                             "header (x_cg_demo_api_key)");
  }
  if (sent != keys_.key)
    return statusError(401, 10002, "Invalid API Key");
  const bool paid_key = keys_.plan != "demo";
  if (!pro.empty() && !paid_key) {
    return statusError(400, 10011,
                       "If you are using Demo API key, please change your root URL from "
                       "pro-api.coingecko.com to api.coingecko.com");
  }
  if (pro.empty() && paid_key) {
    return statusError(400, 10010,
                       "If you are using Pro API key, please change your root URL from "
                       "api.coingecko.com to pro-api.coingecko.com");
  }
  return std::nullopt;
}

net::Reply SimLedger::keyUsage(const net::Request& request) const {
  if (keys_.access() == Plan::Demo ||
      sentKey(request, "x-cg-pro-api-key", "x_cg_pro_api_key").empty())
    return json(401, planRestrictedJson());
  const auto used = static_cast<int64_t>(requests_);
  std::string body;
  JsonWriter(body)
      .beginObject()
      .field("plan", "Other")
      .field("rate_limit_request_per_minute", keys_.rate_limit_per_minute)
      .field("monthly_call_credit", keys_.monthly_credits)
      .field("current_total_monthly_calls", used)
      .field("current_remaining_monthly_calls", keys_.monthly_credits - used)
      .endObject();
  return json(200, std::move(body));
}

uint64_t SimLedger::maxInWindow(int64_t window_ms, const std::string& prefix) const {
  uint64_t best = 0;
  size_t first = 0;
  std::vector<int64_t> times;
  for (const auto& entry : log_) {
    if (entry.path.starts_with(prefix))
      times.push_back(entry.t_ms);
  }
  for (size_t last = 0; last < times.size(); ++last) {
    while (times[last] - times[first] >= window_ms)
      ++first;
    best = std::max<uint64_t>(best, last - first + 1);
  }
  return best;
}

void SimLedger::writeStats(JsonWriter& w) const {
  uint64_t max_minute = 0;
  w.key("per_minute").beginObject();
  for (const auto& [minute, count] : per_minute_) {
    w.field(formatIso8601Millis(minute).substr(0, 16), static_cast<int64_t>(count));
    max_minute = std::max(max_minute, count);
  }
  w.endObject();
  w.field("max_per_minute", static_cast<int64_t>(max_minute));
  w.field("max_per_60s", static_cast<int64_t>(maxInWindow(60'000)));
  w.key("auth").beginObject();
  for (const auto& [header, count] : by_auth_)
    w.field(header, static_cast<int64_t>(count));
  w.endObject();
  w.field("served_observations", static_cast<int64_t>(served_.size()));
}

std::optional<net::Reply> SimLedger::control(const net::Request& request, FaultOptions& faults) {
  if (request.path == "/_sim/requests") {
    // [[t_ms, status, target], ...] of the requests to one path (default: every /api/v3 path);
    // the target is the path and query as received, to check what a relay sent.
    const std::string prefix = request.param("path", "/api/v3/");
    const int64_t since = std::atoll(request.param("since_ms", "0").c_str());
    std::string body;
    JsonWriter w(body);
    w.beginArray();
    for (const auto& entry : log_) {
      if (entry.t_ms < since || !entry.path.starts_with(prefix))
        continue;
      w.beginArray().value(entry.t_ms).value(entry.status).value(entry.target).endArray();
    }
    w.endArray();
    return json(200, std::move(body));
  }
  if (request.path == "/_sim/served") {
    std::string body;
    JsonWriter w(body);
    w.beginArray();
    for (const auto& key : served_)
      w.value(key);
    w.endArray();
    return json(200, std::move(body));
  }
  if (request.path == "/_sim/faults" && request.method == "POST") {
    // Changes the fault shares at run time, e.g. to end a test with a quiet upstream.
    auto share = [&](const char* name, double& value) {
      const std::string text = request.param(name);
      if (!text.empty())
        value = std::clamp(std::atof(text.c_str()), 0.0, 1.0);
    };
    share("rate_limited", faults.rate_limited);
    share("server_error", faults.server_error);
    share("html", faults.html);
    share("truncated", faults.truncated);
    share("invalid_items", faults.invalid_items);
    if (const std::string text = request.param("latency_ms"); !text.empty())
      faults.latency_ms = std::max(0, std::atoi(text.c_str()));
    return json(200, R"({"faults":"updated"})");
  }
  return std::nullopt;
}

void SimLedger::reset() {
  log_.clear();
  per_minute_.clear();
  by_auth_.clear();
  served_.clear();
  requests_ = 0;
}

}  // namespace coinrelay::simulate
