#include "pipeline/snapshot.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/json_writer.h"
#include "common/time_util.h"
#include "model/quote_codec.h"

namespace coinrelay::pipeline {

namespace {

bool byRank(const model::Quote* a, const model::Quote* b) {
  const int64_t ra = a->market_cap_rank.value_or(std::numeric_limits<int64_t>::max());
  const int64_t rb = b->market_cap_rank.value_or(std::numeric_limits<int64_t>::max());
  return ra != rb ? ra < rb : a->id < b->id;
}

void render(SnapshotVersion& v) {
  std::vector<const model::Quote*> ordered;
  ordered.reserve(v.quotes.size());
  v.by_currency.clear();
  for (const auto& [key, quote] : v.quotes) {
    ordered.push_back(&quote);
    v.by_currency[quote.vs_currency].push_back(&quote);
    v.newest_fetch_ms = std::max(v.newest_fetch_ms, quote.fetched_ms);
  }
  std::stable_sort(ordered.begin(), ordered.end(), byRank);
  for (auto& [vs, list] : v.by_currency) {
    std::stable_sort(list.begin(), list.end(), byRank);
  }
  v.quotes_json.clear();
  JsonWriter w(v.quotes_json);
  w.beginObject()
      .field("version", static_cast<int64_t>(v.version))
      .field("updated_at", v.updated_ms ? formatIso8601Millis(v.updated_ms) : std::string())
      .field("count", static_cast<int64_t>(ordered.size()))
      .key("quotes")
      .beginArray();
  for (const auto* quote : ordered) {
    std::string one;
    model::encodeQuote(*quote, one);
    w.raw(one);
  }
  w.endArray().endObject();
}

}  // namespace

Snapshot::Snapshot(const Clock& clock) : clock_(clock) {
  auto empty = std::make_shared<SnapshotVersion>();
  render(*empty);
  current_ = std::move(empty);
}

const model::Quote* SnapshotVersion::find(const std::string& id,
                                          const std::string& vs_currency) const {
  auto it = quotes.find({id, vs_currency});
  return it == quotes.end() ? nullptr : &it->second;
}

void Snapshot::addListener(Listener listener) {
  listeners_.push_back(std::move(listener));
}

std::shared_ptr<const SnapshotVersion> Snapshot::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Status Snapshot::deliver(std::span<const model::Quote> batch) {
  auto base = current();
  auto next = std::make_shared<SnapshotVersion>(*base);
  next->version = base->version + 1;
  next->updated_ms = toUnixMillis(clock_.now());
  for (const auto& quote : batch) {
    auto& slot = next->quotes[{quote.id, quote.vs_currency}];
    if (slot.id.empty() || slot.last_updated_ms <= quote.last_updated_ms)
      slot = quote;
  }
  std::vector<model::Quote> changed;
  for (const auto& quote : batch) {
    const auto* previous = base->find(quote.id, quote.vs_currency);
    if (previous == nullptr || previous->last_updated_ms < quote.last_updated_ms) {
      changed.push_back(quote);
    }
  }
  render(*next);
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }
  if (!changed.empty()) {
    for (const auto& listener : listeners_)
      listener(changed);
  }
  return {};
}

}  // namespace coinrelay::pipeline
