#include "pipeline/fetch_planner.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/strings.h"

namespace coinrelay::pipeline {

namespace {

using coingecko::kMaxPerPage;
using coingecko::kMaxPriceIds;

std::string keyOf(const std::string& id, const std::string& vs_currency) {
  std::string key = id;
  key.push_back('\0');
  key += vs_currency;
  return key;
}

/// `ids` joined with commas, each byte outside the URL's unreserved set percent-encoded (ids
/// from the configuration are plain, but ids coming from /coins/list are CoinGecko's to choose).
std::string idList(const std::vector<std::string>& ids, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i != from)
      out.push_back(',');
    for (unsigned char c : ids[i]) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
        out.push_back(static_cast<char>(c));
      else
        out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string idsPagePath(const std::string& vs_currency, const std::vector<std::string>& ids,
                        size_t from, size_t to) {
  return fmt::format(
      "/coins/markets?vs_currency={}&ids={}&order=market_cap_desc&per_page={}&page=1"
      "&sparkline=false",
      vs_currency, idList(ids, from, to), kMaxPerPage);
}

int64_t seconds(int s) {
  return int64_t{s} * 1000;
}

/// Whether `period_s` has passed since `at_ms` (never read: due).
bool due(const std::optional<int64_t>& at_ms, int64_t now_ms, int period_s) {
  return !at_ms || now_ms - *at_ms >= seconds(period_s);
}

/// The fields of a quote that follow from its price, brought up to date with a new price from
/// /simple/price; the others stay as the coin's last details gave them.
void derive(model::Quote& q, std::optional<double> previous_price) {
  if (q.price && q.change_24h && *q.change_24h > -100) {
    q.price_change_24h = *q.price - *q.price / (1 + *q.change_24h / 100);
  } else {
    q.price_change_24h = std::nullopt;
  }
  if (!q.price) {
    q.fully_diluted_valuation = std::nullopt;
    return;
  }
  const double price = *q.price;
  // The supplies change slowly: the valuation moves with the price (and keeps whichever supply
  // CoinGecko counts it on).
  if (q.fully_diluted_valuation && previous_price && *previous_price != 0)
    *q.fully_diluted_valuation *= price / *previous_price;
  // The price now is within the last 24 h, and part of the coin's history.
  if (q.high_24h)
    q.high_24h = std::max(*q.high_24h, price);
  if (q.low_24h)
    q.low_24h = std::min(*q.low_24h, price);
  if (q.ath && price > *q.ath) {
    q.ath = price;
    q.ath_date_ms = q.last_updated_ms;
  }
  if (q.atl && price < *q.atl) {
    q.atl = price;
    q.atl_date_ms = q.last_updated_ms;
  }
  if (q.ath && *q.ath != 0)
    q.ath_change_percentage = (price / *q.ath - 1) * 100;
  if (q.atl && *q.atl != 0)
    q.atl_change_percentage = (price / *q.atl - 1) * 100;
}

}  // namespace

const char* toString(CycleKind kind) {
  switch (kind) {
    case CycleKind::Idle:
      return "idle";
    case CycleKind::Details:
      return "details";
    case CycleKind::Prices:
      return "prices";
  }
  return "?";
}

const char* PlannedCall::endpoint() const {
  switch (kind) {
    case Kind::Prices:
      return "/simple/price";
    case Kind::Universe:
      return "/coins/list";
    default:
      return "/coins/markets";
  }
}

PlannerConfig plannerConfigFor(const config::UpstreamConfig& upstream,
                               const coingecko::CachePeriods& cache, coingecko::Strategy strategy) {
  PlannerConfig config;
  config.top_n = upstream.top_n;
  config.ids = upstream.ids;
  config.vs_currencies = upstream.vs_currencies;
  config.details_interval_s = upstream.details_interval_s;
  config.cache = cache;
  config.strategy = strategy;
  return config;
}

FetchPlanner::FetchPlanner(PlannerConfig config) : config_(std::move(config)) {}

CycleKind FetchPlanner::begin(SystemTime slot) {
  slot_ms_ = toUnixMillis(slot);
  cycle_ = PlannedCycle{};
  emitted_.clear();
  ready_ = 0;
  stopped_ = false;
  currency_ = 0;
  page_ = 1;
  page_short_ = false;
  taken_in_currency_ = 0;
  top_in_currency_.clear();
  wanted_.clear();
  wanted_at_ = 0;
  ranking_.clear();
  in_ranking_.clear();
  listed_found_.clear();
  ranking_complete_ = ids_complete_ = prices_complete_ = true;
  universe_ended_ = false;
  new_coins_.clear();
  from_markets_.clear();
  batch_ids_.clear();
  batch_at_ = 0;

  const auto& cache = config_.cache;
  const int details_every =
      mix() ? std::max(config_.details_interval_s, cache.markets_s) : cache.markets_s;
  if (due(details_at_ms_, slot_ms_, details_every) || trackedCount() == 0) {
    cycle_.kind = CycleKind::Details;
    phase_ = Phase::Top;
    return cycle_.kind;
  }
  prices_due_ = mix() && due(prices_at_ms_, slot_ms_, cache.price_s);
  universe_due_ = mix() && whole_universe_ && due(universe_at_ms_, slot_ms_, cache.list_s);
  if (!prices_due_ && !universe_due_) {
    cycle_.kind = CycleKind::Idle;
    phase_ = Phase::Done;
    return cycle_.kind;
  }
  cycle_.kind = CycleKind::Prices;
  phase_ = universe_due_ ? Phase::Universe : Phase::Batches;
  return cycle_.kind;
}

std::optional<PlannedCall> FetchPlanner::next() {
  if (stopped_)
    return std::nullopt;
  if (cycle_.kind == CycleKind::Details)
    return nextDetails();
  if (cycle_.kind == CycleKind::Prices)
    return nextPrices();
  return std::nullopt;
}

std::optional<PlannedCall> FetchPlanner::nextDetails() {
  const auto& currencies = config_.vs_currencies;
  while (currency_ < currencies.size()) {
    const std::string& vs = currencies[currency_];
    if (phase_ == Phase::Top) {
      const int top_n = config_.top_n;
      const int per_page = std::min(top_n, kMaxPerPage);
      const int pages = top_n > 0 ? (top_n + per_page - 1) / per_page : 0;
      if (page_ <= pages && !page_short_) {
        PlannedCall call;
        call.kind = PlannedCall::Kind::TopPage;
        call.vs_currency = vs;
        call.per_page = per_page;
        call.path = fmt::format(
            "/coins/markets?vs_currency={}&order=market_cap_desc&per_page={}&page={}"
            "&sparkline=false",
            vs, per_page, page_++);
        return call;
      }
      // Listed ids the ranking of this currency did not bring cost a page per 250.
      wanted_.clear();
      for (const auto& id : config_.ids) {
        if (!top_in_currency_.contains(id))
          wanted_.push_back(id);
      }
      wanted_at_ = 0;
      phase_ = Phase::Ids;
    }
    if (wanted_at_ < wanted_.size()) {
      const size_t to = std::min(wanted_.size(), wanted_at_ + kMaxPerPage);
      PlannedCall call;
      call.kind = PlannedCall::Kind::IdsPage;
      call.vs_currency = vs;
      call.path = idsPagePath(vs, wanted_, wanted_at_, to);
      wanted_at_ = to;
      return call;
    }
    // Quotes are deduplicated by coin and currency: this currency's are final.
    ready_ = cycle_.quotes.size();
    ++currency_;
    phase_ = Phase::Top;
    page_ = 1;
    page_short_ = false;
    taken_in_currency_ = 0;
    top_in_currency_.clear();
  }
  return std::nullopt;
}

std::optional<PlannedCall> FetchPlanner::nextPrices() {
  const auto& currencies = config_.vs_currencies;
  if (phase_ == Phase::Universe) {
    phase_ = Phase::NewCoins;  // set again by onList once the list is read
    PlannedCall call;
    call.kind = PlannedCall::Kind::Universe;
    call.path = "/coins/list";
    return call;
  }
  if (phase_ == Phase::NewCoins) {
    // One page per currency: at most 250 new coins per read of the universe (more wait).
    if (!new_coins_.empty() && currency_ < currencies.size()) {
      PlannedCall call;
      call.kind = PlannedCall::Kind::NewCoinsPage;
      call.vs_currency = currencies[currency_++];
      call.path = idsPagePath(call.vs_currency, new_coins_, 0, new_coins_.size());
      return call;
    }
    phase_ = Phase::Batches;
  }
  if (phase_ == Phase::Batches) {
    if (!prices_due_) {
      phase_ = Phase::Done;
      return std::nullopt;
    }
    if (batch_ids_.empty() && batch_at_ == 0) {
      for (const auto* ids : {&top_, &listed_}) {
        for (const auto& id : *ids) {
          if (!from_markets_.contains(id))
            batch_ids_.push_back(id);
        }
      }
    }
    if (batch_at_ < batch_ids_.size()) {
      const size_t to = std::min(batch_ids_.size(), batch_at_ + kMaxPriceIds);
      PlannedCall call;
      call.kind = PlannedCall::Kind::Prices;
      call.path = fmt::format(
          "/simple/price?ids={}&vs_currencies={}&include_market_cap=true&include_24hr_vol=true"
          "&include_24hr_change=true&include_last_updated_at=true&precision=full",
          idList(batch_ids_, batch_at_, to), joinCsv(currencies));
      batch_at_ = to;
      return call;
    }
    phase_ = Phase::Done;
  }
  return std::nullopt;
}

void FetchPlanner::failed(const PlannedCall& call, const Error& error) {
  ++cycle_.calls;
  if (!cycle_.error) {
    cycle_.error = error;
    cycle_.failed_call = call.vs_currency.empty()
                             ? std::string(call.endpoint())
                             : fmt::format("{} {}{}", call.endpoint(), call.vs_currency,
                                           call.kind == PlannedCall::Kind::TopPage
                                               ? fmt::format(" page {}", page_ - 1)
                                               : std::string());
  }
  // A key problem, the budget or the lead: no retry cures it this cycle.
  if (!error.retryable())
    stopped_ = true;
}

void FetchPlanner::emit(SharedQuote quote) {
  const std::string key = keyOf(quote->id, quote->vs_currency);
  auto [it, inserted] = emitted_.emplace(key, cycle_.quotes.size());
  if (inserted)
    cycle_.quotes.push_back(std::move(quote));
  else
    cycle_.quotes[it->second] = std::move(quote);
}

void FetchPlanner::takeMarkets(model::Quote quote) {
  quote.price_fetched_ms = quote.fetched_ms;
  quote.details_fetched_ms = quote.fetched_ms;
  Known* known = mix() ? &known_[keyOf(quote.id, quote.vs_currency)] : nullptr;
  bool same_second = false;
  if (known != nullptr) {
    // /simple/price gives last_updated in whole seconds: the same observation read here with
    // its milliseconds keeps the identity it was published under (no duplicate observation).
    same_second = known->from_prices && known->quote &&
                  known->quote->last_updated_ms / 1000 == quote.last_updated_ms / 1000;
    if (same_second)
      quote.last_updated_ms = known->quote->last_updated_ms;
  }
  from_markets_.insert(quote.id);
  auto shared = std::make_shared<const model::Quote>(std::move(quote));
  if (known != nullptr) {
    known->quote = shared;
    known->from_prices = same_second;
  }
  emit(std::move(shared));
}

void FetchPlanner::answered(size_t invalid_items, const std::string& first_invalid_reason) {
  ++cycle_.calls;
  ++cycle_.calls_ok;
  if (invalid_items > 0 && cycle_.invalid == 0)
    cycle_.first_invalid = first_invalid_reason;
  cycle_.invalid += invalid_items;
}

void FetchPlanner::onMarkets(const PlannedCall& call, Result<coingecko::MarketsPage> page) {
  const bool top = call.kind == PlannedCall::Kind::TopPage;
  if (!page) {
    if (top)
      ranking_complete_ = false;
    else if (call.kind == PlannedCall::Kind::IdsPage)
      ids_complete_ = false;
    failed(call, page.error());
    return;
  }
  answered(page->invalid_items, page->first_invalid_reason);
  const bool short_page =
      top && page->quotes.size() + page->invalid_items < static_cast<size_t>(call.per_page);
  const auto limit = static_cast<size_t>(std::max(0, config_.top_n));
  for (auto& quote : page->quotes) {
    if (top) {
      if (taken_in_currency_ >= limit)
        break;
      ++taken_in_currency_;
      top_in_currency_.insert(quote.id);
      if (in_ranking_.insert(quote.id).second)
        ranking_.push_back(quote.id);
    } else if (call.kind == PlannedCall::Kind::IdsPage) {
      listed_found_.insert(quote.id);
    } else if (!tracked_.contains(quote.id)) {  // a coin new in the universe
      top_.push_back(quote.id);
      tracked_.insert(quote.id);
    }
    takeMarkets(std::move(quote));
  }
  // A prices cycle reads each new coin once per currency: its quotes are final at once.
  if (cycle_.kind == CycleKind::Prices)
    ready_ = cycle_.quotes.size();
  if (short_page) {
    page_short_ = true;  // no page after this one
    // The ranking ended before top_n: the top N is the whole universe.
    if (taken_in_currency_ < limit)
      universe_ended_ = true;
  }
}

void FetchPlanner::onPrices(const PlannedCall& call, Result<coingecko::PricesPage> page) {
  if (!page) {
    prices_complete_ = false;
    failed(call, page.error());
    return;
  }
  answered(page->invalid_items, page->first_invalid_reason);
  const auto& currencies = config_.vs_currencies;
  for (const auto& record : page->records) {
    for (size_t c = 0; c < currencies.size() && c < record.values.size(); ++c) {
      auto it = known_.find(keyOf(record.id, currencies[c]));
      if (it == known_.end()) {
        ++cycle_.without_details;  // not asked for, or its details page failed
        continue;
      }
      Known& known = it->second;
      // Copy on write: the last quote may be held by the snapshot, and stays as it was.
      model::Quote q = *known.quote;
      const std::optional<double> previous_price = q.price;
      const auto& v = record.values[c];
      q.price = v.price;
      q.market_cap = v.market_cap;
      q.volume_24h = v.volume_24h;
      q.change_24h = v.change_24h;
      // Whole seconds here: an observation already published with its milliseconds keeps them.
      if (q.last_updated_ms / 1000 != record.last_updated_s) {
        q.last_updated_ms = record.last_updated_s * 1000;
        known.from_prices = true;
      }
      q.fetched_ms = page->fetched_ms;
      q.price_fetched_ms = page->fetched_ms;
      derive(q, previous_price);
      known.quote = std::make_shared<const model::Quote>(std::move(q));
      // Each tracked id is in one batch, and none read from /coins/markets this cycle: no
      // duplicate to look for.
      cycle_.quotes.push_back(known.quote);
    }
  }
  ready_ = cycle_.quotes.size();
}

void FetchPlanner::onList(const PlannedCall& call, Result<coingecko::CoinsList> list) {
  if (!list) {
    failed(call, list.error());
    phase_ = Phase::Batches;
    return;
  }
  ++cycle_.calls;
  ++cycle_.calls_ok;
  cycle_.invalid += list->invalid_items;
  std::unordered_set<std::string> universe;
  universe.reserve(list->coins.size());
  for (const auto& coin : list->coins)
    universe.insert(coin.id);
  // Coins that left the universe are no longer priced; their last quotes are forgotten.
  auto gone = [&](const std::string& id) { return !universe.contains(id); };
  const size_t before = trackedCount();
  std::erase_if(top_, gone);
  std::erase_if(listed_, gone);
  if (trackedCount() != before) {
    rebuildTracked();
    std::erase_if(known_,
                  [&](const auto& entry) { return !tracked_.contains(entry.second.quote->id); });
  }
  // Coins new in it, within the top N: their details at once, one page per currency.
  const size_t room = config_.top_n > static_cast<int>(top_.size())
                          ? static_cast<size_t>(config_.top_n) - top_.size()
                          : 0;
  for (const auto& coin : list->coins) {
    if (new_coins_.size() >= std::min<size_t>(room, kMaxPerPage))
      break;
    if (!tracked_.contains(coin.id))
      new_coins_.push_back(coin.id);
  }
  universe_at_ms_ = slot_ms_;
  currency_ = 0;
  phase_ = Phase::NewCoins;
}

void FetchPlanner::rebuildTracked() {
  tracked_.clear();
  tracked_.insert(top_.begin(), top_.end());
  tracked_.insert(listed_.begin(), listed_.end());
}

void FetchPlanner::finishDetails() {
  const bool complete = ranking_complete_ && ids_complete_ && !stopped_;
  // A ranking read in full replaces the last one; a partial one only adds to it, so a failed
  // page does not drop its coins until the next read.
  if (ranking_complete_ && !stopped_) {
    top_ = std::move(ranking_);
    whole_universe_ = universe_ended_;
  } else {
    for (auto& id : ranking_) {
      if (!tracked_.contains(id))
        top_.push_back(std::move(id));
    }
  }
  std::vector<std::string> listed;
  for (const auto& id : config_.ids) {
    if (listed_found_.contains(id) && !in_ranking_.contains(id))
      listed.push_back(id);
  }
  if (ids_complete_ && !stopped_) {
    listed_ = std::move(listed);
  } else {
    for (auto& id : listed) {
      if (!tracked_.contains(id))
        listed_.push_back(std::move(id));
    }
  }
  rebuildTracked();
  // An id both ranked now and listed before is tracked once, as ranked.
  std::erase_if(listed_, [&](const std::string& id) { return in_ranking_.contains(id); });
  if (complete) {
    for (const auto& id : config_.ids) {
      if (!tracked_.contains(id))
        cycle_.missing_ids.push_back(id);
    }
    details_at_ms_ = slot_ms_;
    prices_at_ms_ = slot_ms_;  // the details read brought every price too
    if (whole_universe_)
      universe_at_ms_ = slot_ms_;  // and the whole universe
    // Coins that left the top N are no longer priced.
    std::erase_if(known_,
                  [&](const auto& entry) { return !tracked_.contains(entry.second.quote->id); });
  }
}

std::vector<SharedQuote> FetchPlanner::takeReady() {
  std::vector<SharedQuote> out;
  if (ready_ == 0)
    return out;
  if (ready_ == cycle_.quotes.size()) {
    out.swap(cycle_.quotes);
    emitted_.clear();
  } else {
    const auto end = cycle_.quotes.begin() + static_cast<std::ptrdiff_t>(ready_);
    out.assign(std::make_move_iterator(cycle_.quotes.begin()), std::make_move_iterator(end));
    cycle_.quotes.erase(cycle_.quotes.begin(), end);
    std::erase_if(emitted_, [&](const auto& entry) { return entry.second < ready_; });
    for (auto& entry : emitted_)
      entry.second -= ready_;
  }
  ready_ = 0;
  return out;
}

PlannedCycle FetchPlanner::finish() {
  if (cycle_.kind == CycleKind::Details) {
    finishDetails();
  } else if (cycle_.kind == CycleKind::Prices && prices_due_ && prices_complete_ && !stopped_ &&
             phase_ == Phase::Done) {
    prices_at_ms_ = slot_ms_;
  }
  PlannedCycle out = std::move(cycle_);
  cycle_ = PlannedCycle{};
  emitted_.clear();
  ready_ = 0;
  return out;
}

}  // namespace coinrelay::pipeline
