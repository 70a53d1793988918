#include "simulate/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "simulate/sim_pages.h"

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

net::Reply jsonReply(int status, std::string body) {
  net::Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

net::Reply flatError(int status, std::string_view message) {
  return jsonReply(status, flatErrorJson(message));
}

constexpr std::string_view kIncorrectPath =
    "Incorrect path. Please check https://www.coingecko.com/api/";

/// CoinGecko's checks of a path's parameters: the required ones present, the enumerated ones
/// one of their values. Names the first offending parameter, as CoinGecko's errors do.
std::optional<net::Reply> checkParameters(const PathMatch& match, const net::Request& request) {
  for (const SpecParam& param : match.path->params) {
    std::string value;
    if (param.in_path) {
      value = match.params.count(param.name) ? match.params.at(param.name) : std::string();
    } else {
      value = lowered(request.query, param.name);
    }
    if (value.empty()) {
      if (param.required)
        return flatError(400, "Missing parameter " + param.name);
      continue;
    }
    if (!param.choices.empty() &&
        std::find(param.choices.begin(), param.choices.end(), value) == param.choices.end()) {
      if (param.in_path)
        return flatError(
            404, param.name.find("coin") != std::string::npos ? "coin not found" : kIncorrectPath);
      return flatError(400, "invalid " + param.name);
    }
  }
  return std::nullopt;
}

/// {path: {status: count, ..., "total": n}, ...} into an open object.
void writeCounts(JsonWriter& w, const std::map<std::string, std::map<int, uint64_t>>& counts) {
  for (const auto& [path, statuses] : counts) {
    uint64_t total = 0;
    w.key(path).beginObject();
    for (const auto& [status, count] : statuses) {
      w.field(std::to_string(status), static_cast<int64_t>(count));
      total += count;
    }
    w.field("total", static_cast<int64_t>(total)).endObject();
  }
}

/// Paths under /coins/{id} whose {id} is a coin (not an asset platform, as under /contract/).
bool namesACoin(const SpecPath& path) {
  return path.templ.starts_with("/coins/{id}") &&
         path.templ.find("/contract/") == std::string::npos;
}

}  // namespace

Simulator::Simulator(const MarketOptions& market, const FaultOptions& faults, KeyPolicy keys)
    : market_(market), faults_(faults), fault_rng_(faults.seed), ledger_(std::move(keys)) {}

void Simulator::count(const std::string& path, const std::string& templ, int status) {
  ++requests_total_;
  ++by_path_[path][status];
  if (!templ.empty())
    ++by_template_["/api/v3" + templ][status];
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
  std::string templ;
  const bool api = request.path.starts_with("/api/v3/");
  auto refused = api ? ledger_.checkKey(request) : std::nullopt;
  const auto match =
      api ? SimSpec::get().match(std::string_view(request.path).substr(7)) : std::nullopt;
  if (refused) {
    reply = std::move(*refused);
  } else if (!match) {
    reply = flatError(404, kIncorrectPath);
  } else {
    templ = match->path->templ;
    if (match->path->plan > ledger_.access()) {
      // The plan rule as CoinGecko applies it: a path above the key's plan is refused.
      reply = jsonReply(401, planRestrictedJson());
    } else {
      reply = answer(*match, request);
    }
  }
  if (reply.status == 200 && api) {
    if (auto fault = injectFault(reply.body)) {
      reply = std::move(*fault);
    } else if (templ == "/coins/markets") {
      ledger_.serveMarkets(reply, toLower(request.param("vs_currency")), faults_.invalid_items,
                           fault_rng_);
    }
  }
  reply.delay = std::chrono::milliseconds(faults_.latency_ms);
  count(request.path, templ, reply.status);
  ledger_.record(nowMs(), request.path, reply.status, request);
  return reply;
}

net::Reply Simulator::answer(const PathMatch& match, const net::Request& request) {
  const std::string& templ = match.path->templ;
  // The three lists keep their own checks (and the order of CoinGecko's messages).
  if (templ == "/coins/markets")
    return coinsMarkets(request);
  if (templ == "/simple/price")
    return simplePrice(request);
  if (templ == "/coins/list")
    return coinsList(request);
  if (templ == "/ping")
    return jsonReply(200, R"({"gecko_says":"(V3) To the Moon!"})");
  if (templ == "/key")
    return ledger_.keyUsage(request);
  if (templ == "/simple/supported_vs_currencies") {
    std::string body;
    JsonWriter w(body);
    w.beginArray();
    for (const auto& currency : supportedVsCurrencies())
      w.value(currency);
    w.endArray();
    return jsonReply(200, std::move(body));
  }
  if (auto refused = checkParameters(match, request))
    return std::move(*refused);
  const SimCoin* coin = nullptr;
  if (namesACoin(*match.path)) {
    coin = market_.find(match.params.at("id"));
    if (coin == nullptr)
      return flatError(404, "coin not found");
  }
  const CoinPages pages(market_, ledger_.access());
  const auto& q = request.query;
  if (templ == "/coins/{id}")
    return pages.coin(*coin, q);
  if (templ == "/coins/{id}/history")
    return pages.history(*coin, q);
  if (templ == "/coins/{id}/market_chart")
    return pages.marketChart(*coin, q);
  if (templ == "/coins/{id}/market_chart/range")
    return pages.marketChartRange(*coin, q);
  if (templ == "/coins/{id}/ohlc")
    return pages.ohlc(*coin, q);
  if (templ == "/coins/{id}/ohlc/range")
    return pages.ohlcRange(*coin, q);
  if (templ == "/global")
    return pages.global();
  if (templ == "/exchange_rates")
    return pages.exchangeRates();
  if (templ == "/search")
    return pages.search(q);
  if (templ == "/search/trending")
    return pages.trending(q);
  return fromSchema(match, request);
}

net::Reply Simulator::fromSchema(const PathMatch& match, const net::Request&) {
  auto it = schema_bodies_.find(match.path->templ);
  if (it == schema_bodies_.end()) {
    const SimSpec& spec = SimSpec::get();
    it = schema_bodies_.emplace(match.path->templ, spec.render(match.path->response)).first;
  }
  return jsonReply(200, it->second);
}

std::vector<MarketRow> Simulator::rowsIn(double rate) const {
  std::vector<MarketRow> rows;
  rows.reserve(market_.ranked().size());
  for (const auto& coin : market_.ranked())
    rows.push_back(marketRow(coin, rate));
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
  const std::vector<const MarketRow*> page = pageOf(rows, *query);
  // What the page's rows add on request: rows are in rank order, as market_.ranked() is.
  std::vector<MarketExtras> extras(page.size());
  const int64_t now = market_.nowMs();
  for (size_t i = 0; i < page.size(); ++i) {
    const SimCoin& coin = market_.ranked()[static_cast<size_t>(page[i] - rows.data())];
    auto priceAt = [&](int64_t t) {
      return t >= now ? page[i]->current_price
                      : market_.usdPriceAt(coin, t) *
                            usdRateAt(market_, query->vs_currency, t).value_or(*rate);
    };
    if (query->locale != "en")
      extras[i].localized_name = Market::localizedName(coin, query->locale);
    if (query->sparkline) {
      std::vector<double> prices;
      for (int h = 167; h >= 0; --h)
        prices.push_back(roundSignificant(priceAt(now - h * 3'600'000LL), 8));
      extras[i].sparkline_7d = std::move(prices);
    }
    for (const auto& frame : timeFrames()) {
      if (std::find(query->time_frames.begin(), query->time_frames.end(), frame.name) ==
          query->time_frames.end())
        continue;
      const double then = priceAt(now - frame.ms);
      extras[i].changes.emplace_back(
          frame.name, then > 0 && now - frame.ms >= coin.genesis_ms
                          ? std::optional<double>((priceAt(now) / then - 1.0) * 100.0)
                          : std::nullopt);
    }
  }
  return jsonReply(200, marketsJson(page, extras, query->precision));
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
  // Rows are built for the coins asked for only (a universe of 20 000 coins would otherwise cost
  // every row of every currency per request): coin by coin, each in every currency.
  const auto& coins = market_.ranked();
  const std::vector<size_t> selected = priceSelection(coins, *query);
  std::vector<MarketRow> rows;
  rows.reserve(selected.size() * rates.size());
  for (size_t i : selected) {
    for (double rate : rates)
      rows.push_back(marketRow(coins[i], rate));
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

net::Reply Simulator::coinsList(const net::Request& request) {
  std::string error;
  auto query = readListRequest(request.query, &error);
  if (!query)
    return flatError(400, error);
  std::vector<ListedCoin> coins;
  if (query->inactive) {
    // Inactive coins are for paid plans only, as on CoinGecko.
    if (ledger_.access() == Plan::Demo)
      return jsonReply(401, planRestrictedJson());
    for (const auto& gone : Market::inactive())
      coins.push_back(ListedCoin{gone.id, gone.symbol, gone.name, {}});
  } else {
    for (const auto& coin : market_.ranked()) {
      ListedCoin listed{coin.id, coin.symbol, coin.name, {}};
      if (!coin.contract.empty())
        listed.platforms.emplace_back("ethereum", coin.contract);
      coins.push_back(std::move(listed));
    }
  }
  return jsonReply(200, coinsListJson(std::move(coins), query->include_platform));
}

net::Reply Simulator::control(const net::Request& request) {
  if (auto reply = ledger_.control(request, faults_))
    return std::move(*reply);
  if (request.path == "/_sim/stats")
    return jsonReply(200, statsJson());
  if (request.path == "/_sim/reset" && request.method == "POST") {
    requests_total_ = 0;
    by_path_.clear();
    by_template_.clear();
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
  writeCounts(w, by_path_);
  w.endObject().field("market_steps", market_.steps());
  ledger_.writeStats(w);
  // The same counts by path of CoinGecko's description ("/api/v3/coins/{id}/market_chart").
  w.key("templates").beginObject();
  writeCounts(w, by_template_);
  w.endObject();
  w.endObject();
  return body;
}

}  // namespace coinrelay::simulate
