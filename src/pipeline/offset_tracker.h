#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace coinrelay::pipeline {

/// Which offsets the indexer may commit. Messages are consumed in offset order within a
/// partition and grouped into numbered batches; several batches are in flight at once and
/// complete in any order. A partition's commit point advances only over a prefix of completed
/// batches, so a committed offset never passes a message whose document (or dead letter) is not
/// yet durable, whatever order the bulks finish in.
/// Threading: one thread.
class OffsetTracker {
 public:
  /// `offset` of `partition` was consumed into `batch`. Batch numbers increase, and so do the
  /// offsets of one partition until it is forgotten.
  void consumed(int32_t partition, int64_t offset, uint64_t batch);
  /// Every message of `batch` is durable.
  void completed(uint64_t batch);
  /// The partitions whose commit point moved since the last call, with the offset to commit
  /// (the next one to read: last durable + 1).
  std::map<int32_t, int64_t> takeCommittable();
  /// Stops tracking a partition (revoked): batches holding its messages no longer move it.
  void forget(int32_t partition);
  /// The commit point reached in this process, if any.
  std::optional<int64_t> durableNext(int32_t partition) const;
  /// Messages consumed and not yet durable.
  uint64_t pendingMessages() const { return pending_messages_; }

 private:
  struct Segment {
    uint64_t batch = 0;
    int64_t last_offset = 0;
    uint32_t messages = 0;
    bool done = false;
  };
  struct Partition {
    std::deque<Segment> segments;
    std::optional<int64_t> durable_next;
    bool moved = false;
  };
  void advance(Partition& partition);

  std::map<int32_t, Partition> partitions_;
  std::unordered_map<uint64_t, std::vector<int32_t>> batch_partitions_;
  uint64_t pending_messages_ = 0;
};

}  // namespace coinrelay::pipeline
