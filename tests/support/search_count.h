#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <simdjson.h>

#include "net/http_client.h"

namespace coinrelay::testing {

/// The documents of `index` on the search engine at `engine` (its base URL), refreshed first so
/// that every indexed one counts; -1 when the engine does not answer with a count. `http` carries
/// whatever the engine needs (TLS trust, credentials).
inline int64_t countDocuments(net::HttpClient& http, const std::string& engine,
                              const std::string& index) {
  using namespace std::chrono_literals;
  net::HttpRequest refresh;
  refresh.method = "POST";
  refresh.url = engine + "/" + index + "/_refresh";
  (void)http.send(refresh);
  auto response = http.get(engine + "/" + index + "/_count", 10s);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  int64_t count = -1;
  if (!response || response->status != 200 ||
      parser.parse(response->body).get(doc) != simdjson::SUCCESS ||
      doc["count"].get(count) != simdjson::SUCCESS) {
    return -1;
  }
  return count;
}

}  // namespace coinrelay::testing
