// A Kafka message value as `serve` and `index` read it, through the v1 quote decoder.
// Property: what decodes encodes to a document that decodes to the same document again.

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "model/quote_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  static simdjson::dom::parser parser;
  auto quote =
      model::decodeQuote(std::string_view(reinterpret_cast<const char*>(data), size), parser);
  if (!quote)
    return 0;
  const std::string once = model::encodeQuote(*quote);
  fuzz::require(fuzz::validUtf8(once), "the document is UTF-8");
  auto again = model::decodeQuote(once, parser);
  fuzz::require(again.has_value(), "an encoded quote decodes");
  fuzz::require(model::encodeQuote(*again) == once, "encoding is stable");
  return 0;
}
