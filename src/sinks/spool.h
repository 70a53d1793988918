#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace coinrelay::sinks {

/// One record of the spool: its sequence number (1, 2, ... in append order) and its bytes.
struct SpoolRecord {
  uint64_t seq = 0;
  std::string payload;
};

struct SpoolStats {
  uint64_t records = 0;  ///< appended and not yet acknowledged
  uint64_t bytes = 0;    ///< their size on disk, headers included
  uint64_t dropped = 0;  ///< dropped to stay within the bound, since open()
  uint64_t acked_seq = 0;
};

/// A bounded first-in first-out queue of records on local disk: what a sink accepted and its
/// destination has not confirmed yet. Records are appended in batches, each batch made durable
/// (fdatasync) before append() returns; they are read back oldest first and forgotten once
/// acknowledged. When the bound is reached the oldest records are dropped, and counted.
///
/// On disk: a directory holding segment files `seg-<first seq>.log` of records
/// [magic u32][length u32][seq u64][crc32 u32][0 u32][payload], the highest acknowledged
/// sequence in `acked` (replaced atomically), and a `LOCK` file held with flock so that two
/// processes never share a spool. A record torn by a crash at the tail is cut off at open().
/// Threading: thread-safe (one appender and one reader in practice).
class Spool {
 public:
  static Result<std::unique_ptr<Spool>> open(const std::string& dir, uint64_t max_bytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Appends the payloads in order and makes them durable before returning; drops the oldest
  /// records first when they would not fit under the bound.
  Status append(const std::vector<std::string>& payloads);
  /// Up to `max_records` (and about `max_bytes`) of the oldest unacknowledged records.
  Result<std::vector<SpoolRecord>> peek(size_t max_records, size_t max_bytes) const;
  /// Every record up to and including `seq` was delivered: forget them.
  Status ack(uint64_t seq);

  SpoolStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;  ///< 0 while empty
    std::string path;
    int fd = -1;
    uint64_t size = 0;
  };
  struct Entry {
    uint64_t seq;
    Segment* segment;
    uint64_t offset;  ///< of the payload
    uint32_t length;
  };

  Spool(std::string dir, uint64_t max_bytes, int lock_fd);
  Status load();
  Status startSegment();             // mutex_ held
  Status persistAcked();             // mutex_ held
  void dropOldest(uint64_t needed);  // mutex_ held
  void removeDeadSegments();         // mutex_ held

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t segment_bytes_;
  int lock_fd_;
  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<Segment>> segments_;  ///< oldest first; the last one is appended to
  std::deque<Entry> pending_;                      ///< unacknowledged records, oldest first
  uint64_t pending_bytes_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t acked_ = 0;
  uint64_t dropped_ = 0;
};

/// CRC-32 (IEEE), to tell a torn or corrupted record from a whole one.
uint32_t crc32(std::string_view data);

}  // namespace coinrelay::sinks
