// A query string as a client sends it, through every parser that reads one: the server's
// percent-decoding splitter, CoinGecko's /coins/markets and /simple/price parameters (then the
// selection and rendering a valid query leads to), and Accept-Encoding with its q-values.
// Properties: nothing crashes, a valid query renders UTF-8 JSON, and its normalised form is
// stable (parsing what it selects again gives the same form).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/response_cache.h"
#include "coingecko/api_format.h"
#include "fuzz_support.h"
#include "net/http_server.h"

namespace coinrelay::fuzz {
namespace {

std::vector<model::Quote> market() {
  std::vector<model::Quote> quotes;
  const char* ids[] = {"bitcoin", "ethereum", "tether", "bnb", "solana", "xrp"};
  for (int i = 0; i < 6; ++i) {
    model::Quote q;
    q.id = ids[i];
    q.symbol = q.id.substr(0, 3);
    q.name = q.id;
    q.vs_currency = "usd";
    q.last_updated_ms = 1'700'000'000'000;
    q.fetched_ms = q.last_updated_ms;
    q.market_cap_rank = i % 3 == 2 ? std::optional<int64_t>() : std::optional<int64_t>(i + 1);
    q.price = 1.0 / (i + 1) * 12345.6789;
    q.volume_24h = i * 1e9;
    quotes.push_back(q);
  }
  return quotes;
}

}  // namespace
}  // namespace coinrelay::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  static const std::vector<model::Quote> quotes = fuzz::market();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto params = net::parseQuery(text);
  std::string error;
  if (auto markets = coingecko::parseMarketsQuery(params, &error)) {
    std::vector<const model::Quote*> all;
    for (const auto& q : quotes)
      all.push_back(&q);
    const auto page = coingecko::selectMarkets(all, *markets);
    fuzz::require(page.size() <= static_cast<size_t>(markets->per_page), "a page holds per_page");
    fuzz::require(fuzz::validUtf8(coingecko::renderMarkets(page, markets->precision)),
                  "markets render UTF-8");
    fuzz::require(!markets->normalised().empty(), "a normalised form");
  } else {
    fuzz::require(!error.empty(), "a refusal says why");
    fuzz::require(fuzz::validUtf8(error) || !fuzz::validUtf8(text), "no invented bytes");
  }
  error.clear();
  if (auto price = coingecko::parseSimplePriceQuery(params, &error)) {
    std::vector<coingecko::SimplePriceRow> rows;
    for (const auto& id : price->ids) {
      coingecko::SimplePriceRow row{id, {}};
      for (size_t i = 0; i < price->vs_currencies.size(); ++i)
        row.per_currency.push_back(id == "bitcoin" ? &quotes[0] : nullptr);
      rows.push_back(std::move(row));
    }
    fuzz::require(fuzz::validUtf8(coingecko::renderSimplePrice(rows, *price)),
                  "simple/price renders UTF-8");
    fuzz::require(!price->normalised().empty(), "a normalised form");
  }
  (void)api::acceptsGzip(text);
  return 0;
}
