#include "api/stream_hub.h"

#include <fmt/format.h>

#include "api/api_error.h"
#include "model/quote_codec.h"

namespace coinrelay::api {

StreamHub::StreamHub(StreamLimits limits)
    : clients_gauge_(telemetry::metrics().gauge("coinrelay_stream_clients",
                                                "Clients connected to /v1/stream.")),
      max_gauge_(telemetry::metrics().gauge(
          "coinrelay_stream_clients_max",
          "Stream clients allowed at once (serve.max_streams, lowered to fit the connection "
          "cap).")),
      dropped_(telemetry::metrics().counter(
          "coinrelay_stream_dropped_clients_total",
          "Stream clients disconnected because they fell behind or went away.")),
      refused_full_(telemetry::metrics().counter(
          "coinrelay_stream_refused_total",
          "Stream requests refused: serve.max_streams reached (503) or the client's own share, "
          "serve.max_streams_per_client (429).",
          {{"reason", "full"}})),
      refused_client_(telemetry::metrics().counter("coinrelay_stream_refused_total", "",
                                                   {{"reason", "per_client"}})) {
  places_->limits = limits;
  max_gauge_.add(static_cast<double>(limits.max_streams));
}

StreamHub::~StreamHub() {
  std::lock_guard lock(places_->mutex);
  max_gauge_.add(-static_cast<double>(places_->limits.max_streams));
}

void StreamHub::setLimits(StreamLimits limits) {
  std::lock_guard lock(places_->mutex);
  max_gauge_.add(static_cast<double>(limits.max_streams) -
                 static_cast<double>(places_->limits.max_streams));
  places_->limits = limits;
}

StreamLimits StreamHub::limits() const {
  std::lock_guard lock(places_->mutex);
  return places_->limits;
}

std::string StreamHub::encodeEvent(const model::Quote& quote) {
  std::string event = "event: quote\ndata: ";
  model::encodeQuote(quote, event);
  event += "\n\n";
  return event;
}

void StreamHub::prune() {
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_,
                [](const Subscriber& subscriber) { return !subscriber.sink->open(); });
  clients_gauge_.set(static_cast<double>(subscribers_.size()));
}

StreamHub::Admission StreamHub::admit(const std::string& client) {
  // Clients that went away since the last event give their places back first: with a quiet
  // market no publish() would notice them.
  prune();
  std::lock_guard lock(places_->mutex);
  const StreamLimits& limits = places_->limits;
  if (places_->total >= limits.max_streams) {
    refused_full_.inc();
    net::Reply refusal = errorReply(
        ApiErrorKind::Unavailable,
        fmt::format("coinrelay serves its maximum of {} streams (serve.max_streams); retry later",
                    limits.max_streams));
    refusal.headers.emplace_back("retry-after", "5");
    return {nullptr, std::move(refusal)};
  }
  size_t& mine = places_->by_client[client];
  if (mine >= limits.max_per_client) {
    if (mine == 0)
      places_->by_client.erase(client);
    refused_client_.inc();
    net::Reply refusal = errorReply(ApiErrorKind::RateLimited,
                                    fmt::format("this client already holds {} streams, its maximum "
                                                "(serve.max_streams_per_client); close one first",
                                                mine));
    refusal.headers.emplace_back("retry-after", "5");
    return {nullptr, std::move(refusal)};
  }
  ++mine;
  ++places_->total;
  // The slot gives the place back when its last copy goes, wherever that happens.
  Slot slot(static_cast<const void*>(nullptr), [places = places_, client](const void*) {
    std::lock_guard lock(places->mutex);
    --places->total;
    auto it = places->by_client.find(client);
    if (it != places->by_client.end() && --it->second == 0)
      places->by_client.erase(it);
  });
  return {std::move(slot), std::nullopt};
}

void StreamHub::subscribe(std::shared_ptr<net::EventSink> sink, std::set<std::string> ids,
                          std::span<const model::Quote* const> initial, Slot slot) {
  for (const model::Quote* quote : initial) {
    if (!ids.empty() && !ids.contains(quote->id))
      continue;
    if (!sink->push(std::make_shared<const std::string>(encodeEvent(*quote))))
      return;
  }
  std::lock_guard lock(mutex_);
  subscribers_.push_back(Subscriber{std::move(sink), std::move(ids), std::move(slot)});
  clients_gauge_.set(static_cast<double>(subscribers_.size()));
}

void StreamHub::publish(std::span<const model::Quote> quotes) {
  std::lock_guard lock(mutex_);
  if (subscribers_.empty())
    return;
  std::vector<bool> gone(subscribers_.size(), false);
  for (const auto& quote : quotes) {
    std::shared_ptr<const std::string> event;  // encoded for the first client that wants it
    for (size_t i = 0; i < subscribers_.size(); ++i) {
      const Subscriber& subscriber = subscribers_[i];
      if (gone[i] || (!subscriber.ids.empty() && !subscriber.ids.contains(quote.id)))
        continue;
      if (!event)
        event = std::make_shared<const std::string>(encodeEvent(quote));
      if (!subscriber.sink->push(event)) {
        dropped_.inc();
        gone[i] = true;
      }
    }
  }
  size_t index = 0;
  std::erase_if(subscribers_, [&](const Subscriber&) { return gone[index++]; });
  clients_gauge_.set(static_cast<double>(subscribers_.size()));
}

size_t StreamHub::clients() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

void StreamHub::closeAll() {
  std::vector<Subscriber> closing;
  {
    std::lock_guard lock(mutex_);
    closing.swap(subscribers_);
  }
  clients_gauge_.set(0);
}

}  // namespace coinrelay::api
