#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coinrelay {

/// Appends compact JSON to a string. Written by hand because simdjson only parses, and the hot
/// paths (Kafka messages, bulk bodies, API responses) want to write straight into one reusable
/// buffer without building a DOM first. Commas are placed automatically.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(double number);  ///< shortest round-trip form; NaN/inf become null
  JsonWriter& value(int64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  /// Writes already-encoded JSON as one value (caller guarantees it is valid).
  JsonWriter& raw(std::string_view json);

  template <class T>
  JsonWriter& value(const std::optional<T>& maybe) {
    if (maybe)
      return value(*maybe);
    return null();
  }
  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  /// `text` as a JSON string; bytes that are not UTF-8 become U+FFFD, so the output always is.
  static void appendEscaped(std::string& out, std::string_view text);

 private:
  void separate();

  std::string& out_;
  std::vector<bool> needs_comma_;  // one entry per open container
  bool after_key_ = false;
};

}  // namespace coinrelay
