#include "api/query_pool.h"

#include "api/api_error.h"
#include "telemetry/logging.h"

namespace coinrelay::api {

QueryPool::QueryPool(int threads, size_t max_queued, const std::string& name)
    : max_queued_(max_queued),
      queued_gauge_(telemetry::metrics().gauge("coinrelay_query_pool_queued",
                                               "Slow queries waiting for a thread of their pool.",
                                               {{"pool", name}})),
      running_gauge_(telemetry::metrics().gauge(
          "coinrelay_query_pool_running", "Slow queries running on their pool.", {{"pool", name}})),
      refused_(telemetry::metrics().counter(
          "coinrelay_query_pool_refused_total",
          "Slow queries refused with 503 because their pool's queue was full.", {{"pool", name}})) {
  for (int i = 0; i < std::max(1, threads); ++i)
    threads_.emplace_back([this] { work(); });
}

QueryPool::~QueryPool() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(jobs_);
    queued_gauge_.add(-static_cast<double>(dropped.size()));
  }
  ready_.notify_all();
  for (auto& thread : threads_)
    thread.join();
}

bool QueryPool::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_queued_) {
      refused_.inc();
      return false;
    }
    jobs_.push_back(std::move(job));
    queued_gauge_.add(1);
  }
  ready_.notify_one();
  return true;
}

net::Reply QueryPool::defer(std::function<net::Reply()> query) {
  net::Reply reply;
  reply.deferred = [this, query = std::move(query)](std::function<void(net::Reply)> done) mutable {
    auto shared_done = std::make_shared<std::function<void(net::Reply)>>(std::move(done));
    const bool queued = post([query = std::move(query), shared_done] {
      net::Reply answer;
      try {
        answer = query();
      } catch (const std::exception& e) {
        telemetry::logger("http")->error("query failed: {}", e.what());
        answer = net::Reply{500, "application/json", R"({"error":"internal error"})"};
      }
      (*shared_done)(std::move(answer));
    });
    if (!queued) {
      net::Reply busy =
          errorReply(ApiErrorKind::Unavailable,
                     "too many slow queries (history) are waiting; retry in a moment");
      busy.headers.emplace_back("retry-after", "1");
      (*shared_done)(std::move(busy));
    }
  };
  return reply;
}

size_t QueryPool::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void QueryPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;  // stopping
      job = std::move(jobs_.front());
      jobs_.pop_front();
      queued_gauge_.add(-1);
    }
    running_gauge_.add(1);
    job();
    running_gauge_.add(-1);
  }
}

}  // namespace coinrelay::api
