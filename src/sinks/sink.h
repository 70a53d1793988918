#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::sinks {

/// Where a fetch cycle's quotes go (Kafka, SQLite, the in-memory snapshot).
/// deliver() returns only when every quote of the batch is durable in this sink, or with an
/// error; a cycle counts as sent only when every sink acknowledged it.
/// Threading: called from the fetch loop's thread only.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;
  virtual Status deliver(std::span<const model::Quote> batch) = 0;
};

}  // namespace coinrelay::sinks
