#include "model/quote_codec.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "model/quote_fields.h"

namespace coinrelay::model {

void encodeQuote(const Quote& q, std::string& out) {
  JsonWriter w(out);
  w.beginObject();
  for (const QuoteField* field : fieldsOf(QuoteFormat::Document)) {
    w.key(field->name);
    writeValue(w, q, *field, QuoteFormat::Document);
  }
  w.endObject();
}

std::string encodeQuote(const Quote& quote) {
  std::string out;
  out.reserve(768);
  encodeQuote(quote, out);
  return out;
}

Result<Quote> decodeQuote(std::string_view text, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(text.data(), text.size()).get(doc); err) {
    return makeError(ErrorCode::DataLoss,
                     fmt::format("quote message is not valid JSON ({}): '{}'",
                                 simdjson::error_message(err), excerpt(text, 80)));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return makeError(ErrorCode::DataLoss, "quote message is not a JSON object");
  }
  std::string type_error;
  const auto version = json::optionalInteger(obj, "schema_version", &type_error);
  if (!version || *version != kQuoteSchemaVersion) {
    return makeError(
        ErrorCode::DataLoss,
        fmt::format("quote message has schema_version {}, this coinrelay reads {}",
                    version ? std::to_string(*version) : "missing", kQuoteSchemaVersion));
  }
  Quote q;
  const FieldProblem problem = readFields(obj, QuoteFormat::Document, q);
  if (problem.kind == FieldProblem::Kind::Missing && problem.field->type == FieldType::Date) {
    return makeError(ErrorCode::DataLoss,
                     "quote message lacks an ISO-8601 'last_updated' or 'timestamp'");
  }
  if (problem.kind == FieldProblem::Kind::Missing) {
    return makeError(ErrorCode::DataLoss,
                     fmt::format("quote message lacks a non-empty string '{}'", problem.key));
  }
  if (problem.kind == FieldProblem::Kind::WrongType) {
    return makeError(
        ErrorCode::DataLoss,
        fmt::format("quote message for '{}' has a wrongly typed field '{}'", q.id, problem.key));
  }
  return q;
}

}  // namespace coinrelay::model
