#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace coinrelay {

std::vector<std::string> splitCsv(std::string_view text);    ///< trims items, drops empty ones
std::string joinCsv(const std::vector<std::string>& items);  ///< "a,b,c"
std::string toLower(std::string_view text);
std::string toUpper(std::string_view text);
std::string_view trim(std::string_view text);
/// A short, single-line excerpt of a body for error messages (never the whole payload); a cut
/// never splits a UTF-8 sequence.
std::string excerpt(std::string_view text, size_t max_chars = 120);
/// Decodes %XX escapes (a malformed one is kept as it is, for the caller's grammar to refuse);
/// '+' is a space in a query (`plus_is_space`), itself in a path.
std::string percentDecode(std::string_view text, bool plus_is_space = true);

}  // namespace coinrelay
