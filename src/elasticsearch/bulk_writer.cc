#include "elasticsearch/bulk_writer.h"

#include <deque>

#include <fmt/format.h>

#include "common/backoff.h"
#include "net/http_client.h"
#include "telemetry/logging.h"
#include "telemetry/metrics.h"

namespace coinrelay::elasticsearch {

namespace {

using Clock = std::chrono::steady_clock;

/// The process-wide series of the bulk path, looked up once.
struct BulkMetrics {
  telemetry::Counter& indexed;
  telemetry::Counter& refused;
  telemetry::Counter& retried;
  telemetry::Counter& ok_requests;
  telemetry::Counter& failed_requests;
  telemetry::Counter& split_requests;
  telemetry::Histogram& duration;
  telemetry::Histogram& documents;
  telemetry::Histogram& bytes;
  telemetry::Gauge& up;
};

BulkMetrics& metrics() {
  auto& r = telemetry::metrics();
  const std::string requests_help =
      "_bulk requests by result: answered (items judged one by one), failed (unreachable, 429, "
      "5xx, cluster block: sent again), split (400/413 as a whole: halved)";
  static BulkMetrics m{
      r.counter("coinrelay_index_documents_indexed_total",
                "Documents the search engine accepted (created or overwritten)."),
      r.counter("coinrelay_index_documents_refused_total",
                "Documents the search engine refused for good (mapping or parse errors)."),
      r.counter("coinrelay_index_documents_retried_total",
                "Document sends repeated after a 429, 5xx or cluster block."),
      r.counter("coinrelay_index_bulk_requests_total", requests_help, {{"result", "answered"}}),
      r.counter("coinrelay_index_bulk_requests_total", requests_help, {{"result", "failed"}}),
      r.counter("coinrelay_index_bulk_requests_total", requests_help, {{"result", "split"}}),
      r.histogram("coinrelay_index_bulk_duration_seconds", "Latency of one _bulk request.",
                  {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      r.histogram("coinrelay_index_bulk_documents", "Documents per _bulk request.",
                  {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000}),
      r.histogram("coinrelay_index_bulk_bytes", "Bytes per _bulk request body.",
                  {1e3, 1e4, 1e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8}),
      r.gauge("coinrelay_index_engine_up",
              "1 while the search engine accepts writes, 0 during an outage (unreachable, "
              "refusing with 429/5xx or a cluster block)."),
  };
  return m;
}

std::string describeRefusal(const BulkReply& reply) {
  if (reply.status == 403 && reply.error_type == "cluster_block_exception") {
    return fmt::format(
        "HTTP 403 cluster_block_exception (writes blocked, e.g. the index turned read-only at "
        "the flood-stage disk watermark; the engine lifts it once disk is freed): '{}'",
        reply.excerpt);
  }
  if (reply.status == 401 || reply.status == 403) {
    return fmt::format(
        "HTTP {} (check elasticsearch.username/password or api_key and their privileges): '{}'",
        reply.status, reply.excerpt);
  }
  return fmt::format("HTTP {}{}: '{}'", reply.status,
                     reply.error_type.empty() ? "" : " " + reply.error_type, reply.excerpt);
}

}  // namespace

EngineHealth::EngineHealth(std::string url) : url_(net::redactUrl(url)) {
  metrics().up.set(1);
}

void EngineHealth::failed(const std::string& why) {
  std::lock_guard lock(mutex_);
  ++failures_;
  const auto now = Clock::now();
  auto log = telemetry::logger("elasticsearch");
  if (up_) {
    up_ = false;
    down_since_ = now;
    last_reminder_ = now;
    failures_ = 1;
    metrics().up.set(0);
    log->error(
        "search engine at {} is not accepting writes: {}; holding the documents and retrying "
        "with backoff, Kafka consumption pauses once the bounded queue is full, nothing is "
        "skipped",
        url_, why);
  } else if (now - last_reminder_ >= std::chrono::seconds(30)) {
    last_reminder_ = now;
    log->warn(
        "search engine at {} still not accepting writes after {:.0f} s ({} failed attempts): {}",
        url_, std::chrono::duration<double>(now - down_since_).count(), failures_, why);
  }
}

void EngineHealth::succeeded() {
  std::lock_guard lock(mutex_);
  if (up_)
    return;
  up_ = true;
  metrics().up.set(1);
  telemetry::logger("elasticsearch")
      ->info(
          "search engine at {} accepts writes again after {:.1f} s ({} failed attempts); "
          "resuming",
          url_, std::chrono::duration<double>(Clock::now() - down_since_).count(), failures_);
}

bool EngineHealth::up() const {
  std::lock_guard lock(mutex_);
  return up_;
}

BulkWriter::BulkWriter(const config::ElasticsearchConfig& config, const StopSignal& stop,
                       EngineHealth& health)
    : config_(config), stop_(stop), health_(health), client_(config) {}

std::optional<std::vector<DocOutcome>> BulkWriter::write(std::string_view index,
                                                         const std::vector<BulkDoc>& docs) {
  BulkBody body;
  for (const BulkDoc& doc : docs)
    body.add(index, doc.id, doc.source);
  return write(body);
}

std::optional<std::vector<DocOutcome>> BulkWriter::write(BulkBody& body) {
  BulkMetrics& m = metrics();
  std::vector<DocOutcome> outcomes(body.size());
  // Groups of document positions still to send; a split puts its halves in front.
  std::deque<std::vector<size_t>> groups;
  if (!body.empty()) {
    std::vector<size_t> all(body.size());
    for (size_t i = 0; i < all.size(); ++i)
      all[i] = i;
    groups.push_back(std::move(all));
  }
  Backoff backoff(std::chrono::milliseconds(100),
                  std::chrono::milliseconds(config_.retry_max_backoff_ms));
  auto wait = [&] { return !stop_.waitFor(backoff.next()); };
  while (!groups.empty()) {
    if (stop_.stopped())
      return std::nullopt;
    std::vector<size_t> group = std::move(groups.front());
    groups.pop_front();
    // Groups hold distinct documents, so a group of all of them is the body as it is.
    std::string* text = &body.text();
    if (group.size() < body.size()) {
      subset_.clear();
      for (size_t i : group)
        subset_.append(body.lines(i));
      text = &subset_;
    }
    const auto started = Clock::now();
    auto reply = client_.bulk(*text);
    m.duration.observe(std::chrono::duration<double>(Clock::now() - started).count());
    m.documents.observe(static_cast<double>(group.size()));
    m.bytes.observe(static_cast<double>(text->size()));

    if (!reply) {
      m.failed_requests.inc();
      health_.failed(reply.error().message);
      groups.push_front(std::move(group));
      if (!wait())
        return std::nullopt;
      continue;
    }
    if (reply->status == 200 && reply->itemsRead && reply->items.size() == group.size()) {
      m.ok_requests.inc();
      std::vector<size_t> again;
      const BulkItemResult* first_retry = nullptr;
      for (size_t k = 0; k < group.size(); ++k) {
        const BulkItemResult& item = reply->items[k];
        DocOutcome& outcome = outcomes[group[k]];
        if (item.ok()) {
          outcome.indexed = true;
          m.indexed.inc();
        } else if (item.refusedForGood()) {
          outcome.status = item.status;
          outcome.reason = item.error;
          m.refused.inc();
        } else {
          again.push_back(group[k]);
          if (first_retry == nullptr)
            first_retry = &item;
        }
      }
      if (again.empty()) {
        health_.succeeded();
        backoff.reset();
        continue;
      }
      m.retried.inc(again.size());
      const std::string why =
          fmt::format("{} of {} documents refused with HTTP {} {}", again.size(), group.size(),
                      first_retry->status, first_retry->error);
      if (again.size() == group.size()) {
        health_.failed(why);  // e.g. a read-only block answered per item: the engine refuses all
      } else {
        health_.succeeded();
        telemetry::logger("elasticsearch")->warn("{}; sending them again", why);
      }
      groups.push_back(std::move(again));
      if (!wait())
        return std::nullopt;
      continue;
    }
    if ((reply->status == 400 || reply->status == 413) && group.size() > 1) {
      // One document can make the whole request invalid (e.g. an _id over 512 bytes) or too
      // large: halve until it is alone.
      m.split_requests.inc();
      const size_t half = group.size() / 2;
      groups.emplace_front(group.begin() + static_cast<std::ptrdiff_t>(half), group.end());
      groups.emplace_front(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(half));
      continue;
    }
    if (reply->status == 400 || reply->status == 413) {
      health_.succeeded();
      DocOutcome& outcome = outcomes[group.front()];
      outcome.status = reply->status;
      outcome.reason =
          fmt::format("{}: {}", reply->error_type.empty() ? "request refused" : reply->error_type,
                      reply->excerpt);
      m.refused.inc();
      continue;
    }
    m.failed_requests.inc();
    health_.failed(reply->status == 200 ? "unreadable _bulk answer: " + reply->excerpt
                                        : describeRefusal(*reply));
    groups.push_front(std::move(group));
    if (!wait())
      return std::nullopt;
  }
  return outcomes;
}

}  // namespace coinrelay::elasticsearch
