#include "support/fake_http_server.h"

#include <gtest/gtest.h>

namespace coinrelay::testing {

std::string ReceivedRequest::line() const {
  std::string out = route();
  for (const auto& [name, value] : query)
    out += (out.size() == route().size() ? "?" : "&") + name + "=" + value;
  return out;
}

std::string_view ReceivedRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name)
      return value;
  }
  return {};
}

FakeHttpServer::FakeHttpServer(Handler handler, int threads, net::ServerLimits limits)
    : handler_(std::move(handler)) {
  auto started = net::HttpServer::start(
      "127.0.0.1:0", [this](const net::Request& request) { return handle(request); }, threads,
      limits);
  if (!started) {
    ADD_FAILURE() << "the fake HTTP server did not start: " << started.error().message;
    return;
  }
  server_ = std::move(started).value();
}

FakeHttpServer::~FakeHttpServer() {
  if (server_)
    server_->stop();
}

uint16_t FakeHttpServer::port() const {
  return server_ ? server_->port() : 0;
}

std::string FakeHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

void FakeHttpServer::answer(const std::string& route, net::Reply reply) {
  std::lock_guard lock(mutex_);
  scripted_[route] = std::move(reply);
}

net::Reply FakeHttpServer::handle(const net::Request& request) {
  ReceivedRequest received{request.method, request.path, request.query, request.headers,
                           request.body};
  const std::string route = received.route();
  {
    std::lock_guard lock(mutex_);
    received_.push_back(std::move(received));
  }
  net::Reply reply = handler_ ? handler_(request)
                              : net::Reply{404, "application/json", R"({"error":"not found"})"};
  std::lock_guard lock(mutex_);
  if (auto it = scripted_.find(route); it != scripted_.end())
    return it->second;
  return reply;
}

std::vector<ReceivedRequest> FakeHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::vector<std::string> FakeHttpServer::routes() const {
  std::vector<std::string> out;
  for (const auto& request : requests())
    out.push_back(request.route());
  return out;
}

std::vector<std::string> FakeHttpServer::log() const {
  std::vector<std::string> out;
  for (const auto& request : requests())
    out.push_back(request.line());
  return out;
}

std::vector<std::string> FakeHttpServer::bodies() const {
  std::vector<std::string> out;
  for (const auto& request : requests())
    out.push_back(request.body);
  return out;
}

}  // namespace coinrelay::testing
