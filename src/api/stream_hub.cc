#include "api/stream_hub.h"

#include "model/quote_codec.h"

namespace coinrelay::api {

StreamHub::StreamHub()
    : clients_gauge_(telemetry::metrics().gauge("coinrelay_stream_clients",
                                                "Clients connected to /v1/stream.")),
      dropped_(telemetry::metrics().counter(
          "coinrelay_stream_dropped_clients_total",
          "Stream clients disconnected because they fell behind or went away.")) {}

std::string StreamHub::encodeEvent(const model::Quote& quote) {
  std::string event = "event: quote\ndata: ";
  model::encodeQuote(quote, event);
  event += "\n\n";
  return event;
}

void StreamHub::subscribe(std::shared_ptr<net::EventSink> sink, std::set<std::string> ids,
                          std::span<const model::Quote* const> initial) {
  for (const model::Quote* quote : initial) {
    if (!ids.empty() && !ids.contains(quote->id))
      continue;
    if (!sink->push(std::make_shared<const std::string>(encodeEvent(*quote))))
      return;
  }
  std::lock_guard lock(mutex_);
  subscribers_.push_back(Subscriber{std::move(sink), std::move(ids)});
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

}  // namespace coinrelay::api
