// The ceiling of this machine for the serving benchmark: a minimal Boost.Beast HTTP/1.1 server
// that answers every request with the bytes of one file, chosen by the request target's path
// (`/path` -> `<dir>/<path with / replaced by _>`). No routing, no parsing of parameters, no
// logging: anything coinrelay does on top shows as the distance to this program.
//
// usage: beast_ceiling <port> <threads> <dir>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::map<std::string, std::string> g_files;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec)
                         return;
                       self->answer();
                     });
  }
  void answer() {
    std::string path(request_.target().substr(0, request_.target().find('?')));
    for (char& c : path)
      c = c == '/' ? '_' : c;
    auto it = g_files.find(path);
    response_ = {};
    response_.version(request_.version());
    response_.result(it == g_files.end() ? http::status::not_found : http::status::ok);
    response_.set(http::field::content_type, "application/json");
    const std::string& body = it == g_files.end() ? empty_ : it->second;
    response_.body() = http::span_body<const char>::value_type(body.data(), body.size());
    response_.keep_alive(request_.keep_alive());
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive())
                          return;
                        self->read();
                      });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::span_body<const char>> response_;
  std::string empty_;
};

void accept(tcp::acceptor& acceptor, asio::io_context& io) {
  acceptor.async_accept(asio::make_strand(io), [&](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket))->start();
    }
    accept(acceptor, io);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: beast_ceiling <port> <threads> <dir>\n");
    return 2;
  }
  for (const char* name : {"_api_v3_simple_price", "_api_v3_coins_markets"}) {
    std::ifstream in(std::string(argv[3]) + "/" + name);
    std::stringstream content;
    content << in.rdbuf();
    g_files[name] = content.str();
  }
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<unsigned short>(std::atoi(argv[1]))));
  accept(acceptor, io);
  std::vector<std::thread> threads;
  for (int i = 0; i < std::atoi(argv[2]); ++i)
    threads.emplace_back([&] { io.run(); });
  for (auto& t : threads)
    t.join();
}
