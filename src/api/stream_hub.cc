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
                          std::span<const model::Quote> initial) {
  for (const auto& quote : initial) {
    if (!ids.empty() && !ids.contains(quote.id))
      continue;
    if (!sink->push(std::make_shared<const std::string>(encodeEvent(quote))))
      return;
  }
  std::lock_guard lock(mutex_);
  subscribers_.push_back(Subscriber{std::move(sink), std::move(ids)});
  clients_gauge_.set(static_cast<double>(subscribers_.size()));
}

void StreamHub::publish(std::span<const model::Quote> quotes) {
  std::vector<std::shared_ptr<const std::string>> events;
  events.reserve(quotes.size());
  for (const auto& quote : quotes) {
    events.push_back(std::make_shared<const std::string>(encodeEvent(quote)));
  }
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_, [&](Subscriber& subscriber) {
    for (size_t i = 0; i < quotes.size(); ++i) {
      if (!subscriber.ids.empty() && !subscriber.ids.contains(quotes[i].id))
        continue;
      if (!subscriber.sink->push(events[i])) {
        dropped_.inc();
        return true;
      }
    }
    return false;
  });
  clients_gauge_.set(static_cast<double>(subscribers_.size()));
}

size_t StreamHub::clients() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

}  // namespace coinrelay::api
