#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/stop_signal.h"
#include "common/time_util.h"

namespace coinrelay {

using SteadyTime = std::chrono::steady_clock::time_point;

/// The one seam for time. Every time-driven component (schedules, rate windows, TTLs, quotas,
/// timeouts) takes a `Clock&` and asks it for the time and for its waits, so unit tests move
/// time with a ManualClock instead of sleeping. Production code passes systemClock().
/// Threading: implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  /// The wall clock: schedule ticks, months of credits, timestamps written into quotes.
  virtual SystemTime now() const = 0;
  /// A monotonic clock: timeouts, windows, TTLs, quotas.
  virtual SteadyTime steadyNow() const = 0;
  /// Waits until the wall clock reaches `until` or `stop` is requested; true when stopped.
  virtual bool sleepUntil(SystemTime until, const StopSignal& stop) const = 0;

  /// Waits `duration` of this clock's time; true when stopped.
  bool sleepFor(Millis duration, const StopSignal& stop) const {
    return sleepUntil(now() + duration, stop);
  }
};

/// The real clocks (system_clock and steady_clock), waits on the StopSignal.
Clock& systemClock();

/// A clock that moves only when told: advance() (by a test thread), or, in auto-advance mode,
/// by the sleeper itself (a wait jumps the clock to its end at once, so a loop of timed cycles
/// runs in virtual time as fast as the CPU allows). Both clocks start at `start` and move
/// together.
/// Threading: thread-safe; a blocked sleepUntil() wakes on advance() or when `stop` is requested
/// (it checks the signal every few real milliseconds, since it cannot wait on two conditions).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start = fromUnixMillis(1'750'000'000'000),
                       bool auto_advance = false);

  SystemTime now() const override;
  SteadyTime steadyNow() const override;
  bool sleepUntil(SystemTime until, const StopSignal& stop) const override;

  void advance(Millis by);
  /// Moves the wall clock to `to` (never backwards; the steady clock moves by the same amount).
  void advanceTo(SystemTime to);
  void setAutoAdvance(bool on);
  /// Threads blocked in sleepUntil() right now (a test waits for a loop to be idle).
  int sleepers() const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable moved_;
  // Mutable: an auto-advancing sleepUntil() (const, as for every clock) moves them.
  mutable SystemTime now_;
  mutable Millis elapsed_{0};
  bool auto_advance_;
  mutable int sleepers_ = 0;
};

}  // namespace coinrelay
