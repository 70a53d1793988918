// The indexer's parts without Kafka or a real engine: the commit rule, the dead-letter
// envelope (checked against schemas/dlq.v1.json by a real validator), the lifecycle request
// shapes, and the bulk writer and layout set-up against an in-process fake engine that answers
// like Elasticsearch or OpenSearch, including the refusals a real one gives under load.

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include "elasticsearch/bulk_writer.h"
#include "elasticsearch/elasticsearch_client.h"
#include "elasticsearch/layout_setup.h"
#include "elasticsearch/lifecycle.h"
#include "kafka/dead_letter.h"
#include "pipeline/offset_tracker.h"
#include "support/fake_engine.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "telemetry/metrics.h"

namespace coinrelay {
namespace {

using namespace std::chrono_literals;

// ------------------------------------------------------------------------------ commit rule

TEST(OffsetTrackerTest, CommitsOnlyOverAPrefixOfDurableBatches) {
  pipeline::OffsetTracker tracker;
  // Batch 1: p0 offsets 10-11, p1 offset 5. Batch 2: p0 offset 12. Batch 3: p1 offset 6.
  tracker.consumed(0, 10, 1);
  tracker.consumed(0, 11, 1);
  tracker.consumed(1, 5, 1);
  tracker.consumed(0, 12, 2);
  tracker.consumed(1, 6, 3);
  EXPECT_EQ(tracker.pendingMessages(), 5u);

  tracker.completed(2);  // finished first, but batch 1 before it is not durable yet
  EXPECT_TRUE(tracker.takeCommittable().empty());
  tracker.completed(3);
  EXPECT_TRUE(tracker.takeCommittable().empty()) << "p1 still waits for batch 1";

  tracker.completed(1);
  const auto offsets = tracker.takeCommittable();
  EXPECT_EQ(offsets, (std::map<int32_t, int64_t>{{0, 13}, {1, 7}}));
  EXPECT_EQ(tracker.pendingMessages(), 0u);
  EXPECT_TRUE(tracker.takeCommittable().empty()) << "nothing moved since";
}

TEST(OffsetTrackerTest, ARevokedPartitionIsNoLongerMoved) {
  pipeline::OffsetTracker tracker;
  tracker.consumed(0, 1, 1);
  tracker.consumed(1, 1, 1);
  tracker.forget(1);
  EXPECT_EQ(tracker.pendingMessages(), 1u);
  tracker.completed(1);
  EXPECT_EQ(tracker.takeCommittable(), (std::map<int32_t, int64_t>{{0, 2}}));
  // Assigned again and read from its committed offset: new batches, a fresh commit point.
  tracker.consumed(1, 0, 2);
  tracker.completed(2);
  EXPECT_EQ(tracker.takeCommittable(), (std::map<int32_t, int64_t>{{1, 1}}));
  EXPECT_EQ(tracker.durableNext(1), 1);
}

// ------------------------------------------------------------------------------ dead letters

/// Runs tests/contract/validate_json.py on documents (one per line); as contract_test.cc does.
int validate(const std::string& schema, const std::vector<std::string>& documents,
             std::string& output) {
  testing::TempDir dir;
  std::string lines;
  for (const auto& document : documents)
    lines += document + "\n";
  const std::string input = dir.write("documents.jsonl", lines);
  const char* python = std::getenv("JSONSCHEMA_PYTHON");
  const std::string command = std::string(python ? python : "/usr/bin/python3") + " " +
                              COINRELAY_SOURCE_DIR "/tests/contract/validate_json.py " + schema +
                              " " + input + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

kafka::DeadLetter letterFor(std::string_view value) {
  kafka::DeadLetter letter;
  letter.reason = "not a quote document: expected schema_version 1";
  letter.stage = "decode";
  letter.source_topic = "crypto-data";
  letter.source_partition = 2;
  letter.source_offset = 1041;
  letter.source_key = "bitcoin";
  letter.source_timestamp_ms = 1718184700012;
  letter.original_value = value;
  letter.dead_lettered_ms = 1718184701500;
  return letter;
}

TEST(DeadLetterTest, TheEnvelopeHasExactlyTheContractedShape) {
  const std::string text = kafka::encodeDeadLetter(letterFor(R"({"schema_version":2})"));
  EXPECT_EQ(text,
            R"({"schema_version":1,"reason":"not a quote document: expected schema_version 1",)"
            R"("stage":"decode","status":null,"source_topic":"crypto-data",)"
            R"("source_partition":2,"source_offset":1041,"source_key":"bitcoin",)"
            R"("source_timestamp":"2024-06-12T09:31:40.012Z",)"
            R"("original_value":"{\"schema_version\":2}","original_encoding":"utf8",)"
            R"("dead_lettered_at":"2024-06-12T09:31:41.500Z"})");
}

TEST(DeadLetterTest, BytesThatAreNotUtf8TravelAsBase64) {
  EXPECT_EQ(kafka::base64Encode(""), "");
  EXPECT_EQ(kafka::base64Encode("f"), "Zg==");
  EXPECT_EQ(kafka::base64Encode("fo"), "Zm8=");
  EXPECT_EQ(kafka::base64Encode("foo"), "Zm9v");
  EXPECT_EQ(kafka::base64Encode(std::string("\xff\x00\x01", 3)), "/wAB");
  kafka::DeadLetter letter = letterFor(std::string_view("\xff\xfe{", 3));
  letter.source_key = std::nullopt;
  letter.source_timestamp_ms = std::nullopt;
  const std::string text = kafka::encodeDeadLetter(letter);
  EXPECT_NE(text.find(R"("original_value":"//57","original_encoding":"base64")"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("source_key":null,"source_timestamp":null)"), std::string::npos);
}

TEST(DeadLetterTest, EveryKindOfEnvelopeValidatesAgainstTheSchema) {
  std::vector<std::string> documents;
  documents.push_back(kafka::encodeDeadLetter(letterFor("not json at all")));
  auto binary = letterFor(std::string_view("\x00\x9f\x92\x96", 4));
  binary.source_key = std::string_view("\xc3\x28", 2);  // an invalid key: replaced, still text
  documents.push_back(kafka::encodeDeadLetter(binary));
  auto index = letterFor(R"({"schema_version":1,"id":"bitcoin","market_cap":1e300})");
  index.stage = "index";
  index.status = 400;
  index.reason = "mapper_parsing_exception: failed to parse field [market_cap] of type [long]";
  documents.push_back(kafka::encodeDeadLetter(index));
  const std::string control_bytes("line\nbreak\ttab\x01", 15);  // outlives the view in the letter
  auto control = letterFor(control_bytes);
  control.reason = "";  // never empty in the envelope
  documents.push_back(kafka::encodeDeadLetter(control));
  std::string output;
  EXPECT_EQ(validate(COINRELAY_SOURCE_DIR "/schemas/dlq.v1.json", documents, output), 0) << output;
}

// ------------------------------------------------------------------------------ lifecycle

elasticsearch::Layout rolloverLayout(int retention_days = 730) {
  elasticsearch::Layout layout;
  layout.name = "crypto-prices";
  layout.rollover = true;
  layout.max_size_gb = 50;
  layout.max_age_days = 30;
  layout.retention_days = retention_days;
  return layout;
}

TEST(LifecycleTest, IlmPolicyRollsOverAndDeletesAfterTheRetention) {
  EXPECT_EQ(elasticsearch::ilmPolicyBody(rolloverLayout()),
            R"({"policy":{"_meta":{"managed_by":"coinrelay"},"phases":{)"
            R"("hot":{"min_age":"0ms","actions":{"rollover":{"max_size":"50gb","max_age":"30d"}}},)"
            R"("delete":{"min_age":"730d","actions":{"delete":{}}}}}})");
  EXPECT_EQ(elasticsearch::ilmPolicyBody(rolloverLayout(0)).find("delete"), std::string::npos)
      << "retention 0 keeps every index";
}

TEST(LifecycleTest, IsmPolicyRollsOverTransitionsAndAttachesNewBackingIndices) {
  EXPECT_EQ(
      elasticsearch::ismPolicyBody(rolloverLayout()),
      R"({"policy":{"description":"coinrelay: rollover of crypto-prices by size or age, deletion after the retention",)"
      R"("default_state":"hot","states":[)"
      R"({"name":"hot","actions":[{"rollover":{"min_size":"50gb","min_index_age":"30d"}}],)"
      R"("transitions":[{"state_name":"delete","conditions":{"min_rollover_age":"730d"}}]},)"
      R"({"name":"delete","actions":[{"delete":{}}],"transitions":[]}],)"
      R"("ism_template":[{"index_patterns":["crypto-prices-0*"],"priority":213}]}})");
  const std::string forever = elasticsearch::ismPolicyBody(rolloverLayout(0));
  EXPECT_NE(forever.find(R"("transitions":[]}])"), std::string::npos) << forever;
  EXPECT_EQ(forever.find(R"("name":"delete")"), std::string::npos) << forever;
}

TEST(LifecycleTest, TemplatesNameTheRolloverAliasInEachEnginesSetting) {
  simdjson::dom::parser parser;
  const auto layout = rolloverLayout();
  simdjson::dom::element es =
      parser.parse(elasticsearch::indexTemplateBody(layout, elasticsearch::Engine::Elasticsearch));
  EXPECT_EQ(std::string_view(es["index_patterns"].at(0)), "crypto-prices-0*");
  EXPECT_EQ(std::string_view(es["template"]["settings"]["index.lifecycle.name"]),
            "crypto-prices-lifecycle");
  EXPECT_EQ(std::string_view(es["template"]["settings"]["index.lifecycle.rollover_alias"]),
            "crypto-prices");
  EXPECT_EQ(std::string_view(es["template"]["mappings"]["dynamic"]), "strict");

  simdjson::dom::parser os_parser;
  simdjson::dom::element os =
      os_parser.parse(elasticsearch::indexTemplateBody(layout, elasticsearch::Engine::OpenSearch));
  EXPECT_EQ(
      std::string_view(os["template"]["settings"]["plugins.index_state_management.rollover_alias"]),
      "crypto-prices");
  EXPECT_TRUE(os["template"]["settings"]["index.lifecycle.name"].error());

  EXPECT_EQ(elasticsearch::bootstrapIndexBody(layout),
            R"({"aliases":{"crypto-prices":{"is_write_index":true}}})");
}

TEST(LifecycleTest, OverlappingTemplatesGetDistinctPriorities) {
  simdjson::dom::parser a, b;
  elasticsearch::Layout plain;
  plain.name = "crypto-prices";
  elasticsearch::Layout longer;
  longer.name = "crypto-prices-reindex";
  simdjson::dom::element first =
      a.parse(elasticsearch::indexTemplateBody(plain, elasticsearch::Engine::OpenSearch));
  simdjson::dom::element second =
      b.parse(elasticsearch::indexTemplateBody(longer, elasticsearch::Engine::OpenSearch));
  EXPECT_EQ(std::string_view(first["index_patterns"].at(1)), "crypto-prices-*");
  EXPECT_LT(int64_t(first["priority"]), int64_t(second["priority"]))
      << "crypto-prices-* matches crypto-prices-reindex: the more specific template wins";
}

// ------------------------------------------------------------------------------ item judgement

TEST(BulkItemTest, OnlyRefusalsOfTheDocumentItselfAreFinal) {
  auto item = [](int status, std::string type, std::string reason = "") {
    elasticsearch::BulkItemResult r;
    r.status = status;
    r.type = type;
    r.error = type + ": " + reason;
    return r;
  };
  EXPECT_TRUE(item(400, "mapper_parsing_exception").refusedForGood());
  EXPECT_TRUE(item(400, "document_parsing_exception").refusedForGood());
  EXPECT_TRUE(item(400, "strict_dynamic_mapping_exception").refusedForGood());
  EXPECT_TRUE(item(400, "illegal_argument_exception", "Document contains at least one immense term")
                  .refusedForGood());
  EXPECT_FALSE(
      item(400, "illegal_argument_exception", "no write index is defined for alias [crypto-prices]")
          .refusedForGood());
  EXPECT_FALSE(item(400, "index_closed_exception").refusedForGood());
  EXPECT_FALSE(item(403, "cluster_block_exception").refusedForGood());
  EXPECT_TRUE(item(403, "cluster_block_exception").retryable());
  EXPECT_TRUE(item(429, "es_rejected_execution_exception").retryable());
  EXPECT_TRUE(item(404, "index_not_found_exception").retryable());
  EXPECT_TRUE(item(503, "unavailable_shards_exception").retryable());
  EXPECT_FALSE(item(201, "").retryable());
}

// ------------------------------------------------------------------------------ fake engine

using testing::bulkAnswer;
using testing::FakeEngine;

config::ElasticsearchConfig engineConfig(const std::string& url) {
  config::ElasticsearchConfig config;
  config.url = url;
  config.index = "crypto-prices";
  config.retry_max_backoff_ms = 200;
  return config;
}

std::vector<elasticsearch::BulkDoc> docs(int n) {
  std::vector<elasticsearch::BulkDoc> out;
  for (int i = 0; i < n; ++i)
    out.push_back({"coin-" + std::to_string(i) + ":usd:1", R"({"id":"x"})"});
  return out;
}

/// `n` documents (coin-0 ... coin-<n-1>) written through a BulkWriter into `engine`, which
/// answers them as the test told it to; nullopt when the writer gave up.
std::optional<std::vector<elasticsearch::DocOutcome>> writeDocs(FakeEngine& engine, int n) {
  StopSignal stop;
  elasticsearch::EngineHealth health(engine.url());
  elasticsearch::BulkWriter writer(engineConfig(engine.url()), stop, health);
  return writer.write("crypto-prices", docs(n));
}

TEST(BulkWriterTest, RetriesItemsRefusedWith429UntilAccepted) {
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  std::atomic<int> calls{0};
  engine.onBulk([&](const std::vector<std::string>& ids) {
    const int call = ++calls;
    return bulkAnswer(ids, [&](const std::string& id) -> std::pair<int, std::string> {
      if (call == 1 && (id == "coin-1:usd:1" || id == "coin-3:usd:1"))
        return {429, "es_rejected_execution_exception"};
      return {201, ""};
    });
  });
  auto outcomes = writeDocs(engine, 5);
  ASSERT_TRUE(outcomes);
  for (const auto& outcome : *outcomes)
    EXPECT_TRUE(outcome.indexed);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(engine.bodies().back().find("coin-0"), std::string::npos)
      << "only the refused items are sent again";
  EXPECT_NE(engine.bodies().back().find("coin-3"), std::string::npos);
}

TEST(BulkWriterTest, MappingErrorsAreRefusedForGoodAndTheRestIndexed) {
  FakeEngine engine(elasticsearch::Engine::Elasticsearch);
  engine.onBulk([](const std::vector<std::string>& ids) {
    return bulkAnswer(ids, [](const std::string& id) -> std::pair<int, std::string> {
      if (id == "coin-2:usd:1")
        return {400, "document_parsing_exception"};
      return {200, ""};
    });
  });
  auto outcomes = writeDocs(engine, 4);
  ASSERT_TRUE(outcomes);
  EXPECT_TRUE((*outcomes)[0].indexed);
  EXPECT_FALSE((*outcomes)[2].indexed);
  EXPECT_EQ((*outcomes)[2].status, 400);
  EXPECT_EQ((*outcomes)[2].reason, "document_parsing_exception: scripted");
  EXPECT_EQ(engine.log().size(), 1u) << "nothing is retried";
}

TEST(BulkWriterTest, AsksForEachItemsStatusAndErrorOnlyUncompressedAndJudgesThatAnswer) {
  // The answer as Elasticsearch and OpenSearch give it for that filter_path: each item keeps
  // its status and, when refused, its error; nothing else (no _index, _id, result, _shards).
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  std::atomic<int> calls{0};
  engine.onBulk([&](const std::vector<std::string>& ids) {
    const int call = ++calls;
    std::string body = R"({"items":[)";
    for (size_t i = 0; i < ids.size(); ++i) {
      body += i ? "," : "";
      if (ids[i] == "coin-1:usd:1") {
        body +=
            R"({"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [price]"}}})";
      } else if (ids[i] == "coin-2:usd:1" && call == 1) {
        body +=
            R"({"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}})";
      } else {
        body += R"({"index":{"status":201}})";
      }
    }
    return net::Reply{200, "application/json", body + "]}"};
  });
  auto outcomes = writeDocs(engine, 4);
  ASSERT_TRUE(outcomes);
  EXPECT_TRUE((*outcomes)[0].indexed);
  EXPECT_FALSE((*outcomes)[1].indexed);
  EXPECT_EQ((*outcomes)[1].status, 400);
  EXPECT_EQ((*outcomes)[1].reason, "mapper_parsing_exception: failed to parse field [price]");
  EXPECT_TRUE((*outcomes)[2].indexed) << "sent again after its 429";
  EXPECT_TRUE((*outcomes)[3].indexed);
  const auto requests = engine.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.line(), "POST /_bulk?filter_path=items.*.status,items.*.error");
    EXPECT_EQ(request.header("accept-encoding"), "identity") << "no compressed answer";
    EXPECT_EQ(std::count_if(request.headers.begin(), request.headers.end(),
                            [](const auto& header) { return header.first == "accept-encoding"; }),
              1)
        << "curl's own offer of gzip is replaced, not sent as well";
  }
}

TEST(BulkWriterTest, ARequestRefusedAsAWholeIsHalvedUntilTheBadDocumentIsAlone) {
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  engine.onBulk([](const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      if (id == "coin-5:usd:1") {
        return net::Reply{
            400, "application/json",
            R"({"error":{"type":"action_request_validation_exception","reason":"id is too long"},"status":400})"};
      }
    }
    return bulkAnswer(ids, [](const std::string&) { return std::pair<int, std::string>{201, ""}; });
  });
  auto outcomes = writeDocs(engine, 8);
  ASSERT_TRUE(outcomes);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ((*outcomes)[i].indexed, i != 5) << i;
  EXPECT_EQ((*outcomes)[5].status, 400);
  EXPECT_NE((*outcomes)[5].reason.find("action_request_validation_exception"), std::string::npos);
  EXPECT_LE(engine.log().size(), 7u) << "8 -> 4+4 -> 2+2 -> 1+1: a logarithmic search";
}

TEST(BulkWriterTest, AClusterBlockIsWaitedOutNotDeadLettered) {
  FakeEngine engine(elasticsearch::Engine::Elasticsearch);
  std::atomic<int> calls{0};
  engine.onBulk([&](const std::vector<std::string>& ids) {
    if (++calls <= 3) {
      return net::Reply{
          403, "application/json",
          R"({"error":{"type":"cluster_block_exception","reason":"index [crypto-prices] blocked by: [FORBIDDEN/8/index write (api)];"},"status":403})"};
    }
    return bulkAnswer(ids, [](const std::string&) { return std::pair<int, std::string>{200, ""}; });
  });
  StopSignal stop;
  elasticsearch::EngineHealth health(engine.url());
  elasticsearch::BulkWriter writer(engineConfig(engine.url()), stop, health);
  auto outcomes = writer.write("crypto-prices", docs(3));
  ASSERT_TRUE(outcomes);
  for (const auto& outcome : *outcomes)
    EXPECT_TRUE(outcome.indexed);
  EXPECT_EQ(calls.load(), 4);
  EXPECT_TRUE(health.up());
}

TEST(BulkWriterTest, AnUnreachableEngineIsRetriedUntilStopped) {
  int port = 0;
  {
    FakeEngine gone(elasticsearch::Engine::OpenSearch);
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  StopSignal stop;
  elasticsearch::EngineHealth health(url);
  elasticsearch::BulkWriter writer(engineConfig(url), stop, health);
  // The writer counts its failed requests (process-wide, so from where it stands now).
  const telemetry::Counter& failed = telemetry::metrics().counter(
      "coinrelay_index_bulk_requests_total", "", {{"result", "failed"}});
  const uint64_t before = failed.value();
  std::thread stopper([&] {
    // Stopped after its third attempt: it would go on by itself.
    (void)testing::eventually([&] { return failed.value() >= before + 3; }, 10s, 5ms);
    stop.request();
  });
  auto outcomes = writer.write("crypto-prices", docs(2));
  stopper.join();
  EXPECT_FALSE(outcomes) << "never reported durable";
  EXPECT_FALSE(health.up());
  EXPECT_GE(failed.value(), before + 3) << "it kept trying until stopped";
}

// ------------------------------------------------------------------------------ engine and layout

TEST(EngineProbeTest, DetectsOpenSearchElasticsearchAndTheStrippedElasticsearch) {
  FakeEngine os(elasticsearch::Engine::OpenSearch);
  elasticsearch::ElasticsearchClient os_client(engineConfig(os.url()));
  auto os_info = os_client.probe();
  ASSERT_TRUE(os_info) << os_info.error().message;
  EXPECT_EQ(os_info->engine, elasticsearch::Engine::OpenSearch);
  EXPECT_EQ(os_info->major, 2);

  FakeEngine es(elasticsearch::Engine::Elasticsearch);
  elasticsearch::ElasticsearchClient es_client(engineConfig(es.url()));
  auto es_info = es_client.probe();
  ASSERT_TRUE(es_info);
  EXPECT_EQ(es_info->engine, elasticsearch::Engine::Elasticsearch);
  EXPECT_EQ(es_info->version, "8.19.2");

  FakeEngine stripped(elasticsearch::Engine::Elasticsearch);
  stripped.rootRoute = false;
  elasticsearch::ElasticsearchClient stripped_client(engineConfig(stripped.url()));
  auto stripped_info = stripped_client.probe();
  ASSERT_TRUE(stripped_info) << stripped_info.error().message;
  EXPECT_EQ(stripped_info->engine, elasticsearch::Engine::Elasticsearch);
  EXPECT_EQ(stripped_info->version, "8.19.21");
  EXPECT_EQ(stripped_info->major, 8);

  FakeEngine other(elasticsearch::Engine::OpenSearch);
  other.answer("GET /", net::Reply{200, "text/html", "<html>hello</html>"});
  elasticsearch::ElasticsearchClient other_client(engineConfig(other.url()));
  auto refused = other_client.probe();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("does not look like Elasticsearch or OpenSearch"),
            std::string::npos);
}

TEST(LayoutSetupTest, ElasticsearchRolloverInstallsPolicyTemplateAndWriteAlias) {
  FakeEngine engine(elasticsearch::Engine::Elasticsearch);
  engine.answer("GET /_ilm/status", {200, "application/json", R"({"operation_mode":"RUNNING"})"});
  engine.answer("PUT /_ilm/policy/crypto-prices-lifecycle", {200, "application/json", "{}"});
  engine.answer("PUT /_index_template/crypto-prices", {200, "application/json", "{}"});
  engine.answer("PUT /crypto-prices-000001", {200, "application/json", "{}"});
  elasticsearch::ElasticsearchClient client(engineConfig(engine.url()));
  auto info = client.probe();
  ASSERT_TRUE(info);
  auto steps = elasticsearch::ensureLayout(client, *info, rolloverLayout());
  ASSERT_TRUE(steps) << steps.error().message;
  EXPECT_EQ(engine.log(),
            (std::vector<std::string>{
                "GET /", "GET /_alias/crypto-prices", "HEAD /crypto-prices", "GET /_ilm/status",
                "PUT /_ilm/policy/crypto-prices-lifecycle", "PUT /_index_template/crypto-prices",
                "GET /_alias/crypto-prices", "PUT /crypto-prices-000001"}));
  EXPECT_EQ(engine.bodies()[4], elasticsearch::ilmPolicyBody(rolloverLayout()));
  EXPECT_EQ(engine.bodies()[7], elasticsearch::bootstrapIndexBody(rolloverLayout()));
  EXPECT_EQ(steps->size(), 3u);
}

TEST(LayoutSetupTest, OpenSearchUpdatesAnExistingIsmPolicyByItsVersion) {
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  engine.answer("GET /_alias/crypto-prices",
                {200, "application/json", R"({"crypto-prices-000003":{"aliases":{}}})"});
  engine.answer("GET /_plugins/_ism/policies", {200, "application/json", R"({"policies":[]})"});
  engine.answer("GET /_plugins/_ism/policies/crypto-prices-lifecycle",
                {200, "application/json",
                 R"({"_id":"crypto-prices-lifecycle","_seq_no":7,"_primary_term":2,"policy":{}})"});
  engine.answer("PUT /_plugins/_ism/policies/crypto-prices-lifecycle",
                {200, "application/json", "{}"});
  engine.answer("PUT /_index_template/crypto-prices", {200, "application/json", "{}"});
  elasticsearch::ElasticsearchClient client(engineConfig(engine.url()));
  auto info = client.probe();
  ASSERT_TRUE(info);
  auto steps = elasticsearch::ensureLayout(client, *info, rolloverLayout());
  ASSERT_TRUE(steps) << steps.error().message;
  const auto log = engine.log();
  EXPECT_NE(
      std::find(
          log.begin(), log.end(),
          "PUT /_plugins/_ism/policies/crypto-prices-lifecycle?if_primary_term=2&if_seq_no=7"),
      log.end())
      << ::testing::PrintToString(log);
  EXPECT_EQ(log.back(), "GET /_alias/crypto-prices") << "the alias exists: no new index";
}

TEST(LayoutSetupTest, AnIndexCreatedBeforeAFieldWasAddedIsGivenItsMapping) {
  // The mapping is strict: without this, every document with a field added to v1 since the
  // index was created would be refused.
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  engine.answer("PUT /_index_template/crypto-prices", {200, "application/json", "{}"});
  engine.answer("PUT /crypto-prices/_mapping", {200, "application/json", "{}"});
  elasticsearch::ElasticsearchClient client(engineConfig(engine.url()));
  auto info = client.probe();
  ASSERT_TRUE(info);
  elasticsearch::Layout plain;
  plain.name = "crypto-prices";
  auto steps = elasticsearch::ensureLayout(client, *info, plain);
  ASSERT_TRUE(steps) << steps.error().message;
  EXPECT_EQ(engine.log().back(), "PUT /crypto-prices/_mapping");
  EXPECT_NE(engine.bodies().back().find(R"("details_fetched":{"type":"date")"), std::string::npos)
      << engine.bodies().back();
  EXPECT_EQ(steps->back(), "mappings of crypto-prices up to date");

  // No index yet: the template maps everything, nothing else to do.
  FakeEngine fresh(elasticsearch::Engine::OpenSearch);
  fresh.answer("PUT /_index_template/crypto-prices", {200, "application/json", "{}"});
  elasticsearch::ElasticsearchClient fresh_client(engineConfig(fresh.url()));
  auto none = elasticsearch::ensureLayout(fresh_client, *info, plain);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->size(), 1u);
}

TEST(LayoutSetupTest, AnEngineWithoutIsmGetsOneClearRefusal) {
  FakeEngine engine(elasticsearch::Engine::OpenSearch);
  engine.answer(
      "GET /_plugins/_ism/policies",
      {400, "application/json",
       R"({"error":"no handler found for uri [/_plugins/_ism/policies] and method [GET]"})"});
  elasticsearch::ElasticsearchClient client(engineConfig(engine.url()));
  auto info = client.probe();
  ASSERT_TRUE(info);
  auto steps = elasticsearch::ensureLayout(client, *info, rolloverLayout());
  ASSERT_FALSE(steps);
  const std::string& message = steps.error().message;
  EXPECT_NE(message.find("has no Index State Management (ISM) plugin"), std::string::npos)
      << message;
  EXPECT_NE(message.find("opensearch-index-management"), std::string::npos) << message;
  EXPECT_NE(message.find("elasticsearch.lifecycle = \"none\""), std::string::npos) << message;
}

TEST(LayoutSetupTest, APlainIndexAndAnAliasAreNeverConfused) {
  FakeEngine plain(elasticsearch::Engine::OpenSearch);
  plain.answer("HEAD /crypto-prices", {200, "application/json", ""});
  elasticsearch::ElasticsearchClient client(engineConfig(plain.url()));
  auto info = client.probe();
  ASSERT_TRUE(info);
  auto rollover = elasticsearch::ensureLayout(client, *info, rolloverLayout());
  ASSERT_FALSE(rollover);
  EXPECT_NE(rollover.error().message.find("crypto-prices is a plain index"), std::string::npos)
      << rollover.error().message;

  FakeEngine alias(elasticsearch::Engine::OpenSearch);
  alias.answer("GET /_alias/crypto-prices", {200, "application/json", "{}"});
  elasticsearch::ElasticsearchClient alias_client(engineConfig(alias.url()));
  elasticsearch::Layout layout;
  layout.name = "crypto-prices";
  auto none = elasticsearch::ensureLayout(alias_client, *info, layout);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("write alias of a rollover layout"), std::string::npos);
}

}  // namespace
}  // namespace coinrelay
