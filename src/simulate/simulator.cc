#include "simulate/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay::simulate {

namespace {

constexpr const char* kRateLimitBody =
    R"({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}})";
constexpr const char* kCloudflareHtml =
    "<!DOCTYPE html>\n<html><head><title>Access denied | api.coingecko.com used Cloudflare to "
    "restrict access</title></head>\n<body><h1>Error 1020</h1><p>Access denied</p></body></html>\n";

int64_t nowMs() {
  return toUnixMillis(std::chrono::system_clock::now());
}

/// Rounds to `digits` significant digits, as CoinGecko's prices look.
double roundSignificant(double value, int digits) {
  if (value == 0 || !std::isfinite(value))
    return value;
  const double scale =
      std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(value)))));
  return std::round(value * scale) / scale;
}

api::Reply jsonReply(int status, std::string body) {
  api::Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

api::Reply flatError(int status, std::string_view message) {
  std::string body;
  JsonWriter(body).beginObject().field("error", message).endObject();
  return jsonReply(status, std::move(body));
}

bool flag(const api::Request& request, const char* name) {
  return toLower(request.param(name)) == "true";
}

}  // namespace

Simulator::Simulator(const MarketOptions& market, const FaultOptions& faults)
    : market_(market), faults_(faults), fault_rng_(faults.seed) {}

void Simulator::count(const std::string& path, int status) {
  ++requests_total_;
  ++by_path_[path][status];
}

std::optional<api::Reply> Simulator::injectFault(const std::string& body) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double roll = unit(fault_rng_);
  if ((roll -= faults_.rate_limited) < 0) {
    api::Reply reply = jsonReply(429, kRateLimitBody);
    reply.headers.emplace_back("retry-after", std::to_string(faults_.retry_after_s));
    return reply;
  }
  if ((roll -= faults_.server_error) < 0) {
    return jsonReply(503, R"({"error":"Service Unavailable"})");
  }
  if ((roll -= faults_.html) < 0) {
    api::Reply reply;
    reply.status = 403;
    reply.content_type = "text/html; charset=UTF-8";
    reply.body = kCloudflareHtml;
    return reply;
  }
  if ((roll -= faults_.truncated) < 0)
    return jsonReply(200, body.substr(0, body.size() / 2));
  return std::nullopt;
}

api::Reply Simulator::handle(const api::Request& request) {
  std::lock_guard lock(mutex_);
  if (request.path.starts_with("/_sim/"))
    return control(request);
  market_.advanceTo(nowMs());
  api::Reply reply;
  if (request.path == "/api/v3/ping") {
    reply = jsonReply(200, R"({"gecko_says":"(V3) To the Moon!"})");
  } else if (request.path == "/api/v3/coins/markets") {
    reply = coinsMarkets(request);
  } else if (request.path == "/api/v3/simple/price") {
    reply = simplePrice(request);
  } else if (request.path == "/api/v3/simple/supported_vs_currencies") {
    std::string body;
    JsonWriter w(body);
    w.beginArray();
    for (const auto& currency : supportedVsCurrencies())
      w.value(currency);
    w.endArray();
    reply = jsonReply(200, std::move(body));
  } else {
    reply = flatError(404, "Incorrect path. Please check https://www.coingecko.com/api/");
  }
  if (reply.status == 200 && request.path.starts_with("/api/v3/")) {
    if (auto fault = injectFault(reply.body))
      reply = std::move(*fault);
  }
  reply.delay = std::chrono::milliseconds(faults_.latency_ms);
  count(request.path, reply.status);
  return reply;
}

api::Reply Simulator::coinsMarkets(const api::Request& request) {
  const std::string vs = toLower(request.param("vs_currency"));
  if (vs.empty())
    return flatError(400, "Missing parameter vs_currency");
  const auto rate = usdRate(market_, vs);
  if (!rate)
    return flatError(400, "invalid vs_currency");
  const std::string order = request.param("order", "market_cap_desc");
  static const std::set<std::string> kOrders = {"market_cap_desc", "market_cap_asc", "volume_desc",
                                                "volume_asc",      "id_asc",         "id_desc"};
  if (!kOrders.contains(order))
    return flatError(400, "invalid order");
  const long per_page = std::clamp(std::atol(request.param("per_page", "100").c_str()), 1L, 250L);
  const long page = std::max(1L, std::atol(request.param("page", "1").c_str()));

  std::vector<const SimCoin*> selected;
  const std::string ids = request.param("ids");
  if (!ids.empty()) {
    std::set<std::string> wanted;
    for (const auto& id : splitCsv(toLower(ids)))
      wanted.insert(id);
    for (const auto& coin : market_.ranked()) {
      if (wanted.contains(coin.id))
        selected.push_back(&coin);
    }
  } else {
    for (const auto& coin : market_.ranked())
      selected.push_back(&coin);
  }
  auto by = [&](auto key, bool ascending) {
    std::stable_sort(selected.begin(), selected.end(), [&](const SimCoin* a, const SimCoin* b) {
      return ascending ? key(a) < key(b) : key(b) < key(a);
    });
  };
  if (order == "market_cap_asc")
    by([](const SimCoin* c) { return c->marketCap(); }, true);
  if (order == "volume_desc")
    by([](const SimCoin* c) { return c->marketCap() * c->volume_ratio; }, false);
  if (order == "volume_asc")
    by([](const SimCoin* c) { return c->marketCap() * c->volume_ratio; }, true);
  if (order == "id_asc")
    by([](const SimCoin* c) { return c->id; }, true);
  if (order == "id_desc")
    by([](const SimCoin* c) { return c->id; }, false);

  std::string body;
  JsonWriter w(body);
  w.beginArray();
  const size_t first = static_cast<size_t>((page - 1) * per_page);
  for (size_t i = first; i < selected.size() && i < first + static_cast<size_t>(per_page); ++i) {
    const SimCoin& c = *selected[i];
    const double price = roundSignificant(c.price * *rate, 7);
    const double open = c.open_24h * *rate;
    const double market_cap = std::round(c.marketCap() * *rate);
    const double open_cap = open * c.circulating_supply;
    w.beginObject()
        .field("id", c.id)
        .field("symbol", c.symbol)
        .field("name", c.name)
        .field("image",
               fmt::format("https://coin-images.coingecko.com/coins/images/{}/large/{}.png",
                           c.image_number, c.id))
        .field("current_price", price)
        .field("market_cap", market_cap)
        .field("market_cap_rank", c.market_cap_rank)
        .field("fully_diluted_valuation",
               std::round(c.price * *rate * c.max_supply.value_or(c.total_supply)))
        .field("total_volume", std::round(market_cap * c.volume_ratio))
        .field("high_24h", roundSignificant(c.high_24h * *rate, 7))
        .field("low_24h", roundSignificant(c.low_24h * *rate, 7))
        .field("price_change_24h", roundSignificant(price - open, 6))
        .field("price_change_percentage_24h", roundSignificant((price / open - 1.0) * 100.0, 6))
        .field("market_cap_change_24h", std::round(market_cap - open_cap))
        .field("market_cap_change_percentage_24h",
               roundSignificant((market_cap / open_cap - 1.0) * 100.0, 6))
        .field("circulating_supply", c.circulating_supply)
        .field("total_supply", c.total_supply)
        .field("max_supply", c.max_supply)
        .field("ath", roundSignificant(c.ath * *rate, 7))
        .field("ath_change_percentage", roundSignificant((c.price / c.ath - 1.0) * 100.0, 6))
        .field("ath_date", "2021-11-10T14:24:19.604Z")
        .field("atl", roundSignificant(c.atl * *rate, 7))
        .field("atl_change_percentage", roundSignificant((c.price / c.atl - 1.0) * 100.0, 6))
        .field("atl_date", "2015-10-20T00:00:00.000Z")
        .key("roi");
    if (c.id == "ethereum") {
      w.beginObject()
          .field("times", 63.51804113920761)
          .field("currency", "btc")
          .field("percentage", 6351.804113920761)
          .endObject();
    } else {
      w.null();
    }
    w.field("last_updated", formatIso8601Millis(c.last_updated_ms)).endObject();
  }
  w.endArray();
  return jsonReply(200, std::move(body));
}

api::Reply Simulator::simplePrice(const api::Request& request) {
  const std::string ids = request.param("ids");
  const std::string currencies = request.param("vs_currencies");
  if (currencies.empty())
    return flatError(400, "Missing parameter vs_currencies");
  if (ids.empty())
    return flatError(400, "Missing parameter ids");
  std::vector<std::pair<std::string, double>> rates;
  for (const auto& vs : splitCsv(toLower(currencies))) {
    auto rate = usdRate(market_, vs);
    if (!rate)
      return flatError(400, "invalid vs_currency");
    rates.emplace_back(vs, *rate);
  }
  const bool market_cap = flag(request, "include_market_cap");
  const bool volume = flag(request, "include_24hr_vol");
  const bool change = flag(request, "include_24hr_change");
  const bool updated = flag(request, "include_last_updated_at");
  std::string body;
  JsonWriter w(body);
  w.beginObject();
  std::set<std::string> seen;
  for (const auto& id : splitCsv(toLower(ids))) {
    const SimCoin* c = market_.find(id);
    if (c == nullptr || !seen.insert(id).second)
      continue;  // CoinGecko omits unknown ids
    w.key(c->id).beginObject();
    for (const auto& [vs, rate] : rates) {
      const double price = roundSignificant(c->price * rate, 7);
      w.field(vs, price);
      if (market_cap)
        w.field(vs + "_market_cap", c->marketCap() * rate);
      if (volume)
        w.field(vs + "_24h_vol", c->marketCap() * rate * c->volume_ratio);
      if (change)
        w.field(vs + "_24h_change", (c->price / c->open_24h - 1.0) * 100.0);
    }
    if (updated)
      w.field("last_updated_at", c->last_updated_ms / 1000);
    w.endObject();
  }
  w.endObject();
  return jsonReply(200, std::move(body));
}

api::Reply Simulator::control(const api::Request& request) {
  if (request.path == "/_sim/stats")
    return jsonReply(200, statsJson());
  if (request.path == "/_sim/reset" && request.method == "POST") {
    requests_total_ = 0;
    by_path_.clear();
    return jsonReply(200, R"({"reset":true})");
  }
  if (request.path == "/_sim/price" && request.method == "POST") {
    const std::string id = request.param("id");
    const double usd = std::atof(request.param("usd").c_str());
    if (id.empty() || !(usd > 0))
      return flatError(400, "POST /_sim/price needs id=<coin>&usd=<price>");
    if (!market_.setPrice(id, usd, nowMs()))
      return flatError(404, "coin not found");
    return jsonReply(200, R"({"updated":true})");
  }
  return flatError(404,
                   "unknown simulator control path (use /_sim/stats, /_sim/reset, /_sim/price)");
}

std::string Simulator::statsJson() {
  std::string body;
  JsonWriter w(body);
  w.beginObject()
      .field("requests_total", static_cast<int64_t>(requests_total_))
      .key("paths")
      .beginObject();
  for (const auto& [path, statuses] : by_path_) {
    uint64_t total = 0;
    w.key(path).beginObject();
    for (const auto& [status, count] : statuses) {
      w.field(std::to_string(status), static_cast<int64_t>(count));
      total += count;
    }
    w.field("total", static_cast<int64_t>(total)).endObject();
  }
  w.endObject().field("market_steps", market_.steps()).endObject();
  return body;
}

}  // namespace coinrelay::simulate
