#pragma once

// What the fuzz targets share: a failed property stops the run the way a sanitizer does, so
// that libFuzzer saves the input that broke it.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <simdjson.h>

namespace coinrelay::fuzz {

/// Stops the process (libFuzzer keeps the input as crash-*) when `holds` is false.
inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
  }
}

inline bool validUtf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace coinrelay::fuzz
