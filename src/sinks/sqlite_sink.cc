#include "sinks/sqlite_sink.h"

namespace coinrelay::sinks {

Status SqliteSink::deliver(std::span<const model::Quote> batch) {
  auto inserted = store_.insert(batch);
  if (!inserted)
    return inserted.error();
  return {};
}

}  // namespace coinrelay::sinks
