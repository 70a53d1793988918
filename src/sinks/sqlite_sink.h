#pragma once

#include "sinks/sink.h"
#include "storage/sqlite_quote_store.h"

namespace coinrelay::sinks {

/// Appends each cycle to the SQLite history of the embedded default.
class SqliteSink final : public Sink {
 public:
  explicit SqliteSink(storage::SqliteQuoteStore& store) : store_(store) {}

  // Sink
  std::string_view name() const override { return "sqlite"; }
  Status deliver(std::span<const model::Quote> batch) override;

 private:
  storage::SqliteQuoteStore& store_;
};

}  // namespace coinrelay::sinks
