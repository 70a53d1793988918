#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace coinrelay::testing {

/// Reads tests/fixtures/<relative_path>.
inline std::string readFixture(const std::string& relative_path) {
  std::ifstream in(std::string(COINRELAY_FIXTURES) + "/" + relative_path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace coinrelay::testing
