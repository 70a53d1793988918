#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <simdjson.h>

#include "common/json_writer.h"
#include "model/quote.h"

namespace coinrelay::model {

/// How a field is written in JSON.
enum class FieldType {
  SchemaVersion,  ///< the document's version number; no Quote member
  String,
  Symbol,   ///< a string, lower case in the Quote and CoinGecko's record, upper in the document
  Number,   ///< a double
  Integer,  ///< a whole number
  Date,     ///< epoch milliseconds in the Quote, ISO-8601 UTC with milliseconds in JSON
  Roi,      ///< CoinGecko's {"times","currency","percentage"} object
};

/// Whether a field may be missing.
enum class Presence {
  Required,   ///< a non-empty string or a valid date, else the record is refused
  Defaulted,  ///< a string, "" when absent (never null)
  Nullable,   ///< null when the upstream has no value (never invented)
};

/// The Quote member a field lives in.
using QuoteMember = std::variant<std::monostate, std::string Quote::*, int64_t Quote::*,
                                 std::optional<double> Quote::*, std::optional<int64_t> Quote::*,
                                 std::optional<Roi> Quote::*>;

/// One field of a quote, everywhere it appears: the v1 document (Kafka value, Elasticsearch
/// source, /v1/quotes), CoinGecko's `coins/markets` record and the index mapping.
struct QuoteField {
  std::string_view name;       ///< in the v1 document
  std::string_view coingecko;  ///< in coins/markets; empty: coinrelay's own, not CoinGecko's
  FieldType type;
  Presence presence;
  bool seed;                 ///< one of the seed's fields: written first in the v1 document
  bool price_valued;         ///< an amount per coin, rounded by CoinGecko's `precision` parameter
  std::string_view mapping;  ///< its Elasticsearch/OpenSearch mapping, as JSON
  QuoteMember member;
};

namespace mapping {
inline constexpr std::string_view kKeyword = R"({"type":"keyword"})";
inline constexpr std::string_view kDouble = R"({"type":"double"})";
inline constexpr std::string_view kLong = R"({"type":"long"})";
inline constexpr std::string_view kDate =
    R"({"type":"date","format":"strict_date_optional_time||epoch_millis"})";
}  // namespace mapping

/// The one list of a quote's fields, in CoinGecko's order (which its renderer keeps, as clients
/// print or map it by position); the v1 document writes the seed's fields first, then the rest
/// in this order. The parser, the codec, the CoinGecko renderer and the index mapping all come
/// from it, so none can drift from the others (the mapping is `dynamic: strict`: a field it
/// lacks would make every document fail to index). The simulator keeps its own list on purpose.
inline constexpr auto kQuoteFields = std::to_array<QuoteField>({
    {"schema_version", "", FieldType::SchemaVersion, Presence::Required, true, false,
     R"({"type":"short"})", std::monostate{}},
    {"id", "id", FieldType::String, Presence::Required, true, false, mapping::kKeyword, &Quote::id},
    {"symbol", "symbol", FieldType::Symbol, Presence::Required, true, false, mapping::kKeyword,
     &Quote::symbol},
    {"name", "name", FieldType::String, Presence::Required, true, false, mapping::kKeyword,
     &Quote::name},
    {"vs_currency", "", FieldType::String, Presence::Required, true, false, mapping::kKeyword,
     &Quote::vs_currency},
    {"image", "image", FieldType::String, Presence::Defaulted, false, false,
     R"({"type":"keyword","index":false,"doc_values":false})", &Quote::image},
    {"price", "current_price", FieldType::Number, Presence::Nullable, true, true, mapping::kDouble,
     &Quote::price},
    {"market_cap", "market_cap", FieldType::Number, Presence::Nullable, true, false, mapping::kLong,
     &Quote::market_cap},
    {"market_cap_rank", "market_cap_rank", FieldType::Integer, Presence::Nullable, true, false,
     R"({"type":"integer"})", &Quote::market_cap_rank},
    {"fully_diluted_valuation", "fully_diluted_valuation", FieldType::Number, Presence::Nullable,
     false, false, mapping::kLong, &Quote::fully_diluted_valuation},
    {"volume_24h", "total_volume", FieldType::Number, Presence::Nullable, true, false,
     mapping::kLong, &Quote::volume_24h},
    {"high_24h", "high_24h", FieldType::Number, Presence::Nullable, false, true, mapping::kDouble,
     &Quote::high_24h},
    {"low_24h", "low_24h", FieldType::Number, Presence::Nullable, false, true, mapping::kDouble,
     &Quote::low_24h},
    {"price_change_24h", "price_change_24h", FieldType::Number, Presence::Nullable, false, true,
     mapping::kDouble, &Quote::price_change_24h},
    {"change_24h", "price_change_percentage_24h", FieldType::Number, Presence::Nullable, true,
     false, mapping::kDouble, &Quote::change_24h},
    {"market_cap_change_24h", "market_cap_change_24h", FieldType::Number, Presence::Nullable, false,
     false, mapping::kDouble, &Quote::market_cap_change_24h},
    {"market_cap_change_percentage_24h", "market_cap_change_percentage_24h", FieldType::Number,
     Presence::Nullable, false, false, mapping::kDouble, &Quote::market_cap_change_percentage_24h},
    {"circulating_supply", "circulating_supply", FieldType::Number, Presence::Nullable, false,
     false, mapping::kDouble, &Quote::circulating_supply},
    {"total_supply", "total_supply", FieldType::Number, Presence::Nullable, false, false,
     mapping::kDouble, &Quote::total_supply},
    {"max_supply", "max_supply", FieldType::Number, Presence::Nullable, false, false,
     mapping::kDouble, &Quote::max_supply},
    {"ath", "ath", FieldType::Number, Presence::Nullable, false, true, mapping::kDouble,
     &Quote::ath},
    {"ath_change_percentage", "ath_change_percentage", FieldType::Number, Presence::Nullable, false,
     false, mapping::kDouble, &Quote::ath_change_percentage},
    {"ath_date", "ath_date", FieldType::Date, Presence::Nullable, false, false, mapping::kDate,
     &Quote::ath_date_ms},
    {"atl", "atl", FieldType::Number, Presence::Nullable, false, true, mapping::kDouble,
     &Quote::atl},
    {"atl_change_percentage", "atl_change_percentage", FieldType::Number, Presence::Nullable, false,
     false, mapping::kDouble, &Quote::atl_change_percentage},
    {"atl_date", "atl_date", FieldType::Date, Presence::Nullable, false, false, mapping::kDate,
     &Quote::atl_date_ms},
    {"roi", "roi", FieldType::Roi, Presence::Nullable, false, false,
     R"({"properties":{"times":{"type":"double"},"currency":{"type":"keyword"},"percentage":{"type":"double"}}})",
     &Quote::roi},
    {"last_updated", "last_updated", FieldType::Date, Presence::Required, true, false,
     mapping::kDate, &Quote::last_updated_ms},
    {"timestamp", "", FieldType::Date, Presence::Required, true, false, mapping::kDate,
     &Quote::fetched_ms},
    // Added to v1 later (additive): absent from older documents, read as null.
    {"price_fetched", "", FieldType::Date, Presence::Nullable, false, false, mapping::kDate,
     &Quote::price_fetched_ms},
    {"details_fetched", "", FieldType::Date, Presence::Nullable, false, false, mapping::kDate,
     &Quote::details_fetched_ms},
});

/// Where a quote is written or read.
enum class QuoteFormat {
  Document,   ///< the v1 document: `name`s, seed fields first, symbol upper case
  CoinGecko,  ///< a coins/markets record: `coingecko` names, table order, no coinrelay field
};

/// The fields of `format`, in its order.
std::span<const QuoteField* const> fieldsOf(QuoteFormat format);

/// The field's key in `format`.
inline std::string_view keyIn(const QuoteField& field, QuoteFormat format) {
  return format == QuoteFormat::Document ? field.name : field.coingecko;
}

/// Writes the value of `field` (null when absent; the schema version for SchemaVersion).
void writeValue(JsonWriter& w, const Quote& quote, const QuoteField& field, QuoteFormat format);
/// The value of a Number field.
std::optional<double> numberOf(const Quote& quote, const QuoteField& field);

/// What was wrong with a record, for the reader's caller to phrase.
struct FieldProblem {
  enum class Kind { None, Missing, WrongType };
  Kind kind = Kind::None;
  const QuoteField* field = nullptr;  ///< Missing: the required field
  std::string key;                    ///< the JSON key at fault (WrongType: maybe one inside roi)
  /// Missing date: the text that is not ISO-8601 (nullopt: absent, null or not a string).
  std::optional<std::string_view> text;
  explicit operator bool() const { return kind != Kind::None; }
};

/// Reads every field of `format` from `obj` into `quote` (schema_version excepted: the caller
/// checks it). Required fields come first, in the format's order: the first one missing (or
/// an empty string, or a date that does not parse) is the problem; then the first wrongly
/// typed field of the others. A date that does not parse in a nullable field is null.
FieldProblem readFields(simdjson::dom::object obj, QuoteFormat format, Quote& quote);

}  // namespace coinrelay::model
