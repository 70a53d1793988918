#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "support/fake_http_server.h"

namespace coinrelay::testing {

/// A small stand-in for CoinGecko's API for relay tests: every path under /api/v3 answers
/// {"path":"<path as received>","query":"<query as received>"} (so a test sees exactly what
/// coinrelay sent), except the scripted ones: the coin list and the currencies below, a 404 for
/// coin "no-such-coin", and answer() routes. It counts requests per path as the simulator's
/// /_sim/stats does. Written with nothing of coinrelay's: it is what coinrelay is checked against.
class FakeCoinGecko {
 public:
  explicit FakeCoinGecko(int threads = 4)
      : server_([this](const net::Request& request) { return handle(request); }, threads) {}

  std::string baseUrl() const { return server_.url() + "/api/v3"; }
  FakeHttpServer& server() { return server_; }

  /// Requests per path so far.
  uint64_t calls(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(path);
    return it == calls_.end() ? 0 : it->second;
  }
  uint64_t total() const {
    std::lock_guard lock(mutex_);
    uint64_t sum = 0;
    for (const auto& [path, count] : calls_)
      sum += count;
    return sum;
  }
  /// Every answer waits this long first (coalescing tests).
  void setLatency(std::chrono::milliseconds latency) { latency_ = latency.count(); }

  /// The coin list (id, symbol, name, platforms) answered for /coins/list.
  std::string coins_list =
      R"([{"id":"bitcoin","symbol":"btc","name":"Bitcoin","platforms":{}},)"
      R"({"id":"ethereum","symbol":"eth","name":"Ethereum","platforms":{}},)"
      R"({"id":"tether","symbol":"usdt","name":"Tether","platforms":{"ethereum":"0xdac1"}},)"
      R"({"id":"dogecoin","symbol":"doge","name":"Dogecoin","platforms":{}},)"
      R"({"id":"bridged-btc","symbol":"btc","name":"Bridged BTC","platforms":{}},)"
      R"({"id":"wrapped-eth","symbol":"weth","name":"Ethereum","platforms":{}}])";
  std::string currencies = R"(["btc","eth","usd","eur","jpy"])";

 private:
  net::Reply handle(const net::Request& request) {
    {
      std::lock_guard lock(mutex_);
      ++calls_[request.path];
    }
    if (const long ms = latency_.load(); ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (request.path == "/api/v3/coins/list")
      return net::Reply{200, "application/json", coins_list};
    if (request.path == "/api/v3/simple/supported_vs_currencies")
      return net::Reply{200, "application/json", currencies};
    if (request.path.find("/no-such-coin") != std::string::npos)
      return net::Reply{404, "application/json", R"({"error":"coin not found"})"};
    const std::string_view target = request.target;
    const size_t question = target.find('?');
    std::string body =
        R"({"path":")" + std::string(target.substr(0, question)) + R"(","query":")" +
        std::string(question == std::string_view::npos ? "" : target.substr(question + 1)) +
        R"("})";
    return net::Reply{200, "application/json", body};
  }

  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> calls_;
  std::atomic<long> latency_{0};
  FakeHttpServer server_;  // last: stopped before the state it uses goes
};

}  // namespace coinrelay::testing
