#pragma once

#include <future>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/quote.h"
#include "net/http_server.h"

namespace coinrelay::testing {

/// A GET as the HTTP server hands it to a handler (path and query already decoded).
inline net::Request get(const std::string& path, std::map<std::string, std::string> query = {},
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::Request request;
  request.method = "GET";
  request.path = path;
  request.query = std::move(query);
  request.headers = std::move(headers);
  return request;
}

/// A reply's body, whether it was given as its own string or shared.
inline std::string bodyOf(const net::Reply& reply) {
  return reply.shared_body ? *reply.shared_body : reply.body;
}

/// The answer of a reply, waiting for it when it is deferred (answered later, from another
/// thread).
inline net::Reply awaitReply(net::Reply reply) {
  if (!reply.deferred)
    return reply;
  std::promise<net::Reply> answer;
  auto future = answer.get_future();
  reply.deferred([&answer](net::Reply late) { answer.set_value(std::move(late)); });
  return future.get();
}

/// A small quote in usd: the seed's fields only.
inline model::Quote rankedQuote(const std::string& id, int64_t rank, double price) {
  model::Quote q;
  q.id = id;
  q.symbol = id.substr(0, 3);
  q.name = id;
  q.vs_currency = "usd";
  q.last_updated_ms = 1'700'000'000'000;
  q.fetched_ms = q.last_updated_ms;
  q.market_cap_rank = rank;
  q.price = price;
  return q;
}

}  // namespace coinrelay::testing
