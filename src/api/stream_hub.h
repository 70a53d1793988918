#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "model/quote.h"
#include "net/http_server.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

/// Fans every new quote out to the connected /v1/stream clients as server-sent events
/// (`event: quote`, `data: <the v1 quote document>`). Each event is encoded once, only when a
/// client wants it, and shared by every client; a client that cannot keep up is disconnected by
/// its connection, never waited for. Events are encoded and handed out one at a time, so a batch
/// of the whole universe costs one event's memory here, not the batch's.
/// Threading: publish() from the snapshot's writer; subscribe() from server threads.
class StreamHub {
 public:
  StreamHub();

  /// Adds a client; `ids` empty means every coin. `initial` quotes are sent first.
  void subscribe(std::shared_ptr<net::EventSink> sink, std::set<std::string> ids,
                 std::span<const model::Quote* const> initial);
  void publish(std::span<const model::Quote> quotes);
  size_t clients() const;

  static std::string encodeEvent(const model::Quote& quote);

 private:
  struct Subscriber {
    std::shared_ptr<net::EventSink> sink;
    std::set<std::string> ids;
  };
  mutable std::mutex mutex_;
  std::vector<Subscriber> subscribers_;
  telemetry::Gauge& clients_gauge_;
  telemetry::Counter& dropped_;
};

}  // namespace coinrelay::api
