// Raw bytes as a connection receives them, read the way the server reads them (Beast's parser
// under coinrelay's limits, then its framing and Host checks) and answered by the API of `run`
// (CoinGecko routes, /v1/*, history over SQLite, streams), in process and without a socket.
// Properties: nothing crashes, every status is a real one, and every JSON body is UTF-8.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "api/chart_routes.h"
#include "api/coingecko_routes.h"
#include "api/relay_routes.h"
#include "api/stream_hub.h"
#include "fuzz_support.h"
#include "net/http_server.h"
#include "pipeline/snapshot.h"
#include "storage/sqlite_quote_store.h"
#include "support/api_requests.h"
#include "telemetry/logging.h"

namespace coinrelay::fuzz {
namespace {

model::Quote quote(const std::string& id, const std::string& vs, int64_t rank, double price) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = id;
  q.vs_currency = vs;
  q.last_updated_ms = 1'700'000'000'000 + rank * 1000;
  q.fetched_ms = q.last_updated_ms;
  q.market_cap_rank = rank;
  q.price = price;
  q.market_cap = price * 1e6;
  return q;
}

/// A stream client that takes the first events and is then gone, so that the hub forgets it.
class BriefSink final : public net::EventSink {
 public:
  bool push(std::shared_ptr<const std::string>) override { return ++pushed_ < 3; }
  bool open() const override { return false; }

 private:
  int pushed_ = 0;
};

struct Api {
  Api() {
    std::vector<model::Quote> batch;
    const char* ids[] = {"bitcoin", "ethereum", "tether", "usd-coin", "solana"};
    for (int i = 0; i < 5; ++i) {
      batch.push_back(quote(ids[i], "usd", i + 1, 1000.0 / (i + 1)));
      batch.push_back(quote(ids[i], "eur", i + 1, 900.0 / (i + 1)));
    }
    (void)snapshot.deliver(batch);
    store = std::move(storage::SqliteQuoteStore::open(":memory:")).value();
    (void)store->insert(batch);
    api::RelayRoutes::Parts parts;
    parts.snapshot = &snapshot;
    parts.coingecko = &coingecko;
    parts.stream = &hub;
    // Charts and /v1/history answer on a worker of their own; their replies are checked when
    // they come (deferred), from that worker.
    charts = std::make_unique<api::ChartRoutes>(store.get(), nullptr,
                                                api::ChartRoutes::Options{.workers = 1});
    coingecko.setHistoryHandler(
        [charts = charts.get()](const api::ApiCall&, const net::Request& request,
                                const std::string& client) -> std::optional<net::Reply> {
          return charts->handle(request, client);
        });
    parts.charts = charts.get();
    parts.health_json = [] { return std::string(R"({"status":"ok"})"); };
    routes = std::make_unique<api::RelayRoutes>(parts);
  }
  pipeline::Snapshot snapshot;
  api::CoinGeckoRoutes coingecko{snapshot, nullptr, nullptr,
                                 api::CoinGeckoRoutes::Options{.cache_bytes = 4 << 20}};
  api::StreamHub hub;
  std::unique_ptr<storage::SqliteQuoteStore> store;
  std::unique_ptr<api::ChartRoutes> charts;
  std::unique_ptr<api::RelayRoutes> routes;
};

void check(const net::Reply& reply) {
  require(reply.status >= 200 && reply.status < 600, "a real HTTP status");
  const std::string& body = reply.shared_body ? *reply.shared_body : reply.body;
  if (reply.content_type == "application/json")
    require(validUtf8(body), "JSON bodies are UTF-8");
}

}  // namespace
}  // namespace coinrelay::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  coinrelay::telemetry::initLogging("off", "text");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  static fuzz::Api api;
  net::ServerLimits limits;
  net::parseRequests(std::string_view(reinterpret_cast<const char*>(data), size), limits,
                     [&](const net::Request& request) {
                       net::Reply reply = api.routes->handle(request);
                       if (reply.stream) {
                         reply.stream(std::make_shared<fuzz::BriefSink>());
                         return;
                       }
                       // A deferred answer is waited for: none may still be on its way when the
                       // input is done (nor when the process exits).
                       fuzz::check(testing::awaitReply(std::move(reply)));
                     });
  return 0;
}
