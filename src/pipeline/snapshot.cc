#include "pipeline/snapshot.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/json_writer.h"
#include "common/time_util.h"
#include "model/quote_codec.h"

namespace coinrelay::pipeline {

namespace {

void render(SnapshotVersion& v) {
  std::vector<const model::Quote*> ordered;
  ordered.reserve(v.quotes.size());
  for (const auto& [key, quote] : v.quotes)
    ordered.push_back(&quote);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    const int64_t ra = a->market_cap_rank.value_or(std::numeric_limits<int64_t>::max());
    const int64_t rb = b->market_cap_rank.value_or(std::numeric_limits<int64_t>::max());
    return ra != rb ? ra < rb : a->id < b->id;
  });
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

Snapshot::Snapshot() {
  auto empty = std::make_shared<SnapshotVersion>();
  render(*empty);
  current_ = std::move(empty);
}

std::shared_ptr<const SnapshotVersion> Snapshot::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Status Snapshot::deliver(std::span<const model::Quote> batch) {
  auto base = current();
  auto next = std::make_shared<SnapshotVersion>(*base);
  next->version = base->version + 1;
  next->updated_ms = toUnixMillis(std::chrono::system_clock::now());
  for (const auto& quote : batch) {
    auto& slot = next->quotes[{quote.id, quote.vs_currency}];
    if (slot.id.empty() || slot.last_updated_ms <= quote.last_updated_ms)
      slot = quote;
  }
  render(*next);
  std::lock_guard lock(mutex_);
  current_ = std::move(next);
  return {};
}

}  // namespace coinrelay::pipeline
