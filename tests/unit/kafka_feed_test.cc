// The feed of a `serve` replica against librdkafka's mock cluster: it rebuilds the snapshot from
// the lookback, says when it is complete, and counts what it cannot decode. The mock has no time
// index, so each test stands in for the broker's lookup by time from what the topic holds (the
// real broker's lookup is proven by tests/integration/serve_test.cc).

#include "pipeline/kafka_feed.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/time_util.h"
#include "model/quote_codec.h"
#include "support/kafka_reader.h"
#include "support/mock_kafka.h"
#include "support/process.h"
#include "support/quote_feed.h"

namespace coinrelay::pipeline {
namespace {

using namespace std::chrono_literals;
using coinrelay::testing::eventually;
using coinrelay::testing::quoteNumber;

/// The snapshot's stand-in: every quote delivered, by observation key.
class RecordingSink final : public sinks::Sink {
 public:
  std::string_view name() const override { return "recording"; }
  Status deliver(std::span<const model::Quote> batch) override {
    std::lock_guard lock(mutex_);
    for (const auto& quote : batch)
      keys_.push_back(model::observationKey(quote));
    return {};
  }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> keys_;
};

std::set<std::string> keysOf(int from, int to) {
  std::set<std::string> out;
  for (int i = from; i < to; ++i)
    out.insert(model::observationKey(quoteNumber(i)));
  return out;
}

class KafkaFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.createTopic("quotes", 3);
    config_.kafka.brokers = kafka_.brokers();
    config_.kafka.topic = "quotes";
    config_.serve.bootstrap_lookback_s = 900;
    options_.clock = &clock_;
    // The broker's time index, read off the topic: per partition, the first offset at or after
    // the time asked for, -1 when none is that recent.
    options_.offsets_for_times = [this](RdKafka::KafkaConsumer&,
                                        std::vector<RdKafka::TopicPartition*>& partitions,
                                        std::chrono::milliseconds) {
      const auto records = coinrelay::testing::readTopic(kafka_.brokers(), "quotes", 10s);
      for (RdKafka::TopicPartition* tp : partitions) {
        asked_.push_back(tp->offset());
        int64_t first = -1;
        for (const auto& record : records) {
          if (record.partition == tp->partition() && record.timestamp_ms >= tp->offset() &&
              (first < 0 || record.offset < first)) {
            first = record.offset;
          }
        }
        tp->set_offset(first);
      }
      return RdKafka::ERR_NO_ERROR;
    };
  }

  void send(int from, int to, int64_t timestamp_ms) {
    for (int i = from; i < to; ++i) {
      const model::Quote q = quoteNumber(i);
      producer_.send("quotes", q.id, model::encodeQuote(q), timestamp_ms + i);
    }
    producer_.flush();
  }

  /// Runs the feed on a thread until the end of the test.
  void start() {
    auto feed = KafkaFeed::create(config_, sink_, stop_, options_);
    ASSERT_TRUE(feed) << feed.error().message;
    feed_ = std::move(feed).value();
    runner_ = std::thread([this] { EXPECT_TRUE(feed_->run()); });
  }
  void TearDown() override {
    stop_.request();
    if (runner_.joinable())
      runner_.join();
  }

  /// Waits for the feed to say it is complete, moving its clock (its flushes are timed).
  bool caughtUp() {
    return eventually(
        [&] {
          clock_.advance(100ms);
          return feed_->caughtUp();
        },
        10s, 5ms);
  }

  coinrelay::testing::MockKafka kafka_;
  coinrelay::testing::TestProducer producer_{kafka_.brokers()};
  config::Config config_;
  ManualClock clock_;
  KafkaFeedOptions options_;
  std::vector<int64_t> asked_;
  RecordingSink sink_;
  StopSignal stop_;
  std::unique_ptr<KafkaFeed> feed_;
  std::thread runner_;
};

TEST_F(KafkaFeedTest, AReplicaRebuildsItsSnapshotFromTheLookbackAndSaysWhenItIsComplete) {
  const int64_t now = toUnixMillis(clock_.now());
  send(0, 30, now - 2 * 3600'000);  // before the 15 min lookback: not part of the snapshot
  send(30, 5030, now - 600'000);    // more than one fetch and one flush of the feed
  producer_.send("quotes", std::string("bad-json"), "not json at all", now - 300'000);
  producer_.send("quotes", std::string("bad-version"), R"({"schema_version":2,"id":"x"})",
                 now - 300'000);
  producer_.flush();
  ASSERT_EQ(producer_.failed(), 0);

  start();
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(asked_, std::vector<int64_t>(3, now - 900'000)) << "every partition, from the lookback";
  ASSERT_TRUE(caughtUp());
  // Complete at the moment it says so: every quote of the lookback, each once, nothing older.
  const auto keys = sink_.keys();
  EXPECT_EQ(keys.size(), 5000u);
  EXPECT_TRUE(std::set<std::string>(keys.begin(), keys.end()) == keysOf(30, 5030));
  EXPECT_EQ(feed_->consumed(), 5000u);
  EXPECT_EQ(feed_->undecodable(), 2u);

  // Then it follows the topic.
  send(5030, 5035, now);
  EXPECT_TRUE(eventually(
      [&] {
        clock_.advance(100ms);
        return sink_.keys().size() == 5005;
      },
      10s, 5ms))
      << sink_.keys().size();
}

TEST_F(KafkaFeedTest, ATopicWithNothingInTheLookbackIsCompleteAtOnce) {
  const int64_t now = toUnixMillis(clock_.now());
  send(0, 20, now - 2 * 3600'000);
  start();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(caughtUp());
  EXPECT_TRUE(sink_.keys().empty()) << "nothing older than the lookback";
  send(20, 25, now);
  EXPECT_TRUE(eventually(
      [&] {
        clock_.advance(100ms);
        return sink_.keys().size() == 5;
      },
      10s, 5ms))
      << sink_.keys().size();
}

}  // namespace
}  // namespace coinrelay::pipeline
