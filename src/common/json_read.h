#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace coinrelay::json {

/// Field readers over a simdjson DOM object that tell "absent or null" (nullopt) from "present
/// with the wrong type" (sets `*type_error` to the field name), so a parser can reject one
/// malformed item and keep the rest.
std::optional<double> optionalNumber(simdjson::dom::object obj, std::string_view key,
                                     std::string* type_error);
std::optional<int64_t> optionalInteger(simdjson::dom::object obj, std::string_view key,
                                       std::string* type_error);
std::optional<std::string_view> optionalString(simdjson::dom::object obj, std::string_view key,
                                               std::string* type_error);

}  // namespace coinrelay::json
