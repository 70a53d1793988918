#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/quote.h"
#include "net/http_server.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

/// How many /v1/stream clients a hub serves at once.
struct StreamLimits {
  size_t max_streams = 1000;    ///< in all (serve.max_streams)
  size_t max_per_client = 100;  ///< from one client address (serve.max_streams_per_client)
};

/// Fans every new quote out to the connected /v1/stream clients as server-sent events
/// (`event: quote`, `data: <the v1 quote document>`). Each event is encoded once, only when a
/// client wants it, and shared by every client; a client that cannot keep up is disconnected by
/// its connection, never waited for. Events are encoded and handed out one at a time, so a batch
/// of the whole universe costs one event's memory here, not the batch's.
/// Threading: publish() from the snapshot's writer; admit() and subscribe() from server
/// threads.
class StreamHub {
 public:
  explicit StreamHub(StreamLimits limits = {});
  ~StreamHub();

  void setLimits(StreamLimits limits);
  StreamLimits limits() const;

  /// A place for one stream, released when the last copy of it goes (the stream ended, or was
  /// never started).
  using Slot = std::shared_ptr<const void>;
  struct Admission {
    Slot slot;
    std::optional<net::Reply> refusal;  ///< 503 when the hub is full, 429 for a client's share
  };
  /// Reserves a place for a stream of `client` (its address) within the limits.
  Admission admit(const std::string& client);

  /// Adds a client; `ids` empty means every coin. `initial` quotes are sent first. `slot`, from
  /// admit(), is held as long as the client stays.
  void subscribe(std::shared_ptr<net::EventSink> sink, std::set<std::string> ids,
                 std::span<const model::Quote* const> initial, Slot slot = {});
  void publish(std::span<const model::Quote> quotes);
  size_t clients() const;
  /// Drops every client. Call it once the server has stopped and before it is destroyed: a
  /// client's connection belongs to the server's I/O context and must not outlive it.
  void closeAll();

  static std::string encodeEvent(const model::Quote& quote);

 private:
  struct Subscriber {
    std::shared_ptr<net::EventSink> sink;
    std::set<std::string> ids;
    Slot slot;
  };
  /// Forgets the clients whose connection closed, which gives their places back.
  void prune();

  mutable std::mutex mutex_;
  std::vector<Subscriber> subscribers_;
  /// The limits and the places held, in all and by client; shared with the slots, which may
  /// outlive the hub (a stream still being set up when it stops).
  struct Places {
    std::mutex mutex;
    StreamLimits limits;
    size_t total = 0;
    std::map<std::string, size_t> by_client;
  };
  std::shared_ptr<Places> places_ = std::make_shared<Places>();
  telemetry::Gauge& clients_gauge_;
  telemetry::Gauge& max_gauge_;
  telemetry::Counter& dropped_;
  telemetry::Counter& refused_full_;
  telemetry::Counter& refused_client_;
};

}  // namespace coinrelay::api
