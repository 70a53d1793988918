#pragma once

#include <chrono>
#include <deque>
#include <mutex>

#include "common/stop_signal.h"
#include "common/time_util.h"

namespace coinrelay::coingecko {

/// Keeps upstream requests within a per-minute limit the way the upstream counts them: at most
/// `limit` requests in any window of `window`. A sliding log rather than a token bucket, because
/// a bucket lets a full burst follow a full minute and so can put twice the limit into one
/// upstream minute. The default window is a little longer than a minute so that network jitter
/// cannot move limit + 1 arrivals into one of the upstream's minutes.
/// Every request goes through it, retries included; a 429's retry-after holds every request.
/// Threading: thread-safe.
class RateLimiter {
 public:
  static constexpr std::chrono::milliseconds kDefaultWindow{61'000};

  /// `limit_per_window` 0: no limit.
  explicit RateLimiter(int limit_per_window, std::chrono::milliseconds window = kDefaultWindow);

  /// The earliest instant, not before `now`, at which one more request may be sent.
  SystemTime nextSlot(SystemTime now) const;
  /// Records a request sent at `at`.
  void record(SystemTime at);
  /// Nothing may be sent before `until` (the upstream asked for a pause).
  void holdUntil(SystemTime until);
  /// Waits for a slot that opens no later than `deadline` and takes it. False when no slot opens
  /// in time (nothing is waited for then) or when `stop` was requested.
  bool acquire(SystemTime deadline, const StopSignal& stop);
  /// Takes a slot at once if one is free and `keep_free` more stay free in the window after it
  /// (on-demand requests leave the schedule's share alone); never waits.
  bool tryAcquire(SystemTime now, int keep_free);

  int limit() const;
  /// Lowers or raises the limit (e.g. to what CoinGecko's /key reports for the key).
  void setLimit(int limit_per_window);

 private:
  SystemTime nextSlotLocked(SystemTime now) const;

  mutable std::mutex mutex_;
  int limit_;
  std::chrono::milliseconds window_;
  mutable std::deque<SystemTime> sent_;  ///< send times within the last window, oldest first
  SystemTime hold_until_{};
};

}  // namespace coinrelay::coingecko
