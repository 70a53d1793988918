#pragma once

#include <string_view>

#include <gtest/gtest.h>
#include <simdjson.h>

namespace coinrelay::testing {

/// The quote index's mapping as a user relies on it: strict (an unknown field is refused, never
/// guessed), ids and symbols as keywords, prices as doubles, amounts as longs, times as dates.
/// `mappings` is the "mappings" object, of a template body or of a live index.
inline void expectStrictQuoteMapping(simdjson::dom::element mappings) {
  EXPECT_EQ(std::string_view(mappings["dynamic"]), "strict");
  simdjson::dom::object properties = mappings["properties"];
  EXPECT_EQ(std::string_view(properties["id"]["type"]), "keyword");
  EXPECT_EQ(std::string_view(properties["symbol"]["type"]), "keyword");
  EXPECT_EQ(std::string_view(properties["price"]["type"]), "double");
  EXPECT_EQ(std::string_view(properties["change_24h"]["type"]), "double");
  EXPECT_EQ(std::string_view(properties["market_cap"]["type"]), "long");
  EXPECT_EQ(std::string_view(properties["volume_24h"]["type"]), "long");
  EXPECT_EQ(std::string_view(properties["timestamp"]["type"]), "date");
  EXPECT_EQ(std::string_view(properties["last_updated"]["type"]), "date");
}

}  // namespace coinrelay::testing
