#include "api/coingecko_routes.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "api/api_error.h"
#include "coingecko/api_format.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// Without the universe coinrelay cannot tell an untracked coin from a coin that does not exist:
/// it refuses rather than leave it out of the answer.
net::Reply untrackedRefusal(const std::vector<std::string>& untracked) {
  return errorReply(ApiErrorKind::NotFound,
                    fmt::format("coin not tracked by coinrelay: {}; ask its operator to add it to "
                                "upstream.ids",
                                joinCsv(untracked)));
}

telemetry::Counter& perPath(const char* name, const char* help, std::string_view templ) {
  // Series live as long as the process and the label set is the path table's (51 paths and
  // "unknown"), whose strings never move: each thread keeps the series it used by the
  // addresses of the name and the label, so the hot path neither locks nor allocates.
  thread_local std::map<std::pair<const char*, const char*>, telemetry::Counter*> counters;
  auto& counter = counters[{name, templ.data()}];
  if (counter == nullptr)
    counter = &telemetry::metrics().counter(name, help, {{"path", std::string(templ)}});
  return *counter;
}

void countRequest(std::string_view templ) {
  perPath("coinrelay_api_requests_total", "Requests of CoinGecko's API, by path template.", templ)
      .inc();
}

std::string trackedCurrencies(const pipeline::SnapshotVersion& version) {
  std::string out;
  for (const auto& [vs, quotes] : version.by_currency)
    out += (out.empty() ? "" : ",") + vs;
  return out.empty() ? "none yet" : out;
}

/// The highest rank K such that ranks 1..K are all in `ranked` (rank order): every coin outside
/// the snapshot ranks below K, so a best-ranked match at or above K is CoinGecko's best too.
int64_t coveredRank(const std::vector<const model::Quote*>& ranked) {
  size_t low = 0, high = ranked.size();  // ranked[i] has rank i + 1 for every i < low
  while (low < high) {
    const size_t mid = (low + high) / 2;
    if (ranked[mid]->market_cap_rank == static_cast<int64_t>(mid + 1)) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return static_cast<int64_t>(low);
}

/// Which coins a query names, as far as coinrelay can tell.
struct Resolution {
  std::vector<std::string> ids;        ///< tracked: answered from the snapshot
  std::vector<std::string> untracked;  ///< exist (or may exist) but are not tracked: misses
  size_t nonexistent = 0;              ///< known not to exist: left out, as CoinGecko does
};

/// Resolves ids, names or symbols (the first given, CoinGecko's priority) against the snapshot
/// in `vs` and the universe. Names name every coin called so; a symbol names the best-ranked
/// coin that has it (include_tokens=top) or every one (all). What coinrelay cannot decide from
/// its data is a miss.
Resolution resolve(const pipeline::SnapshotVersion& version, const std::string& vs,
                   const std::vector<std::string>& ids, const std::vector<std::string>& names,
                   const std::vector<std::string>& symbols, bool all_tokens,
                   const Universe::Coins* universe) {
  Resolution out;
  std::set<std::string> seen;
  const auto keep = [&](const std::string& id) {
    if (seen.insert(id).second)
      out.ids.push_back(id);
  };
  if (!ids.empty()) {
    for (const auto& id : ids) {
      if (version.find(id, vs) != nullptr) {
        keep(id);
      } else if (universe != nullptr && universe->find(id) == nullptr) {
        ++out.nonexistent;
      } else {
        out.untracked.push_back(id);
      }
    }
    return out;
  }
  auto it = version.by_currency.find(vs);
  static const std::vector<const model::Quote*> kNone;
  const auto& ranked = it == version.by_currency.end() ? kNone : it->second;
  const int64_t covered = coveredRank(ranked);
  const bool by_name = !names.empty();
  for (const auto& wanted : by_name ? names : symbols) {
    const auto matches = [&](const model::Quote* q) {
      return by_name ? toLower(q->name) == wanted : q->symbol == wanted;
    };
    if (universe != nullptr) {
      auto [first, last] =
          by_name ? universe->by_name.equal_range(wanted) : universe->by_symbol.equal_range(wanted);
      if (first == last) {
        ++out.nonexistent;
        continue;
      }
      if (by_name || all_tokens) {  // every coin so called must be tracked
        std::vector<std::string> candidates;
        bool all_tracked = true;
        for (auto c = first; c != last; ++c) {
          const std::string& id = universe->coins[c->second].id;
          candidates.push_back(id);
          all_tracked = all_tracked && version.find(id, vs) != nullptr;
        }
        if (!all_tracked) {
          out.untracked.push_back(wanted);
          continue;
        }
        std::sort(candidates.begin(), candidates.end());
        for (const auto& id : candidates)
          keep(id);
        continue;
      }
    } else if (by_name || all_tokens) {
      out.untracked.push_back(wanted);  // without the universe, nobody knows every match
      continue;
    }
    // The best-ranked coin with this symbol: ours when it ranks within the covered top.
    const model::Quote* best = nullptr;
    for (const model::Quote* q : ranked) {
      if (matches(q)) {
        best = q;
        break;
      }
    }
    if (best != nullptr && best->market_cap_rank && *best->market_cap_rank <= covered) {
      keep(best->id);
    } else {
      out.untracked.push_back(wanted);
    }
  }
  return out;
}

/// The answer to a refused miss: the tracked part, with a header naming what was left out and
/// a count of it.
void markLeftOut(net::Reply& reply, const std::vector<std::string>& left_out) {
  static telemetry::Counter& counter = telemetry::metrics().counter(
      "coinrelay_serve_left_out_total",
      "Coins, currencies or pages left out of answers because they are not tracked and "
      "serve.on_miss is refuse.");
  counter.inc(left_out.size());
  std::string names;
  for (const auto& item : left_out) {
    if (names.size() > 1000) {  // a header, not a copy of the query
      names += ",...";
      break;
    }
    names += (names.empty() ? "" : ",") + shown(item);
  }
  reply.headers.emplace_back(CoinGeckoRoutes::kLeftOutHeader, names);
}

coingecko::Params paramsOf(const ApiCall& call) {
  return coingecko::Params(call.query.begin(), call.query.end());
}

}  // namespace

CoinGeckoRoutes::Options routeOptionsFor(const config::Config& config) {
  return CoinGeckoRoutes::Options{
      .fetch_misses = config.serve.on_miss == "fetch",
      .tier = tierOfPlan(config.upstream.plan),
      .cache_bytes = static_cast<size_t>(config.serve.response_cache_mib) << 20};
}

CoinGeckoRoutes::CoinGeckoRoutes(const pipeline::Snapshot& snapshot, MissFetcher* relay,
                                 Universe* universe)
    : CoinGeckoRoutes(snapshot, relay, universe,
                      Options{.fetch_misses = relay != nullptr,
                              .tier = relay ? relay->tier() : PlanTier::Demo}) {}

CoinGeckoRoutes::CoinGeckoRoutes(const pipeline::Snapshot& snapshot, MissFetcher* relay,
                                 Universe* universe, Options options)
    : snapshot_(snapshot),
      relay_(relay),
      universe_(universe),
      options_(options),
      cache_(options.cache_bytes / 2, "by_query"),
      by_target_(options.cache_bytes / 2, "by_target") {}

std::optional<net::Reply> CoinGeckoRoutes::handle(const net::Request& request,
                                                  const std::string& client,
                                                  std::string_view* route) {
  static constexpr std::string_view kUnknown = "unknown";
  if (!request.path.starts_with("/api/v3/"))
    return std::nullopt;
  auto version = snapshot_.current();
  // A target already answered for this snapshot version is served without parsing it again.
  if (!request.target.empty()) {
    if (auto hit = by_target_.find(version->version, request.target)) {
      countRequest(hit->route);
      if (route != nullptr)
        *route = hit->route;
      return answered(*hit, request, nullptr);
    }
  }
  ParsedCall parsed = parseCall(request);
  if (!parsed) {
    countRequest(kUnknown);
    if (route != nullptr)
      *route = kUnknown;
    return refusalOf(parsed);
  }
  const ApiCall& call = *parsed.call;
  const ApiPath& path = *call.path;
  countRequest(path.templ);
  if (route != nullptr)
    *route = path.templ;
  if (path.plan > options_.tier) {
    // CoinGecko's own answer for a path the plan does not have; coinrelay's plan is the one
    // every team shares.
    net::Reply reply =
        errorReply(ApiErrorKind::PlanRestricted, "This request is limited Pro API subscribers");
    reply.headers.emplace_back(
        "x-coinrelay-error",
        fmt::format("{} needs a {} plan; coinrelay's upstream.plan is a {} plan", path.templ,
                    nameOf(path.plan), nameOf(options_.tier)));
    return reply;
  }
  if (path.templ == "/ping") {
    return cached(request, *version, path, "ping",
                  [] { return std::string(R"({"gecko_says":"(V3) To the Moon!"})"); });
  }
  if (path.templ == "/coins/markets")
    return coinsMarkets(call, request, *version, client);
  if (path.templ == "/simple/price")
    return simplePrice(call, request, *version, client);
  if (path.templ == "/coins/list")
    return coinsList(call, request, *version, client);
  if (path.templ == "/simple/supported_vs_currencies")
    return currencies(call, request, *version, client);
  // A coin CoinGecko does not list gets CoinGecko's 404 at once: ids known not to exist never
  // cost a call. (Under /coins/{id}/contract the id is a platform's, which the list does not
  // hold.)
  if (path.templ.starts_with("/coins/{id}") && !path.templ.starts_with("/coins/{id}/contract")) {
    auto universe = universe_ ? universe_->coins() : nullptr;
    if (universe && universe->find(call.pathValue("id")) == nullptr)
      return errorReply(ApiErrorKind::NotFound, "coin not found");
  }
  if (path.answering == Answering::History && history_) {
    if (auto reply = history_(call, request, client))
      return reply;
  }
  return relay(call, client,
               fmt::format("coinrelay answers {} only from the upstream", path.templ));
}

net::Reply CoinGeckoRoutes::relay(const ApiCall& call, const std::string& client,
                                  const std::string& why) {
  if (relay_ == nullptr || !options_.fetch_misses) {
    return errorReply(
        ApiErrorKind::NotFound,
        why + (relay_ == nullptr && options_.fetch_misses
                   ? "; it has no way to reach it (no upstream key, no serve.miss_via)"
                   : "; its operator set serve.on_miss = refuse"));
  }
  return relay_->deferred(call, client);
}

net::Reply CoinGeckoRoutes::cached(const net::Request& request,
                                   const pipeline::SnapshotVersion& version, const ApiPath& path,
                                   const std::string& key,
                                   const std::function<std::string()>& render, bool by_target) {
  auto hit = cache_.find(version.version, key);
  const std::string_view route = path.templ;
  if (!hit) {
    auto made = makeCachedResponse(200, render());
    std::const_pointer_cast<CachedResponse>(made)->route = route;
    hit = cache_.insert(version.version, key, std::move(made));
  }
  if (by_target && !request.target.empty())
    by_target_.insert(version.version, std::string(request.target), hit);
  return answered(*hit, request, nullptr);
}

net::Reply CoinGeckoRoutes::answered(const CachedResponse& response, const net::Request& request,
                                     const ApiPath* path) {
  static telemetry::Counter& from_snapshot = telemetry::metrics().counter(
      "coinrelay_serve_answered_from_snapshot_total",
      "Client requests answered from the snapshot, without any upstream call.");
  from_snapshot.inc();
  perPath("coinrelay_api_native_answers_total",
          "Requests answered from coinrelay's own data (snapshot, coin universe), by path "
          "template.",
          path ? std::string_view(path->templ) : response.route)
      .inc();
  return replyFrom(response, request);
}

net::Reply CoinGeckoRoutes::coinsMarkets(const ApiCall& call, const net::Request& request,
                                         const pipeline::SnapshotVersion& version,
                                         const std::string& client) {
  std::string error;
  auto query = coingecko::parseMarketsQuery(paramsOf(call), &error);
  if (!query)
    return errorReply(ApiErrorKind::BadRequest, error);
  if (!query->upstream_only.empty()) {
    return relay(
        call, client,
        fmt::format("coinrelay answers {} only from the upstream", joinCsv(query->upstream_only)));
  }
  auto universe = universe_ ? universe_->coins() : nullptr;
  auto currencies = universe_ ? universe_->currencies() : nullptr;
  auto tracked = version.by_currency.find(query->vs_currency);
  std::vector<std::string> left_out;
  if (tracked == version.by_currency.end()) {
    if (currencies && !currencies->codes.contains(query->vs_currency))
      return errorReply(ApiErrorKind::BadRequest, "invalid vs_currency");
    if (options_.fetch_misses && relay_ != nullptr)
      return relay_->deferred(call, client);
    net::Reply reply{200, "application/json", "[]"};
    markLeftOut(reply, {query->vs_currency});
    if (!currencies) {  // unknown whether it exists: say what would answer it
      reply = errorReply(ApiErrorKind::NotFound,
                         fmt::format("vs_currency '{}' is not tracked by coinrelay (tracked: {}); "
                                     "ask its operator to add it to upstream.vs_currencies",
                                     query->vs_currency, trackedCurrencies(version)));
    }
    return reply;
  }
  const bool named = !query->ids.empty() || !query->names.empty() || !query->symbols.empty();
  if (named) {
    Resolution coins = resolve(version, query->vs_currency, query->ids, query->names,
                               query->symbols, query->include_tokens_all, universe.get());
    if (!coins.untracked.empty()) {
      if (options_.fetch_misses && relay_ != nullptr)
        return relay_->deferred(call, client);
      if (!universe)
        return untrackedRefusal(coins.untracked);
      left_out = coins.untracked;
    }
    query->ids = std::move(coins.ids);
    std::sort(query->ids.begin(), query->ids.end());
    if (query->ids.empty()) {  // nothing CoinGecko knows (or nothing tracked): an empty page
      net::Reply reply{200, "application/json", "[]"};
      if (!left_out.empty())
        markLeftOut(reply, left_out);
      return reply;
    }
  } else {
    // Without ids the answer ranges over CoinGecko's whole universe: the snapshot holds it only
    // for market-cap order within the tracked top N (ranks 1..page*per_page all present).
    const int64_t wanted = static_cast<int64_t>(query->page) * query->per_page;
    const bool covered =
        query->order == "market_cap_desc" && wanted <= coveredRank(tracked->second);
    if (!covered) {
      if (options_.fetch_misses && relay_ != nullptr)
        return relay_->deferred(call, client);
      left_out.push_back(fmt::format("coins ranked beyond the tracked top {} ({} order)",
                                     coveredRank(tracked->second), query->order));
    }
  }
  auto render = [&] {
    return coingecko::renderMarkets(coingecko::selectMarkets(tracked->second, *query),
                                    query->precision);
  };
  if (left_out.empty())
    return cached(request, version, *call.path, query->normalised(), render);
  net::Reply reply = cached(request, version, *call.path, query->normalised(), render, false);
  markLeftOut(reply, left_out);
  return reply;
}

net::Reply CoinGeckoRoutes::simplePrice(const ApiCall& call, const net::Request& request,
                                        const pipeline::SnapshotVersion& version,
                                        const std::string& client) {
  std::string error;
  auto query = coingecko::parseSimplePriceQuery(paramsOf(call), &error);
  if (!query)
    return errorReply(ApiErrorKind::BadRequest, error);
  auto universe = universe_ ? universe_->coins() : nullptr;
  auto currencies = universe_ ? universe_->currencies() : nullptr;
  const bool fetching = options_.fetch_misses && relay_ != nullptr;
  std::vector<std::string> left_out;
  std::vector<std::string> answered_currencies;
  for (const auto& vs : query->vs_currencies) {
    if (version.by_currency.contains(vs)) {
      answered_currencies.push_back(vs);
      continue;
    }
    if (currencies && !currencies->codes.contains(vs))
      return errorReply(ApiErrorKind::BadRequest, "invalid vs_currency");
    if (fetching)
      return relay_->deferred(call, client);
    if (!currencies) {
      return errorReply(ApiErrorKind::NotFound,
                        fmt::format("vs_currency '{}' is not tracked by coinrelay (tracked: {}); "
                                    "ask its operator to add it to upstream.vs_currencies",
                                    vs, trackedCurrencies(version)));
    }
    left_out.push_back(vs);
  }
  // Coins are resolved in the first tracked currency: every tracked coin is quoted in all.
  const std::string& vs =
      answered_currencies.empty() ? query->vs_currencies.front() : answered_currencies.front();
  Resolution coins = resolve(version, vs, query->ids, query->names, query->symbols,
                             query->include_tokens_all, universe.get());
  if (!coins.untracked.empty()) {
    if (fetching)
      return relay_->deferred(call, client);
    if (!universe)
      return untrackedRefusal(coins.untracked);
    left_out.insert(left_out.end(), coins.untracked.begin(), coins.untracked.end());
  }
  query->vs_currencies = answered_currencies;
  auto render = [&] {
    std::vector<coingecko::SimplePriceRow> rows;
    if (query->vs_currencies.empty())
      return std::string("{}");
    for (const auto& id : coins.ids) {
      coingecko::SimplePriceRow row{id, {}};
      for (const auto& currency : query->vs_currencies)
        row.per_currency.push_back(version.find(id, currency));
      rows.push_back(std::move(row));
    }
    return coingecko::renderSimplePrice(rows, *query);
  };
  // The answer depends on what the names resolved to: the key holds the resolved ids.
  const std::string key = query->normalised() + "|" + joinCsv(coins.ids);
  if (left_out.empty())
    return cached(request, version, *call.path, key, render);
  net::Reply reply = cached(request, version, *call.path, key, render, false);
  markLeftOut(reply, left_out);
  return reply;
}

net::Reply CoinGeckoRoutes::coinsList(const ApiCall& call, const net::Request& request,
                                      const pipeline::SnapshotVersion& version,
                                      const std::string& client) {
  const std::string* status = call.get("status");
  const std::string* platforms = call.get("include_platform");
  const bool with_platforms = platforms != nullptr && *platforms == "true";
  if (status != nullptr && *status == "inactive")
    return relay(call, client, "coinrelay knows only the active coins");
  if (auto universe = universe_ ? universe_->coins() : nullptr) {
    const auto& list = with_platforms ? universe->list_with_platforms : universe->list;
    if (list)
      return answered(*list, request, call.path);
  }
  if (options_.fetch_misses && relay_ != nullptr)
    return relay_->deferred(call, client);
  if (with_platforms)
    return relay(call, client, "coinrelay does not know the platforms of the coins yet");
  // Without the universe: the coins coinrelay tracks.
  return cached(request, version, *call.path, "list", [&] {
    std::vector<const model::Quote*> all;
    for (const auto& [key, quote] : version.quotes)
      all.push_back(quote.get());
    return coingecko::renderCoinsList(std::move(all));
  });
}

net::Reply CoinGeckoRoutes::currencies(const ApiCall& call, const net::Request& request,
                                       const pipeline::SnapshotVersion& version,
                                       const std::string& client) {
  if (auto currencies = universe_ ? universe_->currencies() : nullptr)
    return answered(*currencies->list, request, call.path);
  if (options_.fetch_misses && relay_ != nullptr)
    return relay_->deferred(call, client);
  // Without the universe: the currencies coinrelay tracks.
  return cached(request, version, *call.path, "supported", [&] {
    std::string body;
    JsonWriter w(body);
    w.beginArray();
    for (const auto& [vs, quotes] : version.by_currency)
      w.value(vs);
    w.endArray();
    return body;
  });
}

}  // namespace coinrelay::api
