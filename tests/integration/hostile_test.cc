// coinrelay against hostile clients: the real `coinrelay run` (serve.on_miss = fetch) over
// `coinrelay simulate` with a required API key. Every hostile request must get a 4xx (never a
// 5xx for a client's garbage), leave the process answering /healthz within a second, echo no
// secret, and the whole suite must not grow its memory by 64 MB; under `ulimit -n 1024`,
// thousands of idle connections and streams must not keep a fresh client waiting.
// Needs no Kafka or search engine.

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "model/quote.h"
#include "net/http_client.h"
#include "storage/sqlite_quote_store.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace coinrelay::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const std::string kBinary = COINRELAY_BINARY;
const std::string kSecret = "CG-hostile-suite-secret-0123456789";

/// An answer read off a raw connection; status 0 when none came.
struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  std::string raw;
};

void setReceiveTimeout(tcp::socket& socket, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/// Sends `bytes` on a fresh connection and reads one answer (the head alone for HEAD).
Answer sendRaw(int port, const std::string& bytes, bool head = false) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  if (ec)
    return {};
  setReceiveTimeout(socket, 5s);
  asio::write(socket, asio::buffer(bytes), ec);  // a refused request may be cut short
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(head);
  http::read(socket, buffer, parser, ec);
  Answer answer;
  if (ec && !parser.is_header_done())
    return answer;
  const auto& message = parser.get();
  answer.status = message.result_int();
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    answer.headers[name] = std::string(field.value());
  }
  answer.body = message.body();
  return answer;
}

std::string get(const std::string& target, const std::string& extra_headers = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: coinrelay\r\n" + extra_headers +
         "Connection: close\r\n\r\n";
}

bool validUtf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

/// Resident memory of a process, in bytes.
int64_t rssOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:"))
      return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

/// CPU seconds (user + system) a process has used.
double cpuSecondsOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15)
      ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

class HostileClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path("key")) << kSecret << "\n";
    sim_port_ = freePort();
    simulator_ = std::make_unique<Process>(
        std::vector<std::string>{kBinary, "simulate", "--listen", address(sim_port_), "--coins",
                                 "200", "--update-interval", "0", "--api-key-file",
                                 dir_.path("key"), "--api-key-plan", "demo"},
        std::vector<std::string>{}, dir_.path("simulate.log"));
    ASSERT_TRUE(eventually([&] { return simulatorCalls() >= 0; }, 10s));
  }

  static std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }

  /// `coinrelay run` with the right key (unless `key` says otherwise), on a free port.
  std::unique_ptr<Process> startRelay(int port, std::vector<std::string> extra = {},
                                      const std::string& key = kSecret,
                                      const std::string& shell_prefix = {},
                                      const std::string& ready_path = "/readyz") {
    std::vector<std::string> argv = {
        kBinary,      "run",
        "--upstream", "http://" + address(sim_port_) + "/api/v3",
        "--plan",     "demo",
        "--top",      "50",
        "--interval", "3600",
        "--listen",   address(port),
        "--sqlite",   dir_.path("relay-" + std::to_string(port) + ".db"),
        "--set",      "serve.on_miss=fetch",
        "--set",      "upstream.vs_currencies=usd,eur"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!shell_prefix.empty()) {
      // The shell sets the limit, then becomes coinrelay (same pid).
      argv.insert(argv.begin(), {"/bin/sh", "-c", shell_prefix + " && exec \"$0\" \"$@\""});
    }
    auto relay = std::make_unique<Process>(
        argv, std::vector<std::string>{"COINRELAY_UPSTREAM_API_KEY=" + key},
        dir_.path("relay-" + std::to_string(port) + ".log"));
    EXPECT_TRUE(eventually(
        [&] {
          auto ready = client_.get("http://" + address(port) + ready_path);
          return ready && (ready->status == 200 || ready_path != "/readyz");
        },
        30s))
        << relay->output();
    return relay;
  }

  /// Upstream calls the simulator counted, all paths; -1 when it does not answer.
  int64_t simulatorCalls() {
    auto stats = client_.get("http://" + address(sim_port_) + "/_sim/stats");
    if (!stats || stats->status != 200)
      return -1;
    simdjson::dom::element doc;
    int64_t total = 0;
    if (parser_.parse(stats->body).get(doc) != simdjson::SUCCESS ||
        doc["requests_total"].get(total) != simdjson::SUCCESS)
      return -1;
    return total;
  }

  /// /healthz answered within a second.
  bool healthy(int port) {
    net::HttpClient fresh;
    net::HttpRequest request;
    request.url = "http://" + address(port) + "/healthz";
    request.timeout = 1s;
    auto answer = fresh.send(request);
    return answer && answer->status == 200;
  }

  TempDir dir_;
  net::HttpClient client_;
  simdjson::dom::parser parser_;
  int sim_port_ = 0;
  std::unique_ptr<Process> simulator_;
};

/// One hostile request and what it must get: `status` exactly, or any 4xx when 0.
struct Hostile {
  std::string name;
  std::string bytes;
  int status = 0;
};

std::vector<Hostile> hostileRequests() {
  const std::string host = "Host: coinrelay\r\n";
  std::string many_ids;
  for (int i = 0; i < 1001; ++i)
    many_ids += "c" + std::to_string(i) + ",";
  return {
      // Framing: no request may hide in another one's body.
      {"te chunked, gzip",
       "POST /v1/quotes HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked, gzip\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n",
       400},
      {"te xchunked",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: xchunked\r\n\r\nGET / HTTP/1.1\r\n\r\n",
       400},
      {"te gzip, chunked",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
      {"te twice",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"te with content-length",
       "POST / HTTP/1.1\r\n" + host +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"content-length then te",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
       400},
      {"te on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"two content-lengths",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"content-length not a number",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 3x\r\n\r\nabc", 400},
      {"content-length negative", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"content-length beyond 64 bits",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 0},
      {"body too large",
       "POST /v1/quotes HTTP/1.1\r\n" + host + "Content-Length: 200000\r\n\r\n" +
           std::string(200'000, 'b'),
       413},
      {"chunk too large",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n",
       0},
      {"bad chunk", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      // The request line and headers.
      {"http/1.1 without host", "GET /api/v3/ping HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET /api/v3/ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"headers too large",
       "GET /api/v3/ping HTTP/1.1\r\n" + host + "X-Junk: " + std::string(20'000, 'j') + "\r\n\r\n",
       431},
      {"many headers",
       [&] {
         std::string many = "GET /api/v3/ping HTTP/1.1\r\n" + host;
         for (int i = 0; i < 2000; ++i)
           many += "X-" + std::to_string(i) + ": v\r\n";
         return many + "\r\n";
       }(),
       431},
      {"bad method token", "G@T /api/v3/ping HTTP/1.1\r\n" + host + "\r\n", 400},
      {"bad version", "GET /api/v3/ping HTTP/1.x\r\n" + host + "\r\n", 400},
      {"control character in target", "GET /api/v3/\x01ping HTTP/1.1\r\n" + host + "\r\n", 400},
      {"space in target", "GET /api/v3/ ping HTTP/1.1\r\n" + host + "\r\n", 400},
      {"bare CR in a header", "GET /api/v3/ping HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n", 400},
      {"two spaces in the request line", "GET  /api/v3/ping HTTP/1.1\r\n" + host + "\r\n", 400},
      {"header name with a space", "GET /api/v3/ping HTTP/1.1\r\n" + host + "Bad Name: x\r\n\r\n",
       400},
      {"nul in a header",
       std::string("GET /api/v3/ping HTTP/1.1\r\nHost: a\r\nX: a") + '\0' + "b\r\n\r\n", 400},
      {"post", "POST /api/v3/ping HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 405},
      {"delete", "DELETE /v1/quotes HTTP/1.1\r\n" + host + "\r\n", 405},
      {"unknown method", "BREW /v1/quotes HTTP/1.1\r\n" + host + "\r\n", 405},
      {"lower-case method", "get /v1/quotes HTTP/1.1\r\n" + host + "\r\n", 405},
      {"options *", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 405},
      {"connect", "CONNECT evil.example:443 HTTP/1.1\r\n" + host + "\r\n", 0},
      {"absolute form", get("http://evil.example/api/v3/ping"), 404},
      // Paths.
      {"traversal", get("/../../etc/passwd"), 404},
      {"encoded traversal", get("/%2e%2e/%2e%2e/etc/passwd"), 404},
      {"dashboard traversal", get("/assets/../../../../etc/passwd"), 404},
      {"schema traversal", get("/v1/schemas/..%2f..%2fetc%2fpasswd"), 404},
      {"nul in path", get("/v1/quotes%00.json"), 404},
      {"long path", get("/" + std::string(12'000, 'p')), 404},
      {"unknown api path", get("/api/v3/nope/../../ping"), 404},
      // CoinGecko parameters.
      {"ids with CR LF", get("/api/v3/simple/price?ids=bit%0d%0acoin&vs_currencies=usd"), 400},
      {"ids with a header after CR LF",
       get("/api/v3/simple/price?ids=zz%0d%0aX-Injected:%201&vs_currencies=usd"), 400},
      {"ids with a space", get("/api/v3/simple/price?ids=bit+coin&vs_currencies=usd"), 400},
      {"ids with a tab", get("/api/v3/coins/markets?vs_currency=usd&ids=a%09b"), 400},
      {"ids with NUL", get("/api/v3/coins/markets?vs_currency=usd&ids=a%00b"), 400},
      {"currency with a space", get("/api/v3/simple/price?ids=bitcoin&vs_currencies=u%20sd"), 400},
      {"symbols with a CR", get("/api/v3/simple/price?symbols=btc%0d&vs_currencies=usd%0dx"), 400},
      {"too many ids", get("/api/v3/simple/price?vs_currencies=usd&ids=" + many_ids), 400},
      {"per_page negative", get("/api/v3/coins/markets?vs_currency=usd&per_page=-1"), 400},
      {"per_page zero", get("/api/v3/coins/markets?vs_currency=usd&per_page=0"), 400},
      {"per_page text", get("/api/v3/coins/markets?vs_currency=usd&per_page=abc"), 400},
      {"page beyond 64 bits",
       get("/api/v3/coins/markets?vs_currency=usd&page=99999999999999999999"), 400},
      {"precision 19", get("/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&precision=19"), 400},
      {"precision negative", get("/api/v3/coins/markets?vs_currency=usd&precision=-1"), 400},
      {"unknown order", get("/api/v3/coins/markets?vs_currency=usd&order=drop_table"), 400},
      {"missing vs_currency", get("/api/v3/coins/markets?ids=bitcoin"), 400},
      {"missing ids", get("/api/v3/simple/price?vs_currencies=usd"), 400},
      // History.
      {"history from -2^63+1", get("/v1/history?id=bitcoin&from=-9223372036854775807"), 400},
      {"history from -1", get("/v1/history?id=bitcoin&from=-1"), 400},
      {"history from beyond 64 bits", get("/v1/history?id=bitcoin&from=99999999999999999999"), 400},
      {"history from 1e999", get("/v1/history?id=bitcoin&from=1e999"), 400},
      {"history from not UTF-8", get("/v1/history?id=bitcoin&from=%ff%c0%af"), 400},
      {"history before 1970", get("/v1/history?id=bitcoin&from=1969-12-31T23:59:59Z"), 400},
      {"history to before from", get("/v1/history?id=bitcoin&from=2000&to=1000"), 400},
      {"history points 0", get("/v1/history?id=bitcoin&points=0"), 400},
      {"history points huge", get("/v1/history?id=bitcoin&points=99999999999"), 400},
      {"history points not UTF-8", get("/v1/history?id=bitcoin&points=%ed%a0%80"), 400},
      {"history without id", get("/v1/history?from=0"), 400},
      // Streams.
      {"stream of 1001 ids", get("/v1/stream?ids=" + many_ids), 400},
      {"stream by post", "POST /v1/stream HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 405},
  };
}

TEST_F(HostileClientsTest, HostileRequestsGetA4xxAndLeaveTheServerWhole) {
  const int port = freePort();
  auto relay = startRelay(port);
  ASSERT_TRUE(relay->running()) << relay->output();
  // Warm up what every client uses, then measure from there.
  for (const auto& target : {"/api/v3/coins/markets?vs_currency=usd", "/v1/quotes",
                             "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd,eur",
                             "/v1/history?id=bitcoin", "/metrics", "/v1/status"}) {
    ASSERT_EQ(sendRaw(port, get(target)).status, 200) << target;
  }
  const int64_t rss_before = rssOf(relay->pid());
  const int64_t calls_before = simulatorCalls();

  const auto cases = hostileRequests();
  ASSERT_GE(cases.size(), 60u);
  int refused_4xx = 0;
  for (const auto& hostile : cases) {
    const Answer answer = sendRaw(port, hostile.bytes);
    if (hostile.status != 0) {
      EXPECT_EQ(answer.status, hostile.status) << hostile.name << ": " << answer.body;
    }
    EXPECT_TRUE(answer.status >= 400 && answer.status < 500)
        << hostile.name << " got " << answer.status << ": " << answer.body;
    refused_4xx += answer.status >= 400 && answer.status < 500;
    EXPECT_EQ(answer.body.find(kSecret), std::string::npos) << hostile.name;
    EXPECT_TRUE(validUtf8(answer.body)) << hostile.name << ": " << answer.body;
    ASSERT_TRUE(healthy(port)) << "after " << hostile.name << "\n" << relay->output();
  }
  EXPECT_GE(refused_4xx, 60);
  EXPECT_EQ(simulatorCalls(), calls_before)
      << "garbage in ids, currencies or parameters cost no upstream call";

  // Hostile but well-formed: answered as asked, no more.
  const std::string big_markets = "/api/v3/coins/markets?vs_currency=usd&per_page=50";
  const Answer no_gzip = sendRaw(port, get(big_markets, "Accept-Encoding: gzip;q=0\r\n"));
  EXPECT_EQ(no_gzip.status, 200);
  EXPECT_EQ(no_gzip.headers.count("content-encoding"), 0u) << "gzip;q=0 means no gzip";
  Answer with_gzip = sendRaw(port, get(big_markets, "Accept-Encoding: gzip;q=0.5\r\n"));
  EXPECT_EQ(with_gzip.headers["content-encoding"], "gzip");
  Answer head = sendRaw(port, "HEAD /v1/stream HTTP/1.1\r\nHost: c\r\n\r\n", true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-type"], "text/event-stream");
  {
    // Nothing follows the head of a HEAD: the server closes without sending events.
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    setReceiveTimeout(socket, 5s);
    asio::write(socket, asio::buffer(std::string("HEAD /v1/stream HTTP/1.1\r\nHost: c\r\n\r\n")));
    std::string received;
    std::array<char, 65536> chunk{};
    beast::error_code ec;
    while (!ec)
      received.append(chunk.data(), socket.read_some(asio::buffer(chunk), ec));
    EXPECT_EQ(ec, asio::error::eof);
    EXPECT_TRUE(received.ends_with("\r\n\r\n")) << received.size() << " bytes";
    EXPECT_LT(received.size(), 1000u);
  }

  // Memory: distinct queries by the thousand, each rendered and cached, and junk parameters
  // that make every raw target a new key. The caches hold them within their bytes.
  std::mt19937 rng(7);
  std::vector<std::string> tracked;
  {
    auto list = client_.get("http://" + address(port) + "/v1/quotes");
    ASSERT_TRUE(list);
    simdjson::dom::element doc;
    ASSERT_EQ(parser_.parse(list->body).get(doc), simdjson::SUCCESS);
    for (auto quote : doc["quotes"].get_array()) {
      std::string_view id;
      if (quote["id"].get(id) == simdjson::SUCCESS &&
          std::find(tracked.begin(), tracked.end(), id) == tracked.end())
        tracked.emplace_back(id);
    }
  }
  ASSERT_GE(tracked.size(), 50u);
  {
    // Keep-alive clients, as a flood would use, several at once.
    std::atomic<int> bad{0};
    std::vector<std::thread> flood;
    for (int t = 0; t < 4; ++t) {
      flood.emplace_back([&, t] {
        net::HttpClient http;
        std::mt19937 local(static_cast<unsigned>(t));
        for (int i = 0; i < 1000; ++i) {
          std::vector<std::string> ids = tracked;
          std::shuffle(ids.begin(), ids.end(), local);
          ids.resize(20 + local() % 30);
          std::string target =
              "/api/v3/coins/markets?vs_currency=" + std::string(i % 2 ? "usd" : "eur") + "&ids=";
          for (const auto& id : ids)
            target += id + ",";
          // An undocumented parameter is refused (400 naming it), never kept or relayed.
          const bool junk = i % 4 == 0;
          if (junk)
            target += "&junk=" + std::string(15'000, 'j') + std::to_string(t * 1000 + i);
          auto answer = http.get("http://" + address(port) + target);
          if (!answer || answer->status != (junk ? 400 : 200))
            ++bad;
        }
      });
    }
    for (auto& thread : flood)
      thread.join();
    EXPECT_EQ(bad.load(), 0);
  }
  ASSERT_TRUE(healthy(port));
  auto metrics = client_.get("http://" + address(port) + "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("coinrelay_response_cache_evictions_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("coinrelay_http_connections_max"), std::string::npos);
  const int64_t rss_after = rssOf(relay->pid());
  const int64_t growth = rss_after - rss_before;
  std::cout << "RSS of coinrelay run: " << rss_before / 1'000'000 << " MB before the suite, "
            << rss_after / 1'000'000 << " MB after " << cases.size()
            << " hostile requests and 4000 distinct queries\n";
  EXPECT_LT(growth, 64 << 20) << "RSS grew by " << growth / 1'000'000 << " MB";

  EXPECT_EQ(relay->terminate(), 0);
  for (const auto& log : {relay->output(), simulator_->output()})
    EXPECT_EQ(log.find(kSecret), std::string::npos) << "a secret in a log";
}

// The relay's own validation of what it forwards: parameters injected through a value never
// reach the upstream, and invalid ones are refused before any call.
TEST_F(HostileClientsTest, InjectedParametersAreRefusedWithoutAnUpstreamCall) {
  const int port = freePort();
  auto relay = startRelay(port);
  const int64_t calls_before = simulatorCalls();
  const std::vector<std::pair<std::string, std::string>> injected = {
      {"currency carrying parameters",
       "/api/v3/coins/markets?vs_currency=usd%26per_page%3D250%26x_cg_pro_api_key%3Dattacker%26"
       "ids%3Dbitcoin"},
      {"ids cut by a fragment", "/api/v3/simple/price?ids=zz-hostile%23&vs_currencies=usd"},
      {"ids carrying a parameter",
       "/api/v3/simple/price?ids=zz%26x_cg_demo_api_key%3Dattacker&vs_currencies=usd"},
      {"ids not UTF-8", "/api/v3/simple/price?ids=%ff%fe&vs_currencies=usd"},
      {"symbols carrying a parameter", "/api/v3/simple/price?symbols=zz%26a%3Db&vs_currencies=usd"},
      {"currency not a currency", "/api/v3/simple/price?ids=bitcoin&vs_currencies=us%2Fd"},
  };
  for (const auto& [name, target] : injected) {
    const Answer answer = sendRaw(port, get(target));
    EXPECT_EQ(answer.status, 400) << name << ": " << answer.body;
    EXPECT_TRUE(healthy(port)) << name;
  }
  EXPECT_EQ(simulatorCalls(), calls_before) << "nothing a client injected went upstream";
}

TEST_F(HostileClientsTest, AWrongUpstreamKeyIsNeverRelayedNorCached) {
  const int port = freePort();
  // No quote can be fetched, so the relay never turns ready: wait for it to answer at all.
  auto relay = startRelay(port, {}, "CG-wrong-key-of-the-operator", {}, "/healthz");
  const Answer first = sendRaw(port, get("/api/v3/simple/price?ids=zz-unknown&vs_currencies=usd"));
  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_NE(first.body.find("operator must check coinrelay's configuration"), std::string::npos)
      << first.body;
  EXPECT_EQ(first.body.find("10002"), std::string::npos) << "CoinGecko's key error stays inside";
  EXPECT_EQ(first.body.find("CG-wrong"), std::string::npos);
  EXPECT_TRUE(eventually(
      [&] {
        return relay->output().find("COINRELAY_UPSTREAM_API_KEY or upstream.api_key_file") !=
               std::string::npos;
      },
      5s))
      << "the operator's log names the setting: " << relay->output();
  EXPECT_EQ(relay->output().find("CG-wrong-key"), std::string::npos) << "but never the key";
}

TEST_F(HostileClientsTest,
       UnderAnOpenFileLimitOf1024ThousandsOfConnectionsLeaveRoomForAFreshClient) {
  // This test holds 3 100 connections itself.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 8192) {
    limit.rlim_cur = std::min<rlim_t>(8192, limit.rlim_max);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  ASSERT_GE(limit.rlim_cur, 4000u) << "the test needs 4000 descriptors of its own";
  const int port = freePort();
  auto relay =
      startRelay(port, {"--set", "serve.max_streams_per_client=5000"}, kSecret, "ulimit -n 1024");
  ASSERT_TRUE(relay->running()) << relay->output();
  EXPECT_NE(relay->output().find("the open-file limit (RLIMIT_NOFILE) is 1024"), std::string::npos)
      << "coinrelay warns that its limit is below what its caps need:\n"
      << relay->output();

  asio::io_context io;
  const tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)};
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 2000; ++i) {
    idle.emplace_back(io);
    beast::error_code ec;
    idle.back().connect(endpoint, ec);
    ASSERT_FALSE(ec) << "connection " << i << ": " << ec.message();
  }
  std::vector<tcp::socket> streams;
  const std::string stream_request = "GET /v1/stream HTTP/1.1\r\nHost: c\r\n\r\n";
  for (int i = 0; i < 1100; ++i) {
    streams.emplace_back(io);
    beast::error_code ec;
    streams.back().connect(endpoint, ec);
    ASSERT_FALSE(ec) << "stream " << i << ": " << ec.message();
    asio::write(streams.back(), asio::buffer(stream_request), ec);
  }
  // Every stream client gets an answer: its events, or a clean refusal.
  int streaming = 0;
  int refused = 0;
  for (auto& socket : streams) {
    setReceiveTimeout(socket, 5s);
    std::array<char, 16> start{};
    beast::error_code ec;
    asio::read(socket, asio::buffer(start), ec);
    const std::string line(start.data(), start.size());
    streaming += line.starts_with("HTTP/1.1 200");
    refused += line.starts_with("HTTP/1.1 503") || line.starts_with("HTTP/1.1 429");
  }
  std::cout << "under ulimit -n 1024: " << streaming << " of 1100 streams served, " << refused
            << " refused cleanly, while 2000 idle connections were open\n";
  EXPECT_GT(streaming, 500);
  EXPECT_EQ(streaming + refused, 1100) << "every stream client got an answer";

  const auto started = std::chrono::steady_clock::now();
  const Answer fresh = sendRaw(port, get("/api/v3/simple/price?ids=bitcoin&vs_currencies=usd"));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_LT(took, 1s) << "a fresh client waited "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  EXPECT_TRUE(healthy(port)) << relay->output();

  // The accept loop does not spin while the caps are reached.
  const double cpu_before = cpuSecondsOf(relay->pid());
  std::this_thread::sleep_for(2s);
  const double cpu = cpuSecondsOf(relay->pid()) - cpu_before;
  EXPECT_LT(cpu, 0.5) << "coinrelay used " << cpu << " s of CPU in 2 s with nothing to do";
  EXPECT_TRUE(relay->running());
}

TEST_F(HostileClientsTest, LongHistoryQueriesNeverSlowCachedAnswers) {
  // 500 000 rows of one coin, as years of history would hold.
  const int port = freePort();
  {
    auto store =
        storage::SqliteQuoteStore::open(dir_.path("relay-" + std::to_string(port) + ".db"));
    ASSERT_TRUE(store) << store.error().message;
    std::vector<model::Quote> batch;
    for (int i = 0; i < 500'000; ++i) {
      if (batch.size() == 50'000) {
        ASSERT_TRUE((*store)->insert(batch));
        batch.clear();
      }
      model::Quote q;
      q.id = "bitcoin";
      q.symbol = "btc";
      q.name = "Bitcoin";
      q.vs_currency = "usd";
      q.last_updated_ms = 1'600'000'000'000 + int64_t{i} * 60'000;
      q.fetched_ms = q.last_updated_ms;
      q.price = 10'000 + i % 1000;
      batch.push_back(q);
    }
    ASSERT_TRUE((*store)->insert(batch));
  }
  auto relay = startRelay(port);
  const std::string whole = "/v1/history?id=bitcoin&from=0&to=9999999999999";
  std::atomic<bool> done{false};
  std::atomic<int> history_answers{0};
  std::vector<std::thread> heavy;
  for (int t = 0; t < 16; ++t) {
    heavy.emplace_back([&] {
      net::HttpClient http;
      while (!done) {
        auto answer = http.get("http://" + address(port) + whole);
        if (answer && (answer->status == 200 || answer->status == 503))
          ++history_answers;
      }
    });
  }
  std::vector<double> ms;
  net::HttpClient ping;
  for (int i = 0; i < 100; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto answer = ping.get("http://" + address(port) + "/api/v3/ping");
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    EXPECT_TRUE(answer && answer->status == 200);
    std::this_thread::sleep_for(20ms);
  }
  done = true;
  for (auto& thread : heavy)
    thread.join();
  std::sort(ms.begin(), ms.end());
  std::cout << "/api/v3/ping under 16 clients of whole-range /v1/history: median " << ms[50]
            << " ms, p99 " << ms[98] << " ms, worst " << ms.back() << " ms; "
            << history_answers.load() << " history answers\n";
  EXPECT_GE(history_answers.load(), 2) << "history queries ran meanwhile";
  EXPECT_LT(ms[50], 50.0);
  EXPECT_LT(ms.back(), 1000.0);
}

}  // namespace
}  // namespace coinrelay::testing
