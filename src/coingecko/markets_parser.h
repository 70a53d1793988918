#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "model/quote.h"

namespace coinrelay::coingecko {

/// The valid quotes of one `/coins/markets` page, and what was wrong with the others.
struct MarketsPage {
  std::vector<model::Quote> quotes;
  size_t invalid_items = 0;
  std::string first_invalid_reason;  ///< a short sample for the one log line per page
};

/// Parses a `/coins/markets` response body. A body that is not a JSON array (HTML error page,
/// truncated JSON) is an Unavailable error; an item lacking its id, symbol, name or a parsable
/// last_updated, or holding a wrongly typed number, is counted as invalid and skipped.
Result<MarketsPage> parseCoinsMarkets(std::string_view body, std::string_view vs_currency,
                                      int64_t fetched_ms, simdjson::dom::parser& parser);

/// CoinGecko's error bodies come in several shapes ({"status":{"error_code","error_message"}},
/// {"error":"..."}, {"error":{"status":{...}}}, Cloudflare HTML, plain text); this returns one
/// readable line for any of them, plus CoinGecko's numeric error code when it has one.
struct UpstreamError {
  int error_code = 0;
  std::string message;
};
UpstreamError describeErrorBody(std::string_view body, simdjson::dom::parser& parser);

}  // namespace coinrelay::coingecko
