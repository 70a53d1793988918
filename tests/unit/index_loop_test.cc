// The indexer's loop against librdkafka's mock cluster and the in-process fake engine, on a
// ManualClock (batches, commits, pauses and the shutdown grace are timed by it): offsets are
// committed only over what the engine made durable, what was not is read again after a restart
// or a rebalance, undecodable and refused messages become dead letters that point at the
// original, and consumption pauses while the engine is down or slow and resumes by itself.

#include "pipeline/index_loop.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "common/clock.h"
#include "model/quote_codec.h"
#include "support/fake_engine.h"
#include "support/kafka_reader.h"
#include "support/mock_kafka.h"
#include "support/process.h"
#include "support/quote_feed.h"

namespace coinrelay::pipeline {
namespace {

using namespace std::chrono_literals;
using coinrelay::testing::eventually;
using coinrelay::testing::quoteNumber;

std::string idOf(int quote) {
  return model::observationKey(quoteNumber(quote));
}

/// The engine's side of a test: the ids of every _bulk request, what it accepted, and ways to
/// refuse: one document for good, everything while "down", or holding the first request that
/// carries a chosen document (a bulk the engine has not answered yet) until the test lets go.
class Engine {
 public:
  Engine() {
    fake_.answer("PUT /_index_template/crypto-prices", {200, "application/json", "{}"});
    fake_.onBulk([this](const std::vector<std::string>& ids) { return bulk(ids); });
  }
  ~Engine() { release(true); }

  std::string url() const { return fake_.url(); }
  void refuseForGood(const std::string& id) {
    std::lock_guard lock(mutex_);
    refused_.insert(id);
  }
  void setDown(bool down) {
    std::lock_guard lock(mutex_);
    down_ = down;
  }
  void holdFirstRequestWith(const std::string& id) {
    std::lock_guard lock(mutex_);
    hold_ = id;
  }
  bool holding() const {
    std::lock_guard lock(mutex_);
    return holding_;
  }
  /// Answers the held request: its documents indexed, or the whole request refused with 503.
  void release(bool indexed) {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
      release_indexed_ = indexed;
    }
    changed_.notify_all();
  }
  /// How many times the engine stored each document.
  std::multiset<std::string> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  /// How many requests carried `id`.
  int sent(const std::string& id) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& request : requests_)
      n += static_cast<int>(std::count(request.begin(), request.end(), id));
    return n;
  }
  /// The ids of every _bulk request, in the order each carried them.
  std::vector<std::vector<std::string>> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// Every request body it received.
  std::vector<std::string> bodies() const { return fake_.bodies(); }
  bool acceptedAll(int from, int to) const {
    const auto stored = accepted();
    for (int i = from; i < to; ++i) {
      if (!stored.contains(idOf(i)))
        return false;
    }
    return true;
  }

 private:
  net::Reply bulk(const std::vector<std::string>& ids) {
    std::unique_lock lock(mutex_);
    requests_.push_back(ids);
    const bool hold = !hold_.empty() && std::find(ids.begin(), ids.end(), hold_) != ids.end();
    if (hold) {
      hold_.clear();  // only the first such request
      holding_ = true;
      changed_.wait_for(lock, 30s, [this] { return released_; });
      holding_ = false;
      if (!release_indexed_)
        return unavailable();
    } else if (down_) {
      return unavailable();
    }
    for (const auto& id : ids) {
      if (!refused_.contains(id))
        accepted_.insert(id);
    }
    return coinrelay::testing::bulkAnswer(
        ids, [this](const std::string& id) -> std::pair<int, std::string> {
          if (refused_.contains(id))
            return {400, "mapper_parsing_exception"};
          return {201, ""};
        });
  }
  static net::Reply unavailable() {
    return {503, "application/json",
            R"({"error":{"type":"unavailable_shards_exception","reason":"down"},"status":503})"};
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<std::string>> requests_;
  std::multiset<std::string> accepted_;
  std::set<std::string> refused_;
  bool down_ = false;
  std::string hold_;
  bool holding_ = false;
  bool released_ = false;
  bool release_indexed_ = true;
  coinrelay::testing::FakeEngine fake_{elasticsearch::Engine::OpenSearch};  // last: stops first
};

/// One `coinrelay index` process: its loop on a thread of its own.
struct Indexer {
  explicit Indexer(ManualClock& clock) : clock(clock) {}
  /// Stops it as SIGTERM does; its clock runs meanwhile (the shutdown grace).
  ~Indexer() {
    stop.request();
    while (thread.joinable() && !done) {
      clock.advance(500ms);
      std::this_thread::sleep_for(5ms);
    }
    if (thread.joinable())
      thread.join();
  }
  ManualClock& clock;
  StopSignal stop;
  std::unique_ptr<IndexLoop> loop;
  std::thread thread;
  std::atomic<bool> done{false};
};

/// The mock's rebalances wait the session timeout less 1 s (the first join 3 s): a short session
/// keeps them short.
const kafka::Properties kFastGroup = {{"session.timeout.ms", "3500"},
                                      {"heartbeat.interval.ms", "500"}};

class IndexLoopTest : public ::testing::Test {
 protected:
  void createTopics(int partitions) {
    partitions_ = partitions;
    kafka_.createTopic("quotes", partitions);
    kafka_.createTopic("quotes.dlq", 1);
  }

  config::Config configFor(const Engine& engine) const {
    config::Config config;
    config.kafka.brokers = kafka_.brokers();
    config.kafka.topic = "quotes";
    config.kafka.group_id = "indexers";
    config.kafka.compression = "zstd";
    config.kafka.linger_ms = 5;
    config.index.dlq_topic = "quotes.dlq";
    config.elasticsearch.url = engine.url();
    config.elasticsearch.index = "crypto-prices";
    config.elasticsearch.bulk_max_docs = 10;
    config.elasticsearch.flush_interval_ms = 1000;
    config.elasticsearch.max_in_flight = 2;
    config.elasticsearch.retry_max_backoff_ms = 100;
    return config;
  }

  /// Quotes [from, to) into `partition` (-1: by key).
  void send(int from, int to, int32_t partition = -1) {
    for (int i = from; i < to; ++i) {
      const model::Quote q = quoteNumber(i);
      producer_.send("quotes", q.id, model::encodeQuote(q), 0,
                     partition < 0 ? RdKafka::Topic::PARTITION_UA : partition);
    }
    producer_.flush();
    ASSERT_EQ(producer_.failed(), 0);
  }

  std::unique_ptr<Indexer> start(const config::Config& config,
                                 const IndexStart& from = IndexStart{}) {
    auto indexer = std::make_unique<Indexer>(clock_);
    IndexLoopOptions options;
    options.clock = &clock_;
    options.consumer_overrides = kFastGroup;
    auto loop = IndexLoop::create(config, from, indexer->stop, options);
    EXPECT_TRUE(loop) << loop.error().message;
    if (!loop)
      return nullptr;
    indexer->loop = std::move(loop).value();
    Indexer* raw = indexer.get();
    indexer->thread = std::thread([raw] {
      EXPECT_TRUE(raw->loop->run());
      raw->done = true;
    });
    return indexer;
  }

  /// Stops an indexer as SIGTERM does; its clock runs meanwhile (the shutdown grace).
  void stop(std::unique_ptr<Indexer>& indexer) { indexer.reset(); }

  /// Waits for `check`, moving the clock 50 ms at each look (batches flush, commits happen).
  bool until(const std::function<bool()>& check, std::chrono::milliseconds timeout = 20s) {
    return eventually(
        [&] {
          clock_.advance(50ms);
          return check();
        },
        timeout, 5ms);
  }

  std::map<int32_t, int64_t> committed() const {
    return kafka_.committed("indexers", "quotes", partitions_);
  }

  coinrelay::testing::MockKafka kafka_;
  coinrelay::testing::TestProducer producer_{kafka_.brokers()};
  ManualClock clock_;
  int partitions_ = 1;
};

// ------------------------------------------------------------------------------ commits

TEST_F(IndexLoopTest, CommitsStopAtABatchTheEngineHasNotAcknowledgedAndARestartReadsItAgain) {
  createTopics(1);
  send(0, 30);  // offsets 0-29; batches of 10: [0,10) [10,20) [20,30)
  Engine engine;
  engine.holdFirstRequestWith(idOf(15));
  config::Config config = configFor(engine);
  // Batches close by size alone, however the clock runs while the test waits.
  config.elasticsearch.flush_interval_ms = 3'600'000;
  auto indexer = start(config);
  ASSERT_TRUE(indexer);

  // The batches before and after the unanswered one are indexed...
  ASSERT_TRUE(until([&] { return engine.acceptedAll(0, 10) && engine.acceptedAll(20, 30); }))
      << engine.accepted().size() << " stored";
  ASSERT_TRUE(engine.holding());
  // ... and the commit point stops right before it, however long the engine takes.
  EXPECT_TRUE(until([&] { return committed()[0] == 10; })) << committed()[0];
  for (int i = 0; i < 10; ++i)
    clock_.advance(1s);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(committed()[0], 10) << "committed past a batch that is not durable";
  EXPECT_TRUE(until([&] { return indexer->loop->status().pending_messages == 20; }))
      << indexer->loop->status().pending_messages;

  // Stopped before the engine answers (it then refuses): nothing more is committed...
  engine.setDown(true);
  engine.release(false);
  stop(indexer);
  EXPECT_EQ(committed()[0], 10);
  engine.setDown(false);

  // ... and the next process reads again exactly what was not committed.
  auto next = start(config);
  ASSERT_TRUE(next);
  ASSERT_TRUE(until([&] { return committed()[0] == 30; })) << committed()[0];
  EXPECT_TRUE(engine.acceptedAll(0, 30));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(engine.sent(idOf(i)), 1) << "quote " << i << " was committed: never read again";
  for (int i = 10; i < 20; ++i)
    EXPECT_GE(engine.sent(idOf(i)), 2) << "quote " << i << " was not committed: read again";
  for (int i = 20; i < 30; ++i)
    EXPECT_EQ(engine.sent(idOf(i)), 2) << "quote " << i << " was not committed: read again";
  stop(next);
}

// ------------------------------------------------------------------------------ dead letters

TEST_F(IndexLoopTest, UndecodableAndRefusedMessagesBecomeDeadLettersThatPointAtTheOriginal) {
  createTopics(3);
  model::Quote long_id = quoteNumber(100);
  long_id.id = std::string(600, 'x');
  struct Bad {
    std::optional<std::string> key;
    std::string value;
    std::string stage;
    std::string reason_part;
  };
  const std::vector<Bad> bad = {
      {"bad-json", "not json at all", "decode", "not valid JSON"},
      {"bad-version", R"({"schema_version":2,"id":"bitcoin"})", "decode", "schema_version 2"},
      {std::nullopt, std::string("\xff\xfe\x00\x01 binary", 11), "decode", "not a quote document"},
      {"bad-empty", "", "decode", "empty message value"},
      {"bad-long-id", model::encodeQuote(long_id), "decode", "longer than the 512"},
      {quoteNumber(7).id, model::encodeQuote(quoteNumber(7)), "index", "mapper_parsing_exception"},
  };
  send(0, 7);
  for (const auto& b : bad)
    producer_.send("quotes", b.key, b.value);
  producer_.flush();
  send(8, 30);
  Engine engine;
  engine.refuseForGood(idOf(7));
  auto indexer = start(configFor(engine));
  ASSERT_TRUE(indexer);

  // Every offset gets committed: nothing waits behind a bad message.
  std::map<int32_t, int64_t> ends;
  for (const auto& record : coinrelay::testing::readTopic(kafka_.brokers(), "quotes"))
    ends[record.partition] = std::max(ends[record.partition], record.offset + 1);
  ASSERT_TRUE(until([&] { return committed() == ends; })) << ::testing::PrintToString(committed());
  EXPECT_EQ(indexer->loop->status().dead_lettered, bad.size());
  stop(indexer);
  const auto stored = engine.accepted();
  EXPECT_EQ(stored.size(), 29u) << "every good quote, once";

  const auto letters = coinrelay::testing::readTopic(kafka_.brokers(), "quotes.dlq");
  ASSERT_EQ(letters.size(), bad.size());
  const auto placed = producer_.placed();
  simdjson::dom::parser parser;
  for (const auto& letter : letters) {
    simdjson::dom::element doc = parser.parse(letter.value);
    const Bad* match = nullptr;
    for (const auto& b : bad) {
      if (b.key.value_or("") == letter.key && placed.contains(b.key.value_or("") + "|" + b.value))
        match = &b;
    }
    ASSERT_NE(match, nullptr) << letter.value;
    EXPECT_EQ(std::string_view(doc["stage"]), match->stage) << letter.value;
    EXPECT_NE(std::string(std::string_view(doc["reason"])).find(match->reason_part),
              std::string::npos)
        << letter.value;
    if (match->stage == "index") {
      EXPECT_EQ(int64_t(doc["status"]), 400) << letter.value;
    } else {
      EXPECT_TRUE(doc["status"].is_null()) << letter.value;
    }
    const auto [partition, offset] = placed.at(match->key.value_or("") + "|" + match->value);
    EXPECT_EQ(std::string_view(doc["source_topic"]), "quotes");
    EXPECT_EQ(int64_t(doc["source_partition"]), partition) << letter.value;
    EXPECT_EQ(int64_t(doc["source_offset"]), offset) << letter.value;
    if (match->key) {
      EXPECT_EQ(std::string_view(doc["source_key"]), *match->key);
      EXPECT_EQ(std::string_view(doc["original_encoding"]), "utf8");
      EXPECT_EQ(std::string_view(doc["original_value"]), match->value);
    } else {
      EXPECT_TRUE(doc["source_key"].is_null());
      EXPECT_EQ(std::string_view(doc["original_encoding"]), "base64");
    }
  }
}

// ------------------------------------------------------------------------------ documents

TEST_F(IndexLoopTest, MessagesAsTheEncoderWritesThemAreSentAsTheyAreOthersAreReencoded) {
  createTopics(1);
  const model::Quote plain = quoteNumber(1), spaced = quoteNumber(2), extended = quoteNumber(3);
  const std::string as_is = model::encodeQuote(plain);
  std::string pretty = model::encodeQuote(spaced);
  pretty.insert(1, "\n  ");  // a line break would split the NDJSON line
  std::string extra = model::encodeQuote(extended);
  extra.insert(extra.size() - 1, R"(,"note":"a field this coinrelay does not know")");
  producer_.send("quotes", plain.id, as_is);
  producer_.send("quotes", spaced.id, pretty);
  producer_.send("quotes", extended.id, extra);
  producer_.flush();
  Engine engine;
  auto indexer = start(configFor(engine));
  ASSERT_TRUE(indexer);
  ASSERT_TRUE(until([&] { return engine.accepted().size() == 3; }));
  stop(indexer);

  std::string sent;
  for (const auto& body : engine.bodies())
    sent += body;
  EXPECT_NE(sent.find("\n" + as_is + "\n"), std::string::npos) << "byte for byte: " << sent;
  EXPECT_NE(sent.find("\n" + model::encodeQuote(spaced) + "\n"), std::string::npos)
      << "on one line: " << sent;
  EXPECT_NE(sent.find("\n" + model::encodeQuote(extended) + "\n"), std::string::npos)
      << "with the known fields only (the mapping is strict): " << sent;
  EXPECT_EQ(sent.find("does not know"), std::string::npos);
  EXPECT_EQ(engine.accepted(), (std::multiset<std::string>{idOf(1), idOf(2), idOf(3)}));
}

TEST_F(IndexLoopTest, EachBulkRequestCarriesItsDocumentsInIdOrder) {
  // In id order the engine's id lookups walk its terms dictionaries forwards; the topic's order
  // is whatever the fetcher wrote. Here quote 7k mod 30 at offset k: no batch of 10 arrives
  // sorted, and sorting one is not its own inverse (as reversing it would be), so documents
  // that followed the sort the wrong way round would show.
  createTopics(1);
  std::map<int, int64_t> offset_of;
  for (int k = 0; k < 30; ++k) {
    const int i = 7 * k % 30;
    send(i, i + 1, 0);
    offset_of[i] = k;
  }
  Engine engine;
  for (int i : {12, 25})
    engine.refuseForGood(idOf(i));  // their dead letters must still point at their own messages
  auto indexer = start(configFor(engine));
  ASSERT_TRUE(indexer);
  ASSERT_TRUE(until([&] { return committed() == std::map<int32_t, int64_t>{{0, 30}}; }));
  stop(indexer);

  const auto requests = engine.requests();
  ASSERT_GE(requests.size(), 3u);
  EXPECT_TRUE(std::any_of(requests.begin(), requests.end(), [](const auto& ids) {
    return ids.size() >= 5;
  })) << "batches of several documents";
  for (const auto& ids : requests)
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << ::testing::PrintToString(ids);
  std::multiset<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    if (i != 12 && i != 25)
      expected.insert(idOf(i));
  }
  EXPECT_EQ(engine.accepted(), expected);
  const auto letters = coinrelay::testing::readTopic(kafka_.brokers(), "quotes.dlq");
  ASSERT_EQ(letters.size(), 2u);
  simdjson::dom::parser parser;
  std::set<int> lettered;
  for (const auto& record : letters) {
    simdjson::dom::element letter = parser.parse(record.value);
    const std::string original{std::string_view(letter["original_value"])};
    for (int i : {12, 25}) {
      if (original == model::encodeQuote(quoteNumber(i))) {
        lettered.insert(i);
        EXPECT_EQ(int64_t(letter["source_offset"]), offset_of[i]) << record.value;
      }
    }
  }
  EXPECT_EQ(lettered, (std::set<int>{12, 25})) << "each refused quote, with its own message";
}

// ------------------------------------------------------------------------------ back-pressure

TEST_F(IndexLoopTest, AnEngineThatIsDownPausesConsumptionUntilItIsBack) {
  createTopics(1);
  send(0, 60);
  Engine engine;
  engine.setDown(true);
  config::Config config = configFor(engine);
  config.elasticsearch.max_in_flight = 1;  // two batches alive at most before it holds
  auto indexer = start(config);
  ASSERT_TRUE(indexer);

  ASSERT_TRUE(until([&] { return indexer->loop->status().paused; }));
  IndexStatus status = indexer->loop->status();
  EXPECT_FALSE(status.engine_up);
  const uint64_t consumed = status.consumed;
  EXPECT_LT(consumed, 60u) << "memory stays bounded: it stopped reading";
  // Paused, it polls (so it stays in its group) but reads nothing more.
  for (int i = 0; i < 20; ++i) {
    clock_.advance(250ms);
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(indexer->loop->status().consumed, consumed);
  EXPECT_TRUE(indexer->loop->status().paused);
  EXPECT_EQ(committed()[0], -1);

  engine.setDown(false);
  ASSERT_TRUE(until([&] { return committed()[0] == 60; })) << committed()[0];
  EXPECT_TRUE(until([&] { return !indexer->loop->status().paused; }));
  EXPECT_TRUE(engine.acceptedAll(0, 60));
  EXPECT_TRUE(indexer->loop->status().engine_up);
  stop(indexer);
}

TEST_F(IndexLoopTest, ASlowEngineIsWaitedForFiveSecondsThenConsumptionPauses) {
  createTopics(1);
  send(0, 60);
  Engine engine;
  engine.holdFirstRequestWith(idOf(0));
  config::Config config = configFor(engine);
  config.elasticsearch.max_in_flight = 1;
  auto indexer = start(config);
  ASSERT_TRUE(indexer);

  // Batches close by size, without the clock: the first is held, the second waits for it.
  ASSERT_TRUE(eventually([&] { return engine.holding() && indexer->loop->status().consumed >= 20; },
                         10s, 5ms));
  std::this_thread::sleep_for(20ms);  // the loop notices the full queue
  clock_.advance(4s);
  ASSERT_TRUE(eventually([&] { return indexer->loop->status().batches_in_flight == 2; }, 5s, 5ms))
      << indexer->loop->status().batches_in_flight;
  EXPECT_FALSE(indexer->loop->status().paused) << "a short blockage only stops reading";
  EXPECT_EQ(indexer->loop->status().consumed, 20u);
  clock_.advance(1500ms);
  ASSERT_TRUE(eventually(
      [&] {
        clock_.advance(5ms);
        return indexer->loop->status().paused;
      },
      5s, 5ms))
      << "5 s of a full queue pause consumption";
  EXPECT_TRUE(indexer->loop->status().engine_up);

  engine.release(true);
  ASSERT_TRUE(until([&] { return committed()[0] == 60; })) << committed()[0];
  EXPECT_TRUE(until([&] { return !indexer->loop->status().paused; }));
  EXPECT_TRUE(engine.acceptedAll(0, 60));
  stop(indexer);
}

// ------------------------------------------------------------------------------ rebalance

TEST_F(IndexLoopTest, PartitionsRevokedMidFlightAreReadAgainFromWhatWasDurable) {
  createTopics(2);
  send(0, 20, 0);
  send(20, 40, 1);  // partition 1: quotes 20-39 at offsets 0-19
  Engine first_engine, second_engine;
  first_engine.holdFirstRequestWith(idOf(27));
  config::Config config = configFor(first_engine);
  config.elasticsearch.bulk_max_docs = 5;
  auto first = start(config);
  ASSERT_TRUE(first);
  ASSERT_TRUE(until([&] { return first_engine.holding(); }));
  // What partition 1 committed stays before the unanswered batch.
  for (int i = 0; i < 10; ++i)
    clock_.advance(500ms);
  EXPECT_TRUE(until([&] { return committed()[1] >= 0; })) << "the batches before it are durable";
  EXPECT_LE(committed()[1], 7);

  // A second indexer joins: the partitions are revoked from the first in the middle of its bulk.
  config::Config second_config = configFor(second_engine);
  second_config.elasticsearch.bulk_max_docs = 5;
  auto second = start(second_config);
  ASSERT_TRUE(second);
  // The unanswered batch is read again by whoever owns partition 1 now, and everything ends
  // up indexed and committed.
  ASSERT_TRUE(
      until([&] { return first_engine.sent(idOf(27)) + second_engine.sent(idOf(27)) >= 2; }, 30s));
  EXPECT_LE(committed()[1], 7) << "the revoked partition's commit passed a batch not durable";
  ASSERT_TRUE(until(
      [&] {
        const auto c = committed();
        return c == std::map<int32_t, int64_t>{{0, 20}, {1, 20}};
      },
      30s))
      << ::testing::PrintToString(committed());
  std::set<std::string> stored;
  for (const auto& id : first_engine.accepted())
    stored.insert(id);
  for (const auto& id : second_engine.accepted())
    stored.insert(id);
  for (int i = 0; i < 40; ++i)
    EXPECT_TRUE(stored.contains(idOf(i))) << "quote " << i << " lost";
  first_engine.release(true);
  stop(second);
  stop(first);
}

}  // namespace
}  // namespace coinrelay::pipeline
