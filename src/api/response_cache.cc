#include "api/response_cache.h"

#include <mutex>

#include <fmt/format.h>
#include <zlib.h>

namespace coinrelay::api {

namespace {

constexpr size_t kMinGzipBytes = 1024;  // below one packet compression only adds latency

uint64_t fnv1a(std::string_view data) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

bool acceptsGzip(const net::Request& request) {
  const std::string_view accept = request.header("accept-encoding");
  return accept.find("gzip") != std::string_view::npos;
}

/// The headers of a cached answer besides Server, Content-Type and Content-Length: one list for
/// the pre-serialised heads and for the replies Beast serialises, so both say the same.
std::vector<std::pair<std::string, std::string>> headersOf(const CachedResponse& cached,
                                                           bool gzip) {
  std::vector<std::pair<std::string, std::string>> out{{"ETag", cached.etag}};
  if (cached.gzip)  // the answer differs by Accept-Encoding only when a gzip form exists
    out.emplace_back("Vary", "Accept-Encoding");
  if (gzip)
    out.emplace_back("Content-Encoding", "gzip");
  return out;
}

}  // namespace

std::string gzipCompress(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return rc == Z_STREAM_END ? out : std::string();
}

std::shared_ptr<const CachedResponse> makeCachedResponse(int status, std::string body,
                                                         std::string content_type) {
  auto cached = std::make_shared<CachedResponse>();
  cached->status = status;
  cached->content_type = std::move(content_type);
  cached->etag = fmt::format("\"{:016x}\"", fnv1a(body));
  if (body.size() >= kMinGzipBytes) {
    std::string compressed = gzipCompress(body);
    if (!compressed.empty() && compressed.size() < body.size()) {
      cached->gzip = std::make_shared<const std::string>(std::move(compressed));
    }
  }
  cached->body = std::make_shared<const std::string>(std::move(body));
  cached->head = std::make_shared<const std::string>(net::serialisedHead(
      cached->status, cached->content_type, headersOf(*cached, false), cached->body->size()));
  if (cached->gzip) {
    cached->gzip_head = std::make_shared<const std::string>(net::serialisedHead(
        cached->status, cached->content_type, headersOf(*cached, true), cached->gzip->size()));
  }
  return cached;
}

std::shared_ptr<const CachedResponse> ResponseCache::find(uint64_t version,
                                                          std::string_view key) const {
  std::shared_lock lock(mutex_);
  if (version != version_)
    return nullptr;
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<const CachedResponse> ResponseCache::insert(
    uint64_t version, const std::string& key, std::shared_ptr<const CachedResponse> response) {
  std::unique_lock lock(mutex_);
  if (version > version_) {
    entries_.clear();
    version_ = version;
  }
  if (version == version_ && entries_.size() < max_entries_)
    entries_.emplace(key, response);
  return response;
}

net::Reply replyFrom(const CachedResponse& cached, const net::Request& request) {
  net::Reply reply;
  reply.status = cached.status;
  reply.content_type = cached.content_type;
  const std::string_view if_none_match = request.header("if-none-match");
  if (cached.status == 200 && !if_none_match.empty() &&
      (if_none_match == cached.etag || if_none_match == "*" ||
       if_none_match.find(cached.etag) != std::string_view::npos)) {
    reply.status = 304;
    reply.headers = headersOf(cached, false);
    return reply;
  }
  const bool gzip = cached.gzip && acceptsGzip(request);
  reply.headers = headersOf(cached, gzip);
  reply.shared_body = gzip ? cached.gzip : cached.body;
  reply.head = gzip ? cached.gzip_head : cached.head;
  return reply;
}

}  // namespace coinrelay::api
