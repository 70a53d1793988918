#include "coingecko/rate_limiter.h"

#include <algorithm>

namespace coinrelay::coingecko {

RateLimiter::RateLimiter(int limit_per_window, std::chrono::milliseconds window, const Clock& clock)
    : clock_(clock), limit_(limit_per_window), window_(window) {}

void RateLimiter::dropExpired(SystemTime now) const {
  while (!sent_.empty() && sent_.front().at + window_ <= now)
    sent_.pop_front();
}

SystemTime RateLimiter::nextSlotLocked(SystemTime now) const {
  dropExpired(now);
  SystemTime slot = std::max(now, hold_until_);
  if (limit_ > 0 && static_cast<int>(sent_.size()) >= limit_) {
    // The request `limit_` places back must have left the window.
    slot = std::max(slot, sent_[sent_.size() - static_cast<size_t>(limit_)].at + window_);
  }
  return slot;
}

SystemTime RateLimiter::nextSlot(SystemTime now) const {
  std::lock_guard lock(mutex_);
  return nextSlotLocked(now);
}

void RateLimiter::record(SystemTime at) {
  std::lock_guard lock(mutex_);
  sent_.push_back(Sent{at});
  // Out-of-order records (several threads) stay correct as long as the log is sorted.
  for (size_t i = sent_.size() - 1; i > 0 && sent_[i].at < sent_[i - 1].at; --i)
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
      const SystemTime now = clock_.now();
      slot = nextSlotLocked(now);
      if (slot > deadline)
        return false;
      if (slot <= now) {
        sent_.push_back(Sent{now});
        return true;
      }
    }
    if (clock_.sleepUntil(slot, stop))
      return false;
  }
}

RateLimiter::OnDemand RateLimiter::tryAcquireOnDemand(int keep_free, int on_demand_cap) {
  std::lock_guard lock(mutex_);
  const SystemTime now = clock_.now();
  dropExpired(now);
  if (hold_until_ > now)
    return OnDemand::Paused;
  if (on_demand_cap > 0 && std::count_if(sent_.begin(), sent_.end(), [](const Sent& s) {
                             return s.on_demand;
                           }) >= on_demand_cap) {
    return OnDemand::CapReached;
  }
  if (limit_ > 0 && static_cast<int>(sent_.size()) + 1 + std::max(0, keep_free) > limit_)
    return OnDemand::WindowFull;
  sent_.push_back(Sent{now, true});
  return OnDemand::Taken;
}

int RateLimiter::limit() const {
  std::lock_guard lock(mutex_);
  return limit_;
}

int RateLimiter::inWindow() const {
  std::lock_guard lock(mutex_);
  dropExpired(clock_.now());
  return static_cast<int>(sent_.size());
}

int RateLimiter::onDemandInWindow() const {
  std::lock_guard lock(mutex_);
  dropExpired(clock_.now());
  return static_cast<int>(
      std::count_if(sent_.begin(), sent_.end(), [](const Sent& s) { return s.on_demand; }));
}

void RateLimiter::setLimit(int limit_per_window) {
  std::lock_guard lock(mutex_);
  limit_ = limit_per_window;
}

}  // namespace coinrelay::coingecko
