// The history benchmark: writes a simulated year of the top N coins at one observation per
// interval into the tiered SQLite store as fast as it can (the store's clock is the data's own),
// reports the bytes on disk per observation and in total after retention and the time spent
// rolling up, then measures market_chart and ohlc latency under concurrent clients over HTTP.
// Run by bench/history/run.sh; figures in BENCHMARKS.md.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "api/chart_routes.h"
#include "common/time_util.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "simulate/market.h"
#include "storage/sqlite_quote_store.h"

namespace cr = coinrelay;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

cr::model::Quote quoteOf(const cr::simulate::SimCoin& coin, int64_t fetched_ms) {
  cr::model::Quote q;
  q.id = coin.id;
  q.symbol = coin.symbol;
  q.name = coin.name;
  q.vs_currency = "usd";
  q.last_updated_ms = coin.last_updated_ms;
  q.fetched_ms = fetched_ms;
  q.price = coin.price;
  q.market_cap = coin.marketCap();
  q.market_cap_rank = coin.market_cap_rank;
  q.volume_24h = coin.marketCap() * coin.volume_ratio;
  q.high_24h = coin.high_24h;
  q.low_24h = coin.low_24h;
  q.circulating_supply = coin.circulating_supply;
  q.total_supply = coin.total_supply;
  q.max_supply = coin.max_supply;
  q.ath = coin.ath;
  q.atl = coin.atl;
  q.image = fmt::format("https://coin-images.coingecko.com/coins/images/{}/large/{}.png",
                        coin.image_number, coin.id);
  return q;
}

struct Sizes {
  int64_t file_bytes = 0;
  int64_t observations = 0;
  std::vector<std::pair<std::string, int64_t>> tables;  ///< bytes on disk per table
};

Sizes measure(const std::string& path) {
  Sizes sizes;
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC",
                         -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      sizes.tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)),
                                sqlite3_column_int64(s, 1));
    }
  }
  sqlite3_finalize(s);
  sqlite3_prepare_v2(db, "SELECT count(*) FROM observations", -1, &s, nullptr);
  if (sqlite3_step(s) == SQLITE_ROW)
    sizes.observations = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ignored;
    const auto size = std::filesystem::file_size(path + suffix, ignored);
    if (!ignored)
      sizes.file_bytes += static_cast<int64_t>(size);
  }
  return sizes;
}

int64_t tableBytes(const Sizes& sizes, std::string_view name) {
  for (const auto& [table, bytes] : sizes.tables) {
    if (table == name)
      return bytes;
  }
  return 0;
}

struct Latency {
  size_t requests = 0;
  size_t failures = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double per_second = 0;
};

/// `clients` threads, each on its own keep-alive connection, ask `target(coin)` for random coins
/// for `duration`, with gzip (the client inflates each answer) or without (identity: the load
/// generator, on the same two cores, then leaves them to coinrelay).
Latency load(uint16_t port, const std::vector<std::string>& coins, int clients,
             std::chrono::seconds duration,
             const std::function<std::string(const std::string&)>& target, bool gzip) {
  std::vector<std::vector<double>> samples(static_cast<size_t>(clients));
  std::atomic<size_t> failures{0};
  const auto until = Clock::now() + duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      cr::net::HttpClient http;
      std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 1u);
      std::uniform_int_distribution<size_t> pick(0, coins.size() - 1);
      auto& mine = samples[static_cast<size_t>(c)];
      while (Clock::now() < until) {
        cr::net::HttpRequest request;
        request.url = fmt::format("http://127.0.0.1:{}{}", port, target(coins[pick(rng)]));
        if (!gzip)
          request.headers.emplace_back("Accept-Encoding", "identity");
        const auto started = Clock::now();
        auto response = http.send(request);
        const double ms = seconds(Clock::now() - started) * 1000;
        if (!response || response->status != 200 || response->body.size() < 10) {
          ++failures;
          continue;
        }
        mine.push_back(ms);
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  std::vector<double> all;
  for (const auto& mine : samples)
    all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  Latency out;
  out.requests = all.size();
  out.failures = failures;
  if (!all.empty()) {
    out.p50_ms = all[all.size() / 2];
    out.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    out.max_ms = all.back();
  }
  out.per_second = static_cast<double>(all.size()) / static_cast<double>(duration.count());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coinrelay history benchmark"};
  std::string path = "history-bench.db";
  int coins = 250;
  int days = 365;
  int interval_s = 60;
  int batch_minutes = 60;
  int clients = 32;
  int duration_s = 10;
  int workers = 2;
  bool skip_load = false;
  std::vector<int> cache_mibs = {0, 16, 96};
  bool gzip = false;
  app.add_option("--db", path, "SQLite file to write (removed first)");
  app.add_option("--coins", coins, "Coins tracked (top N of the simulated market)");
  app.add_option("--days", days, "Days of history to write");
  app.add_option("--interval", interval_s, "Seconds between observations");
  app.add_option("--batch-minutes", batch_minutes, "Minutes of observations per insert");
  app.add_option("--clients", clients, "Concurrent HTTP clients");
  app.add_option("--seconds", duration_s, "Seconds of load per query");
  app.add_option("--workers", workers, "Chart worker threads (serve.chart_workers)");
  app.add_flag("--gzip", gzip, "Clients ask for gzip and inflate every answer");
  app.add_option("--cache-mib", cache_mibs,
                 "Chart cache sizes to measure (serve.chart_cache_mib; 0: no cache)");
  app.add_flag("--skip-load", skip_load, "Reuse the database written by a previous run");
  CLI11_PARSE(app, argc, argv);

  const int64_t interval_ms = int64_t{interval_s} * 1000;
  const int64_t now_ms = cr::toUnixMillis(std::chrono::system_clock::now());
  const int64_t end_ms = now_ms - now_ms % interval_ms;
  const int64_t start_ms = end_ms - int64_t{days} * cr::storage::kDayMs;
  if (!skip_load) {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path + suffix);
  }
  auto opened = cr::storage::SqliteQuoteStore::open(path);
  if (!opened) {
    fmt::print(stderr, "{}\n", opened.error().message);
    return 1;
  }
  auto& store = **opened;

  std::vector<std::string> ids;
  {
    cr::simulate::Market market(
        {.coins = coins, .seed = 42, .update_interval_ms = interval_ms, .start_ms = start_ms});
    for (const auto& coin : market.ranked())
      ids.push_back(coin.id);
    if (!skip_load) {
      const auto started = Clock::now();
      std::vector<cr::model::Quote> batch;
      batch.reserve(static_cast<size_t>(coins) * static_cast<size_t>(batch_minutes));
      int64_t written = 0;
      int64_t next_report = start_ms + 30 * cr::storage::kDayMs;
      for (int64_t t = start_ms + interval_ms; t <= end_ms; t += interval_ms) {
        market.advanceTo(t);
        for (const auto& coin : market.ranked())
          batch.push_back(quoteOf(coin, t));
        if (batch.size() >= batch.capacity()) {
          auto inserted = store.insert(batch);
          if (!inserted) {
            fmt::print(stderr, "insert failed: {}\n", inserted.error().message);
            return 1;
          }
          written += static_cast<int64_t>(*inserted);
          batch.clear();
        }
        if (t >= next_report) {
          fmt::print(stderr, "  {} days written, {} observations, {:.0f} s\n",
                     (t - start_ms) / cr::storage::kDayMs, written,
                     seconds(Clock::now() - started));
          next_report += 30 * cr::storage::kDayMs;
        }
      }
      if (auto inserted = store.insert(batch))
        written += static_cast<int64_t>(*inserted);
      const double elapsed = seconds(Clock::now() - started);
      const auto stats = store.stats();
      fmt::print("## Write\n\n");
      fmt::print(
          "| observations | coins | days | interval | wall time | observations/s | rollup time "
          "(passes) | retention time (passes) |\n|---|---|---|---|---|---|---|---|\n");
      fmt::print("| {} | {} | {} | {} s | {:.1f} s | {:.0f} | {:.1f} s ({}) | {:.1f} s ({}) |\n\n",
                 written, coins, days, interval_s, elapsed, static_cast<double>(written) / elapsed,
                 seconds(stats.rollup_time), stats.rollup_passes, seconds(stats.retention_time),
                 stats.retention_passes);
    }
  }

  const Sizes sizes = measure(path);
  const int64_t raw_bytes = tableBytes(sizes, "observations");
  fmt::print("## Disk after retention\n\n| table | bytes |\n|---|---|\n");
  for (const auto& [table, bytes] : sizes.tables)
    fmt::print("| {} | {} |\n", table, bytes);
  fmt::print(
      "\nfile (with WAL, after a checkpoint): {} bytes ({:.1f} MiB); observations kept: {}; "
      "bytes per observation (observations table / rows): {:.1f}\n\n",
      sizes.file_bytes, static_cast<double>(sizes.file_bytes) / (1 << 20), sizes.observations,
      sizes.observations ? static_cast<double>(raw_bytes) / sizes.observations : 0.0);

  fmt::print("## Latency, {} clients ({}), {} s per query, {} chart workers\n\n", clients,
             gzip ? "gzip" : "identity encoding", duration_s, workers);
  fmt::print(
      "| query | cache | requests | requests/s | p50 | p99 | max | failures |\n"
      "|---|---|---|---|---|---|---|---|\n");
  const std::vector<std::pair<std::string, std::string>> queries = {
      {"market_chart 1 day", "/market_chart?vs_currency=usd&days=1"},
      {"market_chart 90 days", "/market_chart?vs_currency=usd&days=90"},
      {"market_chart 1 year", "/market_chart?vs_currency=usd&days=365"},
      {"ohlc 30 days", "/ohlc?vs_currency=usd&days=30"},
  };
  for (const int cache_mib : cache_mibs) {
    cr::api::ChartRoutes charts(
        &store, nullptr,
        cr::api::ChartRoutes::Options{.workers = workers,
                                      .queue_per_worker = 1024,
                                      .cache_bytes = static_cast<size_t>(cache_mib) << 20});
    auto server = cr::net::HttpServer::start(
        "127.0.0.1:0", [&](const cr::net::Request& request) { return charts.handle(request); }, 2);
    if (!server) {
      fmt::print(stderr, "{}\n", server.error().message);
      return 1;
    }
    for (const auto& [label, query] : queries) {
      const std::string suffix = query;
      auto target = [&](const std::string& id) {
        return fmt::format("/api/v3/coins/{}{}", id, suffix);
      };
      // Not timed: each coin's chart asked once, so that a cache starts from the steady state
      // (each answer then expires once per 30 s period, at a time of its own).
      if (cache_mib > 0) {
        cr::net::HttpClient http;
        for (const auto& id : ids)
          (void)http.get(fmt::format("http://127.0.0.1:{}{}", (*server)->port(), target(id)));
      }
      const auto result =
          load((*server)->port(), ids, clients, std::chrono::seconds(duration_s), target, gzip);
      fmt::print("| {} | {} | {} | {:.0f} | {:.2f} ms | {:.2f} ms | {:.2f} ms | {} |\n", label,
                 cache_mib == 0 ? std::string("off") : fmt::format("{} MiB", cache_mib),
                 result.requests, result.per_second, result.p50_ms, result.p99_ms, result.max_ms,
                 result.failures);
    }
  }
  return 0;
}
