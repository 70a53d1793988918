#include "net/http_server.h"

#include <array>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "telemetry/logging.h"

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

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
               hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

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
  Session(tcp::socket socket, const Handler& handler, const ServerLimits& limits)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        watchdog_(socket_.get_executor()),
        handler_(handler),
        limits_(limits) {}

  void start() {
    beast::error_code peer_error;  // once per connection: who asks, for fair shares
    const auto peer = socket_.remote_endpoint(peer_error);
    if (!peer_error)
      remote_address_ = peer.address().to_string();
    deadline_ = Clock::now() + limits_.idle_timeout;
    armWatchdog();
    read();
  }

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
    queue_.push_back(std::move(bytes));
    if (!writing_) {
      writing_ = true;
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->writeQueued(); });
    }
    return true;
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

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    // Waiting for the next request and receiving it share one deadline, as in nginx
    // (keepalive_timeout, client_header_timeout): a client trickling bytes is cut at the end.
    setDeadline(Clock::now() + limits_.idle_timeout);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec)
                         return self->failRead(ec);
                       self->handle();
                     });
  }

  /// Answers what can be answered (an oversized request gets a 4xx), then closes.
  void failRead(beast::error_code ec) {
    int status = 0;
    if (ec == http::error::header_limit)
      status = 431;
    if (ec == http::error::body_limit)
      status = 413;
    if (ec == http::error::bad_target || ec == http::error::bad_method ||
        ec == http::error::bad_version || ec == http::error::bad_field ||
        ec == http::error::bad_value || ec == http::error::bad_line_ending) {
      status = 400;
    }
    if (status == 0)
      return close();
    owned_body_ = fmt::format(R"({{"error":"{}"}})", status == 431   ? "request headers too large"
                                                     : status == 413 ? "request body too large"
                                                                     : "malformed request");
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(status));
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
    Request request;
    request.method = std::string(message.method_string());
    std::string_view target = message.target();
    request.target = target;
    const size_t question = target.find('?');
    request.path = percentDecode(target.substr(0, question));
    if (question != std::string_view::npos)
      request.query = parseQuery(target.substr(question + 1));
    for (const auto& field : message) {
      request.headers.emplace_back(toLower(field.name_string()), std::string(field.value()));
    }
    request.body = message.body();
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
      return startStream(std::move(reply));
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

  void startStream(Reply reply) {
    std::string head = fmt::format(
        "HTTP/1.1 200 OK\r\nServer: coinrelay\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n");
    for (const auto& [name, value] : reply.headers)
      head += name + ": " + value + "\r\n";
    head += "\r\n";
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
    closed_ = true;
    beast::error_code ignored;
    timer_.cancel();
    watchdog_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::string remote_address_;
  asio::steady_timer timer_;     ///< delayed answers and stream heartbeats
  asio::steady_timer watchdog_;  ///< closes the connection once deadline_ has passed
  Clock::time_point deadline_;
  bool closed_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::span_body<const char>> response_;
  std::string owned_body_;
  std::shared_ptr<const std::string> shared_body_;
  std::shared_ptr<const std::string> head_;
  bool keep_alive_ = true;
  const Handler& handler_;
  const ServerLimits& limits_;

  std::mutex queue_mutex_;  // push() comes from other threads than the connection's strand
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

struct HttpServer::Impl {
  asio::io_context io;
  /// On a strand: its accept handler and stop()'s close never run at once on two threads.
  tcp::acceptor acceptor{asio::make_strand(io)};
  Handler handler;
  ServerLimits limits;
  std::vector<std::thread> threads;
  bool stopped = false;
  uint16_t port = 0;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open())
        return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), handler, limits)->start();
      }
      accept();
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
  impl->accept();
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

void HttpServer::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
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
