#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace coinrelay {

/// Set once (SIGINT/SIGTERM or a test), observed by every loop; waits wake up at once when it is
/// set, so shutdown never waits for a sleeping backoff or schedule.
class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard lock(mutex_);
    return stopped_;
  }
  /// Sleeps up to `duration`; returns true when stopping was requested meanwhile.
  template <class Rep, class Period>
  bool waitFor(std::chrono::duration<Rep, Period> duration) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, duration, [this] { return stopped_; });
  }
  template <class Clock, class Duration>
  bool waitUntil(std::chrono::time_point<Clock, Duration> deadline) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, deadline, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace coinrelay
