// docs/architecture.md against the tree: every folder of its folder table and every component
// it names in backticks must still exist, so the document cannot silently describe code that is
// gone (as it once showed a Kafka sink nothing used).

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace coinrelay {
namespace {

const std::filesystem::path kSource = COINRELAY_SOURCE_DIR;

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Every identifier written in code (comments left out) under `dirs`, so a name that survives
/// only in a comment counts as gone.
std::set<std::string> identifiersIn(const std::vector<std::filesystem::path>& dirs) {
  static const std::regex kIdentifier("[A-Za-z_][A-Za-z0-9_]*");
  std::set<std::string> out;
  for (const auto& dir : dirs) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      const auto ext = entry.path().extension();
      if (ext != ".h" && ext != ".cc" && ext != ".inc")
        continue;
      std::istringstream lines(readFile(entry.path()));
      for (std::string line; std::getline(lines, line);) {
        if (const size_t comment = line.find("//"); comment != std::string::npos)
          line.resize(comment);
        for (std::sregex_iterator it(line.begin(), line.end(), kIdentifier), end; it != end; ++it)
          out.insert(it->str());
      }
    }
  }
  return out;
}

TEST(ArchitectureDocTest, EveryFolderOfItsTableExists) {
  const std::string doc = readFile(kSource / "docs/architecture.md");
  ASSERT_FALSE(doc.empty());
  // Rows of the folder table: | `src/api/` | ... |
  static const std::regex kRow(R"(^\| `([a-z_./-]+/)` \|)");
  size_t folders = 0;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (!std::regex_search(line, match, kRow))
      continue;
    ++folders;
    EXPECT_TRUE(std::filesystem::is_directory(kSource / match[1].str()))
        << "docs/architecture.md lists the folder " << match[1] << ", which does not exist";
  }
  EXPECT_GE(folders, 15u) << "the folder table was not found";
}

TEST(ArchitectureDocTest, EveryComponentItNamesExistsInTheSources) {
  const std::string doc = readFile(kSource / "docs/architecture.md");
  const std::set<std::string> identifiers =
      identifiersIn({kSource / "src", kSource / "tests/support"});
  // `FetchLoop`, `Snapshot`...: a capitalised identifier alone in backticks is a type's name.
  static const std::regex kComponent("`([A-Z][A-Za-z0-9]*)`");
  std::set<std::string> named;
  for (std::sregex_iterator it(doc.begin(), doc.end(), kComponent), end; it != end; ++it)
    named.insert((*it)[1].str());
  EXPECT_GE(named.size(), 20u) << "the components were not found";
  for (const auto& name : named) {
    EXPECT_TRUE(identifiers.contains(name))
        << "docs/architecture.md names `" << name << "`, which no code in src/ declares or uses";
  }
}

}  // namespace
}  // namespace coinrelay
