#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/coingecko_paths.h"
#include "net/http_server.h"

namespace coinrelay::api {

/// What a parameter's value must look like, beyond the type and enumeration of the OpenAPI
/// description. Every value a client sends is checked against its parameter's grammar and
/// rebuilt from what was parsed, so nothing reaches the upstream that coinrelay did not write.
enum class GrammarKind {
  Enum,       ///< one of `values` (case-insensitive; sent as listed)
  Boolean,    ///< true | false
  Integer,    ///< digits, within [min, max]
  Timestamp,  ///< UNIX seconds, digits with an optional fraction
  Days,       ///< a whole number of days, or "max"
  Date,       ///< dd-mm-yyyy, a real calendar date
  Slug,       ///< an id: a-z, 0-9 then also '-', '_', '.'; lower-cased
  Address,    ///< a contract address: letters and digits then also '.', '_', ':', '-'
  Currency,   ///< a currency code: 1-10 letters; lower-cased
  Symbol,     ///< a coin symbol: a-z, 0-9, '-', '_', '.', '$'; lower-cased
  Text,       ///< free text (names, search): valid UTF-8 without control characters
};

struct Grammar {
  GrammarKind kind = GrammarKind::Slug;
  bool list = false;     ///< comma-separated values, each of `kind`
  size_t max_items = 1;  ///< for lists
  int64_t min = 0;
  int64_t max = 0;  ///< Integer bounds
  size_t max_length = 128;
  std::vector<std::string> values;  ///< Enum
};

/// The grammar of a documented parameter, or nullopt when coinrelay has none for it (a unit test
/// requires one for every parameter of every path: such a parameter would be refused).
std::optional<Grammar> grammarOf(const PathParam& param);

/// A request to one path of the table with every parameter parsed and in canonical form.
struct ApiCall {
  const ApiPath* path = nullptr;
  std::vector<std::pair<std::string, std::string>> path_values;  ///< canonical, template order
  std::vector<std::pair<std::string, std::string>> query;        ///< present ones, table order

  /// A query parameter's canonical value, or nullptr when absent.
  const std::string* get(std::string_view name) const;
  std::string pathValue(std::string_view name) const;
  /// Sets (or, with nullopt, removes) a query parameter, keeping the table order.
  void set(std::string_view name, std::optional<std::string> value);
  /// The upstream path and query, percent-encoded by coinrelay, e.g.
  /// "/coins/bitcoin/market_chart?vs_currency=usd&days=1". Also the cache key of the answer.
  std::string target() const;
};

/// The outcome of parsing a request: a call, or its refusal in CoinGecko's words (`message`,
/// the body's "error") with coinrelay's explanation (`detail`, sent as x-coinrelay-error).
struct ParsedCall {
  std::optional<ApiCall> call;
  int status = 0;  ///< 400 or 404 when refused
  std::string message;
  std::string detail;
  explicit operator bool() const { return call.has_value(); }
};

/// Parses a request for /api/v3: `raw_path` relative to it and still percent-encoded,
/// `query` as the server decoded it, `raw_query` as received (to refuse a repeated parameter;
/// empty: not checked). The team key parameters (x_cg_demo_api_key, x_cg_pro_api_key) are
/// coinrelay's and are dropped; any other parameter the path does not document is refused.
ParsedCall parseCall(std::string_view raw_path, const std::map<std::string, std::string>& query,
                     std::string_view raw_query);
/// The same for a server request whose path starts with /api/v3.
ParsedCall parseCall(const net::Request& request);

/// The reply refusing a call (CoinGecko's flat error shape, with x-coinrelay-error).
net::Reply refusalOf(const ParsedCall& parsed);

/// Percent-encodes everything but RFC 3986's unreserved characters (and `keep`).
std::string percentEncode(std::string_view text, std::string_view keep = {});
/// A value shown in an error message: printable ASCII as is, other bytes as \xNN, cut short.
std::string shown(std::string_view value);

}  // namespace coinrelay::api
