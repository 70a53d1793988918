#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_server.h"

namespace coinrelay::testing {

/// One request as the fake received it.
struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;                  ///< decoded
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  std::string body;

  /// "METHOD /path", the key of FakeHttpServer::answer.
  std::string route() const { return method + " " + path; }
  /// "METHOD /path?a=1&b=2", parameters in name order.
  std::string line() const;
  std::string_view header(std::string_view lower_name) const;
};

/// An in-process HTTP server on a loopback port picked by the kernel, standing in for a service
/// a unit test cannot run (a search engine, Kibana, a fetch role). It logs every request for
/// assertions and answers through the test's handler (404 without one); answer() scripts the
/// reply to one route. The handler sees every request, scripted or not, so checks it makes on
/// requests still run.
/// Threading: every method from any thread; the handler runs on the server's threads.
class FakeHttpServer {
 public:
  using Handler = std::function<net::Reply(const net::Request&)>;

  explicit FakeHttpServer(Handler handler = {}, int threads = 2, net::ServerLimits limits = {});
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const;
  /// "http://127.0.0.1:<port>"
  std::string url() const;

  /// From now on, requests to `route` ("METHOD /path", any query) get `reply` instead of the
  /// handler's answer.
  void answer(const std::string& route, net::Reply reply);

  /// Every request so far, in arrival order.
  std::vector<ReceivedRequest> requests() const;
  /// route() of every request so far.
  std::vector<std::string> routes() const;
  /// line() of every request so far.
  std::vector<std::string> log() const;
  /// The body of every request so far.
  std::vector<std::string> bodies() const;

 private:
  net::Reply handle(const net::Request& request);

  Handler handler_;
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> received_;
  std::map<std::string, net::Reply> scripted_;
  std::unique_ptr<net::HttpServer> server_;  // last: stopped before the state it uses goes
};

}  // namespace coinrelay::testing
