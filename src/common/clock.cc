#include "common/clock.h"

namespace coinrelay {

namespace {

class SystemClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steadyNow() const override { return std::chrono::steady_clock::now(); }
  bool sleepUntil(SystemTime until, const StopSignal& stop) const override {
    // The wall clock may be stepped (NTP) while waiting: wait in short slices against the
    // steady clock and look at the wall clock again after each.
    for (;;) {
      const auto left = until - std::chrono::system_clock::now();
      if (left <= SystemTime::duration::zero())
        return stop.stopped();
      if (stop.waitFor(std::min<SystemTime::duration>(left, std::chrono::seconds(1))))
        return true;
    }
  }
};

}  // namespace

Clock& systemClock() {
  static SystemClock clock;
  return clock;
}

ManualClock::ManualClock(SystemTime start, bool auto_advance)
    : now_(start), auto_advance_(auto_advance) {}

SystemTime ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

SteadyTime ManualClock::steadyNow() const {
  std::lock_guard lock(mutex_);
  return SteadyTime(elapsed_);
}

bool ManualClock::sleepUntil(SystemTime until, const StopSignal& stop) const {
  std::unique_lock lock(mutex_);
  if (auto_advance_ && until > now_) {
    // Virtual time: the sleeper moves the clock itself.
    elapsed_ += std::chrono::duration_cast<Millis>(until - now_);
    now_ = until;
    moved_.notify_all();
    return stop.stopped();
  }
  ++sleepers_;
  moved_.notify_all();
  while (now_ < until) {
    if (stop.stopped())
      break;
    moved_.wait_for(lock, std::chrono::milliseconds(2));
  }
  --sleepers_;
  return stop.stopped();
}

void ManualClock::advance(Millis by) {
  {
    std::lock_guard lock(mutex_);
    now_ += by;
    elapsed_ += by;
  }
  moved_.notify_all();
}

void ManualClock::advanceTo(SystemTime to) {
  {
    std::lock_guard lock(mutex_);
    if (to > now_) {
      elapsed_ += std::chrono::duration_cast<Millis>(to - now_);
      now_ = to;
    }
  }
  moved_.notify_all();
}

void ManualClock::setAutoAdvance(bool on) {
  {
    std::lock_guard lock(mutex_);
    auto_advance_ = on;
  }
  moved_.notify_all();
}

int ManualClock::sleepers() const {
  std::lock_guard lock(mutex_);
  return sleepers_;
}

}  // namespace coinrelay
