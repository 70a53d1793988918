#include "app/api_parts.h"

#include <chrono>

#include "api/serve_limits.h"

namespace coinrelay::app {

std::unique_ptr<api::Universe> universeFor(const config::Config& config, api::MissFetcher* misses) {
  if (misses == nullptr)
    return nullptr;
  auto universe = std::make_unique<api::Universe>(
      *misses, std::chrono::seconds(config.serve.universe_refresh_s));
  universe->load();
  return universe;
}

std::unique_ptr<api::ChartRoutes> chartsFor(const config::Config& config,
                                            storage::HistorySource* history,
                                            api::MissFetcher* misses,
                                            api::CoinGeckoRoutes& coingecko) {
  auto charts = std::make_unique<api::ChartRoutes>(
      history, misses,
      api::ChartRoutes::Options{.workers = config.serve.chart_workers,
                                .cache_bytes = static_cast<size_t>(config.serve.chart_cache_mib)
                                               << 20});
  coingecko.setHistoryHandler(
      [charts = charts.get()](const api::ApiCall&, const net::Request& request,
                              const std::string& client) -> std::optional<net::Reply> {
        return charts->handle(request, client);
      });
  return charts;
}

Result<std::unique_ptr<net::HttpServer>> startApiServer(const config::Config& config,
                                                        api::RelayRoutes& routes,
                                                        api::StreamHub& hub) {
  auto server = net::HttpServer::start(
      config.http.listen, [&routes](const net::Request& request) { return routes.handle(request); },
      config.http.threads, api::serverLimitsFor(config));
  if (server)
    hub.setLimits(api::streamLimitsFor(config, (*server)->maxConnections()));
  return server;
}

}  // namespace coinrelay::app
