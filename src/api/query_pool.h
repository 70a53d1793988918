#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {

/// Threads of their own for slow queries (history, charts over the stored quotes), so that a
/// query scanning many rows never holds a server thread that answers cached requests. At most
/// `max_queued` queries wait for a thread; beyond, a query is refused at once (503 with
/// retry-after) rather than queued without bound.
/// /metrics: coinrelay_query_pool_{queued,running,refused_total}{pool=<name>}.
/// Threading: defer() and post() from any thread. The destructor drops the queries still waiting
/// (their connections close) and waits for the running ones: destroy it before what they read.
class QueryPool {
 public:
  QueryPool(int threads, size_t max_queued, const std::string& name = "queries");
  ~QueryPool();
  QueryPool(const QueryPool&) = delete;
  QueryPool& operator=(const QueryPool&) = delete;

  /// A reply the server completes later (Reply::deferred) with what `query` returns, run on one
  /// of the pool's threads; a 503 at once when the queue is full.
  net::Reply defer(std::function<net::Reply()> query);
  /// Queues `job`; false (and nothing queued) when the queue is full or the pool stops.
  bool post(std::function<void()> job);

  size_t queued() const;

 private:
  void work();

  size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  telemetry::Gauge& queued_gauge_;
  telemetry::Gauge& running_gauge_;
  telemetry::Counter& refused_;
};

}  // namespace coinrelay::api
