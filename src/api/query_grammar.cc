#include "api/query_grammar.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "api/api_error.h"
#include "common/strings.h"

namespace coinrelay::api {

namespace {

constexpr std::string_view kTeamKeyParams[] = {"x_cg_demo_api_key", "x_cg_pro_api_key"};

Grammar single(GrammarKind kind, size_t max_length = 128) {
  return Grammar{.kind = kind, .max_length = max_length};
}
Grammar listOf(GrammarKind kind, size_t max_items, size_t max_length = 128) {
  return Grammar{.kind = kind, .list = true, .max_items = max_items, .max_length = max_length};
}
Grammar enumList(std::vector<std::string> values) {
  return Grammar{.kind = GrammarKind::Enum,
                 .list = true,
                 .max_items = values.size(),
                 .values = std::move(values)};
}
Grammar integer(int64_t min, int64_t max) {
  return Grammar{.kind = GrammarKind::Integer, .min = min, .max = max};
}

/// The grammar of each parameter name of the API that has neither an enumeration nor a boolean
/// type. A name means the same on every path (an `id` is always a slug).
std::optional<Grammar> byName(std::string_view name) {
  if (name == "ids")
    return listOf(GrammarKind::Slug, 1000);
  if (name == "coin_ids")
    return listOf(GrammarKind::Slug, 250);
  if (name == "exchange_ids")
    return listOf(GrammarKind::Slug, 100);
  if (name == "names")
    return listOf(GrammarKind::Text, 1000, 100);
  if (name == "symbols")
    return listOf(GrammarKind::Symbol, 1000, 40);
  if (name == "vs_currencies")
    return listOf(GrammarKind::Currency, 100, 10);
  if (name == "contract_addresses")
    return listOf(GrammarKind::Address, 100);
  if (name == "price_change_percentage")
    return enumList({"1h", "24h", "7d", "14d", "30d", "200d", "1y"});
  if (name == "show_max")
    return enumList({"coins", "nfts", "categories"});
  if (name == "id" || name == "category" || name == "asset_platform_id" || name == "coin_id")
    return single(GrammarKind::Slug);
  if (name == "contract_address")
    return single(GrammarKind::Address);
  if (name == "vs_currency")
    return single(GrammarKind::Currency, 10);
  if (name == "date")
    return single(GrammarKind::Date);
  if (name == "days")
    return single(GrammarKind::Days);
  if (name == "from" || name == "to")
    return single(GrammarKind::Timestamp);
  if (name == "page")
    return integer(1, 1'000'000);
  if (name == "per_page")
    return integer(1, 250);
  if (name == "query")
    return single(GrammarKind::Text, 200);
  return std::nullopt;
}

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool isAlnum(char c) {
  return isLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}

/// Valid UTF-8 without control characters (C0, DEL, C1).
bool isCleanText(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f)
      return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size())
      return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80)
        return false;
      code = (code << 6) | (next & 0x3f);
    }
    const uint32_t min_code = extra == 1 ? 0x80 : extra == 2 ? 0x800 : 0x10000;
    if (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ||
        (code >= 0x80 && code < 0xa0))
      return false;
    i += extra + 1;
  }
  return true;
}

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int64_t> toInteger(std::string_view text) {
  if (!allDigits(text) || text.size() > 15)
    return std::nullopt;
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<std::string> parseKind(const Grammar& g, std::string_view text, std::string& why);

/// Parses one value (one item of a list). Returns the canonical form, or sets `why`.
std::optional<std::string> parseValue(const Grammar& g, std::string_view raw, std::string& why) {
  // Spaces around list items are forgiven ("bitcoin, ethereum"); nothing else is trimmed: a
  // CR, LF, tab or NUL is refused, never silently dropped.
  std::string_view text = raw;
  if (g.list) {
    while (text.starts_with(' '))
      text.remove_prefix(1);
    while (text.ends_with(' '))
      text.remove_suffix(1);
  }
  auto value = parseKind(g, text, why);
  if (value && value->size() > g.max_length) {
    why = fmt::format("longer than {} characters", g.max_length);
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> parseKind(const Grammar& g, std::string_view text, std::string& why) {
  switch (g.kind) {
    case GrammarKind::Enum: {
      const std::string lowered = toLower(text);
      for (const auto& value : g.values) {
        if (toLower(value) == lowered)
          return value;
      }
      why = "not one of " + joinCsv(g.values);
      return std::nullopt;
    }
    case GrammarKind::Boolean: {
      const std::string lowered = toLower(text);
      if (lowered == "true" || lowered == "false")
        return lowered;
      why = "not true or false";
      return std::nullopt;
    }
    case GrammarKind::Integer: {
      auto value = toInteger(text);
      if (!value || *value < g.min || *value > g.max) {
        why = fmt::format("not a whole number from {} to {}", g.min, g.max);
        return std::nullopt;
      }
      return std::to_string(*value);
    }
    case GrammarKind::Timestamp: {
      const size_t dot = text.find('.');
      const std::string_view whole = text.substr(0, dot);
      const std::string_view fraction =
          dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
      auto seconds = toInteger(whole);
      if (!seconds || whole.size() > 11 ||
          (dot != std::string_view::npos && !allDigits(fraction)) || fraction.size() > 6) {
        why = "not UNIX seconds (e.g. 1609459200)";
        return std::nullopt;
      }
      return fraction.empty() ? std::to_string(*seconds) : fmt::format("{}.{}", *seconds, fraction);
    }
    case GrammarKind::Days: {
      if (toLower(text) == "max")
        return "max";
      auto value = toInteger(text);
      if (!value || *value < 1 || *value > 100'000) {
        why = "not a number of days (1 to 100000) or max";
        return std::nullopt;
      }
      return std::to_string(*value);
    }
    case GrammarKind::Date: {
      static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      const bool shaped = text.size() == 10 && text[2] == '-' && text[5] == '-' &&
                          allDigits(text.substr(0, 2)) && allDigits(text.substr(3, 2)) &&
                          allDigits(text.substr(6, 4));
      if (shaped) {
        const int day = static_cast<int>(*toInteger(text.substr(0, 2)));
        const int month = static_cast<int>(*toInteger(text.substr(3, 2)));
        const int year = static_cast<int>(*toInteger(text.substr(6, 4)));
        const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (month >= 1 && month <= 12 && day >= 1 && day <= kDays[month - 1] &&
            (month != 2 || day <= 28 || leap) && year >= 2000 && year <= 2100)
          return std::string(text);
      }
      why = "not a date as dd-mm-yyyy (e.g. 30-12-2017)";
      return std::nullopt;
    }
    case GrammarKind::Slug: {
      const std::string lowered = toLower(text);
      const bool ok = !lowered.empty() && isLowerAlnum(lowered.front()) &&
                      std::all_of(lowered.begin(), lowered.end(), [](char c) {
                        return isLowerAlnum(c) || c == '-' || c == '_' || c == '.';
                      });
      if (ok)
        return lowered;
      why = "not an id (letters, digits, '-', '_' and '.', starting with a letter or digit)";
      return std::nullopt;
    }
    case GrammarKind::Address: {
      const bool ok = !text.empty() && isAlnum(text.front()) &&
                      std::all_of(text.begin(), text.end(), [](char c) {
                        return isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
                      });
      if (ok)
        return std::string(text);
      why = "not a contract address (letters, digits, '.', '_', ':' and '-')";
      return std::nullopt;
    }
    case GrammarKind::Currency: {
      const std::string lowered = toLower(text);
      const bool ok = !lowered.empty() && std::all_of(lowered.begin(), lowered.end(),
                                                      [](char c) { return c >= 'a' && c <= 'z'; });
      if (ok)
        return lowered;
      why = "not a currency code (letters only, e.g. usd)";
      return std::nullopt;
    }
    case GrammarKind::Symbol: {
      const std::string lowered = toLower(text);
      const bool ok = !lowered.empty() && std::all_of(lowered.begin(), lowered.end(), [](char c) {
        return isLowerAlnum(c) || c == '-' || c == '_' || c == '.' || c == '$';
      });
      if (ok)
        return lowered;
      why = "not a coin symbol (letters, digits, '-', '_', '.' and '$')";
      return std::nullopt;
    }
    case GrammarKind::Text: {
      if (!text.empty() && isCleanText(text))
        return std::string(text);
      why = "not text (valid UTF-8 without control characters)";
      return std::nullopt;
    }
  }
  why = "unparsable";
  return std::nullopt;
}

/// Parses a whole parameter value (a list or one value). Empty lists come back empty.
std::optional<std::string> parseParam(const Grammar& g, std::string_view raw, std::string& why) {
  if (!g.list) {
    // A value with a comma where one value is expected would smuggle a list in.
    if (g.kind != GrammarKind::Text && raw.find(',') != std::string_view::npos) {
      why = "one value expected, not a list";
      return std::nullopt;
    }
    return parseValue(g, raw, why);
  }
  std::vector<std::string> items;
  std::set<std::string> seen;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find(',', start);
    if (end == std::string_view::npos)
      end = raw.size();
    const std::string_view item = raw.substr(start, end - start);
    start = end + 1;
    if (item.find_first_not_of(' ') == std::string_view::npos)
      continue;
    auto value = parseValue(g, item, why);
    if (!value) {
      why = fmt::format("'{}' is {}", shown(item), why);
      return std::nullopt;
    }
    if (seen.insert(*value).second)
      items.push_back(std::move(*value));
    if (items.size() > g.max_items) {
      why = fmt::format("more than {} values", g.max_items);
      return std::nullopt;
    }
  }
  return joinCsv(items);
}

ParsedCall refused(int status, std::string message, std::string detail) {
  ParsedCall out;
  out.status = status;
  out.message = std::move(message);
  out.detail = std::move(detail);
  return out;
}

/// Names in the raw query string, decoded, to find one given twice.
std::optional<std::string> repeatedName(std::string_view raw_query) {
  std::set<std::string> names;
  size_t start = 0;
  while (start < raw_query.size()) {
    size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos)
      end = raw_query.size();
    const std::string_view pair = raw_query.substr(start, end - start);
    start = end + 1;
    if (pair.empty())
      continue;
    auto decoded = net::parseQuery(pair);
    if (decoded.empty())
      continue;
    if (!names.insert(decoded.begin()->first).second)
      return decoded.begin()->first;
  }
  return std::nullopt;
}

std::string documented(const ApiPath& path) {
  std::vector<std::string> names;
  for (const auto& param : path.params) {
    if (param.in == ParamIn::Query)
      names.push_back(param.name);
  }
  return names.empty() ? std::string("no parameters") : "only " + joinCsv(names);
}

}  // namespace

std::optional<Grammar> grammarOf(const PathParam& param) {
  if (!param.enumeration.empty())
    return Grammar{.kind = GrammarKind::Enum, .values = param.enumeration};
  if (param.type == ParamType::Boolean)
    return single(GrammarKind::Boolean);
  return byName(param.name);
}

std::string percentEncode(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::string shown(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, 40)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\'' && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  if (value.size() > 40)
    out += "...";
  return out;
}

const std::string* ApiCall::get(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name)
      return &value;
  }
  return nullptr;
}

std::string ApiCall::pathValue(std::string_view name) const {
  for (const auto& [key, value] : path_values) {
    if (key == name)
      return value;
  }
  return {};
}

void ApiCall::set(std::string_view name, std::optional<std::string> value) {
  std::erase_if(query, [&](const auto& item) { return item.first == name; });
  if (!value)
    return;
  // Keep the table's order, so that equal calls have equal targets.
  size_t rank = 0;
  for (; rank < path->params.size() && path->params[rank].name != name; ++rank) {
  }
  auto it = query.begin();
  for (; it != query.end(); ++it) {
    size_t other = 0;
    for (; other < path->params.size() && path->params[other].name != it->first; ++other) {
    }
    if (other > rank)
      break;
  }
  query.emplace(it, std::string(name), std::move(*value));
}

std::string ApiCall::target() const {
  std::string out;
  size_t next_value = 0;
  for (const auto& segment : path->segments) {
    out.push_back('/');
    if (segment.starts_with('{') && next_value < path_values.size()) {
      out += percentEncode(path_values[next_value++].second);
    } else {
      out += segment;
    }
  }
  char separator = '?';
  for (const auto& [name, value] : query) {
    out.push_back(separator);
    separator = '&';
    out += name;
    out.push_back('=');
    out += percentEncode(value, ",");
  }
  return out;
}

ParsedCall parseCall(std::string_view raw_path, const std::map<std::string, std::string>& query,
                     std::string_view raw_query) {
  auto match = matchPath(raw_path);
  if (!match) {
    return refused(404, "Incorrect path. Please check https://www.coingecko.com/api/",
                   fmt::format("'{}' is not a path of CoinGecko's API v3 (docs/serving.md lists "
                               "every path)",
                               shown(raw_path)));
  }
  const ApiPath& path = *match->path;
  if (!raw_query.empty()) {
    if (auto name = repeatedName(raw_query)) {
      return refused(400, "invalid " + shown(*name),
                     fmt::format("{}: given twice; send each parameter once", shown(*name)));
    }
  }
  ApiCall call;
  call.path = &path;
  for (const auto& [name, raw] : match->values) {
    const PathParam* param = path.param(name);
    auto grammar = param ? grammarOf(*param) : std::nullopt;
    std::string why;
    auto value = grammar ? parseParam(*grammar, raw, why) : std::nullopt;
    if (!value || value->empty()) {
      return refused(400, "invalid " + name,
                     fmt::format("{}: '{}' is {}", name, shown(raw), why.empty() ? "empty" : why));
    }
    call.path_values.emplace_back(name, std::move(*value));
  }
  for (const auto& [name, raw] : query) {
    if (std::find(std::begin(kTeamKeyParams), std::end(kTeamKeyParams), name) !=
        std::end(kTeamKeyParams))
      continue;  // a team key: coinrelay's, never forwarded
    const PathParam* param = path.param(name);
    if (param == nullptr || param->in != ParamIn::Query) {
      return refused(400, "unknown parameter " + shown(name),
                     fmt::format("{} takes {}; '{}' is not one of them", path.templ,
                                 documented(path), shown(name)));
    }
  }
  for (const auto& param : path.params) {
    if (param.in != ParamIn::Query)
      continue;
    auto it = query.find(param.name);
    const std::string_view raw = it == query.end() ? std::string_view() : it->second;
    if (raw.empty()) {
      if (param.required) {
        return refused(400, "Missing parameter " + param.name,
                       fmt::format("{} needs {}", path.templ, param.name));
      }
      continue;
    }
    auto grammar = grammarOf(param);
    if (!grammar) {
      return refused(400, "invalid " + param.name,
                     fmt::format("{}: coinrelay cannot check this parameter", param.name));
    }
    std::string why;
    auto value = parseParam(*grammar, raw, why);
    if (!value) {
      const std::string detail = grammar->list
                                     ? fmt::format("{}: {}", param.name, why)
                                     : fmt::format("{}: '{}' is {}", param.name, shown(raw), why);
      return refused(400, "invalid " + param.name, detail);
    }
    if (value->empty()) {
      if (param.required)
        return refused(400, "Missing parameter " + param.name, param.name + ": no values");
      continue;
    }
    call.query.emplace_back(param.name, std::move(*value));
  }
  ParsedCall out;
  out.call = std::move(call);
  return out;
}

ParsedCall parseCall(const net::Request& request) {
  std::string_view raw_path = request.path;
  std::string_view raw_query;
  if (!request.target.empty()) {
    const size_t question = request.target.find('?');
    raw_path = request.target.substr(0, question);
    if (question != std::string_view::npos)
      raw_query = request.target.substr(question + 1);
  }
  constexpr std::string_view kPrefix = "/api/v3";
  if (raw_path.starts_with(kPrefix))
    raw_path.remove_prefix(kPrefix.size());
  return parseCall(raw_path, request.query, raw_query);
}

net::Reply refusalOf(const ParsedCall& parsed) {
  net::Reply reply = errorReply(
      parsed.status == 404 ? ApiErrorKind::NotFound : ApiErrorKind::BadRequest, parsed.message);
  if (!parsed.detail.empty())
    reply.headers.emplace_back("x-coinrelay-error", parsed.detail);
  return reply;
}

}  // namespace coinrelay::api
