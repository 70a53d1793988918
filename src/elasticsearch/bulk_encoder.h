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
/// The same for an already encoded document (`source` is one line of JSON).
void appendIndexAction(std::string& body, std::string_view index, std::string_view id,
                       std::string_view source);

/// An NDJSON `_bulk` body being built, and where each document's two lines are, so that any
/// subset can be sent again (a retry of refused items, a split) without encoding anything twice.
/// The text is built once, in one buffer; nothing is kept per document but three offsets.
class BulkBody {
 public:
  void clear() {
    text_.clear();
    docs_.clear();
  }
  /// Appends an index action for `id` and its `source` (one line of JSON); returns its number.
  size_t add(std::string_view index, std::string_view id, std::string_view source);
  size_t size() const { return docs_.size(); }
  bool empty() const { return docs_.empty(); }
  size_t bytes() const { return text_.size(); }
  /// The whole body. Mutable so that it can be lent to the HTTP request without a copy.
  std::string& text() { return text_; }
  /// Document `i`'s action and source lines, newlines included.
  std::string_view lines(size_t i) const {
    return std::string_view(text_).substr(docs_[i].start, docs_[i].end - docs_[i].start);
  }
  /// Puts the documents in the order of their action lines, which for one index is the order of
  /// their ids (documents of the same id keep their order, so the later one still wins), and
  /// returns where each went: `moved[i]` is the new number of document `i`. The text is rebuilt
  /// in `spare`, which then holds the old buffer for the next call.
  ///
  /// Why: for every document with an id, the engine first looks the id up in each segment's
  /// terms dictionary. Ids in order walk each dictionary forwards, so most lookups land in the
  /// block the previous one already decompressed; ids in a topic's partition order jump from
  /// block to block (the lookups then took 36 % of OpenSearch's indexing threads instead of
  /// 26 %; see docs/indexing.md and BENCHMARKS.md).
  std::vector<size_t> sortByAction(std::string& spare);
  /// Document `i`'s source, as it was added.
  std::string_view source(size_t i) const {
    return std::string_view(text_).substr(docs_[i].source, docs_[i].end - 1 - docs_[i].source);
  }

 private:
  struct Doc {
    size_t start, source, end;
  };
  std::string text_;
  std::vector<Doc> docs_;
};

/// The outcome of one item of a `_bulk` response.
struct BulkItemResult {
  int status = 0;
  std::string error;  ///< "type: reason" when the engine refused the item
  std::string type;   ///< the error type alone, e.g. mapper_parsing_exception
  bool ok() const { return status >= 200 && status < 300; }
  /// Whether sending the item again may succeed: anything but a refusal of the document itself.
  bool retryable() const { return !ok() && !refusedForGood(); }
  /// The document itself is at fault (it does not fit the mapping, cannot be parsed): no retry
  /// can help, so it belongs in the dead-letter topic. Refusals that concern the index or the
  /// cluster (a missing or closed index, a read-only block, a full queue, a 5xx) are not: they
  /// heal, and the document must wait for that rather than be set aside.
  bool refusedForGood() const;
};

/// Reads every item of a `_bulk` response, in request order. A 200 response can still hold
/// failed items ("errors": true), so each is judged on its own.
Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body,
                                                      simdjson::dom::parser& parser);

/// The composable index template of the quote index: explicit mappings, `dynamic: strict` so a
/// malformed document is refused instead of polluting the mapping.
std::string indexTemplateBody(std::string_view index, int shards, int replicas);

}  // namespace coinrelay::elasticsearch
