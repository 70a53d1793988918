#include "sinks/spool.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "model/quote_codec.h"
#include "sinks/spooled_kafka_sink.h"
#include "support/kafka_reader.h"
#include "support/mock_kafka.h"
#include "support/process.h"
#include "support/quote_feed.h"
#include "support/temp_dir.h"

namespace coinrelay::sinks {
namespace {

std::vector<std::string> payloads(int first, int count, size_t size = 100) {
  std::vector<std::string> out;
  for (int i = first; i < first + count; ++i) {
    std::string p = "record-" + std::to_string(i) + "-";
    p.resize(size, 'x');
    out.push_back(p);
  }
  return out;
}

std::vector<std::string> peekAll(const Spool& spool) {
  std::vector<std::string> out;
  auto records = spool.peek(1'000'000, SIZE_MAX);
  if (!records)
    return out;
  for (const auto& record : *records)
    out.push_back(record.payload.substr(0, record.payload.find("-x")));
  return out;
}

TEST(SpoolTest, KeepsOrderAcrossAcksAndRestarts) {
  testing::TempDir dir;
  {
    auto spool = Spool::open(dir.path("s"), 1 << 20).value();
    ASSERT_TRUE(spool->append(payloads(1, 3)));
    ASSERT_TRUE(spool->append(payloads(4, 2)));
    auto window = spool->peek(2, SIZE_MAX).value();
    ASSERT_EQ(window.size(), 2u);
    EXPECT_EQ(window[0].seq, 1u);
    EXPECT_EQ(window[1].seq, 2u);
    ASSERT_TRUE(spool->ack(window.back().seq));
    EXPECT_EQ(spool->stats().records, 3u);
  }
  // A new process finds what was not acknowledged, in order, and numbers on from there.
  auto spool = Spool::open(dir.path("s"), 1 << 20).value();
  EXPECT_EQ(peekAll(*spool), (std::vector<std::string>{"record-3", "record-4", "record-5"}));
  ASSERT_TRUE(spool->append(payloads(6, 1)));
  auto all = spool->peek(10, SIZE_MAX).value();
  EXPECT_EQ(all.back().seq, 6u);
  ASSERT_TRUE(spool->ack(6));
  EXPECT_EQ(spool->stats().records, 0u);
}

TEST(SpoolTest, DropsTheOldestOnlyWhenFullAndCountsThem) {
  testing::TempDir dir;
  // 64 KiB bound, 1 KiB records (+24 header): 62 fit.
  auto spool = Spool::open(dir.path("s"), 64 << 10).value();
  ASSERT_TRUE(spool->append(payloads(1, 60, 1000)));
  EXPECT_EQ(spool->stats().dropped, 0u);
  ASSERT_TRUE(spool->append(payloads(61, 10, 1000)));
  const SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.records + stats.dropped, 70u);
  EXPECT_EQ(stats.dropped, 6u) << "64 records of 1024 bytes fit in 64 KiB";
  EXPECT_LE(stats.bytes, 64u << 10);
  const auto left = peekAll(*spool);
  EXPECT_EQ(left.back(), "record-70") << "the newest are kept";
  EXPECT_EQ(left.front(), "record-" + std::to_string(stats.dropped + 1));
  // Acknowledging a dropped record is harmless.
  EXPECT_TRUE(spool->ack(1));
}

TEST(SpoolTest, ATornTailIsCutAndTheWholeRecordsKept) {
  testing::TempDir dir;
  std::string segment;
  {
    auto spool = Spool::open(dir.path("s"), 1 << 20).value();
    ASSERT_TRUE(spool->append(payloads(1, 3)));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path("s"))) {
      if (entry.path().filename().string().starts_with("seg-") && entry.file_size() > 0)
        segment = entry.path().string();
    }
  }
  ASSERT_FALSE(segment.empty());
  // A crash in the middle of the fourth record's write.
  std::ofstream(segment, std::ios::app) << std::string("\x43\x52\x53\x50\x64\x00", 6);
  auto spool = Spool::open(dir.path("s"), 1 << 20).value();
  EXPECT_EQ(peekAll(*spool), (std::vector<std::string>{"record-1", "record-2", "record-3"}));
  ASSERT_TRUE(spool->append(payloads(4, 1)));
  EXPECT_EQ(peekAll(*spool).back(), "record-4");
}

TEST(SpoolTest, TwoProcessesNeverShareOneSpool) {
  testing::TempDir dir;
  auto first = Spool::open(dir.path("s"), 1 << 20);
  ASSERT_TRUE(first);
  auto second = Spool::open(dir.path("s"), 1 << 20);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("in use by another coinrelay process"), std::string::npos);
  EXPECT_NE(second.error().message.find("fetch.spool_dir"), std::string::npos);
}

TEST(SpoolTest, EmptiesItsFilesOnceEverythingIsDelivered) {
  testing::TempDir dir;
  auto spool = Spool::open(dir.path("s"), 1 << 20).value();  // 64 KiB segments
  for (int batch = 0; batch < 10; ++batch)
    ASSERT_TRUE(spool->append(payloads(batch * 50, 50, 1000)));
  uint64_t on_disk = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path("s")))
    on_disk += entry.path().filename().string().starts_with("seg-") ? entry.file_size() : 0;
  EXPECT_GE(on_disk, 500u * 1000u);
  ASSERT_TRUE(spool->ack(500));
  on_disk = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path("s")))
    on_disk += entry.path().filename().string().starts_with("seg-") ? entry.file_size() : 0;
  EXPECT_EQ(on_disk, 0u);
}

TEST(SpooledKafkaSinkTest, MessagesRoundTripThroughTheSpoolEncoding) {
  SpooledKafkaSink::Message m{"crypto-data", "bitcoin", 1'700'000'000'123, R"({"id":"bitcoin"})"};
  auto back = SpooledKafkaSink::decode(SpooledKafkaSink::encode(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->topic, m.topic);
  EXPECT_EQ(back->key, m.key);
  EXPECT_EQ(back->timestamp_ms, m.timestamp_ms);
  EXPECT_EQ(back->value, m.value);
  EXPECT_FALSE(SpooledKafkaSink::decode("\x05"));
}

// ------------------------------------------------------------------------------ the drainer

using namespace std::chrono_literals;

/// The drainer against librdkafka's mock cluster: one partition, so the topic's order is the
/// order the sink sent in.
class SpoolDrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.createTopic("quotes", 1);
    config_.brokers = kafka_.brokers();
    config_.topic = "quotes";
    config_.compression = "zstd";
    config_.linger_ms = 5;
  }

  std::unique_ptr<SpooledKafkaSink> open() {
    auto sink = SpooledKafkaSink::create(config_, dir_.path("spool"), 1 << 20, clock_);
    EXPECT_TRUE(sink) << sink.error().message;
    return sink ? std::move(sink).value() : nullptr;
  }

  /// Quotes [from, to), one batch (one fetch cycle).
  static Status deliver(SpooledKafkaSink& sink, int from, int to) {
    std::vector<model::Quote> batch;
    for (int i = from; i < to; ++i)
      batch.push_back(coinrelay::testing::quoteNumber(i));
    return sink.deliver(batch);
  }

  /// The quote numbers in the topic, in its order.
  std::vector<int> published() {
    std::vector<int> out;
    simdjson::dom::parser parser;
    for (const auto& record : coinrelay::testing::readTopic(kafka_.brokers(), "quotes", 10s)) {
      auto quote = model::decodeQuote(record.value, parser);
      EXPECT_TRUE(quote) << record.value;
      if (!quote)
        continue;
      for (int i = 0; i < 1000; ++i) {
        if (model::observationKey(coinrelay::testing::quoteNumber(i)) ==
            model::observationKey(*quote)) {
          out.push_back(i);
          break;
        }
      }
    }
    return out;
  }

  /// Destroys the sink while its clock runs, so that its drain at exit gives up at once.
  void closeWhileTimePasses(std::unique_ptr<SpooledKafkaSink> sink) {
    std::atomic<bool> closed{false};
    std::thread closer([&] {
      sink.reset();
      closed = true;
    });
    while (!closed) {
      clock_.advance(1s);
      std::this_thread::sleep_for(5ms);
    }
    closer.join();
  }

  static std::vector<int> range(int from, int to) {
    std::vector<int> out;
    for (int i = from; i < to; ++i)
      out.push_back(i);
    return out;
  }

  coinrelay::testing::MockKafka kafka_;
  config::KafkaConfig config_;
  testing::TempDir dir_;
  ManualClock clock_;
};

TEST_F(SpoolDrainerTest, QuotesSpooledWhileKafkaIsDownGoOutInOrderEachOnceWhenItIsBack) {
  auto sink = open();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(deliver(*sink, 0, 10));
  ASSERT_TRUE(sink->waitDrained(10s));

  kafka_.setDown();
  for (int cycle = 1; cycle <= 5; ++cycle)
    ASSERT_TRUE(deliver(*sink, cycle * 10, cycle * 10 + 10))
        << "the schedule never waits for Kafka";
  EXPECT_EQ(sink->stats().pending, 50u);
  // Unconfirmed for longer than the stall limit: Kafka counts as down, the records stay.
  EXPECT_TRUE(coinrelay::testing::eventually(
      [&] {
        clock_.advance(1s);
        return !sink->stats().kafka_ok;
      },
      5s, 5ms));
  EXPECT_EQ(sink->stats().pending, 50u) << "nothing is forgotten before Kafka acknowledged it";

  kafka_.setUp();
  ASSERT_TRUE(sink->waitDrained(20s)) << sink->stats().pending << " still spooled";
  EXPECT_TRUE(sink->stats().kafka_ok);
  EXPECT_EQ(sink->stats().delivered, 60u);
  EXPECT_EQ(published(), range(0, 60));
}

TEST_F(SpoolDrainerTest, ARecordIsForgottenOnlyOnceKafkaAcknowledgedIt) {
  auto sink = open();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(deliver(*sink, 0, 10));
  ASSERT_TRUE(sink->waitDrained(10s));
  kafka_.setDown();
  ASSERT_TRUE(deliver(*sink, 10, 30));
  // The process stops while Kafka is away: what it did not confirm stays on disk...
  closeWhileTimePasses(std::move(sink));
  kafka_.setUp();
  // ... and the next process sends it, after what was confirmed and before anything new.
  auto next = open();
  ASSERT_TRUE(next);
  EXPECT_GE(next->stats().pending, 20u);
  ASSERT_TRUE(deliver(*next, 30, 35));
  ASSERT_TRUE(next->waitDrained(20s)) << next->stats().pending << " still spooled";
  EXPECT_EQ(published(), range(0, 35));
}

TEST_F(SpoolDrainerTest, RecordsKafkaRefusedAreSentAgainInOrder) {
  auto sink = open();
  ASSERT_TRUE(sink);
  // An error librdkafka does not retry by itself: the delivery reports say the records failed.
  kafka_.failNext(coinrelay::testing::kProduceApi, {RD_KAFKA_RESP_ERR_INVALID_RECORD});
  ASSERT_TRUE(deliver(*sink, 0, 20));
  ASSERT_TRUE(sink->waitDrained(20s)) << sink->stats().pending << " still spooled";
  EXPECT_EQ(published(), range(0, 20));
}

TEST(Crc32Test, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
}

}  // namespace
}  // namespace coinrelay::sinks
