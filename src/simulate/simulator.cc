#include "simulate/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_map>

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

net::Reply jsonReply(int status, std::string body) {
  net::Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

net::Reply flatError(int status, std::string_view message) {
  return jsonReply(status, flatErrorJson(message));
}

}  // namespace

Simulator::Simulator(const MarketOptions& market, const FaultOptions& faults, KeyPolicy keys)
    : market_(market), faults_(faults), fault_rng_(faults.seed), ledger_(std::move(keys)) {}

void Simulator::count(const std::string& path, int status) {
  ++requests_total_;
  ++by_path_[path][status];
}

std::optional<net::Reply> Simulator::injectFault(const std::string& body) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double roll = unit(fault_rng_);
  if ((roll -= faults_.rate_limited) < 0) {
    net::Reply reply = jsonReply(429, kRateLimitBody);
    reply.headers.emplace_back("retry-after", std::to_string(faults_.retry_after_s));
    return reply;
  }
  if ((roll -= faults_.server_error) < 0) {
    return jsonReply(503, R"({"error":"Service Unavailable"})");
  }
  if ((roll -= faults_.html) < 0) {
    net::Reply reply;
    reply.status = 403;
    reply.content_type = "text/html; charset=UTF-8";
    reply.body = kCloudflareHtml;
    return reply;
  }
  if ((roll -= faults_.truncated) < 0)
    return jsonReply(200, body.substr(0, body.size() / 2));
  return std::nullopt;
}

net::Reply Simulator::handle(const net::Request& request) {
  std::lock_guard lock(mutex_);
  if (request.path.starts_with("/_sim/"))
    return control(request);
  market_.advanceTo(nowMs());
  net::Reply reply;
  auto refused = request.path.starts_with("/api/v3/") ? ledger_.checkKey(request) : std::nullopt;
  if (refused) {
    reply = std::move(*refused);
  } else if (request.path == "/api/v3/key") {
    reply = ledger_.keyUsage(request);
  } else if (request.path == "/api/v3/ping") {
    reply = jsonReply(200, R"({"gecko_says":"(V3) To the Moon!"})");
  } else if (request.path == "/api/v3/coins/markets") {
    reply = coinsMarkets(request);
  } else if (request.path == "/api/v3/simple/price") {
    reply = simplePrice(request);
  } else if (request.path == "/api/v3/coins/list") {
    reply = coinsList();
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
    if (auto fault = injectFault(reply.body)) {
      reply = std::move(*fault);
    } else if (request.path == "/api/v3/coins/markets") {
      ledger_.serveMarkets(reply, toLower(request.param("vs_currency")), faults_.invalid_items,
                           fault_rng_);
    }
  }
  reply.delay = std::chrono::milliseconds(faults_.latency_ms);
  count(request.path, reply.status);
  ledger_.record(nowMs(), request.path, reply.status, request);
  return reply;
}

MarketRow Simulator::rowOf(const SimCoin& c, double rate) const {
  MarketRow r;
  r.id = c.id;
  r.symbol = c.symbol;
  r.name = c.name;
  r.last_updated_ms = c.last_updated_ms;
  r.image = fmt::format("https://coin-images.coingecko.com/coins/images/{}/large/{}.png",
                        c.image_number, c.id);
  const double price = roundSignificant(c.price * rate, 7);
  const double open = c.open_24h * rate;
  const double market_cap = std::round(c.marketCap() * rate);
  const double open_cap = open * c.circulating_supply;
  r.current_price = price;
  r.market_cap = market_cap;
  r.market_cap_rank = c.market_cap_rank;
  r.fully_diluted_valuation = std::round(c.price * rate * c.max_supply.value_or(c.total_supply));
  r.total_volume = std::round(market_cap * c.volume_ratio);
  r.high_24h = roundSignificant(c.high_24h * rate, 7);
  r.low_24h = roundSignificant(c.low_24h * rate, 7);
  r.price_change_24h = roundSignificant(price - open, 6);
  r.price_change_percentage_24h = roundSignificant((price / open - 1.0) * 100.0, 6);
  r.market_cap_change_24h = std::round(market_cap - open_cap);
  r.market_cap_change_percentage_24h = roundSignificant((market_cap / open_cap - 1.0) * 100.0, 6);
  r.circulating_supply = c.circulating_supply;
  r.total_supply = c.total_supply;
  r.max_supply = c.max_supply;
  r.ath = roundSignificant(c.ath * rate, 7);
  r.ath_change_percentage = roundSignificant((c.price / c.ath - 1.0) * 100.0, 6);
  r.ath_date_ms = 1636554259604;  // 2021-11-10T14:24:19.604Z
  r.atl = roundSignificant(c.atl * rate, 7);
  r.atl_change_percentage = roundSignificant((c.price / c.atl - 1.0) * 100.0, 6);
  r.atl_date_ms = 1445299200000;  // 2015-10-20T00:00:00.000Z
  if (c.id == "ethereum")
    r.roi = MarketRow::Roi{63.51804113920761, "btc", 6351.804113920761};
  return r;
}

std::vector<MarketRow> Simulator::rowsIn(double rate) const {
  std::vector<MarketRow> rows;
  rows.reserve(market_.ranked().size());
  for (const auto& coin : market_.ranked())
    rows.push_back(rowOf(coin, rate));
  return rows;
}

net::Reply Simulator::coinsMarkets(const net::Request& request) {
  std::string error;
  auto query = readMarketsRequest(request.query, &error);
  if (!query)
    return flatError(400, error);
  const auto rate = usdRate(market_, query->vs_currency);
  if (!rate)
    return flatError(400, "invalid vs_currency");
  const std::vector<MarketRow> rows = rowsIn(*rate);
  return jsonReply(200, marketsJson(pageOf(rows, *query), query->precision));
}

net::Reply Simulator::simplePrice(const net::Request& request) {
  std::string error;
  auto query = readPriceRequest(request.query, &error);
  if (!query)
    return flatError(400, error);
  std::vector<double> rates;
  for (const auto& vs : query->vs_currencies) {
    auto rate = usdRate(market_, vs);
    if (!rate)
      return flatError(400, "invalid vs_currency");
    rates.push_back(*rate);
  }
  // Indexes into ranked(); rows are built for these coins only (a universe of 20 000 coins
  // would otherwise cost every row of every currency per request).
  std::vector<size_t> selected;
  std::set<size_t> seen;
  const auto& coins = market_.ranked();
  if (!query->ids.empty()) {
    std::unordered_map<std::string_view, size_t> index;
    index.reserve(coins.size());
    for (size_t i = 0; i < coins.size(); ++i)
      index.emplace(coins[i].id, i);
    for (const auto& id : query->ids) {
      auto it = index.find(id);
      if (it != index.end() && seen.insert(it->second).second)
        selected.push_back(it->second);
    }
  } else {
    for (const auto& symbol : query->symbols) {
      for (size_t i = 0; i < coins.size(); ++i) {  // the best-ranked coin with that symbol
        if (coins[i].symbol == symbol) {
          if (seen.insert(i).second)
            selected.push_back(i);
          break;
        }
      }
    }
  }
  std::vector<MarketRow> rows;  // coin by coin, each in every currency
  rows.reserve(selected.size() * rates.size());
  for (size_t i : selected) {
    for (double rate : rates)
      rows.push_back(rowOf(coins[i], rate));
  }
  std::vector<std::vector<const MarketRow*>> answer;
  for (size_t c = 0; c < selected.size(); ++c) {
    std::vector<const MarketRow*> in_currencies;
    for (size_t r = 0; r < rates.size(); ++r)
      in_currencies.push_back(&rows[c * rates.size() + r]);
    answer.push_back(std::move(in_currencies));
  }
  return jsonReply(200, priceJson(answer, *query));
}

net::Reply Simulator::coinsList() {
  const std::vector<MarketRow> rows = rowsIn(1.0);
  std::vector<const MarketRow*> all;
  for (const auto& row : rows)
    all.push_back(&row);
  return jsonReply(200, coinsListJson(std::move(all)));
}

net::Reply Simulator::control(const net::Request& request) {
  if (auto reply = ledger_.control(request, faults_))
    return std::move(*reply);
  if (request.path == "/_sim/stats")
    return jsonReply(200, statsJson());
  if (request.path == "/_sim/reset" && request.method == "POST") {
    requests_total_ = 0;
    by_path_.clear();
    ledger_.reset();
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
                   "unknown simulator control path (use /_sim/stats, /_sim/reset, /_sim/price, "
                   "/_sim/requests, /_sim/served, /_sim/faults)");
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
  w.endObject().field("market_steps", market_.steps());
  ledger_.writeStats(w);
  w.endObject();
  return body;
}

}  // namespace coinrelay::simulate
