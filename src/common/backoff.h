#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace coinrelay {

/// Exponential backoff with "equal jitter": attempt n waits a uniform random time in
/// [c/2, c] with c = min(cap, base * 2^n). The jitter spreads retries of many processes instead
/// of synchronising them; the lower half keeps a real pause after every failure.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed = 0)
      : base_(base), cap_(cap), rng_(seed ? seed : std::random_device{}()) {}

  std::chrono::milliseconds next() {
    const int64_t ceiling =
        std::min<int64_t>(cap_.count(), base_.count() * (int64_t{1} << std::min(attempt_, 20)));
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(ceiling / 2, ceiling);
    return std::chrono::milliseconds(dist(rng_));
  }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace coinrelay
