// What one hostile client can make coinrelay do: hold memory (every cache and queue is bounded
// by bytes), hold connections (a cap with idle connections closed first, streams capped per
// client, an accept loop that backs off when file descriptors run out), smuggle a request,
// spend the upstream budget with garbage, or get unchecked text echoed back.

#include <atomic>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/chart_routes.h"
#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/relay_routes.h"
#include "api/response_cache.h"
#include "api/serve_limits.h"
#include "api/stream_hub.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "config/config.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "support/api_requests.h"
#include "support/fake_http_server.h"
#include "telemetry/metrics.h"

namespace coinrelay::api {
namespace {

using testing::bodyOf;
using testing::get;
// A small quote in usd (tests/support/api_requests.h).
constexpr auto quote = testing::rankedQuote;

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

bool validUtf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

double gaugeValue(const std::string& name, const telemetry::Labels& labels = {}) {
  return telemetry::metrics().gauge(name, "", labels).value();
}

uint64_t counterValue(const std::string& name, const telemetry::Labels& labels = {}) {
  return telemetry::metrics().counter(name, "", labels).value();
}

/// Polls until `check` holds, at most `timeout`.
template <class Check>
bool eventually(Check check, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!check()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// --- memory ---------------------------------------------------------------------------------

TEST(ResponseCacheBoundTest, HoldsAtMostItsBytesAndKeepsWhatIsRead) {
  constexpr size_t kBound = 100 * 1024;
  ResponseCache cache(kBound, "test_bound");
  const uint64_t evicted_before =
      counterValue("coinrelay_response_cache_evictions_total", {{"cache", "test_bound"}});
  auto hot = cache.insert(1, "hot", makeCachedResponse(200, std::string(500, 'h')));
  for (int i = 0; i < 200; ++i) {
    std::string body(10'000, 'x');
    body += std::to_string(i);  // distinct answers, as distinct queries render
    cache.insert(1, "cold-" + std::to_string(i), makeCachedResponse(200, body));
    ASSERT_LE(cache.bytes(), kBound) << "after " << i + 1 << " inserts";
    EXPECT_EQ(cache.find(1, "hot"), hot) << "an answer read between inserts stays";
  }
  EXPECT_EQ(cache.find(1, "cold-0"), nullptr) << "the coldest answers went first";
  EXPECT_NE(cache.find(1, "cold-199"), nullptr);
  EXPECT_LT(cache.entries(), 20u);
  EXPECT_GT(counterValue("coinrelay_response_cache_evictions_total", {{"cache", "test_bound"}}),
            evicted_before + 150);
  EXPECT_EQ(gaugeValue("coinrelay_response_cache_bytes", {{"cache", "test_bound"}}),
            static_cast<double>(cache.bytes()))
      << "/metrics shows the bytes held";

  auto huge = makeCachedResponse(200, std::string(kBound + 1, 'x'));
  EXPECT_EQ(cache.insert(1, "huge", huge), huge) << "served...";
  EXPECT_EQ(cache.find(1, "huge"), nullptr) << "...but not kept: it alone exceeds the bound";

  cache.insert(2, "next", makeCachedResponse(200, "{}"));
  EXPECT_EQ(cache.entries(), 1u) << "a new snapshot version expires every answer at once";
  EXPECT_LT(cache.bytes(), 1024u);
}

TEST(ResponseCacheBoundTest, ANewKeyIsCountedWithItsAnswer) {
  // A 15 kB junk parameter makes every raw target a new key: the keys count too.
  ResponseCache cache(64 * 1024, "test_keys");
  auto answer = makeCachedResponse(200, "{}");
  for (int i = 0; i < 100; ++i)
    cache.insert(1, std::string(15'000, 'k') + std::to_string(i), answer);
  EXPECT_LE(cache.bytes(), 64u * 1024);
  EXPECT_LE(cache.entries(), 4u);
}

TEST(AcceptEncodingTest, GzipOnlyWhenItsQValueIsAboveZero) {
  const std::vector<std::pair<std::string, bool>> cases = {{"gzip", true},
                                                           {"gzip, br", true},
                                                           {"GZIP;Q=0.5", true},
                                                           {"x-gzip", true},
                                                           {"br, *;q=0.1", true},
                                                           {"*", true},
                                                           {"gzip;q=1.000", true},
                                                           {"", false},
                                                           {"gzip;q=0", false},
                                                           {"gzip; q=0.000", false},
                                                           {"gzip;q=0, *", false},
                                                           {"*;q=0", false},
                                                           {"identity", false},
                                                           {"gzipx", false},
                                                           {"gzip;q=abc", false},
                                                           {"gzip;q=2", false},
                                                           {"br;q=0.9, gzip;q=0", false}};
  for (const auto& [header, expected] : cases)
    EXPECT_EQ(acceptsGzip(header), expected) << "Accept-Encoding: " << header;

  auto cached = makeCachedResponse(200, std::string(5000, 'x'));
  ASSERT_TRUE(cached->gzip);
  auto refused = replyFrom(*cached, get("/x", {}, {{"accept-encoding", "gzip;q=0"}}));
  EXPECT_EQ(bodyOf(refused), *cached->body);
  for (const auto& [name, value] : refused.headers)
    EXPECT_NE(name, "Content-Encoding");
}

TEST(JsonWriterUtf8Test, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  const auto escaped = [](std::string_view text) {
    std::string out;
    JsonWriter::appendEscaped(out, text);
    return out;
  };
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"")
      << "well-formed UTF-8 is kept as it is";
  EXPECT_EQ(escaped("a\xff"
                    "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(escaped("\xc0\xaf"), R"("\ufffd\ufffd")") << "overlong";
  EXPECT_EQ(escaped("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")") << "above U+10FFFF";
  EXPECT_EQ(escaped("x\xe2\x82"), R"("x\ufffd\ufffd")") << "cut at the end";
  EXPECT_EQ(escaped("\r\n\x01"), R"("\r\n\u0001")");
}

// --- the smaller holes ------------------------------------------------------------------------

/// A history source that records its queries and answers one point.
class RecordingHistory final : public storage::HistorySource {
 public:
  Result<storage::ChartData> chart(const storage::ChartQuery& query) override {
    std::shared_future<void> wait_for;
    {
      std::lock_guard lock(mutex);
      queries.push_back(query);
      wait_for = gate;
    }
    if (wait_for.valid())
      wait_for.wait();
    storage::ChartData data;
    data.known = true;
    data.latest = storage::HistoryPoint{query.to_ms, 1.0, 2.0, 3.0};
    return data;
  }
  uint64_t generation() const override { return 0; }
  int64_t keptSince(storage::Granularity) const override {
    return std::numeric_limits<int64_t>::min();
  }
  std::mutex mutex;
  std::vector<storage::ChartQuery> queries;
  std::shared_future<void> gate;
};

struct RoutesFixture {
  RoutesFixture() {
    std::vector<model::Quote> batch = {quote("bitcoin", 1, 67000)};
    EXPECT_TRUE(snapshot.deliver(batch));
    RelayRoutes::Parts parts;
    parts.snapshot = &snapshot;
    parts.coingecko = &coingecko;
    parts.stream = &hub;
    parts.charts = &charts;
    parts.health_json = [] { return std::string("{}"); };
    routes = std::make_unique<RelayRoutes>(parts);
  }
  pipeline::Snapshot snapshot;
  CoinGeckoRoutes coingecko{snapshot, nullptr};
  StreamHub hub;
  RecordingHistory history;
  // One worker, one query waiting at most, no cache: the pool's bounds are easy to reach.
  ChartRoutes charts{&history, nullptr,
                     ChartRoutes::Options{.workers = 1, .queue_per_worker = 1, .cache_bytes = 0}};
  std::unique_ptr<RelayRoutes> routes;
};

TEST(HostileQueryTest, TimesBefore1970AreRefusedWithoutOverflow) {
  RoutesFixture f;
  for (const std::string from : {"-9223372036854775807", "-1", "-9223372036854775808",
                                 "9223372036854775807999", "1969-12-31T23:59:59Z"}) {
    auto reply = f.routes->handle(get("/v1/history", {{"id", "bitcoin"}, {"from", from}}));
    EXPECT_EQ(reply.status, 400) << from << ": " << bodyOf(reply);
  }
  auto far = testing::awaitReply(f.routes->handle(
      get("/v1/history", {{"id", "bitcoin"}, {"from", "0"}, {"to", "9223372036854775807"}})));
  EXPECT_EQ(far.status, 200) << bodyOf(far);
}

TEST(HostileQueryTest, InvalidUtf8FromTheQueryNeverReachesAJsonBody) {
  RoutesFixture f;
  const std::vector<net::Request> requests = {
      get("/v1/history", {{"id", "bitcoin"}, {"from", "\xff\xfe"}}),
      get("/v1/history", {{"id", "bitcoin"}, {"points", "\xc0\xaf"}}),
      get("/v1/history", {{"id", "bit\xe2\x82"}}),
      get("/api/v3/simple/price", {{"ids", "\xff"}, {"vs_currencies", "usd"}}),
      get("/api/v3/coins/markets", {{"vs_currency", "\xed\xa0\x80"}}),
  };
  for (const auto& request : requests) {
    auto reply = testing::awaitReply(f.routes->handle(request));
    EXPECT_TRUE(validUtf8(bodyOf(reply))) << request.path << " -> " << bodyOf(reply);
    EXPECT_LT(reply.status, 500) << bodyOf(reply);
  }
}

TEST(HostileQueryTest, SpacesAndControlCharactersInIdsCostNoUpstreamCall) {
  testing::FakeHttpServer upstream([](const net::Request&) {
    return net::Reply{200, "application/json", "{}"};
  });
  config::UpstreamConfig config;
  config.base_url = upstream.url() + "/api/v3";
  MissFetcher misses(config, 60s);
  pipeline::Snapshot snapshot;
  std::vector<model::Quote> batch = {quote("bitcoin", 1, 67000)};
  ASSERT_TRUE(snapshot.deliver(batch));
  CoinGeckoRoutes routes(snapshot, &misses);
  const std::vector<std::map<std::string, std::string>> price_queries = {
      {{"ids", "bit coin"}, {"vs_currencies", "usd"}},
      {{"ids", "zz\r\nx-injected: 1"}, {"vs_currencies", "usd"}},
      {{"ids", "bitcoin,zz\tx"}, {"vs_currencies", "usd"}},
      {{"ids", "bitcoin"}, {"vs_currencies", "u sd"}},
      {{"symbols", "bt\x01"}, {"vs_currencies", "usd"}},
  };
  for (const auto& query : price_queries) {
    auto reply = routes.handle(get("/api/v3/simple/price", query));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 400) << bodyOf(*reply);
    EXPECT_FALSE(reply->deferred) << "refused before any upstream call";
  }
  auto markets =
      routes.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"ids", "a b"}}));
  EXPECT_EQ(markets->status, 400);
  EXPECT_EQ(misses.upstreamCalls(), 0u);
  EXPECT_TRUE(upstream.requests().empty());
}

TEST(HostileQueryTest, AWrongUpstreamKeyIsTheOperatorsProblemNotTheClients) {
  std::atomic<int> calls{0};
  testing::FakeHttpServer upstream([&](const net::Request&) {
    ++calls;
    return net::Reply{401, "application/json",
                      R"({"status":{"error_code":10002,"error_message":"Invalid API Key"}})"};
  });
  config::UpstreamConfig config;
  config.base_url = upstream.url() + "/api/v3";
  config.plan = "demo";
  config.api_key = "CG-operator-secret-key";
  ManualClock clock;
  MissFetcher misses(config, 60s, clock);
  auto reply = misses.ask("/coins/list");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body.find("Invalid API Key"), std::string::npos) << reply.body;
  EXPECT_EQ(reply.body.find("CG-operator"), std::string::npos);
  EXPECT_NE(reply.body.find("operator must check coinrelay's configuration"), std::string::npos)
      << reply.body;
  misses.ask("/coins/list");
  EXPECT_EQ(calls.load(), 1) << "a burst of clients is one attempt";
  clock.advance(6s);
  misses.ask("/coins/list");
  EXPECT_EQ(calls.load(), 2) << "not cached for serve.miss_ttl_s like an answer: the operator "
                                "may have fixed the key";
}

TEST(MissCacheBoundTest, KeepsAtMostItsBytesDroppingTheOldestFirst) {
  testing::FakeHttpServer upstream([](const net::Request& request) {
    return net::Reply{200, "application/json",
                      "[\"" + request.param("ids") + "\"," + std::string(20'000, ' ') + "]"};
  });
  config::UpstreamConfig config;
  config.base_url = upstream.url() + "/api/v3";
  ManualClock clock;
  MissFetcher misses(config, 60s, clock);
  misses.setMaxBytes(100 * 1024);
  EXPECT_EQ(gaugeValue("coinrelay_miss_cache_max_bytes"), 100.0 * 1024);
  for (int i = 0; i < 30; ++i) {
    auto reply = misses.ask("/simple/price?vs_currencies=usd&ids=zz-" + std::to_string(i));
    ASSERT_EQ(reply.status, 200);
    ASSERT_LE(gaugeValue("coinrelay_miss_cache_bytes"), 100.0 * 1024);
  }
  EXPECT_GT(gaugeValue("coinrelay_miss_cache_bytes"), 60.0 * 1024);
  const size_t before = upstream.requests().size();
  misses.ask("/simple/price?vs_currencies=usd&ids=zz-29");
  EXPECT_EQ(upstream.requests().size(), before) << "the newest answer is still kept";
  misses.ask("/simple/price?vs_currencies=usd&ids=zz-0");
  EXPECT_EQ(upstream.requests().size(), before + 1) << "the oldest was dropped";
}

// --- the query pool -----------------------------------------------------------------------------

TEST(ChartPoolTest, SlowQueriesWaitInABoundedQueueOffTheServerThreads) {
  RoutesFixture f;
  RelayRoutes& routes = *f.routes;
  std::promise<void> open_gate;
  f.history.gate = open_gate.get_future().share();

  // The first query holds the pool's one thread, the second waits, the third is refused.
  const auto history = get("/v1/history", {{"id", "bitcoin"}, {"from", "0"}});
  auto first = routes.handle(history);
  ASSERT_TRUE(first.deferred) << "history is answered later, from the chart workers";
  std::promise<net::Reply> first_answer;
  first.deferred([&](net::Reply late) { first_answer.set_value(std::move(late)); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(f.history.mutex);
    return f.history.queries.size() == 1;
  }));
  std::promise<net::Reply> second_answer;
  routes.handle(history).deferred(
      [&](net::Reply late) { second_answer.set_value(std::move(late)); });
  auto third = testing::awaitReply(routes.handle(history));
  EXPECT_EQ(third.status, 503);
  ASSERT_FALSE(third.headers.empty());
  EXPECT_EQ(third.headers[0].first, "retry-after");

  // Meanwhile the server's thread answers everything else at once.
  EXPECT_EQ(routes.handle(get("/api/v3/ping")).status, 200);

  open_gate.set_value();
  EXPECT_EQ(first_answer.get_future().get().status, 200);
  EXPECT_EQ(second_answer.get_future().get().status, 200);
}

// --- streams ------------------------------------------------------------------------------------

/// A sink that keeps the events it gets, as they were shared.
class KeepingSink final : public net::EventSink {
 public:
  bool push(std::shared_ptr<const std::string> bytes) override {
    events.push_back(std::move(bytes));
    return true;
  }
  bool open() const override { return is_open; }
  std::vector<std::shared_ptr<const std::string>> events;
  bool is_open = true;
};

TEST(StreamCapTest, AClientGetsItsShareAndTheHubItsTotal) {
  StreamHub hub(StreamLimits{.max_streams = 3, .max_per_client = 2});
  auto a1 = hub.admit("10.0.0.1");
  auto a2 = hub.admit("10.0.0.1");
  ASSERT_FALSE(a1.refusal);
  ASSERT_FALSE(a2.refusal);
  auto a3 = hub.admit("10.0.0.1");
  ASSERT_TRUE(a3.refusal);
  EXPECT_EQ(a3.refusal->status, 429) << a3.refusal->body;
  auto b1 = hub.admit("10.0.0.2");
  ASSERT_FALSE(b1.refusal);
  auto c1 = hub.admit("10.0.0.3");
  ASSERT_TRUE(c1.refusal);
  EXPECT_EQ(c1.refusal->status, 503) << c1.refusal->body;
  a1.slot.reset();  // a stream that never started gives its place back
  EXPECT_FALSE(hub.admit("10.0.0.3").refusal);

  // A subscriber holds its place until its connection closes; the next admission notices.
  StreamHub quiet(StreamLimits{.max_streams = 1, .max_per_client = 1});
  auto sink = std::make_shared<KeepingSink>();
  auto place = quiet.admit("10.0.0.4");
  quiet.subscribe(sink, {}, {}, std::move(place.slot));
  EXPECT_TRUE(quiet.admit("10.0.0.5").refusal);
  sink->is_open = false;
  EXPECT_FALSE(quiet.admit("10.0.0.5").refusal) << "no publish needed to free the place";
  EXPECT_EQ(quiet.clients(), 0u);
}

TEST(StreamCapTest, StreamsNeverTakeEveryConnection) {
  auto config = config::validate(config::RawConfig());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(streamLimitsFor(*config, 4096).max_streams, 1000u);
  EXPECT_EQ(streamLimitsFor(*config, 896).max_streams, 672u);
  EXPECT_EQ(serverLimitsFor(*config).max_connections, 4096u);
  EXPECT_EQ(serverLimitsFor(*config).max_header_bytes, 16u * 1024);
}

TEST(StreamCapTest, OpenStreamsEndWithTheServerNotAfterIt) {
  // Declared as run and serve declare them: the hub outlives the server.
  StreamHub hub;
  auto server = net::HttpServer::start("127.0.0.1:0", [&](const net::Request&) {
    net::Reply reply;
    reply.stream = [&](std::shared_ptr<net::EventSink> sink) {
      hub.subscribe(std::move(sink), {}, {});
    };
    return reply;
  });
  ASSERT_TRUE(server);
  asio::io_context io;
  asio::ip::tcp::socket client(io);
  client.connect({asio::ip::make_address("127.0.0.1"), (*server)->port()});
  asio::write(client, asio::buffer(std::string("GET /v1/stream HTTP/1.1\r\nHost: t\r\n\r\n")));
  ASSERT_TRUE(eventually([&] { return hub.clients() == 1; }));
  (*server)->stop();
  hub.closeAll();
  EXPECT_EQ(hub.clients(), 0u);
  EXPECT_EQ(gaugeValue("coinrelay_stream_clients"), 0);
  // The connection ends here, inside the server's I/O context; under AddressSanitizer a
  // connection left in the hub would be used after the server is gone.
  server->reset();
  std::string received;
  beast::error_code ec;
  char chunk[4096];
  // Bounded: a connection the hub kept would never end.
  pollfd readable{client.native_handle(), POLLIN, 0};
  while (!ec && ::poll(&readable, 1, 5000) == 1)
    received.append(chunk, client.read_some(asio::buffer(chunk), ec));
  EXPECT_NE(received.find("text/event-stream"), std::string::npos) << received;
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset)
      << "the stream did not end: " << ec.message();
}

// --- the HTTP server
// ------------------------------------------------------------------------------

/// What the server makes of `bytes`: the targets it would serve, then "=<status>" of a refusal.
std::string served(const std::string& bytes) {
  std::string out;
  const int refusal = net::parseRequests(bytes, net::ServerLimits{}, [&](const net::Request& r) {
    out += std::string(r.method) + " " + std::string(r.target) + ";";
  });
  if (refusal != 0)
    out += "=" + std::to_string(refusal);
  return out;
}

TEST(RequestFramingTest, NoBodyIsEverReadAsTheNextRequest) {
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
  EXPECT_EQ(
      served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + smuggled),
      "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled),
            "=400");
  EXPECT_EQ(
      served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
      "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n0\r\n\r\n"),
            "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\nContent-Length: "
                   "5\r\n\r\nhello"),
            "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n0\r\n\r\n"),
            "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            "=400");
  EXPECT_EQ(served("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\n\r\n" +
                   smuggled),
            "POST /;GET /smuggled;")
      << "plain chunked framing works, and a real second request is served";
}

TEST(RequestFramingTest, Http11NeedsExactlyOneHost) {
  EXPECT_EQ(served("GET /a HTTP/1.1\r\n\r\n"), "=400");
  EXPECT_EQ(served("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "=400");
  EXPECT_EQ(served("GET /a HTTP/1.0\r\n\r\n"), "GET /a;");
  EXPECT_EQ(served("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET /a;GET /b;");
  EXPECT_EQ(served("GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n"),
            "GET /a;")
      << "nothing after a closing request is read";
  EXPECT_EQ(served("GET /a HTTP/1.1\r\nHost: " + std::string(20'000, 'h') + "\r\n\r\n"), "=431");
  EXPECT_EQ(served("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), "=400");
  EXPECT_EQ(served("GET /a HTTP/1.1\r\nHost: a"), "") << "incomplete: the connection waits";
}

/// Reads everything until the server closes; "" when it did not within 5 s.
std::string readToClose(tcp::socket& socket) {
  std::string out;
  std::array<char, 4096> chunk{};
  beast::error_code ec;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  socket.non_blocking(true);
  while (std::chrono::steady_clock::now() < deadline) {
    const size_t n = socket.read_some(asio::buffer(chunk), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    if (ec)
      return out;
    out.append(chunk.data(), n);
  }
  return "(still open) " + out;
}

tcp::socket connectTo(asio::io_context& io, uint16_t port) {
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  return socket;
}

TEST(HttpServerHardeningTest, ASmuggledRequestNeverReachesTheHandler) {
  std::vector<std::string> seen;
  std::mutex mutex;
  auto server = net::HttpServer::start("127.0.0.1:0", [&](const net::Request& request) {
    std::lock_guard lock(mutex);
    seen.push_back(request.path);
    return net::Reply{200, "text/plain", "ok"};
  });
  ASSERT_TRUE(server);
  asio::io_context io;
  auto socket = connectTo(io, (*server)->port());
  asio::write(socket, asio::buffer(std::string(
                          "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                          "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n")));
  const std::string answer = readToClose(socket);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  std::lock_guard lock(mutex);
  EXPECT_TRUE(seen.empty());
}

TEST(HttpServerHardeningTest, HeadOfAStreamSendsTheHeadersOnly) {
  std::atomic<int> subscribed{0};
  auto server = net::HttpServer::start("127.0.0.1:0", [&](const net::Request&) {
    net::Reply reply;
    reply.stream = [&](std::shared_ptr<net::EventSink> sink) {
      ++subscribed;
      sink->push(std::make_shared<const std::string>(std::string(80'000, 'e')));
    };
    return reply;
  });
  ASSERT_TRUE(server);
  asio::io_context io;
  auto socket = connectTo(io, (*server)->port());
  asio::write(socket, asio::buffer(std::string("HEAD /v1/stream HTTP/1.1\r\nHost: t\r\n\r\n")));
  const std::string answer = readToClose(socket);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_NE(answer.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_TRUE(answer.ends_with("\r\n\r\n")) << "nothing after the head: " << answer.size();
  EXPECT_EQ(subscribed.load(), 0);
}

TEST(HttpServerHardeningTest, AtTheCapTheLongestIdleGoesThenNewcomersGetA503) {
  net::ServerLimits limits;
  limits.max_connections = 4;
  std::atomic<int> streams{0};
  std::mutex mutex;
  std::vector<std::shared_ptr<net::EventSink>> sinks;  // as a hub holds its clients
  auto server = net::HttpServer::start(
      "127.0.0.1:0",
      [&](const net::Request& request) {
        if (request.path == "/stream") {
          net::Reply reply;
          reply.stream = [&](std::shared_ptr<net::EventSink> sink) {
            std::lock_guard lock(mutex);
            sinks.push_back(std::move(sink));
            ++streams;
          };
          return reply;
        }
        return net::Reply{200, "text/plain", "ok"};
      },
      1, limits);
  ASSERT_TRUE(server);
  EXPECT_EQ((*server)->maxConnections(), 4u);
  const uint16_t port = (*server)->port();
  asio::io_context io;
  const double evicted_before = counterValue("coinrelay_http_idle_connections_closed_total");
  // Four idle connections fill the cap.
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(connectTo(io, port));
    // One at a time, so that their order of waiting is known.
    ASSERT_TRUE(eventually([&] { return gaugeValue("coinrelay_http_connections") >= i + 1; }));
  }
  // A fifth client is served: the one idle longest made room.
  net::HttpClient http;
  auto fresh = http.get("http://127.0.0.1:" + std::to_string(port) + "/");
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(readToClose(idle[0]), "") << "the oldest idle connection was closed";
  EXPECT_GE(counterValue("coinrelay_http_idle_connections_closed_total"), evicted_before + 1);
  for (auto& socket : idle)
    socket.close();
  ASSERT_TRUE(eventually([&] { return gaugeValue("coinrelay_http_connections") <= 1; }));

  // Streams are never idle: with all four places streaming, a newcomer is refused cleanly.
  std::vector<tcp::socket> streaming;
  for (int i = 0; i < 4; ++i) {
    streaming.push_back(connectTo(io, port));
    asio::write(streaming.back(),
                asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")));
  }
  ASSERT_TRUE(eventually([&] { return streams.load() == 4; }));
  ASSERT_TRUE(eventually([&] { return gaugeValue("coinrelay_http_connections") == 4; }))
      << gaugeValue("coinrelay_http_connections");
  auto refused_socket = connectTo(io, port);
  const std::string refused = readToClose(refused_socket);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos);
  EXPECT_NE(refused.find("too many connections"), std::string::npos);
  // The held clients go before the server: a session must not outlive its io_context.
  std::lock_guard lock(mutex);
  sinks.clear();
}

#if defined(__SANITIZE_ADDRESS__)
#define COINRELAY_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COINRELAY_UNDER_SANITIZER 1
#endif
#endif

TEST(HttpServerHardeningTest, TheAcceptLoopBacksOffWhenFileDescriptorsRunOut) {
#ifdef COINRELAY_UNDER_SANITIZER
  // The sanitizers' runtime opens a pipe to check memory; with the descriptor table full it
  // reports errors that are not there. The plain build runs this test.
  GTEST_SKIP() << "needs every file descriptor; not under the sanitizers";
#endif
  auto server = net::HttpServer::start("127.0.0.1:0", [](const net::Request&) {
    return net::Reply{200, "text/plain", "ok"};
  });
  ASSERT_TRUE(server);
  const uint16_t port = (*server)->port();
  // The client's socket exists before the descriptor table is full; the server then has none
  // left to accept its connection with.
  asio::io_context io;
  tcp::socket client(io);
  client.open(tcp::v4());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit lowered = saved;
  lowered.rlim_cur = 256;
  int probe = dup(0);
  ASSERT_GE(probe, 0);
  close(probe);
  ASSERT_LT(probe, 200) << "too many descriptors open already for this test";
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  std::vector<int> fillers;
  for (int fd = dup(0); fd >= 0; fd = dup(0))
    fillers.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  const uint64_t errors_before = counterValue("coinrelay_http_accept_errors_total");
  client.connect({asio::ip::make_address("127.0.0.1"), port});  // queued by the kernel
  ASSERT_TRUE(eventually(
      [&] { return counterValue("coinrelay_http_accept_errors_total") > errors_before; }));
  const uint64_t first = counterValue("coinrelay_http_accept_errors_total");
  std::this_thread::sleep_for(60ms);
  const uint64_t retries = counterValue("coinrelay_http_accept_errors_total") - first;
  EXPECT_LE(retries, 6u) << "the accept loop spins instead of backing off";

  for (int fd : fillers)
    close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  asio::write(client, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n")));
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> answer;
  beast::http::read(client, buffer, answer);
  EXPECT_EQ(answer.body(), "ok") << "served once descriptors are free again";
}

}  // namespace
}  // namespace coinrelay::api
