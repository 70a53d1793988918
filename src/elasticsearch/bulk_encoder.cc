#include "elasticsearch/bulk_encoder.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "elasticsearch/lifecycle.h"
#include "model/quote_codec.h"

namespace coinrelay::elasticsearch {

void appendIndexAction(std::string& body, std::string_view index, const model::Quote& quote) {
  appendIndexAction(body, index, model::observationKey(quote), model::encodeQuote(quote));
}

namespace {

/// {"index":{"_index":"...","_id":"..."}} and its newline, appended directly: this runs once per
/// document.
void appendActionLine(std::string& body, std::string_view index, std::string_view id) {
  body.append(R"({"index":{"_index":)");
  JsonWriter::appendEscaped(body, index);
  body.append(R"(,"_id":)");
  JsonWriter::appendEscaped(body, id);
  body.append("}}\n");
}

}  // namespace

void appendIndexAction(std::string& body, std::string_view index, std::string_view id,
                       std::string_view source) {
  appendActionLine(body, index, id);
  body.append(source);
  body.push_back('\n');
}

size_t BulkBody::add(std::string_view index, std::string_view id, std::string_view source) {
  Doc doc;
  doc.start = text_.size();
  appendActionLine(text_, index, id);
  doc.source = text_.size();
  text_.append(source);
  text_.push_back('\n');
  doc.end = text_.size();
  docs_.push_back(doc);
  return docs_.size() - 1;
}

std::vector<size_t> BulkBody::sortByAction(std::string& spare) {
  const std::string_view text(text_);
  auto action = [&](size_t i) {
    return text.substr(docs_[i].start, docs_[i].source - docs_[i].start);
  };
  std::vector<size_t> order(docs_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return action(a) < action(b); });
  spare.clear();
  spare.reserve(text_.size());
  std::vector<Doc> sorted;
  sorted.reserve(docs_.size());
  std::vector<size_t> moved(docs_.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const Doc& doc = docs_[order[k]];
    Doc& placed = sorted.emplace_back();
    placed.start = spare.size();
    placed.source = placed.start + (doc.source - doc.start);
    spare.append(text.substr(doc.start, doc.end - doc.start));
    placed.end = spare.size();
    moved[order[k]] = k;
  }
  text_.swap(spare);
  docs_.swap(sorted);
  return moved;
}

bool BulkItemResult::refusedForGood() const {
  if (status != 400)
    return false;
  // 400 also answers index-level problems that every document of the bulk shares; those wait.
  if (type == "index_closed_exception" || type == "cluster_block_exception" ||
      type == "index_not_found_exception") {
    return false;
  }
  if (type == "illegal_argument_exception" && (error.find("write index") != std::string::npos ||
                                               error.find("alias") != std::string::npos)) {
    return false;  // "no write index is defined for alias [...]": the layout, not the document
  }
  return true;
}

Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body,
                                                      simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["items"].get_array().get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("bulk response without an items array: '{}'", excerpt(body)));
  }
  std::vector<BulkItemResult> out;
  out.reserve(items.size());
  for (simdjson::dom::element item : items) {
    BulkItemResult result;
    simdjson::dom::object wrapper;
    if (item.get_object().get(wrapper) == simdjson::SUCCESS && wrapper.begin() != wrapper.end()) {
      simdjson::dom::object action;
      if ((*wrapper.begin()).value.get_object().get(action) == simdjson::SUCCESS) {
        std::string ignored;
        result.status =
            static_cast<int>(json::optionalInteger(action, "status", &ignored).value_or(0));
        simdjson::dom::object error;
        if (action["error"].get_object().get(error) == simdjson::SUCCESS) {
          result.type = std::string(json::optionalString(error, "type", &ignored).value_or("?"));
          result.error = fmt::format("{}: {}", result.type,
                                     json::optionalString(error, "reason", &ignored).value_or(""));
        }
      }
    }
    out.push_back(std::move(result));
  }
  return out;
}

std::string indexTemplateBody(std::string_view index, int shards, int replicas) {
  Layout layout;
  layout.name = std::string(index);
  layout.shards = shards;
  layout.replicas = replicas;
  return indexTemplateBody(layout, Engine::Elasticsearch);
}

}  // namespace coinrelay::elasticsearch
