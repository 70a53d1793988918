// An upstream body as CoinGecko (or anything posing as it) may send it, through the
// /coins/markets parser and the reading of error bodies. Property: every quote the parser
// accepts goes through the v1 codec and back to the same document.

#include <cstdint>
#include <string>
#include <string_view>

#include "coingecko/markets_parser.h"
#include "fuzz_support.h"
#include "model/quote_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  static simdjson::dom::parser parser;
  static simdjson::dom::parser codec_parser;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto page = coingecko::parseCoinsMarkets(body, "usd", 1'700'000'000'000, parser);
  if (page) {
    for (const auto& quote : page->quotes) {
      const std::string encoded = model::encodeQuote(quote);
      fuzz::require(fuzz::validUtf8(encoded), "the document is UTF-8");
      auto decoded = model::decodeQuote(encoded, codec_parser);
      fuzz::require(decoded.has_value(), "a parsed quote decodes from its document");
      fuzz::require(model::encodeQuote(*decoded) == encoded, "the codec round trip is exact");
    }
  }
  const auto described = coingecko::describeErrorBody(body, parser);
  fuzz::require(fuzz::validUtf8(described.message) || !fuzz::validUtf8(body),
                "the error line invents no bytes");
  return 0;
}
