#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::model {

/// Version of the JSON document that carries a Quote on Kafka, in Elasticsearch and over HTTP.
/// Additive changes keep the version; a breaking change needs a new version.
inline constexpr int kQuoteSchemaVersion = 1;

/// Appends the v1 document: the seed's fields (symbol upper case, name, price, market_cap,
/// volume_24h, change_24h, timestamp) plus identity, rank, last_updated and the rest of the
/// upstream record. Numbers absent upstream are written as null, never invented.
void encodeQuote(const Quote& quote, std::string& out);
std::string encodeQuote(const Quote& quote);

/// Decodes a v1 document (as produced by encodeQuote). Refuses other schema versions, missing
/// identity fields and wrongly typed values with a message naming the field.
Result<Quote> decodeQuote(std::string_view json, simdjson::dom::parser& parser);

}  // namespace coinrelay::model
