#include "coingecko/rate_limiter.h"

#include <algorithm>

namespace coinrelay::coingecko {

RateLimiter::RateLimiter(int limit_per_window, std::chrono::milliseconds window)
    : limit_(limit_per_window), window_(window) {}

SystemTime RateLimiter::nextSlotLocked(SystemTime now) const {
  while (!sent_.empty() && sent_.front() + window_ <= now)
    sent_.pop_front();
  SystemTime slot = std::max(now, hold_until_);
  if (limit_ > 0 && static_cast<int>(sent_.size()) >= limit_) {
    // The request `limit_` places back must have left the window.
    slot = std::max(slot, sent_[sent_.size() - static_cast<size_t>(limit_)] + window_);
  }
  return slot;
}

SystemTime RateLimiter::nextSlot(SystemTime now) const {
  std::lock_guard lock(mutex_);
  return nextSlotLocked(now);
}

void RateLimiter::record(SystemTime at) {
  std::lock_guard lock(mutex_);
  sent_.push_back(at);
  // Out-of-order records (several threads) stay correct as long as the log is sorted.
  for (size_t i = sent_.size() - 1; i > 0 && sent_[i] < sent_[i - 1]; --i)
    std::swap(sent_[i], sent_[i - 1]);
}

void RateLimiter::holdUntil(SystemTime until) {
  std::lock_guard lock(mutex_);
  hold_until_ = std::max(hold_until_, until);
}

bool RateLimiter::acquire(SystemTime deadline, const StopSignal& stop) {
  for (;;) {
    SystemTime slot;
    {
      std::lock_guard lock(mutex_);
      const SystemTime now = std::chrono::system_clock::now();
      slot = nextSlotLocked(now);
      if (slot > deadline)
        return false;
      if (slot <= now) {
        sent_.push_back(now);
        return true;
      }
    }
    if (stop.waitUntil(slot))
      return false;
  }
}

bool RateLimiter::tryAcquire(SystemTime now, int keep_free) {
  std::lock_guard lock(mutex_);
  if (nextSlotLocked(now) > now)
    return false;
  if (limit_ > 0 && static_cast<int>(sent_.size()) + 1 + std::max(0, keep_free) > limit_)
    return false;
  sent_.push_back(now);
  return true;
}

int RateLimiter::limit() const {
  std::lock_guard lock(mutex_);
  return limit_;
}

void RateLimiter::setLimit(int limit_per_window) {
  std::lock_guard lock(mutex_);
  limit_ = limit_per_window;
}

}  // namespace coinrelay::coingecko
