#pragma once

#include <memory>

#include "api/chart_routes.h"
#include "api/coingecko_routes.h"
#include "api/miss_fetcher.h"
#include "api/relay_routes.h"
#include "api/stream_hub.h"
#include "api/universe.h"
#include "common/result.h"
#include "config/config.h"
#include "net/http_server.h"
#include "storage/history.h"

namespace coinrelay::app {

/// The parts of the HTTP API that `run` and `serve` build the same way.

/// CoinGecko's coin and currency lists, kept through `misses` (null: no relay, no universe).
std::unique_ptr<api::Universe> universeFor(const config::Config& config, api::MissFetcher* misses);

/// market_chart, ohlc and /v1/history from `history`, on worker threads of their own
/// (serve.chart_workers), installed as the history handler of `coingecko`.
std::unique_ptr<api::ChartRoutes> chartsFor(const config::Config& config,
                                            storage::HistorySource* history,
                                            api::MissFetcher* misses,
                                            api::CoinGeckoRoutes& coingecko);

/// The API's server on http.listen within the http.* bounds; the stream caps of `hub` fitted to
/// the connections it allows.
Result<std::unique_ptr<net::HttpServer>> startApiServer(const config::Config& config,
                                                        api::RelayRoutes& routes,
                                                        api::StreamHub& hub);

}  // namespace coinrelay::app
