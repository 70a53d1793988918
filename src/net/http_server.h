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

namespace coinrelay::net {

struct Request {
  std::string method;
  std::string path;         ///< without the query string
  std::string_view target;  ///< as received (path and query), valid during the handler call
  std::map<std::string, std::string> query;                  ///< percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  std::string body;            ///< at most ServerLimits::max_body_bytes
  std::string remote_address;  ///< the client's IP address (no port); empty when unknown

  std::string_view header(std::string_view lower_name) const;
  /// The query parameter, or `fallback` when absent.
  std::string param(const std::string& name, std::string fallback = {}) const;
};

/// The client end of a server-sent event stream (text/event-stream), owned by the connection.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// Queues bytes for the client without waiting. Returns false once the client is gone or has
  /// fallen too far behind (it is then disconnected): the caller drops this sink, so a slow
  /// client never slows the others.
  virtual bool push(std::shared_ptr<const std::string> bytes) = 0;
  /// False once the client is gone or was cut (push() would fail).
  virtual bool open() const { return true; }
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Bytes shared with a cache, sent instead of `body` without a copy.
  std::shared_ptr<const std::string> shared_body;
  /// Optional: this answer's status line and headers already serialised for a keep-alive
  /// HTTP/1.1 GET ("HTTP/1.1 200 OK\r\n...\r\n\r\n", Content-Length included). The server
  /// sends them as they are when the request allows it, and otherwise builds the head from
  /// status, content_type and headers, which must say the same.
  std::shared_ptr<const std::string> head;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Wait before answering (latency injection); no thread is held meanwhile.
  std::chrono::milliseconds delay{0};
  /// When set, the answer is an event stream: the server sends the headers, then hands the
  /// connection to this callback as an EventSink.
  std::function<void(std::shared_ptr<EventSink>)> stream;
  /// When set, the answer comes later: the server calls this at once with a function that
  /// takes the final reply, to be called exactly once, from any thread. The server's threads
  /// are not held meanwhile (the connection's timeouts still apply).
  std::function<void(std::function<void(Reply)>)> deferred;
};

using Handler = std::function<Reply(const Request&)>;

/// The status line and headers of a keep-alive HTTP/1.1 answer, ending with the blank line:
/// Server, Content-Type, `headers` in order, then Content-Length. See Reply::head.
std::string serialisedHead(int status, std::string_view content_type,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           size_t content_length);

/// Splits "a=1&b=x%2Cy" into decoded pairs.
std::map<std::string, std::string> parseQuery(std::string_view query);

/// Limits that keep one client from hurting the others.
struct ServerLimits {
  size_t max_header_bytes = 16 * 1024;  ///< request line + headers
  size_t max_body_bytes = 64 * 1024;
  /// To receive the next whole request on a connection (idle keep-alive time included).
  std::chrono::milliseconds idle_timeout{60'000};
  /// For a client to take a whole answer (one that stops reading is cut after it).
  std::chrono::milliseconds write_timeout{60'000};
  size_t max_stream_backlog_bytes =
      1024 * 1024;  ///< queued event bytes before a slow stream is cut
  /// Connections open at once, event streams included. At the cap a new connection closes the
  /// one that has waited longest for its next request (as nginx reuses idle keep-alive
  /// connections); when none is waiting, the newcomer gets a 503 and is closed unread.
  /// start() lowers it to what the process's open-file limit allows.
  size_t max_connections = 4096;
};

/// File descriptors a process keeps besides its HTTP connections: its files, SQLite, Kafka and
/// upstream sockets, logs.
inline constexpr size_t kReservedFileDescriptors = 128;

/// Raises the process's soft open-file limit (RLIMIT_NOFILE) towards `wanted`, never above the
/// hard limit, as servers do at start. Returns the soft limit now in force.
size_t raiseFileLimit(size_t wanted);

/// Runs the server's reading of raw request bytes without a socket: Beast's parser under
/// `limits`, the checks every request passes (framing, Host), then `each` for every request in
/// the bytes (pipelined ones included) as the handler would get it. Returns the status of the
/// refusal that would close the connection (400, 413, 431), 0 when there is none.
/// For fuzzing and tests; a connection does the same on its socket.
int parseRequests(std::string_view bytes, const ServerLimits& limits,
                  const std::function<void(const Request&)>& each);

/// An HTTP/1.1 server (Boost.Beast) with keep-alive, answering every request through one
/// handler. Handlers run on the server's threads and must not block for long.
/// Lifecycle: start() binds and runs; stop() (or the destructor) closes the listener and joins.
class HttpServer {
 public:
  /// `listen` is "host:port"; port 0 picks a free port (see port()).
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, Handler handler,
                                                   int threads = 2, ServerLimits limits = {});
  ~HttpServer();
  uint16_t port() const;
  /// The connections allowed at once: limits.max_connections, or fewer when the open-file
  /// limit is lower (start() then logs a warning with the fix).
  size_t maxConnections() const;
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coinrelay::net
