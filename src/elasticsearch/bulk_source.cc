#include "elasticsearch/bulk_source.h"

#include <charconv>
#include <cstring>
#include <variant>

#include "common/time_util.h"
#include "model/quote_codec.h"
#include "model/quote_fields.h"

namespace coinrelay::elasticsearch {

namespace {

using model::FieldType;
using model::Presence;
using model::QuoteField;

bool isMember(const QuoteField& field, std::string model::Quote::*member) {
  const auto* held = std::get_if<std::string model::Quote::*>(&field.member);
  return held != nullptr && *held == member;
}

bool isMember(const QuoteField& field, int64_t model::Quote::*member) {
  const auto* held = std::get_if<int64_t model::Quote::*>(&field.member);
  return held != nullptr && *held == member;
}

bool digits(std::string_view text, size_t pos, size_t len, int& out) {
  out = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

int daysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

/// YYYY-MM-DDTHH:MM:SS.mmmZ, a real calendar date, seconds below 60: what formatIso8601Millis
/// writes. The decoder also reads 2024-02-30 or a leap second, but would write another day.
bool isEncodedDate(std::string_view text) {
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return false;
  }
  int year, month, day, hour, minute, second, millis;
  return digits(text, 0, 4, year) && digits(text, 5, 2, month) && digits(text, 8, 2, day) &&
         digits(text, 11, 2, hour) && digits(text, 14, 2, minute) && digits(text, 17, 2, second) &&
         digits(text, 20, 3, millis) && month >= 1 && month <= 12 && day >= 1 &&
         day <= daysIn(year, month) && hour <= 23 && minute <= 59 && second <= 59;
}

bool isNumber(simdjson::dom::element element) {
  const auto type = element.type();
  return type == simdjson::dom::element_type::INT64 ||
         type == simdjson::dom::element_type::UINT64 || type == simdjson::dom::element_type::DOUBLE;
}

/// roi: null, or exactly {"times": number, "currency": string, "percentage": number}.
bool roiAsIs(simdjson::dom::element element) {
  if (element.is_null())
    return true;
  simdjson::dom::object roi;
  if (element.get_object().get(roi) != simdjson::SUCCESS || roi.size() != 3)
    return false;
  auto it = roi.begin();
  const auto times = *it;
  const auto currency = *++it;
  const auto percentage = *++it;
  return times.key == "times" && isNumber(times.value) && currency.key == "currency" &&
         currency.value.is_string() && percentage.key == "percentage" && isNumber(percentage.value);
}

/// One field's value, when decoding and re-encoding it would write the same value.
bool valueAsIs(const QuoteField& field, simdjson::dom::element element) {
  std::string_view text;
  switch (field.type) {
    case FieldType::SchemaVersion: {
      int64_t version = 0;
      return element.type() == simdjson::dom::element_type::INT64 &&
             element.get_int64().get(version) == simdjson::SUCCESS &&
             version == model::kQuoteSchemaVersion;
    }
    case FieldType::String:
      // Required: non-empty; Defaulted: a string (null or absent would be written as "").
      return element.get_string().get(text) == simdjson::SUCCESS &&
             (field.presence != Presence::Required || !text.empty());
    case FieldType::Symbol:
      // The decoder lower-cases it and the encoder writes it upper case.
      if (element.get_string().get(text) != simdjson::SUCCESS || text.empty())
        return false;
      for (char c : text) {
        if (c >= 'a' && c <= 'z')
          return false;
      }
      return true;
    case FieldType::Number:
      return element.is_null() || isNumber(element);
    case FieldType::Integer: {
      // What the decoder keeps as it is: a whole number written without a fraction, within
      // the range it accepts.
      if (element.is_null())
        return true;
      int64_t number = 0;
      return element.type() == simdjson::dom::element_type::INT64 &&
             element.get_int64().get(number) == simdjson::SUCCESS &&
             number <= 9'000'000'000'000'000 && number >= -9'000'000'000'000'000;
    }
    case FieldType::Date:
      if (field.presence == Presence::Nullable && element.is_null())
        return true;
      return element.get_string().get(text) == simdjson::SUCCESS && isEncodedDate(text);
    case FieldType::Roi:
      return roiAsIs(element);
  }
  return false;
}

}  // namespace

std::optional<int64_t> encodedDateMillis(std::string_view text) {
  if (!isEncodedDate(text))
    return std::nullopt;
  return parseIso8601Millis(text);  // the decoder's own arithmetic, so both give the same ms
}

bool passesAsIs(std::string_view value, simdjson::dom::parser& parser, std::string& id) {
  // One line of NDJSON: nothing around the object, no line break inside (a JSON string cannot
  // hold a raw one, so any would be whitespace between tokens).
  if (value.size() < 2 || value.front() != '{' || value.back() != '}' ||
      std::memchr(value.data(), '\n', value.size()) != nullptr ||
      std::memchr(value.data(), '\r', value.size()) != nullptr) {
    return false;
  }
  simdjson::dom::element doc;
  simdjson::dom::object object;
  if (parser.parse(value.data(), value.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return false;
  }
  const auto fields = model::fieldsOf(model::QuoteFormat::Document);
  // Exactly the document's fields, in its order: no extra field (the strict mapping would
  // refuse it where the decoder drops it), none missing, none twice.
  if (object.size() != fields.size())
    return false;
  std::string_view coin, vs_currency;
  int64_t last_updated_ms = 0;
  auto it = object.begin();
  for (const QuoteField* field : fields) {
    const simdjson::dom::key_value_pair member = *it;
    ++it;
    if (member.key != field->name || !valueAsIs(*field, member.value))
      return false;
    if (isMember(*field, &model::Quote::id)) {
      coin = member.value.get_string().value_unsafe();
    } else if (isMember(*field, &model::Quote::vs_currency)) {
      vs_currency = member.value.get_string().value_unsafe();
    } else if (isMember(*field, &model::Quote::last_updated_ms)) {
      last_updated_ms = *encodedDateMillis(member.value.get_string().value_unsafe());
    }
  }
  // model::observationKey's format, without a Quote.
  id.clear();
  id.append(coin).append(1, ':').append(vs_currency).append(1, ':');
  char ms[24];
  const auto end = std::to_chars(ms, ms + sizeof ms, last_updated_ms).ptr;
  id.append(ms, end);
  return id.size() <= kMaxDocumentIdBytes;
}

}  // namespace coinrelay::elasticsearch
