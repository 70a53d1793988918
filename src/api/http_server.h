#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace coinrelay::api {

struct Request {
  std::string method;
  std::string path;                                          ///< without the query string
  std::map<std::string, std::string> query;                  ///< percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased

  std::string_view header(std::string_view lower_name) const;
  /// The query parameter, or `fallback` when absent.
  std::string param(const std::string& name, std::string fallback = {}) const;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{
      0};  ///< wait before answering (latency injection), no thread held
};

using Handler = std::function<Reply(const Request&)>;

/// Splits "a=1&b=x%2Cy" into decoded pairs.
std::map<std::string, std::string> parseQuery(std::string_view query);

/// An HTTP/1.1 server (Boost.Beast) with keep-alive, answering every request through one
/// handler. Handlers run on the server's threads and must not block for long.
/// Lifecycle: start() binds and runs; stop() (or the destructor) closes the listener and joins.
class HttpServer {
 public:
  /// `listen` is "host:port"; port 0 picks a free port (see port()).
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, Handler handler,
                                                   int threads = 2);
  ~HttpServer();
  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coinrelay::api
