#include "sinks/spool.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "sinks/spooled_kafka_sink.h"
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

TEST(Crc32Test, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
}

}  // namespace
}  // namespace coinrelay::sinks
