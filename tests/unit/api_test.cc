#include <atomic>
#include <climits>
#include <future>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <zlib.h>

#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/relay_routes.h"
#include "api/response_cache.h"
#include "api/schemas.h"
#include "api/static_assets.h"
#include "api/stream_hub.h"
#include "api/teams.h"
#include "coingecko/upstream_budget.h"
#include "common/clock.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "support/api_requests.h"
#include "support/temp_dir.h"

namespace coinrelay::api {
namespace {

using testing::bodyOf;
using testing::get;
// A small quote in usd (tests/support/api_requests.h).
constexpr auto quote = testing::rankedQuote;

std::string gunzip(const std::string& data) {
  z_stream stream{};
  inflateInit2(&stream, 15 + 16);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  inflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST(ResponseCacheTest, ServesOneRenderingWithEtagAndGzip) {
  const std::string body(5000, 'x');
  auto cached = makeCachedResponse(200, body);
  ASSERT_TRUE(cached->gzip);
  EXPECT_LT(cached->gzip->size(), body.size());
  EXPECT_TRUE(gunzip(*cached->gzip) == body);

  net::Reply plain = replyFrom(*cached, get("/x"));
  EXPECT_EQ(bodyOf(plain), body);
  net::Reply compressed = replyFrom(*cached, get("/x", {}, {{"accept-encoding", "gzip, br"}}));
  EXPECT_EQ(bodyOf(compressed), *cached->gzip);
  net::Reply not_modified = replyFrom(*cached, get("/x", {}, {{"if-none-match", cached->etag}}));
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(bodyOf(not_modified), "");

  ResponseCache cache;
  cache.insert(1, "k", cached);
  EXPECT_EQ(cache.find(1, "k"), cached);
  EXPECT_EQ(cache.find(2, "k"), nullptr) << "a new snapshot version invalidates";
  cache.insert(2, "other", makeCachedResponse(200, "{}"));
  EXPECT_EQ(cache.find(1, "k"), nullptr);
}

TEST(ResponseCacheTest, SmallBodiesAreNotCompressed) {
  EXPECT_FALSE(makeCachedResponse(200, "{\"a\":1}")->gzip);
}

TEST(CoinGeckoRoutesTest, AnswersFromTheSnapshotAndRefusesWhatItDoesNotTrack) {
  pipeline::Snapshot snapshot;
  std::vector<model::Quote> batch = {quote("bitcoin", 1, 67000.123456), quote("ethereum", 2, 3500)};
  ASSERT_TRUE(snapshot.deliver(batch));
  CoinGeckoRoutes routes(snapshot, nullptr);

  auto price = routes.handle(get(
      "/api/v3/simple/price", {{"ids", "bitcoin"}, {"vs_currencies", "usd"}, {"precision", "2"}}));
  ASSERT_TRUE(price);
  EXPECT_EQ(bodyOf(*price), R"({"bitcoin":{"usd":67000.12}})");

  auto untracked =
      routes.handle(get("/api/v3/simple/price", {{"ids", "dogecoin"}, {"vs_currencies", "usd"}}));
  EXPECT_EQ(untracked->status, 404);
  EXPECT_NE(untracked->body.find("coin not tracked by coinrelay: dogecoin"), std::string::npos);

  auto currency = routes.handle(get("/api/v3/coins/markets", {{"vs_currency", "eur"}}));
  EXPECT_EQ(currency->status, 404);
  EXPECT_NE(currency->body.find("vs_currency 'eur' is not tracked"), std::string::npos);
  EXPECT_NE(currency->body.find("tracked: usd"), std::string::npos);

  auto bad =
      routes.handle(get("/api/v3/coins/markets", {{"vs_currency", "usd"}, {"per_page", "x"}}));
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, R"({"error":"invalid per_page"})");

  EXPECT_FALSE(routes.handle(get("/v1/quotes")).has_value());
}

TEST(CoinGeckoRoutesTest, RendersOncePerSnapshotVersion) {
  pipeline::Snapshot snapshot;
  std::vector<model::Quote> batch = {quote("bitcoin", 1, 1)};
  ASSERT_TRUE(snapshot.deliver(batch));
  CoinGeckoRoutes routes(snapshot, nullptr);
  const auto query = get("/api/v3/coins/markets", {{"vs_currency", "usd"}});
  auto first = routes.handle(query);
  auto second = routes.handle(query);
  EXPECT_EQ(first->shared_body.get(), second->shared_body.get()) << "the same bytes, not a copy";
  std::vector<model::Quote> update = {quote("bitcoin", 1, 2)};
  update[0].last_updated_ms += 1000;
  ASSERT_TRUE(snapshot.deliver(update));
  auto third = routes.handle(query);
  EXPECT_NE(first->shared_body.get(), third->shared_body.get());
  EXPECT_NE(bodyOf(*third).find("\"current_price\":2"), std::string::npos);
}

/// A history source that always fails, as an unreachable search engine does.
class FailingHistory final : public storage::HistorySource {
 public:
  Result<storage::ChartData> chart(const storage::ChartQuery&) override {
    return makeError(ErrorCode::Unavailable, "engine down");
  }
  uint64_t generation() const override { return 0; }
  int64_t keptSince(storage::Granularity) const override { return INT64_MIN; }
};

/// Status, body and headers of a refusal, in one printable string.
std::string refusal(const net::Reply& reply) {
  std::string out = std::to_string(reply.status) + " " + bodyOf(reply);
  for (const auto& [name, value] : reply.headers)
    out += " | " + name + ": " + value;
  return out;
}

// Every refusal of the API, status and body byte for byte: CoinGecko clients parse them.
TEST(ApiErrorsTest, EveryRefusalKeepsItsStatusAndCoinGeckoShapedBody) {
  pipeline::Snapshot snapshot;
  std::vector<model::Quote> batch = {quote("bitcoin", 1, 67000)};
  ASSERT_TRUE(snapshot.deliver(batch));
  CoinGeckoRoutes coingecko(snapshot, nullptr);
  StreamHub stream;
  FailingHistory failing;
  RelayRoutes::Parts parts;
  parts.snapshot = &snapshot;
  parts.coingecko = &coingecko;
  parts.stream = &stream;
  parts.health_json = [] { return std::string("{}"); };
  RelayRoutes without_history(parts);
  ChartRoutes charts(&failing, nullptr, {});
  parts.charts = &charts;
  RelayRoutes routes(parts);

  net::Request post = get("/v1/quotes");
  post.method = "POST";
  EXPECT_EQ(refusal(routes.handle(post)),
            R"(405 {"error":"method not allowed: coinrelay answers GET and HEAD"})");
  EXPECT_EQ(refusal(routes.handle(get("/nope"))),
            R"(404 {"error":"not found: coinrelay answers /api/v3/*, /v1/quotes, /v1/stream, )"
            R"(/v1/history, /v1/status, /healthz, /readyz, /metrics and the dashboard at /"})");
  EXPECT_EQ(refusal(routes.handle(get("/v1/history"))),
            R"(400 {"error":"id: missing; e.g. /v1/history?id=bitcoin"})");
  EXPECT_EQ(refusal(routes.handle(get("/v1/history", {{"id", "bitcoin"}, {"points", "0"}}))),
            R"(400 {"error":"points: '0' is not a number between 1 and 10000"})");
  EXPECT_EQ(refusal(without_history.handle(get("/v1/history", {{"id", "bitcoin"}}))),
            R"(503 {"error":"history is not available: configure elasticsearch.url for serve"})");
  EXPECT_EQ(refusal(testing::awaitReply(routes.handle(get("/v1/history", {{"id", "bitcoin"}})))),
            R"(503 {"error":"history unavailable: engine down"})");
  std::string many;
  for (int i = 0; i < 1001; ++i)
    many += "c" + std::to_string(i) + ",";
  EXPECT_EQ(refusal(routes.handle(get("/v1/stream", {{"ids", many}}))),
            R"(400 {"error":"ids: at most 1000 coins per stream"})");
  EXPECT_EQ(refusal(routes.handle(get("/api/v3/coins/markets"))),
            R"(400 {"error":"Missing parameter vs_currency"} | )"
            R"(x-coinrelay-error: /coins/markets needs vs_currency)");
  EXPECT_EQ(refusal(routes.handle(get("/api/v3/simple/price", {{"ids", "bitcoin"}}))),
            R"(400 {"error":"Missing parameter vs_currencies"} | )"
            R"(x-coinrelay-error: /simple/price needs vs_currencies)");
  EXPECT_EQ(refusal(routes.handle(get("/api/v3/nope"))),
            R"(404 {"error":"Incorrect path. Please check https://www.coingecko.com/api/"} | )"
            R"(x-coinrelay-error: '/nope' is not a path of CoinGecko's API v3 (docs/serving.md )"
            R"(lists every path))");
  EXPECT_EQ(
      refusal(
          routes.handle(get("/api/v3/simple/price", {{"ids", "doge"}, {"vs_currencies", "usd"}}))),
      R"(404 {"error":"coin not tracked by coinrelay: doge; ask its operator to add it to upstream.ids"})");
  EXPECT_EQ(refusal(*schemaRoute("/v1/schemas/nope.json")),
            R"(404 {"error":"no such schema: GET /v1/schemas lists them"})");
  EXPECT_EQ(refusal(*dashboardRoute(get("/assets/gone.js"))),
            R"(404 {"error":"no such dashboard file: reload / to get the current dashboard"})");

  testing::TempDir dir;
  auto teams = Teams::load(dir.write(
      "teams.toml", "[teams.a]\nkey = \"a-key-0123456789abc\"\nrequests_per_minute = 1\n"));
  ASSERT_TRUE(teams) << teams.error().message;
  EXPECT_EQ(refusal(*(*teams)->admit(get("/api/v3/ping")).refusal),
            R"(401 {"status":{"error_code":10002,"error_message":"API Key Missing: send your )"
            R"(team's coinrelay key in x-cg-pro-api-key"}})");
  EXPECT_EQ(refusal(*(*teams)->admit(get("/api/v3/ping", {}, {{"x-coinrelay-key", "x"}})).refusal),
            R"(401 {"status":{"error_code":10002,"error_message":"Invalid API Key: this key )"
            R"(belongs to no team"}})");
  const auto keyed = get("/api/v3/ping", {}, {{"x-coinrelay-key", "a-key-0123456789abc"}});
  EXPECT_FALSE((*teams)->admit(keyed).refusal);
  auto limited = (*teams)->admit(keyed).refusal;
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->headers.size(), 1u);
  EXPECT_EQ(limited->headers[0].first, "retry-after");
  limited->headers.clear();
  EXPECT_EQ(refusal(*limited),
            R"(429 {"status":{"error_code":429,"error_message":"You've exceeded your team's )"
            R"(rate limit of 1 requests per minute."}})");

  config::UpstreamConfig upstream;
  upstream.base_url = "http://127.0.0.1:1/api/v3";
  upstream.timeout_ms = 2000;
  StopSignal running;
  coingecko::BudgetLimits all_for_the_schedule;
  all_for_the_schedule.calls_per_minute = 1;
  all_for_the_schedule.calls_per_cycle = 1;
  coingecko::UpstreamBudget budget(all_for_the_schedule, running);
  MissFetcher spent(upstream, std::chrono::seconds(60));
  spent.setBudget(&budget);
  EXPECT_EQ(refusal(spent.ask("/coins/list")),
            R"(429 {"status":{"error_code":429,"error_message":"coinrelay cannot call CoinGecko )"
            R"(for this request now: no upstream call free this minute: the schedule keeps 1 of )"
            R"~(the 1 calls per minute (budget.calls_per_minute); retry later, or ask the )~"
            R"~(operator to track it (upstream.top_n / upstream.ids)"}} | retry-after: 60)~");
  MissFetcher down(upstream, std::chrono::seconds(60));
  EXPECT_EQ(refusal(down.ask("/coins/list")),
            R"(503 {"status":{"error_code":503,"error_message":"upstream unavailable; retry )"
            R"(later"}})");
  MissFetcher nowhere(upstream, std::chrono::seconds(60));
  nowhere.forwardTo({"http://127.0.0.1:1"});
  EXPECT_EQ(refusal(nowhere.ask("/coins/list")),
            R"(503 {"status":{"error_code":503,"error_message":"no active fetcher reachable )"
            R"~(for this request (serve.miss_via); retry later"}})~");
}

/// A sink that accepts a fixed number of events, then reports the client gone.
class CountingSink final : public net::EventSink {
 public:
  explicit CountingSink(int capacity) : capacity_(capacity) {}
  bool push(std::shared_ptr<const std::string> bytes) override {
    if (static_cast<int>(events.size()) >= capacity_)
      return false;
    events.push_back(*bytes);
    return true;
  }
  std::vector<std::string> events;

 private:
  int capacity_;
};

TEST(StreamHubTest, FiltersByIdsAndDropsClientsThatFallBehind) {
  StreamHub hub;
  auto all = std::make_shared<CountingSink>(100);
  auto only_eth = std::make_shared<CountingSink>(100);
  auto slow = std::make_shared<CountingSink>(1);
  const model::Quote bitcoin = quote("bitcoin", 1, 1);
  std::vector<const model::Quote*> initial = {&bitcoin};
  hub.subscribe(all, {}, initial);
  hub.subscribe(only_eth, {"ethereum"}, initial);
  hub.subscribe(slow, {}, {});
  EXPECT_EQ(hub.clients(), 3u);
  std::vector<model::Quote> batch = {quote("bitcoin", 1, 2), quote("ethereum", 2, 3)};
  hub.publish(batch);
  EXPECT_EQ(all->events.size(), 3u);  // initial + 2
  ASSERT_EQ(only_eth->events.size(), 1u);
  EXPECT_TRUE(only_eth->events[0].starts_with("event: quote\ndata: {"));
  EXPECT_NE(only_eth->events[0].find("\"id\":\"ethereum\""), std::string::npos);
  EXPECT_TRUE(only_eth->events[0].ends_with("}\n\n"));
  EXPECT_EQ(hub.clients(), 2u) << "the slow client was dropped, the others kept";
}

TEST(TeamsTest, AdmitsKnownKeysWithinTheirQuota) {
  testing::TempDir dir;
  const std::string path = dir.write("teams.toml", R"(
[teams.analytics]
key = "analytics-key-0123456789"
requests_per_minute = 2
)");
  auto teams = Teams::load(path);
  ASSERT_TRUE(teams) << teams.error().message;
  auto missing = (*teams)->admit(get("/api/v3/ping"));
  ASSERT_TRUE(missing.refusal);
  EXPECT_EQ(missing.refusal->status, 401);
  auto wrong = (*teams)->admit(get("/api/v3/ping", {}, {{"x-cg-pro-api-key", "nope"}}));
  EXPECT_EQ(wrong.refusal->status, 401);
  const auto with_key = get("/api/v3/ping", {}, {{"x-cg-pro-api-key", "analytics-key-0123456789"}});
  EXPECT_FALSE((*teams)->admit(with_key).refusal);
  auto second =
      (*teams)->admit(get("/api/v3/ping", {{"x_cg_demo_api_key", "analytics-key-0123456789"}}));
  EXPECT_FALSE(second.refusal);
  EXPECT_EQ(second.team, "analytics");
  auto third = (*teams)->admit(with_key);
  ASSERT_TRUE(third.refusal);
  EXPECT_EQ(third.refusal->status, 429);
  EXPECT_NE(third.refusal->body.find("\"error_code\":429"), std::string::npos);
  EXPECT_EQ(third.refusal->body.find("analytics-key"), std::string::npos) << "never echo a key";
}

TEST(TeamsTest, AQuotaComesBackWithTheNextMinuteOfTheClock) {
  testing::TempDir dir;
  const std::string path = dir.write("teams.toml", R"(
[teams.analytics]
key = "analytics-key-0123456789"
requests_per_minute = 1
)");
  ManualClock clock(fromUnixMillis(1'753'455'015'000));  // 14:50:15 UTC
  auto teams = Teams::load(path, clock);
  ASSERT_TRUE(teams) << teams.error().message;
  const auto with_key = get("/api/v3/ping", {}, {{"x-cg-pro-api-key", "analytics-key-0123456789"}});
  EXPECT_FALSE((*teams)->admit(with_key).refusal);
  clock.advance(std::chrono::seconds(44));  // 14:50:59
  auto refused = (*teams)->admit(with_key);
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->status, 429);
  std::string retry_after;
  for (const auto& [name, value] : refused.refusal->headers) {
    if (name == "retry-after")
      retry_after = value;
  }
  EXPECT_EQ(retry_after, "1") << "one second to the next minute";
  clock.advance(std::chrono::seconds(1));  // 14:51:00
  EXPECT_FALSE((*teams)->admit(with_key).refusal) << "a new minute, a new quota";
}

TEST(TeamsTest, RefusesABadFileWithTheFix) {
  testing::TempDir dir;
  auto teams = Teams::load(dir.write("teams.toml", "[teams.x]\nkey = \"short\"\n"));
  ASSERT_FALSE(teams);
  EXPECT_NE(teams.error().message.find("[teams.x] needs key"), std::string::npos);
  EXPECT_TRUE(Teams::load("")->get()->admit(get("/")).team == "anonymous");
}

TEST(HttpServerTest, RefusesOversizedAndMalformedRequests) {
  auto server = net::HttpServer::start("127.0.0.1:0", [](const net::Request&) {
    return net::Reply{200, "text/plain", "ok"};
  });
  ASSERT_TRUE(server);
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  net::HttpClient http;
  net::HttpRequest huge;
  huge.url = base + "/";
  huge.headers.emplace_back("X-Big", std::string(20'000, 'a'));
  auto refused = http.send(huge);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 431);
  auto fine = http.get(base + "/");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
  EXPECT_EQ(fine->body, "ok");
}

/// Sends raw bytes on one connection and reads until `responses` whole answers arrived or the
/// server closed; returns them parsed.
std::vector<boost::beast::http::response<boost::beast::http::string_body>> exchange(
    uint16_t port, const std::string& bytes, size_t responses) {
  namespace beast = boost::beast;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(bytes));
  beast::flat_buffer buffer;
  std::vector<beast::http::response<beast::http::string_body>> out;
  while (out.size() < responses) {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(1 << 24);
    beast::error_code ec;
    beast::http::read(socket, buffer, parser, ec);
    if (ec)
      break;
    out.push_back(parser.release());
  }
  return out;
}

std::map<std::string, std::string> fieldsOf(
    const boost::beast::http::response<boost::beast::http::string_body>& response) {
  std::map<std::string, std::string> out;
  for (const auto& field : response)
    out[std::string(field.name_string())] = std::string(field.value());
  return out;
}

TEST(HttpServerTest, PreSerialisedAnswersSayWhatBuiltOnesSay) {
  const std::string body = std::string(3000, 'x') + std::string(3000, 'y');
  auto cached = makeCachedResponse(200, body);
  ASSERT_TRUE(cached->gzip);
  auto server = net::HttpServer::start(
      "127.0.0.1:0", [&](const net::Request& request) { return replyFrom(*cached, request); });
  ASSERT_TRUE(server);
  const uint16_t port = (*server)->port();
  for (const std::string accept : {"", "Accept-Encoding: gzip\r\n"}) {
    // Two pipelined keep-alive requests take the pre-serialised path; Connection: close makes
    // the server build the head with Beast. Both must carry the same fields.
    const std::string request = "GET /x HTTP/1.1\r\nHost: t\r\n" + accept + "\r\n";
    auto fast = exchange(port, request + request, 2);
    auto built =
        exchange(port, "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + accept + "\r\n", 1);
    ASSERT_EQ(fast.size(), 2u) << accept;
    ASSERT_EQ(built.size(), 1u) << accept;
    for (const auto& answer : fast) {
      EXPECT_EQ(answer.result_int(), 200);
      EXPECT_TRUE(answer.keep_alive());
      EXPECT_EQ(answer.body(), built[0].body());
    }
    auto fields = fieldsOf(built[0]);
    EXPECT_EQ(fields.erase("Connection"), 1u);
    EXPECT_EQ(fieldsOf(fast[0]), fields) << accept;
    EXPECT_EQ(fields["ETag"], cached->etag);
    EXPECT_EQ(fields["Vary"], "Accept-Encoding");
    EXPECT_EQ(accept.empty() ? built[0].body() : gunzip(built[0].body()), body);
  }
  // HTTP/1.0 and revalidations are answered by the general path.
  auto old = exchange(port, "GET /x HTTP/1.0\r\n\r\n", 1);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].version(), 10u);
  EXPECT_EQ(old[0].body(), body);
  auto revalidated = exchange(
      port, "GET /x HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + cached->etag + "\r\n\r\n", 1);
  ASSERT_EQ(revalidated.size(), 1u);
  EXPECT_EQ(revalidated[0].result_int(), 304);
}

TEST(HttpServerTest, ClosesAConnectionThatNeverFinishesItsRequest) {
  net::ServerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(200);
  auto server = net::HttpServer::start(
      "127.0.0.1:0",
      [](const net::Request&) {
        return net::Reply{200, "text/plain", "ok"};
      },
      1, limits);
  ASSERT_TRUE(server);
  const uint16_t port = (*server)->port();
  // A complete request first: the connection is kept alive and answered.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n")));
  boost::beast::flat_buffer buffer;
  boost::beast::http::response<boost::beast::http::string_body> answer;
  boost::beast::http::read(socket, buffer, answer);
  EXPECT_EQ(answer.body(), "ok");
  // Then half a request line, and silence: the server must hang up after the idle timeout.
  const auto started = std::chrono::steady_clock::now();
  boost::asio::write(socket, boost::asio::buffer(std::string("GET / HT")));
  char byte;
  boost::beast::error_code ec;
  socket.read_some(boost::asio::buffer(&byte, 1), ec);  // returns when the server closes
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_LT(waited, std::chrono::seconds(10));
}

TEST(HttpServerTest, ClosesAConnectionThatDoesNotTakeItsAnswer) {
  net::ServerLimits limits;
  limits.write_timeout = std::chrono::milliseconds(50);
  // Far more than loopback socket buffers hold, so the write cannot complete unread.
  const auto body = std::make_shared<const std::string>(64 << 20, 'x');
  std::atomic<bool> answered{false};
  auto server = net::HttpServer::start(
      "127.0.0.1:0",
      [&](const net::Request&) {
        net::Reply reply{200, "text/plain", ""};
        reply.shared_body = body;
        answered = true;
        return reply;
      },
      1, limits);
  ASSERT_TRUE(server);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), (*server)->port()});
  boost::asio::write(socket, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n")));
  // Not reading: the server must give up. Its connection holds the answer until it does, so
  // the answer's last other owner going away is the moment the connection was dropped.
  const auto gave_up = [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(answered && body.use_count() == 1)) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  };
  EXPECT_TRUE(gave_up()) << "the server still holds the connection after 10 s";
  size_t received = 0;
  boost::beast::error_code ec;
  std::vector<char> chunk(1 << 20);
  while (!ec)
    received += socket.read_some(boost::asio::buffer(chunk), ec);
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
  EXPECT_LT(received, body->size()) << "the connection was cut before the whole answer";
}

}  // namespace
}  // namespace coinrelay::api
