#include "api/coingecko_routes.h"

#include <set>

#include <fmt/format.h>

#include "api/api_error.h"
#include "coingecko/api_format.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

std::string trackedCurrencies(const pipeline::SnapshotVersion& version) {
  std::string out;
  for (const auto& [vs, quotes] : version.by_currency)
    out += (out.empty() ? "" : ",") + vs;
  return out.empty() ? "none yet" : out;
}

}  // namespace

std::optional<net::Reply> CoinGeckoRoutes::handle(const net::Request& request) {
  if (!request.path.starts_with("/api/v3/"))
    return std::nullopt;
  auto version = snapshot_.current();
  // A target already answered for this snapshot version is served without parsing it again.
  if (!request.target.empty()) {
    if (auto hit = by_target_.find(version->version, request.target))
      return answered(*hit, request);
  }
  const std::string_view path = std::string_view(request.path).substr(7);
  if (path == "/ping")
    return net::Reply{200, "application/json", R"({"gecko_says":"(V3) To the Moon!"})"};
  if (path == "/coins/markets")
    return coinsMarkets(request, *version);
  if (path == "/simple/price")
    return simplePrice(request, *version);
  // CoinGecko's lists cover the whole universe; with on-demand fetching they are proxied (one
  // call per TTL), otherwise coinrelay lists what it tracks.
  if (path == "/simple/supported_vs_currencies") {
    if (misses_ != nullptr)
      return misses_->deferred("/simple/supported_vs_currencies");
    return cached(request, *version, "supported", [&] {
      std::string body;
      JsonWriter w(body);
      w.beginArray();
      for (const auto& [vs, quotes] : version->by_currency)
        w.value(vs);
      w.endArray();
      return body;
    });
  }
  if (path == "/coins/list") {
    if (misses_ != nullptr)
      return misses_->deferred("/coins/list");
    return cached(request, *version, "list", [&] {
      std::vector<const model::Quote*> all;
      for (const auto& [key, quote] : version->quotes)
        all.push_back(quote.get());
      return coingecko::renderCoinsList(std::move(all));
    });
  }
  return errorReply(ApiErrorKind::NotFound,
                    "Incorrect path. coinrelay answers /api/v3/ping, /simple/price, "
                    "/simple/supported_vs_currencies, /coins/markets and /coins/list");
}

net::Reply CoinGeckoRoutes::cached(const net::Request& request,
                                   const pipeline::SnapshotVersion& version, const std::string& key,
                                   const std::function<std::string()>& render) {
  auto hit = cache_.find(version.version, key);
  if (!hit)
    hit = cache_.insert(version.version, key, makeCachedResponse(200, render()));
  if (!request.target.empty())
    by_target_.insert(version.version, std::string(request.target), hit);
  return answered(*hit, request);
}

net::Reply CoinGeckoRoutes::answered(const CachedResponse& response, const net::Request& request) {
  static telemetry::Counter& from_snapshot = telemetry::metrics().counter(
      "coinrelay_serve_answered_from_snapshot_total",
      "Client requests answered from the snapshot, without any upstream call.");
  from_snapshot.inc();
  return replyFrom(response, request);
}

net::Reply CoinGeckoRoutes::miss(const std::string& upstream_path, const std::string& refusal) {
  if (misses_ == nullptr)
    return errorReply(ApiErrorKind::NotFound, refusal);
  return misses_->deferred(upstream_path);
}

net::Reply CoinGeckoRoutes::coinsMarkets(const net::Request& request,
                                         const pipeline::SnapshotVersion& version) {
  std::string error;
  auto query = coingecko::parseMarketsQuery(request.query, &error);
  if (!query)
    return errorReply(ApiErrorKind::BadRequest, error);
  const auto upstream_path = [&] {
    return fmt::format("/coins/markets?vs_currency={}&order={}&per_page={}&page={}{}{}",
                       query->vs_currency, query->order, query->per_page, query->page,
                       query->ids.empty() ? "" : "&ids=" + joinCsv(query->ids),
                       query->precision ? "&precision=" + std::to_string(*query->precision) : "");
  };
  auto tracked = version.by_currency.find(query->vs_currency);
  if (tracked == version.by_currency.end()) {
    return miss(upstream_path(), fmt::format("vs_currency '{}' is not tracked by coinrelay "
                                             "(tracked: {}); ask its operator to add it to "
                                             "upstream.vs_currencies",
                                             query->vs_currency, trackedCurrencies(version)));
  }
  std::vector<std::string> untracked;
  for (const auto& id : query->ids) {
    if (version.find(id, query->vs_currency) == nullptr)
      untracked.push_back(id);
  }
  if (!untracked.empty()) {
    return miss(upstream_path(), fmt::format("coin not tracked by coinrelay: {}; ask its operator "
                                             "to add it to upstream.ids",
                                             joinCsv(untracked)));
  }
  // Without ids the answer ranges over CoinGecko's whole universe: the snapshot holds it only
  // for market-cap order within the tracked top N (ranks 1..page*per_page all present). Other
  // orders or deeper pages are misses; when refusing misses, they range over the tracked set.
  if (query->ids.empty() && misses_ != nullptr) {
    const size_t wanted = static_cast<size_t>(query->page) * static_cast<size_t>(query->per_page);
    const auto& ranked = tracked->second;
    const bool covered = query->order == "market_cap_desc" && wanted <= ranked.size() &&
                         ranked[wanted - 1]->market_cap_rank == static_cast<int64_t>(wanted);
    if (!covered)
      return misses_->deferred(upstream_path());
  }
  return cached(request, version, query->normalised(), [&] {
    return coingecko::renderMarkets(coingecko::selectMarkets(tracked->second, *query),
                                    query->precision);
  });
}

net::Reply CoinGeckoRoutes::simplePrice(const net::Request& request,
                                        const pipeline::SnapshotVersion& version) {
  std::string error;
  auto query = coingecko::parseSimplePriceQuery(request.query, &error);
  if (!query)
    return errorReply(ApiErrorKind::BadRequest, error);
  const auto upstream_path = [&] {
    std::string path = fmt::format(
        "/simple/price?{}={}&vs_currencies={}", query->ids.empty() ? "symbols" : "ids",
        joinCsv(query->ids.empty() ? query->symbols : query->ids), joinCsv(query->vs_currencies));
    for (const auto& [name, on] : {std::pair{"include_market_cap", query->include_market_cap},
                                   {"include_24hr_vol", query->include_24hr_vol},
                                   {"include_24hr_change", query->include_24hr_change},
                                   {"include_last_updated_at", query->include_last_updated_at}}) {
      if (on)
        path += fmt::format("&{}=true", name);
    }
    if (query->precision)
      path += "&precision=" + std::to_string(*query->precision);
    return path;
  };

  for (const auto& vs : query->vs_currencies) {
    if (!version.by_currency.contains(vs)) {
      return miss(upstream_path(), fmt::format("vs_currency '{}' is not tracked by coinrelay "
                                               "(tracked: {}); ask its operator to add it to "
                                               "upstream.vs_currencies",
                                               vs, trackedCurrencies(version)));
    }
  }
  // Resolve the coins: ids as given; a symbol means the best-ranked coin that has it.
  std::vector<std::string> ids;
  std::vector<std::string> untracked;
  std::set<std::string> seen;
  const auto& first_currency = version.by_currency.at(query->vs_currencies.front());
  if (!query->ids.empty()) {
    for (const auto& id : query->ids) {
      if (!seen.insert(id).second)
        continue;
      if (version.find(id, query->vs_currencies.front()) == nullptr) {
        untracked.push_back(id);
      } else {
        ids.push_back(id);
      }
    }
  } else {
    for (const auto& symbol : query->symbols) {
      const model::Quote* best = nullptr;
      for (const model::Quote* q : first_currency) {  // rank order: the first match is the top
        if (q->symbol == symbol) {
          best = q;
          break;
        }
      }
      if (best == nullptr) {
        untracked.push_back(symbol);
      } else if (seen.insert(best->id).second) {
        ids.push_back(best->id);
      }
    }
  }
  if (!untracked.empty()) {
    return miss(upstream_path(), fmt::format("coin not tracked by coinrelay: {}; ask its operator "
                                             "to add it to upstream.ids",
                                             joinCsv(untracked)));
  }
  return cached(request, version, query->normalised(), [&] {
    std::vector<coingecko::SimplePriceRow> rows;
    for (const auto& id : ids) {
      coingecko::SimplePriceRow row{id, {}};
      for (const auto& vs : query->vs_currencies)
        row.per_currency.push_back(version.find(id, vs));
      rows.push_back(std::move(row));
    }
    return coingecko::renderSimplePrice(rows, *query);
  });
}

}  // namespace coinrelay::api
