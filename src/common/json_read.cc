#include "common/json_read.h"

#include <cmath>

namespace coinrelay::json {

namespace {

void markTypeError(std::string* type_error, std::string_view key) {
  if (type_error != nullptr && type_error->empty())
    *type_error = std::string(key);
}

}  // namespace

std::optional<double> optionalNumber(simdjson::dom::object obj, std::string_view key,
                                     std::string* type_error) {
  simdjson::dom::element element;
  if (obj.at_key(key).get(element) != simdjson::SUCCESS || element.is_null())
    return std::nullopt;
  double number;
  if (element.get_double().get(number) != simdjson::SUCCESS || !std::isfinite(number)) {
    markTypeError(type_error, key);
    return std::nullopt;
  }
  return number;
}

std::optional<int64_t> optionalInteger(simdjson::dom::object obj, std::string_view key,
                                       std::string* type_error) {
  std::optional<double> number = optionalNumber(obj, key, type_error);
  if (!number)
    return std::nullopt;
  // CoinGecko writes some integers as floats ("1.0"); accept those, refuse fractions.
  if (*number != std::floor(*number) || std::fabs(*number) > 9.0e15) {
    markTypeError(type_error, key);
    return std::nullopt;
  }
  return static_cast<int64_t>(*number);
}

std::optional<std::string_view> optionalString(simdjson::dom::object obj, std::string_view key,
                                               std::string* type_error) {
  simdjson::dom::element element;
  if (obj.at_key(key).get(element) != simdjson::SUCCESS || element.is_null())
    return std::nullopt;
  std::string_view text;
  if (element.get_string().get(text) != simdjson::SUCCESS) {
    markTypeError(type_error, key);
    return std::nullopt;
  }
  return text;
}

}  // namespace coinrelay::json
