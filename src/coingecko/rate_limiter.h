#pragma once

#include <chrono>
#include <deque>
#include <mutex>

#include "common/clock.h"
#include "common/stop_signal.h"
#include "common/time_util.h"

namespace coinrelay::coingecko {

/// Keeps upstream requests within a per-minute limit the way the upstream counts them: at most
/// `limit` requests in any window of `window`. A sliding log rather than a token bucket, because
/// a bucket lets a full burst follow a full minute and so can put twice the limit into one
/// upstream minute. The default window is a little longer than a minute so that network jitter
/// cannot move limit + 1 arrivals into one of the upstream's minutes.
/// Every request goes through it, retries included; a 429's retry-after holds every request.
/// The log also marks on-demand requests, so that their own cap is counted in the same window.
/// Times are wall-clock times: the upstream's retry-after and x-ratelimit-reset are, and so are
/// the cycle deadlines the waits are bounded by.
/// Threading: thread-safe.
class RateLimiter {
 public:
  static constexpr std::chrono::milliseconds kDefaultWindow{61'000};

  /// `limit_per_window` 0: no limit.
  explicit RateLimiter(int limit_per_window, std::chrono::milliseconds window = kDefaultWindow,
                       const Clock& clock = systemClock());

  /// The earliest instant, not before `now`, at which one more request may be sent.
  SystemTime nextSlot(SystemTime now) const;
  /// Records a request sent at `at`.
  void record(SystemTime at);
  /// Nothing may be sent before `until` (the upstream asked for a pause).
  void holdUntil(SystemTime until);
  /// Waits (on the clock) for a slot that opens no later than `deadline` and takes it. False
  /// when no slot opens in time (nothing is waited for then) or when `stop` was requested.
  bool acquire(SystemTime deadline, const StopSignal& stop);
  /// What tryAcquireOnDemand() did.
  enum class OnDemand {
    Taken,
    Paused,      ///< the upstream asked for a pause (holdUntil)
    WindowFull,  ///< no slot free beyond the `keep_free` the schedule keeps
    CapReached,  ///< the window holds `on_demand_cap` on-demand requests already
  };
  /// Takes a slot for an on-demand request at once if one is free, `keep_free` more stay free
  /// in the window after it (the schedule's share), and fewer than `on_demand_cap` on-demand
  /// requests are in the window (0: no cap of their own); never waits.
  OnDemand tryAcquireOnDemand(int keep_free, int on_demand_cap);

  int limit() const;
  std::chrono::milliseconds window() const { return window_; }
  /// Requests, and on-demand requests among them, in the window that ends now.
  int inWindow() const;
  int onDemandInWindow() const;
  /// Lowers or raises the limit (e.g. to what CoinGecko's /key reports for the key).
  void setLimit(int limit_per_window);

 private:
  struct Sent {
    SystemTime at;
    bool on_demand = false;
  };
  void dropExpired(SystemTime now) const;
  SystemTime nextSlotLocked(SystemTime now) const;

  const Clock& clock_;
  mutable std::mutex mutex_;
  int limit_;
  std::chrono::milliseconds window_;
  mutable std::deque<Sent> sent_;  ///< requests within the last window, oldest first
  SystemTime hold_until_{};
};

}  // namespace coinrelay::coingecko
