#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace coinrelay::storage {

struct HistoryQuery {
  std::string id;
  std::string vs_currency;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  size_t max_points = 5000;
};

struct HistoryPoint {
  int64_t t_ms = 0;  ///< the quote's last_updated
  std::optional<double> price;
  std::optional<double> market_cap;
  std::optional<double> volume_24h;
};

/// Where /v1/history reads past quotes: SQLite in `run`, Elasticsearch in `serve`.
class HistorySource {
 public:
  virtual ~HistorySource() = default;
  virtual Result<std::vector<HistoryPoint>> points(const HistoryQuery& query) = 0;
};

/// {"id","vs_currency","prices":[[ms,price]...],"market_caps":[...],"total_volumes":[...]} in
/// the shape of CoinGecko's market_chart, thinned evenly to at most query.max_points.
std::string renderHistory(const HistoryQuery& query, const std::vector<HistoryPoint>& points);

/// Reads history from the search engine's quote index.
class ElasticsearchHistory final : public HistorySource {
 public:
  explicit ElasticsearchHistory(const config::ElasticsearchConfig& config) : config_(config) {}
  Result<std::vector<HistoryPoint>> points(const HistoryQuery& query) override;

 private:
  config::ElasticsearchConfig config_;
};

}  // namespace coinrelay::storage
