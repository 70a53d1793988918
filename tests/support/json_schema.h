#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "support/temp_dir.h"

namespace coinrelay::testing {

struct SchemaVerdict {
  int exit_code = -1;  ///< 0: every document valid
  std::string output;  ///< one line per refused document, then a summary
};

/// Validates `documents` (one JSON document each) against the JSON Schema in `schema_path` with
/// a real validator (python3-jsonschema, through tests/contract/validate_json.py), not by a
/// reading of our own. Debian installs the module for /usr/bin/python3, which need not be the
/// python3 on PATH; JSONSCHEMA_PYTHON overrides it.
inline SchemaVerdict validateAgainstSchema(const std::string& source_dir,
                                           const std::string& schema_path,
                                           const std::vector<std::string>& documents) {
  TempDir dir;
  std::string lines;
  for (const auto& document : documents)
    lines += document + "\n";
  const std::string input = dir.write("documents.jsonl", lines);
  const char* python = std::getenv("JSONSCHEMA_PYTHON");
  const std::string command = std::string(python ? python : "/usr/bin/python3") + " " + source_dir +
                              "/tests/contract/validate_json.py " + schema_path + " " + input +
                              " 2>&1";
  SchemaVerdict verdict;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return verdict;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    verdict.output.append(buffer, n);
  const int status = ::pclose(pipe);
  verdict.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return verdict;
}

}  // namespace coinrelay::testing
