#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "elasticsearch/lifecycle.h"
#include "net/http_server.h"
#include "support/fake_http_server.h"

namespace coinrelay::testing {

/// An in-process engine over the shared fake server: answers GET / like the chosen engine, and
/// lets a test script the answers to _bulk; the server logs every request.
class FakeEngine {
 public:
  using BulkScript = std::function<net::Reply(const std::vector<std::string>& ids)>;

  explicit FakeEngine(elasticsearch::Engine engine)
      : engine_(engine),
        server_([this](const net::Request& request) { return handle(request); }, 2,
                net::ServerLimits{.max_body_bytes = 16 << 20}) {}

  std::string url() const { return server_.url(); }
  void onBulk(BulkScript script) {
    std::lock_guard lock(mutex_);
    bulk_ = std::move(script);
  }
  /// Answers to other paths: "METHOD /path" -> reply.
  void answer(const std::string& route, net::Reply reply) { server_.answer(route, reply); }
  std::vector<std::string> log() const { return server_.log(); }
  std::vector<std::string> bodies() const { return server_.bodies(); }
  std::vector<ReceivedRequest> requests() const { return server_.requests(); }
  bool rootRoute = true;  ///< false: GET / answers 405 like the integ-test Elasticsearch

 private:
  net::Reply handle(const net::Request& request) {
    const std::string route = request.method + " " + request.path;
    BulkScript bulk;
    {
      std::lock_guard lock(mutex_);
      bulk = bulk_;
    }
    const bool es = engine_ == elasticsearch::Engine::Elasticsearch;
    if (route == "GET /") {
      if (!rootRoute) {
        net::Reply reply{405, "application/json", R"({"error":"Incorrect HTTP method"})"};
        reply.headers.emplace_back("X-elastic-product", "Elasticsearch");
        return reply;
      }
      return {
          200, "application/json",
          es ? R"({"name":"n","version":{"number":"8.19.2","build_flavor":"default"},"tagline":"You Know, for Search"})"
             : R"({"name":"n","version":{"distribution":"opensearch","number":"2.19.6"}})"};
    }
    if (route == "GET /_nodes/_local") {
      return {200, "application/json", R"({"nodes":{"abc":{"version":"8.19.21"}}})"};
    }
    if (route == "POST /_bulk" && bulk) {
      // Every other line is an action naming the _id.
      std::vector<std::string> ids;
      size_t start = 0;
      bool action = true;
      while (start < request.body.size()) {
        const size_t end = request.body.find('\n', start);
        const std::string line = request.body.substr(start, end - start);
        if (action) {
          const size_t at = line.find("\"_id\":\"") + 7;
          ids.push_back(line.substr(at, line.find('"', at) - at));
        }
        action = !action;
        start = end + 1;
      }
      return bulk(ids);
    }
    return {404, "application/json", R"({"error":{"type":"resource_not_found_exception"}})"};
  }

  elasticsearch::Engine engine_;
  mutable std::mutex mutex_;
  BulkScript bulk_;
  FakeHttpServer server_;  // last: stopped before the state its handler uses
};

/// A _bulk answer: `status_of(id)` gives each item's status (and an error type when not 2xx).
inline net::Reply bulkAnswer(
    const std::vector<std::string>& ids,
    const std::function<std::pair<int, std::string>(const std::string&)>& of) {
  std::string body = R"({"took":1,"errors":false,"items":[)";
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto [status, type] = of(ids[i]);
    body += (i ? "," : "") + fmt::format(R"({{"index":{{"_id":"{}","status":{})", ids[i], status);
    if (!type.empty())
      body += fmt::format(R"(,"error":{{"type":"{}","reason":"scripted"}})", type);
    body += "}}";
  }
  return {200, "application/json", body + "]}"};
}

}  // namespace coinrelay::testing
