#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

namespace coinrelay::testing {

/// A canonical text of a JSON document: object keys sorted, arrays in order, numbers in their
/// shortest form with their JSON type (integer or float) kept. Two documents with the same
/// fields, types and values have the same canonical text; the first difference is easy to spot.
inline void canonicalJson(simdjson::dom::element element, std::string& out) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      for (auto field : simdjson::dom::object(element))
        fields.emplace_back(field.key, field.value);
      std::sort(fields.begin(), fields.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out += "{";
      for (size_t i = 0; i < fields.size(); ++i) {
        out += fmt::format("{}\"{}\":", i ? "," : "", fields[i].first);
        canonicalJson(fields[i].second, out);
      }
      out += "}";
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += "[";
      bool first = true;
      for (auto item : simdjson::dom::array(element)) {
        if (!first)
          out += ",";
        first = false;
        canonicalJson(item, out);
      }
      out += "]";
      return;
    }
    case simdjson::dom::element_type::STRING:
      out += fmt::format("\"{}\"", std::string_view(element));
      return;
    case simdjson::dom::element_type::INT64:
      out += fmt::format("i{}", int64_t(element));
      return;
    case simdjson::dom::element_type::UINT64:
      out += fmt::format("i{}", uint64_t(element));
      return;
    case simdjson::dom::element_type::DOUBLE:
      out += fmt::format("f{}", double(element));
      return;
    case simdjson::dom::element_type::BOOL:
      out += bool(element) ? "true" : "false";
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out += "null";
      return;
  }
}

inline std::string canonicalJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
    return "<not JSON: " + std::string(text.substr(0, 200)) + ">";
  }
  std::string out;
  canonicalJson(doc, out);
  return out;
}

}  // namespace coinrelay::testing
