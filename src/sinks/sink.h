#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::sinks {

using model::SharedQuote;

/// Where a fetch cycle's quotes go (Kafka, SQLite, the in-memory snapshot).
/// deliver() returns only when every quote of the batch is durable in this sink, or with an
/// error; a cycle counts as sent only when every sink acknowledged it.
/// Threading: called from the fetch loop's thread only.
class Sink {
 public:
  /// How many quotes deliverShared() copies at a time for a sink that takes contiguous quotes.
  static constexpr size_t kCopyChunk = 4096;

  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;
  virtual Status deliver(std::span<const model::Quote> batch) = 0;
  /// The same for quotes held elsewhere too. By default, copies of at most kCopyChunk quotes at a
  /// time go to deliver(), so a cycle of the whole universe is never copied whole; a sink that
  /// can keep the shared quotes (the snapshot) overrides it.
  virtual Status deliverShared(std::span<const SharedQuote> batch) {
    std::vector<model::Quote> chunk;
    for (size_t offset = 0; offset < batch.size(); offset += kCopyChunk) {
      const size_t end = std::min(batch.size(), offset + kCopyChunk);
      chunk.clear();
      chunk.reserve(end - offset);
      for (size_t i = offset; i < end; ++i)
        chunk.push_back(*batch[i]);
      if (auto status = deliver(chunk); !status)
        return status;
    }
    return {};
  }
};

}  // namespace coinrelay::sinks
