#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace coinrelay::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  Headers headers;  ///< names lower-cased

  std::optional<std::string_view> header(std::string_view lower_name) const;
};

/// Credentials attached to every request of a client; never logged.
struct HttpAuth {
  std::string username;
  std::string password;
  std::string authorization;  ///< a full Authorization header value, e.g. "ApiKey ..."
};

/// Opens the message of a FailedPrecondition error for a TLS certificate the client cannot
/// trust (no CA file given, a wrong one, or a host name the certificate does not name).
inline constexpr const char* kUntrustedCertificate = "TLS certificate not trusted";

/// A blocking HTTP/1.1 client over one libcurl easy handle, reused so that connections stay
/// alive between calls. Transport failures (refused, timeout, DNS) come back as Unavailable; a
/// certificate that cannot be verified as FailedPrecondition (kUntrustedCertificate); any HTTP
/// status is a successful exchange that the caller judges.
/// Threading: one instance per thread.
class HttpClient {
 public:
  explicit HttpClient(HttpAuth auth = {}, std::string ca_file = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> send(const HttpRequest& request);
  Result<HttpResponse> get(const std::string& url,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Strips credentials and query strings from a URL so it can be logged.
std::string redactUrl(std::string_view url);

}  // namespace coinrelay::net
