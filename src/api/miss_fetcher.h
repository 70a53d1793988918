#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/http_server.h"
#include "config/config.h"

namespace coinrelay::api {

/// Answers queries the snapshot cannot (a coin or currency outside the tracked set) by asking
/// the upstream once: concurrent identical queries wait for the same call (single flight), the
/// answer is kept for a TTL, and calls are capped per minute. So the number of upstream calls
/// depends on the distinct misses, never on the number of clients.
/// Threading: ask() is called from the server's threads and blocks the caller during the call.
class MissFetcher {
 public:
  MissFetcher(const config::UpstreamConfig& upstream, std::chrono::seconds ttl,
              int max_calls_per_minute);

  /// `path_and_query` is the normalised upstream request, e.g. "/simple/price?ids=x&...".
  Reply ask(const std::string& path_and_query);
  uint64_t upstreamCalls() const;

 private:
  struct Entry {
    bool ready = false;
    int status = 0;
    std::string body;
    std::chrono::steady_clock::time_point expires;
  };

  config::UpstreamConfig upstream_;
  std::chrono::seconds ttl_;
  int max_calls_per_minute_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::chrono::steady_clock::time_point> recent_calls_;  // sliding minute window
  uint64_t calls_ = 0;
};

}  // namespace coinrelay::api
