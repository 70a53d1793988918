// Inputs the fuzz targets (fuzz/) found, kept as tests so that each fix stays fixed without the
// fuzzer. Each test names its target and what the input broke.

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "coingecko/markets_parser.h"
#include "model/quote_codec.h"
#include "net/http_server.h"
#include "sinks/spool.h"
#include "support/temp_dir.h"

namespace coinrelay {
namespace {

// fuzz_http_request: a chunked body cut after its last chunk's size line. Reading put the same
// bytes into Beast's parser again, which asserted (n >= 5) in debug builds.
TEST(FuzzRegressionTest, ARequestCutAfterItsLastChunkSizeIsIncomplete) {
  const std::string bytes =
      "POST /v1@/quotes HTTP/1.1\r\nHost: coinrelay\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  int requests = 0;
  EXPECT_EQ(
      net::parseRequests(bytes, net::ServerLimits{}, [&](const net::Request&) { ++requests; }), 0);
  EXPECT_EQ(requests, 0) << "an incomplete request reaches no handler";
}

// fuzz_markets_parser: a number that underflows to -0 was written "-0", read back as the
// integer 0, and the quote document changed on its way through the codec.
TEST(FuzzRegressionTest, NegativeZeroRoundTripsThroughTheQuoteCodec) {
  const std::string body =
      R"([{"id":"tether","symbol":"usdt","name":"Tether","current_price":0.9998,)"
      R"("price_change_24h":-1.2843e-0534567,"last_updated":"2024-06-12T09:30:11.907Z"}])";
  simdjson::dom::parser parser;
  auto page = coingecko::parseCoinsMarkets(body, "usd", 1'700'000'000'000, parser);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->quotes.size(), 1u);
  const std::string encoded = model::encodeQuote(page->quotes[0]);
  EXPECT_NE(encoded.find(R"("price_change_24h":0)"), std::string::npos) << encoded;
  simdjson::dom::parser codec_parser;
  auto decoded = model::decodeQuote(encoded, codec_parser);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(model::encodeQuote(*decoded), encoded);
}

// fuzz_spool_reader: an acked file holding a number beyond 64 bits saturated to the maximum;
// the next sequence number wrapped to 0 and no acknowledgement counted again, so the same
// records would have been delivered forever.
TEST(FuzzRegressionTest, ADamagedAckedFileStillLetsRecordsBeAcknowledged) {
  testing::TempDir dir;
  const std::string path = dir.path("spool");
  {
    auto spool = sinks::Spool::open(path, 1 << 20).value();
    ASSERT_TRUE(spool->append({"first"}));
  }
  std::ofstream(path + "/acked") << "666666666666666666666666666";
  auto spool = sinks::Spool::open(path, 1 << 20).value();
  auto pending = spool->peek(100, 1 << 20).value();
  ASSERT_EQ(pending.size(), 1u) << "a damaged acked file delivers again, never loses";
  ASSERT_TRUE(spool->append({"second"}));
  pending = spool->peek(100, 1 << 20).value();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending.back().payload, "second");
  EXPECT_GT(pending.back().seq, pending.front().seq);
  ASSERT_TRUE(spool->ack(pending.back().seq));
  EXPECT_EQ(spool->stats().records, 0u) << "acknowledged means gone";
}

// fuzz_spool_reader: a segment whose record carried the last sequence number (its checksum
// covers the payload only) made the next number wrap to 0: the spool opened but could not be
// read, and acknowledgements stopped counting. Records numbered out of their place are damage.
TEST(FuzzRegressionTest, ARecordNumberedOutOfItsPlaceEndsTheSegment) {
  testing::TempDir dir;
  const std::string path = dir.path("spool");
  {
    auto spool = sinks::Spool::open(path, 1 << 20).value();
    ASSERT_TRUE(spool->append({"first"}));
    ASSERT_TRUE(spool->append({"second"}));
  }
  // The second record's number (bytes 8..15 of its 24-byte header) set to the largest one.
  const std::string segment = path + "/seg-00000000000000000001.log";
  std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.is_open());
  file.seekp(24 + 5 + 8);
  const std::string largest(8, '\xff');
  file.write(largest.data(), 8);
  file.close();
  auto spool = sinks::Spool::open(path, 1 << 20).value();
  auto pending = spool->peek(100, 1 << 20);
  ASSERT_TRUE(pending) << "a spool that opened can be read";
  ASSERT_EQ(pending->size(), 1u) << "the damaged record and what follows are cut off";
  EXPECT_EQ(pending->front().payload, "first");
  ASSERT_TRUE(spool->append({"third"}));
  pending = spool->peek(100, 1 << 20);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->back().payload, "third");
  EXPECT_EQ(pending->back().seq, pending->front().seq + 1);
  ASSERT_TRUE(spool->ack(pending->back().seq));
  EXPECT_EQ(spool->stats().records, 0u) << "acknowledged means gone";
}

// fuzz_markets_parser: the excerpt of an HTML title (or of any text) was cut at a byte count,
// splitting a UTF-8 sequence; the error line then held bytes the answer never had.
TEST(FuzzRegressionTest, AnErrorLineNeverCutsACharacterInTwo) {
  simdjson::dom::parser parser;
  const std::string body = "<title>" + std::string(79, 'a') + "\xc3\xa9" + "and more";
  const auto described = coingecko::describeErrorBody(body, parser);
  EXPECT_EQ(described.message, "HTML page: " + std::string(79, 'a') + "...");
}

}  // namespace
}  // namespace coinrelay
