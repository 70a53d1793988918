#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::elasticsearch {

/// Appends one `index` action and its document to an NDJSON `_bulk` body. The document id is
/// the quote's observation key, so a redelivered message overwrites its own document instead of
/// adding a second one.
void appendIndexAction(std::string& body, std::string_view index, const model::Quote& quote);

/// The outcome of one item of a `_bulk` response.
struct BulkItemResult {
  int status = 0;
  std::string error;  ///< "type: reason" when the engine refused the item
  bool ok() const { return status >= 200 && status < 300; }
  /// 429 (queue full, circuit breaker) and 5xx are worth sending again; 4xx are not.
  bool retryable() const { return status == 429 || status >= 500 || status == 0; }
};

/// Reads every item of a `_bulk` response, in request order. A 200 response can still hold
/// failed items ("errors": true), so each is judged on its own.
Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body,
                                                      simdjson::dom::parser& parser);

/// The composable index template of the quote index: explicit mappings, `dynamic: strict` so a
/// malformed document is refused instead of polluting the mapping.
std::string indexTemplateBody(std::string_view index, int shards, int replicas);

}  // namespace coinrelay::elasticsearch
