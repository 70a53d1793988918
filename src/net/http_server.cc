#include "net/http_server.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name)
      return value;
  }
  return {};
}

std::string Request::param(const std::string& name, std::string fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

namespace {

/// The gauges and counters of the HTTP servers of this process (their sum, when there are
/// several), so that /metrics shows how much of each bound is in use.
struct ServerMetrics {
  telemetry::Gauge& open = telemetry::metrics().gauge("coinrelay_http_connections",
                                                      "HTTP connections open, streams included.");
  telemetry::Gauge& max = telemetry::metrics().gauge(
      "coinrelay_http_connections_max",
      "HTTP connections allowed at once (http.max_connections, lowered to what the open-file "
      "limit allows).");
  telemetry::Counter& evicted = telemetry::metrics().counter(
      "coinrelay_http_idle_connections_closed_total",
      "Connections waiting for a request that were closed to admit a new one at the cap.");
  telemetry::Counter& refused = telemetry::metrics().counter(
      "coinrelay_http_connections_refused_total",
      "Connections answered 503 and closed unread: the cap was reached and none was idle.");
  telemetry::Counter& accept_errors = telemetry::metrics().counter(
      "coinrelay_http_accept_errors_total",
      "Failed accepts for want of file descriptors (EMFILE, ENFILE); the listener backs off.");
  telemetry::Gauge& buffered = telemetry::metrics().gauge(
      "coinrelay_http_request_buffer_bytes",
      "Bytes held by the connections' request buffers (each bounded by http.max_header_kib "
      "plus http.max_body_kib).");
  telemetry::Gauge& stream_queued = telemetry::metrics().gauge(
      "coinrelay_http_stream_queued_bytes",
      "Event bytes queued for stream clients (each bounded by http.max_stream_backlog_kib; "
      "events are shared between clients, so memory is at most this).");
};

ServerMetrics& serverMetrics() {
  static ServerMetrics metrics;
  return metrics;
}

using RequestMessage = http::request<http::string_body>;

/// The status of a read error that deserves an answer before closing, 0 for the others (a
/// client that went away or timed out gets none).
int statusOfReadError(beast::error_code ec) {
  if (ec == http::error::header_limit)
    return 431;
  if (ec == http::error::body_limit)
    return 413;
  if (ec == http::error::bad_target || ec == http::error::bad_method ||
      ec == http::error::bad_version || ec == http::error::bad_field ||
      ec == http::error::bad_value || ec == http::error::bad_line_ending ||
      ec == http::error::bad_reason || ec == http::error::bad_content_length ||
      ec == http::error::multiple_content_length || ec == http::error::bad_transfer_encoding ||
      ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension ||
      ec == http::error::bad_obs_fold) {
    return 400;
  }
  return 0;
}

/// The status refusing a request Beast parsed but coinrelay must not serve (RFC 9112), 0 when
/// it may be served. The connection is closed after the refusal, so nothing after it is read.
/// - Transfer-Encoding other than exactly "chunked": Beast frames a body as chunked only when
///   chunked is the last coding and otherwise reads the request as bodiless, which would make
///   the body's bytes the next request, one a proxy in front may not have seen (smuggling).
///   RFC 9112 6.3 asks for 400 when chunked is not the final coding; coinrelay implements no
///   other coding, and answers 400 rather than 501 to those too: the client sent something it
///   cannot send, the server did not fail. Also 400 with Content-Length, or on HTTP/1.0.
/// - HTTP/1.1 without a Host, or any request with several (RFC 9112 3.2): 400.
struct Refusal {
  int status = 0;  ///< 0: none
  const char* reason = "";
};

Refusal refusalOf(const RequestMessage& message) {
  size_t hosts = 0;
  size_t codings = 0;
  bool chunked_only = true;
  bool content_length = false;
  for (const auto& field : message) {
    if (field.name() == http::field::host) {
      ++hosts;
    } else if (field.name() == http::field::content_length) {
      content_length = true;
    } else if (field.name() == http::field::transfer_encoding) {
      ++codings;
      chunked_only = chunked_only && beast::iequals(trim(field.value()), "chunked");
    }
  }
  if (codings > 0 && (codings > 1 || !chunked_only || content_length || message.version() < 11)) {
    return {400,
            "Transfer-Encoding: coinrelay accepts one, exactly chunked, on HTTP/1.1 and without "
            "Content-Length"};
  }
  if (hosts > 1 || (message.version() >= 11 && hosts == 0))
    return {400, "an HTTP/1.1 request needs exactly one Host header"};
  return {};
}

/// The request as handlers see it; `target` points into `message`.
void fillRequest(const RequestMessage& message, Request& request) {
  request.method = std::string(message.method_string());
  std::string_view target = message.target();
  request.target = target;
  const size_t question = target.find('?');
  request.path = percentDecode(target.substr(0, question));
  if (question != std::string_view::npos)
    request.query = parseQuery(target.substr(question + 1));
  for (const auto& field : message)
    request.headers.emplace_back(toLower(field.name_string()), std::string(field.value()));
  request.body = message.body();
}

/// Why a read error is refused (statusOfReadError()).
std::string readErrorReason(int status, const ServerLimits& limits) {
  switch (status) {
    case 431:
      return fmt::format("request line and headers exceed {} KiB (http.max_header_kib)",
                         limits.max_header_bytes >> 10);
    case 413:
      return fmt::format("request body exceeds {} KiB (http.max_body_kib)",
                         limits.max_body_bytes >> 10);
    default:
      return "malformed request";
  }
}

void configureParser(http::request_parser<http::string_body>& parser, const ServerLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
}

class Session;

/// The connections of one server: how many are open, and which wait for their next request,
/// longest waiting first (the ones closed first when the cap is reached).
struct Connections {
  std::mutex mutex;
  size_t open = 0;
  size_t max = 0;
  std::list<std::weak_ptr<Session>> waiting;
};

/// One keep-alive connection: read a request, answer it, repeat. After an event-stream answer
/// the connection only writes: queued events, and a comment line every 15 s that detects a
/// client that went away.
///
/// Timeouts use one lazily re-armed watchdog per connection instead of beast::tcp_stream's
/// expiry: tcp_stream arms and cancels a timer around every read and write, which cost a third
/// of the throughput on small answers in bench/serve. Here a request only moves `deadline_`;
/// the watchdog wakes once per timeout period and closes the connection if it has passed (it is
/// re-armed only when a deadline comes earlier than its wake-up).
class Session : public EventSink, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Handler& handler, const ServerLimits& limits,
          std::shared_ptr<Connections> connections)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        watchdog_(socket_.get_executor()),
        buffer_(limits.max_header_bytes + limits.max_body_bytes + 4096),
        handler_(handler),
        limits_(limits),
        connections_(std::move(connections)) {
    beast::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    if (!ec)
      remote_address_ = remote.address().to_string();
    serverMetrics().open.add(1);
  }

  ~Session() override {
    stopWaiting();
    {
      std::lock_guard lock(connections_->mutex);
      --connections_->open;
    }
    auto& metrics = serverMetrics();
    metrics.open.add(-1);
    metrics.buffered.add(-static_cast<double>(buffered_));
    metrics.stream_queued.add(-static_cast<double>(queued_bytes_));
  }

  void start() {
    deadline_ = Clock::now() + limits_.idle_timeout;
    armWatchdog();
    read();
  }

  /// Closes the connection if it still waits for a request (called on its strand after the
  /// acceptor chose it to make room).
  void evict() {
    if (reading_)
      close();
  }

  /// Leaves the waiting list; connections_->mutex held (the acceptor chose this one).
  void unlist() {
    connections_->waiting.erase(waiting_at_);
    listed_ = false;
  }

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  // EventSink
  bool push(std::shared_ptr<const std::string> bytes) override {
    std::lock_guard lock(queue_mutex_);
    if (stream_closed_)
      return false;
    if (queued_bytes_ + bytes->size() > limits_.max_stream_backlog_bytes) {
      stream_closed_ = true;  // too slow: cut it rather than buffer without bound
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
      return false;
    }
    queued_bytes_ += bytes->size();
    serverMetrics().stream_queued.add(static_cast<double>(bytes->size()));
    queue_.push_back(std::move(bytes));
    if (!writing_) {
      writing_ = true;
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->writeQueued(); });
    }
    return true;
  }

  bool open() const override {
    std::lock_guard lock(queue_mutex_);
    return !stream_closed_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  /// Moves the deadline. A later one (each request moves it forward) leaves the watchdog as it
  /// is, to wake and look at it later; an earlier one (a write timeout shorter than the idle
  /// timeout) re-arms it, so that the shorter limit holds.
  void setDeadline(Clock::time_point deadline) {
    deadline_ = deadline;
    if (deadline < watchdog_.expiry())
      armWatchdog();
  }

  void armWatchdog() {
    watchdog_.expires_at(deadline_);
    watchdog_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = std::static_pointer_cast<Session>(weak.lock());
      if (ec || !self || self->closed_)
        return;
      if (Clock::now() >= self->deadline_)
        return self->close();  // idle, too slow to send its request, or not reading our answer
      self->armWatchdog();
    });
  }

  /// Joins the connections waiting for a request, at the back: the longest waiting go first.
  void startWaiting() {
    std::lock_guard lock(connections_->mutex);
    if (!listed_) {
      waiting_at_ = connections_->waiting.insert(connections_->waiting.end(), weak_from_this());
      listed_ = true;
    }
  }

  void stopWaiting() {
    std::lock_guard lock(connections_->mutex);
    if (listed_) {
      connections_->waiting.erase(waiting_at_);
      listed_ = false;
    }
  }

  void read() {
    parser_.emplace();
    configureParser(*parser_, limits_);
    // Waiting for the next request and receiving it share one deadline, as in nginx
    // (keepalive_timeout, client_header_timeout): a client trickling bytes is cut at the end.
    setDeadline(Clock::now() + limits_.idle_timeout);
    reading_ = true;
    startWaiting();
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->reading_ = false;
                       self->stopWaiting();
                       self->countBuffer();
                       if (ec)
                         return self->failRead(ec);
                       self->handle();
                     });
  }

  void countBuffer() {
    const size_t now = buffer_.capacity();
    serverMetrics().buffered.add(static_cast<double>(now) - static_cast<double>(buffered_));
    buffered_ = now;
  }

  /// Answers what can be answered (an oversized or malformed request gets a 4xx), then closes.
  void failRead(beast::error_code ec) {
    const int status = statusOfReadError(ec);
    if (status == 0)
      return close();
    refuse(status, readErrorReason(status, limits_));
  }

  /// Answers `status` with a short JSON reason and closes the connection.
  void refuse(int status, std::string_view reason) {
    owned_body_.clear();
    JsonWriter(owned_body_).beginObject().field("error", reason).endObject();
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(status));
    response_.set(http::field::server, "coinrelay");
    response_.set(http::field::content_type, "application/json");
    response_.body() =
        http::span_body<const char>::value_type(owned_body_.data(), owned_body_.size());
    response_.keep_alive(false);
    response_.prepare_payload();
    keep_alive_ = false;
    write();
  }

  void handle() {
    const auto& message = parser_->get();
    if (const Refusal refusal = refusalOf(message); refusal.status != 0)
      return refuse(refusal.status, refusal.reason);
    Request request;
    fillRequest(message, request);
    request.remote_address = remote_address_;
    Reply reply;
    try {
      reply = handler_(request);
    } catch (const std::exception& e) {
      telemetry::logger("http")->error("handler failed on {}: {}", request.path, e.what());
      reply = Reply{500, "application/json", R"({"error":"internal error"})"};
    }
    keep_alive_ = message.keep_alive();
    if (reply.stream)
      return startStream(std::move(reply), message.method() == http::verb::head);
    if (reply.deferred) {
      // The answer needs work elsewhere (an upstream call): this thread serves other
      // connections meanwhile, and the answer comes back to this connection's strand.
      auto deferred = std::move(reply.deferred);
      deferred([self = shared_from_this()](Reply late) {
        asio::post(self->socket_.get_executor(),
                   [self, late = std::move(late)]() mutable { self->answer(std::move(late)); });
      });
      return;
    }
    answer(std::move(reply));
  }

  void answer(Reply reply) {
    if (closed_)
      return;  // timed out or gone while the answer was being prepared
    const auto& message = parser_->get();
    shared_body_ = std::move(reply.shared_body);
    owned_body_ = std::move(reply.body);
    const std::string& bytes = shared_body_ ? *shared_body_ : owned_body_;
    // Answers rendered once (the response cache) carry their status line and headers already
    // serialised: the common case, a keep-alive HTTP/1.1 GET, sends those bytes and the body
    // as they are, without building a message for Beast's serializer.
    if (reply.head && keep_alive_ && message.version() == 11 &&
        message.method() == http::verb::get && reply.delay.count() == 0) {
      head_ = std::move(reply.head);
      return writeRaw();
    }
    response_ = {};
    response_.version(message.version());
    response_.result(static_cast<unsigned>(reply.status));
    response_.set(http::field::server, "coinrelay");
    if (reply.status != 304)
      response_.set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers)
      response_.set(name, value);
    response_.body() = http::span_body<const char>::value_type(bytes.data(), bytes.size());
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    const bool head = message.method() == http::verb::head;
    if (head)
      response_.body() = {};
    if (reply.delay.count() > 0) {
      timer_.expires_after(reply.delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code) { self->write(); });
    } else {
      write();
    }
  }

  void write() {
    setDeadline(Clock::now() + limits_.write_timeout);
    http::async_write(socket_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_)
                          return self->close();
                        self->read();
                      });
  }

  void writeRaw() {
    setDeadline(Clock::now() + limits_.write_timeout);
    const std::string& body = shared_body_ ? *shared_body_ : owned_body_;
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(*head_), asio::buffer(body)};
    asio::async_write(socket_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->close();
      self->read();
    });
  }

  /// An event stream: the head, then the events. A HEAD request gets the head alone, and the
  /// connection closes (the stream is never subscribed).
  void startStream(Reply reply, bool head_only) {
    std::string head = fmt::format(
        "HTTP/1.1 200 OK\r\nServer: coinrelay\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n");
    for (const auto& [name, value] : reply.headers)
      head += name + ": " + value + "\r\n";
    head += "\r\n";
    if (head_only) {
      owned_body_ = std::move(head);
      setDeadline(Clock::now() + limits_.write_timeout);
      asio::async_write(socket_, asio::buffer(owned_body_),
                        [self = shared_from_this()](beast::error_code, size_t) { self->close(); });
      return;
    }
    setDeadline(Clock::time_point::max());  // slow readers are cut by the backlog limit instead
    push(std::make_shared<const std::string>(std::move(head)));
    reply.stream(shared_from_this());
    heartbeat();
  }

  void heartbeat() {
    timer_.expires_after(std::chrono::seconds(15));
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = std::static_pointer_cast<Session>(weak.lock());
      if (ec || !self)
        return;
      if (self->push(std::make_shared<const std::string>(": keep-alive\n\n")))
        self->heartbeat();
    });
  }

  void writeQueued() {
    std::shared_ptr<const std::string> next;
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty() || stream_closed_) {
        writing_ = false;
        return;
      }
      next = queue_.front();
    }
    asio::async_write(socket_, asio::buffer(*next),
                      [self = shared_from_this(), next](beast::error_code ec, size_t) {
                        {
                          std::lock_guard lock(self->queue_mutex_);
                          self->queue_.pop_front();
                          self->queued_bytes_ -= next->size();
                          serverMetrics().stream_queued.add(-static_cast<double>(next->size()));
                          if (ec) {
                            self->stream_closed_ = true;
                            self->writing_ = false;
                          }
                        }
                        if (ec)
                          return self->close();
                        self->writeQueued();
                      });
  }

  void close() {
    {
      std::lock_guard lock(queue_mutex_);
      stream_closed_ = true;
    }
    stopWaiting();
    closed_ = true;
    beast::error_code ignored;
    timer_.cancel();
    watchdog_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;     ///< delayed answers and stream heartbeats
  asio::steady_timer watchdog_;  ///< closes the connection once deadline_ has passed
  Clock::time_point deadline_;
  bool closed_ = false;
  bool reading_ = false;  ///< waiting for (the rest of) a request: may be evicted
  /// Bounded to a whole request at the limits: a client cannot make it grow further.
  beast::flat_buffer buffer_;
  size_t buffered_ = 0;  ///< buffer_'s capacity as last counted in the metrics
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::span_body<const char>> response_;
  std::string owned_body_;
  std::shared_ptr<const std::string> shared_body_;
  std::shared_ptr<const std::string> head_;
  bool keep_alive_ = true;
  std::string remote_address_;
  const Handler& handler_;
  const ServerLimits& limits_;
  std::shared_ptr<Connections> connections_;
  // Under connections_->mutex: this session's place among the waiting ones.
  bool listed_ = false;
  std::list<std::weak_ptr<Session>>::iterator waiting_at_;

  mutable std::mutex queue_mutex_;  // push() comes from other threads than the connection's strand
  std::deque<std::shared_ptr<const std::string>> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool stream_closed_ = false;
};

}  // namespace

std::string serialisedHead(int status, std::string_view content_type,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           size_t content_length) {
  std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nServer: coinrelay\r\nContent-Type: {}\r\n", status,
      std::string_view(
          http::obsolete_reason(static_cast<http::status>(static_cast<unsigned>(status)))),
      content_type);
  for (const auto& [name, value] : headers)
    head.append(name).append(": ").append(value).append("\r\n");
  head.append(fmt::format("Content-Length: {}\r\n\r\n", content_length));
  return head;
}

std::map<std::string, std::string> parseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos)
      end = query.size();
    std::string_view pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[percentDecode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

int parseRequests(std::string_view bytes, const ServerLimits& limits,
                  const std::function<void(const Request&)>& each) {
  size_t offset = 0;
  while (offset < bytes.size()) {
    http::request_parser<http::string_body> parser;
    configureParser(parser, limits);
    parser.eager(true);
    beast::error_code ec;
    while (!parser.is_done()) {
      if (offset >= bytes.size())
        return 0;  // incomplete: a connection would wait for the rest, then time out
      const size_t used =
          parser.put(asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
      offset += used;
      // Every byte is already given: need_more means incomplete. Putting the same bytes again
      // is what a connection never does (it waits for more), and trips Beast's assertions.
      if (ec == http::error::need_more)
        return 0;  // incomplete: a connection would wait for the rest, then time out
      if (ec)
        return statusOfReadError(ec);
      if (!parser.is_done() && used == 0)
        return 0;
    }
    const auto& message = parser.get();
    if (const Refusal refusal = refusalOf(message); refusal.status != 0)
      return refusal.status;
    Request request;
    fillRequest(message, request);
    each(request);
    if (!message.keep_alive())
      return 0;  // the connection closes after this answer; what follows is never read
  }
  return 0;
}

size_t raiseFileLimit(size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return wanted;  // unknown: nothing to lower the cap for
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur =
        limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    if (raised.rlim_cur > limit.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
      limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? wanted : static_cast<size_t>(limit.rlim_cur);
}

namespace {

/// The connection cap the open-file limit allows for `wanted` connections, after raising the
/// soft limit as far as the hard one; warns once when it must be lower.
size_t connectionCapFor(size_t wanted) {
  const size_t needed = wanted + kReservedFileDescriptors;
  const size_t limit = raiseFileLimit(needed);
  if (limit >= needed)
    return wanted;
  const size_t cap = limit > 2 * kReservedFileDescriptors ? limit - kReservedFileDescriptors
                                                          : std::max<size_t>(limit / 2, 1);
  telemetry::logger("http")->warn(
      "the open-file limit (RLIMIT_NOFILE) is {}, below the {} that http.max_connections = {} "
      "needs with {} for files and upstream connections: serving at most {} connections at "
      "once; raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n) or "
      "lower http.max_connections",
      limit, needed, wanted, kReservedFileDescriptors, cap);
  return cap;
}

/// The answer to a connection over the cap, written before anything is read from it.
constexpr std::string_view kBusyAnswer =
    "HTTP/1.1 503 Service Unavailable\r\nServer: coinrelay\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\nContent-Length: 70\r\n\r\n"
    R"({"error":"coinrelay has too many connections open; retry in a moment"})";
static_assert(kBusyAnswer.size() - kBusyAnswer.find("\r\n\r\n") - 4 == 70);

bool outOfDescriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == beast::error_code(ENFILE, boost::system::system_category()) ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

struct HttpServer::Impl {
  asio::io_context io;
  /// On a strand: its accept handler and stop()'s close never run at once on two threads.
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::steady_timer backoff_timer{acceptor.get_executor()};  // on the acceptor's strand too
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point last_accept_warning{};
  Handler handler;
  ServerLimits limits;
  std::shared_ptr<Connections> connections = std::make_shared<Connections>();
  std::vector<std::thread> threads;
  bool stopped = false;
  uint16_t port = 0;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open())
        return;
      if (ec && outOfDescriptors(ec))
        return backOff(ec);
      backoff = std::chrono::milliseconds(0);
      if (!ec)
        admit(std::move(socket));
      accept();
    });
  }

  /// Out of file descriptors: accepting again at once would fail again and spin. Close the
  /// longest waiting connection to free one, and retry after a growing pause (10 ms to 1 s).
  void backOff(const beast::error_code& ec) {
    serverMetrics().accept_errors.inc();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_accept_warning > std::chrono::seconds(10)) {
      last_accept_warning = now;
      telemetry::logger("http")->warn(
          "cannot accept connections: {}; pausing accepts (raise the open-file limit or lower "
          "http.max_connections)",
          ec.message());
    }
    if (auto victim = longestWaiting())
      asio::post(victim->executor(), [victim] { victim->evict(); });
    backoff =
        std::clamp(backoff * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    backoff_timer.expires_after(backoff);
    backoff_timer.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor.is_open())
        accept();
    });
  }

  /// Takes the connection waiting longest for a request out of the waiting list.
  std::shared_ptr<Session> longestWaiting() {
    std::lock_guard lock(connections->mutex);
    for (auto it = connections->waiting.begin(); it != connections->waiting.end(); ++it) {
      if (auto session = it->lock()) {  // an expired one is being destroyed and leaves itself
        session->unlist();
        return session;
      }
    }
    return nullptr;
  }

  void admit(tcp::socket socket) {
    bool full = false;
    {
      std::lock_guard lock(connections->mutex);
      full = connections->open >= connections->max;
      if (!full)
        ++connections->open;  // released by the session's destructor
    }
    if (full) {
      if (auto victim = longestWaiting()) {
        serverMetrics().evicted.inc();
        asio::post(victim->executor(), [victim] { victim->evict(); });
        std::lock_guard lock(connections->mutex);
        ++connections->open;  // over the cap until the victim is gone, a moment later
      } else {
        return refuse(std::move(socket));
      }
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(std::move(socket), handler, limits, connections)->start();
  }

  /// A clean refusal at the cap: a 503 the client can read, then the connection is closed.
  static void refuse(tcp::socket socket) {
    serverMetrics().refused.inc();
    auto held = std::make_shared<tcp::socket>(std::move(socket));
    asio::async_write(*held, asio::buffer(kBusyAnswer.data(), kBusyAnswer.size()),
                      [held](beast::error_code, size_t) {
                        beast::error_code ignored;
                        held->shutdown(tcp::socket::shutdown_both, ignored);
                        held->close(ignored);
                      });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, Handler handler,
                                                      int threads, ServerLimits limits) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("listen address '{}' is not host:port", listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->limits = limits;
  impl->limits.max_connections = connectionCapFor(std::max<size_t>(limits.max_connections, 1));
  impl->connections->max = impl->limits.max_connections;
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec || endpoints.empty()) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("cannot resolve listen address '{}': {}", listen, ec.message()));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    impl->acceptor.bind(endpoint, ec);
  if (!ec)
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("cannot listen on {}: {}; pick a free address with "
                                 "http.listen / --listen",
                                 listen, ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  serverMetrics().max.add(static_cast<double>(impl->limits.max_connections));
  impl->accept();
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

size_t HttpServer::maxConnections() const {
  return impl_->limits.max_connections;
}

void HttpServer::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  serverMetrics().max.add(-static_cast<double>(impl_->limits.max_connections));
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (auto& thread : impl_->threads)
    thread.join();
}

HttpServer::~HttpServer() {
  stop();
}

}  // namespace coinrelay::net
