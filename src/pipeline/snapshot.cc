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

void index(SnapshotVersion& v) {
  v.by_currency.clear();
  for (const auto& [key, quote] : v.quotes) {
    v.by_currency[quote->vs_currency].push_back(quote.get());
    v.newest_fetch_ms = std::max(v.newest_fetch_ms, quote->fetched_ms);
  }
  for (auto& [vs, list] : v.by_currency) {
    std::stable_sort(list.begin(), list.end(), byRank);
  }
}

}  // namespace

SnapshotVersion::SnapshotVersion(const SnapshotVersion& other)
    : version(other.version),
      quotes(other.quotes),
      updated_ms(other.updated_ms),
      newest_fetch_ms(other.newest_fetch_ms) {}

const std::string& SnapshotVersion::quotesJson() const {
  std::call_once(rendered_, [this] {
    std::vector<const model::Quote*> ordered;
    ordered.reserve(quotes.size());
    for (const auto& [key, quote] : quotes)
      ordered.push_back(quote.get());
    std::stable_sort(ordered.begin(), ordered.end(), byRank);
    JsonWriter w(quotes_json_);
    w.beginObject()
        .field("version", static_cast<int64_t>(version))
        .field("updated_at", updated_ms ? formatIso8601Millis(updated_ms) : std::string())
        .field("count", static_cast<int64_t>(ordered.size()))
        .key("quotes")
        .beginArray();
    std::string one;
    for (const auto* quote : ordered) {
      one.clear();
      model::encodeQuote(*quote, one);
      w.raw(one);
    }
    w.endArray().endObject();
  });
  return quotes_json_;
}

Snapshot::Snapshot(const Clock& clock) : clock_(clock) {
  current_ = std::make_shared<SnapshotVersion>();
}

const model::Quote* SnapshotVersion::find(const std::string& id,
                                          const std::string& vs_currency) const {
  auto it = quotes.find({id, vs_currency});
  return it == quotes.end() ? nullptr : it->second.get();
}

void Snapshot::addListener(Listener listener) {
  listeners_.push_back(std::move(listener));
}

std::shared_ptr<const SnapshotVersion> Snapshot::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Status Snapshot::deliver(std::span<const model::Quote> batch) {
  for (size_t offset = 0; offset < batch.size(); offset += kChunk)
    deliverChunk({}, batch.subspan(offset, std::min(kChunk, batch.size() - offset)));
  return {};
}

Status Snapshot::deliverShared(std::span<const sinks::SharedQuote> batch) {
  for (size_t offset = 0; offset < batch.size(); offset += kChunk)
    deliverChunk(batch.subspan(offset, std::min(kChunk, batch.size() - offset)), {});
  return {};
}

void Snapshot::deliverChunk(std::span<const sinks::SharedQuote> shared,
                            std::span<const model::Quote> plain) {
  const size_t count = shared.empty() ? plain.size() : shared.size();
  auto quoteAt = [&](size_t i) -> const model::Quote& {
    return shared.empty() ? plain[i] : *shared[i];
  };
  // A shared quote is kept as it is; a plain one is copied, and only when it takes a slot.
  auto keep = [&](size_t i) {
    return shared.empty() ? std::make_shared<const model::Quote>(plain[i]) : shared[i];
  };
  auto base = current();
  auto next = std::make_shared<SnapshotVersion>(*base);
  next->version = base->version + 1;
  next->updated_ms = toUnixMillis(clock_.now());
  bool all_changed = true;
  std::vector<size_t> changed;  // indexes into the chunk
  for (size_t i = 0; i < count; ++i) {
    const model::Quote& quote = quoteAt(i);
    auto& slot = next->quotes[{quote.id, quote.vs_currency}];
    if (slot == nullptr || slot->last_updated_ms < quote.last_updated_ms) {
      slot = keep(i);
      changed.push_back(i);
    } else {
      all_changed = false;
      if (slot->last_updated_ms == quote.last_updated_ms)
        slot = keep(i);  // the same moment: the newer copy
    }
  }
  index(*next);
  base.reset();
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }
  if (changed.empty() || listeners_.empty())
    return;
  if (all_changed && !plain.empty()) {
    for (const auto& listener : listeners_)
      listener(plain);
    return;
  }
  std::vector<model::Quote> copies;
  copies.reserve(changed.size());
  for (size_t i : changed)
    copies.push_back(quoteAt(i));
  for (const auto& listener : listeners_)
    listener(copies);
}

}  // namespace coinrelay::pipeline
