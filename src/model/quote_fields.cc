#include "model/quote_fields.h"

#include <algorithm>
#include <vector>

#include "common/json_read.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "model/quote_codec.h"

namespace coinrelay::model {

namespace {

template <class T>
T Quote::*memberOf(const QuoteField& field) {
  return std::get<T Quote::*>(field.member);
}

template <class T>
constexpr bool holds(const QuoteField& field) {
  return std::holds_alternative<T Quote::*>(field.member);
}

/// Each field's type matches the member it names (memberOf would throw otherwise).
constexpr bool consistent(const QuoteField& field) {
  switch (field.type) {
    case FieldType::SchemaVersion:
      return std::holds_alternative<std::monostate>(field.member);
    case FieldType::String:
    case FieldType::Symbol:
      return holds<std::string>(field) && field.presence != Presence::Nullable;
    case FieldType::Number:
      return holds<std::optional<double>>(field) && field.presence == Presence::Nullable;
    case FieldType::Integer:
      return holds<std::optional<int64_t>>(field) && field.presence == Presence::Nullable;
    case FieldType::Date:
      return field.presence == Presence::Required ? holds<int64_t>(field)
                                                  : holds<std::optional<int64_t>>(field);
    case FieldType::Roi:
      return holds<std::optional<Roi>>(field) && field.presence == Presence::Nullable;
  }
  return false;
}
static_assert(std::all_of(kQuoteFields.begin(), kQuoteFields.end(), consistent),
              "a field of kQuoteFields names a member of another type");

std::vector<const QuoteField*> orderOf(QuoteFormat format) {
  std::vector<const QuoteField*> out;
  if (format == QuoteFormat::CoinGecko) {
    for (const QuoteField& field : kQuoteFields) {
      if (!field.coingecko.empty())
        out.push_back(&field);
    }
    return out;
  }
  for (bool seed : {true, false}) {
    for (const QuoteField& field : kQuoteFields) {
      if (field.seed == seed)
        out.push_back(&field);
    }
  }
  return out;
}

void writeRoi(JsonWriter& w, const std::optional<Roi>& roi) {
  if (!roi) {
    w.null();
    return;
  }
  w.beginObject()
      .field("times", roi->times)
      .field("currency", roi->currency)
      .field("percentage", roi->percentage)
      .endObject();
}

}  // namespace

std::span<const QuoteField* const> fieldsOf(QuoteFormat format) {
  static const std::vector<const QuoteField*> document = orderOf(QuoteFormat::Document);
  static const std::vector<const QuoteField*> coingecko = orderOf(QuoteFormat::CoinGecko);
  return format == QuoteFormat::Document ? document : coingecko;
}

std::optional<double> numberOf(const Quote& quote, const QuoteField& field) {
  return quote.*memberOf<std::optional<double>>(field);
}

void writeValue(JsonWriter& w, const Quote& quote, const QuoteField& field, QuoteFormat format) {
  switch (field.type) {
    case FieldType::SchemaVersion:
      w.value(kQuoteSchemaVersion);
      return;
    case FieldType::String:
      w.value(quote.*memberOf<std::string>(field));
      return;
    case FieldType::Symbol: {
      const std::string& symbol = quote.*memberOf<std::string>(field);
      w.value(format == QuoteFormat::Document ? toUpper(symbol) : symbol);
      return;
    }
    case FieldType::Number:
      w.value(numberOf(quote, field));
      return;
    case FieldType::Integer:
      w.value(quote.*memberOf<std::optional<int64_t>>(field));
      return;
    case FieldType::Date:
      if (field.presence == Presence::Required) {
        w.value(formatIso8601Millis(quote.*memberOf<int64_t>(field)));
      } else if (const auto& ms = quote.*memberOf<std::optional<int64_t>>(field)) {
        w.value(formatIso8601Millis(*ms));
      } else {
        w.null();
      }
      return;
    case FieldType::Roi:
      writeRoi(w, quote.*memberOf<std::optional<Roi>>(field));
      return;
  }
}

FieldProblem readFields(simdjson::dom::object obj, QuoteFormat format, Quote& quote) {
  const auto fields = fieldsOf(format);
  std::string type_error;  // unused for required fields: any failure there is "missing"
  for (const QuoteField* field : fields) {
    if (field->presence != Presence::Required || field->type == FieldType::SchemaVersion)
      continue;
    const std::string_view key = keyIn(*field, format);
    const auto text = json::optionalString(obj, key, &type_error);
    if (field->type == FieldType::Date) {
      const auto ms = text ? parseIso8601Millis(*text) : std::nullopt;
      if (!ms)
        return FieldProblem{FieldProblem::Kind::Missing, field, std::string(key), text};
      quote.*memberOf<int64_t>(*field) = *ms;
      continue;
    }
    if (!text || text->empty())
      return FieldProblem{FieldProblem::Kind::Missing, field, std::string(key), text};
    quote.*memberOf<std::string>(*field) =
        field->type == FieldType::Symbol ? toLower(*text) : std::string(*text);
  }
  type_error.clear();
  for (const QuoteField* field : fields) {
    if (field->presence == Presence::Required)
      continue;
    const std::string_view key = keyIn(*field, format);
    switch (field->type) {
      case FieldType::SchemaVersion:  // checked by the caller
        break;
      case FieldType::String:
      case FieldType::Symbol:
        quote.*memberOf<std::string>(*field) =
            std::string(json::optionalString(obj, key, &type_error).value_or(""));
        break;
      case FieldType::Number:
        quote.*memberOf<std::optional<double>>(*field) =
            json::optionalNumber(obj, key, &type_error);
        break;
      case FieldType::Integer:
        quote.*memberOf<std::optional<int64_t>>(*field) =
            json::optionalInteger(obj, key, &type_error);
        break;
      case FieldType::Date: {
        // CoinGecko sometimes holds odd dates in these; a date that does not parse is absent.
        const auto text = json::optionalString(obj, key, &type_error);
        quote.*memberOf<std::optional<int64_t>>(*field) =
            text ? parseIso8601Millis(*text) : std::nullopt;
        break;
      }
      case FieldType::Roi: {
        simdjson::dom::element element;
        simdjson::dom::object roi;
        if (obj.at_key(key).get(element) != simdjson::SUCCESS || element.is_null())
          break;
        if (element.get_object().get(roi) != simdjson::SUCCESS) {
          // An upstream record with a roi of another shape is malformed; the v1 decoder has
          // always read such a roi as absent, and still does.
          if (format == QuoteFormat::CoinGecko && type_error.empty())
            type_error = std::string(key);
          break;
        }
        Roi r;
        r.times = json::optionalNumber(roi, "times", &type_error).value_or(0);
        r.currency = std::string(json::optionalString(roi, "currency", &type_error).value_or(""));
        r.percentage = json::optionalNumber(roi, "percentage", &type_error).value_or(0);
        quote.*memberOf<std::optional<Roi>>(*field) = r;
        break;
      }
    }
  }
  if (!type_error.empty())
    return FieldProblem{FieldProblem::Kind::WrongType, nullptr, std::move(type_error), {}};
  return {};
}

}  // namespace coinrelay::model
