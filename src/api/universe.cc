#include "api/universe.h"

#include <algorithm>

#include "common/json_writer.h"
#include "common/strings.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

namespace {

/// The call coinrelay makes for a list: the path table's own, so it takes the same road (budget,
/// cache, fetch role) as a client's.
ApiCall listCall(std::string_view path, std::map<std::string, std::string> query = {}) {
  ParsedCall parsed = parseCall(path, query, {});
  return *parsed.call;  // built from constants: a failure would be a programming error
}

std::string renderList(const std::vector<coingecko::ListedCoin>& coins, bool platforms) {
  std::string body;
  body.reserve(coins.size() * (platforms ? 120 : 70));
  JsonWriter w(body);
  w.beginArray();
  for (const auto& coin : coins) {
    w.beginObject().field("id", coin.id).field("symbol", coin.symbol).field("name", coin.name);
    if (platforms)
      w.key("platforms").raw(coin.platforms.value_or("{}"));
    w.endObject();
  }
  w.endArray();
  return body;
}

}  // namespace

const coingecko::ListedCoin* Universe::Coins::find(std::string_view id) const {
  auto it = by_id.find(std::string(id));
  return it == by_id.end() ? nullptr : &coins[it->second];
}

Universe::Universe(MissFetcher& relay, std::chrono::seconds refresh, const Clock& clock)
    : relay_(relay), refresh_(refresh), state_(std::make_shared<State>(clock)) {}

std::shared_ptr<const Universe::Coins> Universe::coins() {
  refreshCoins(false);
  std::lock_guard lock(state_->mutex);
  return state_->coins;
}

std::shared_ptr<const Universe::Currencies> Universe::currencies() {
  refreshCurrencies(false);
  std::lock_guard lock(state_->mutex);
  return state_->currencies;
}

void Universe::load() {
  refreshCoins(true);
  refreshCurrencies(true);
}

void Universe::setCoins(std::vector<coingecko::ListedCoin> coins) {
  storeCoins(*state_, std::move(coins));
}

void Universe::setCurrencies(std::vector<std::string> codes, std::string body) {
  storeCurrencies(*state_, std::move(codes), std::move(body));
}

void Universe::storeCoins(State& state, std::vector<coingecko::ListedCoin> list) {
  auto coins = std::make_shared<Coins>();
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  list.erase(std::unique(list.begin(), list.end(),
                         [](const auto& a, const auto& b) { return a.id == b.id; }),
             list.end());
  coins->coins = std::move(list);
  coins->has_platforms = !coins->coins.empty();
  for (size_t i = 0; i < coins->coins.size(); ++i) {
    const auto& coin = coins->coins[i];
    coins->by_id.emplace(coin.id, i);
    coins->by_symbol.emplace(toLower(coin.symbol), i);
    coins->by_name.emplace(toLower(coin.name), i);
    coins->has_platforms = coins->has_platforms && coin.platforms.has_value();
  }
  coins->list = makeCachedResponse(200, renderList(coins->coins, false));
  if (coins->has_platforms)
    coins->list_with_platforms = makeCachedResponse(200, renderList(coins->coins, true));
  telemetry::metrics()
      .gauge("coinrelay_universe_coins", "Coins CoinGecko lists (coins/list), as coinrelay knows.")
      .set(static_cast<double>(coins->coins.size()));
  std::lock_guard lock(state.mutex);
  state.coins = std::move(coins);
  state.coins_at = state.clock.steadyNow();
}

void Universe::storeCurrencies(State& state, std::vector<std::string> codes, std::string body) {
  auto currencies = std::make_shared<Currencies>();
  if (body.empty()) {
    JsonWriter w(body);
    w.beginArray();
    for (const auto& code : codes)
      w.value(code);
    w.endArray();
  }
  currencies->codes.insert(codes.begin(), codes.end());
  currencies->list = makeCachedResponse(200, std::move(body));
  std::lock_guard lock(state.mutex);
  state.currencies = std::move(currencies);
  state.currencies_at = state.clock.steadyNow();
}

void Universe::refreshCoins(bool force) {
  {
    std::lock_guard lock(state_->mutex);
    const auto period = std::max(refresh_, relay_.ttlOf(*findPath("/coins/list")));
    if (state_->coins_loading ||
        (!force && state_->coins && state_->clock.steadyNow() - state_->coins_at < period))
      return;
    state_->coins_loading = true;
  }
  relay_.askAsync(listCall("/coins/list", {{"include_platform", "true"}}), {},
                  [state = state_](net::Reply reply) {
                    const std::string& body = reply.shared_body ? *reply.shared_body : reply.body;
                    if (reply.status == 200) {
                      simdjson::dom::parser parser;
                      auto parsed = coingecko::parseCoinsList(body, parser);
                      if (parsed && !parsed->coins.empty()) {
                        storeCoins(*state, std::move(parsed->coins));
                      } else {
                        telemetry::logger("serve")->warn(
                            "the coin list from the upstream is unusable: {}",
                            parsed ? "empty" : parsed.error().message);
                      }
                    }
                    std::lock_guard lock(state->mutex);
                    state->coins_loading = false;
                  });
}

void Universe::refreshCurrencies(bool force) {
  {
    std::lock_guard lock(state_->mutex);
    const auto period =
        std::max(refresh_, relay_.ttlOf(*findPath("/simple/supported_vs_currencies")));
    if (state_->currencies_loading || (!force && state_->currencies &&
                                       state_->clock.steadyNow() - state_->currencies_at < period))
      return;
    state_->currencies_loading = true;
  }
  relay_.askAsync(
      listCall("/simple/supported_vs_currencies"), {}, [state = state_](net::Reply reply) {
        const std::string& body = reply.shared_body ? *reply.shared_body : reply.body;
        if (reply.status == 200) {
          auto parsed = coingecko::parseSupportedCurrencies(body);
          if (parsed) {
            storeCurrencies(*state, std::move(parsed).value(), body);
          } else {
            telemetry::logger("serve")->warn("the currency list from the upstream is unusable: {}",
                                             parsed.error().message);
          }
        }
        std::lock_guard lock(state->mutex);
        state->currencies_loading = false;
      });
}

}  // namespace coinrelay::api
