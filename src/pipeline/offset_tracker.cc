#include "pipeline/offset_tracker.h"

#include <algorithm>

namespace coinrelay::pipeline {

void OffsetTracker::consumed(int32_t partition, int64_t offset, uint64_t batch) {
  Partition& p = partitions_[partition];
  if (p.segments.empty() || p.segments.back().batch != batch) {
    p.segments.push_back(Segment{batch, offset, 0, false});
    auto& touched = batch_partitions_[batch];
    if (std::find(touched.begin(), touched.end(), partition) == touched.end())
      touched.push_back(partition);
  }
  Segment& segment = p.segments.back();
  segment.last_offset = std::max(segment.last_offset, offset);
  ++segment.messages;
  ++pending_messages_;
}

void OffsetTracker::completed(uint64_t batch) {
  auto it = batch_partitions_.find(batch);
  if (it == batch_partitions_.end())
    return;
  for (int32_t partition : it->second) {
    auto p = partitions_.find(partition);
    if (p == partitions_.end())
      continue;  // forgotten meanwhile
    for (Segment& segment : p->second.segments) {
      if (segment.batch == batch)
        segment.done = true;
    }
    advance(p->second);
  }
  batch_partitions_.erase(it);
}

void OffsetTracker::advance(Partition& partition) {
  while (!partition.segments.empty() && partition.segments.front().done) {
    const Segment& front = partition.segments.front();
    partition.durable_next = front.last_offset + 1;
    partition.moved = true;
    pending_messages_ -= front.messages;
    partition.segments.pop_front();
  }
}

std::map<int32_t, int64_t> OffsetTracker::takeCommittable() {
  std::map<int32_t, int64_t> out;
  for (auto& [partition, p] : partitions_) {
    if (p.moved && p.durable_next) {
      out[partition] = *p.durable_next;
      p.moved = false;
    }
  }
  return out;
}

void OffsetTracker::forget(int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end())
    return;
  for (const Segment& segment : it->second.segments)
    pending_messages_ -= segment.messages;
  partitions_.erase(it);
}

std::optional<int64_t> OffsetTracker::durableNext(int32_t partition) const {
  auto it = partitions_.find(partition);
  if (it == partitions_.end())
    return std::nullopt;
  return it->second.durable_next;
}

}  // namespace coinrelay::pipeline
