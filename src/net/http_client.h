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

/// Why a TLS connection failed, from libcurl's error code (never from its message text).
enum class TlsFailure {
  None,                  ///< not a TLS failure (or no failure)
  UntrustedCertificate,  ///< CURLE_PEER_FAILED_VERIFICATION: no CA, a wrong one, another host
  UnreadableCaFile,      ///< CURLE_SSL_CACERT_BADFILE: the CA file given cannot be loaded
  Handshake,             ///< CURLE_SSL_CONNECT_ERROR and kin: e.g. https to a plain-http port
};
/// The class of a libcurl error code (a CURLcode).
TlsFailure classifyTlsFailure(int curl_code);
/// True for the failures only a CA bundle (or the host name in the URL) can fix: retrying is
/// useless, so the caller names its CA-file setting.
inline bool certificateUnverifiable(TlsFailure failure) {
  return failure == TlsFailure::UntrustedCertificate || failure == TlsFailure::UnreadableCaFile;
}

/// Opens the message of the FailedPrecondition error of a certificateUnverifiable() failure.
inline constexpr const char* kUntrustedCertificate = "TLS certificate not trusted";

/// A blocking HTTP/1.1 client over one libcurl easy handle, reused so that connections stay
/// alive between calls. Transport failures (refused, timeout, DNS, a failed TLS handshake) come
/// back as Unavailable; a certificate that cannot be verified as FailedPrecondition
/// (kUntrustedCertificate); any HTTP status is a successful exchange that the caller judges.
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
  /// The TLS class of the last send()'s failure; None after an exchange.
  TlsFailure lastTlsFailure() const;
  /// The caller's error for the last send()'s failure: FailedPrecondition with `untrusted` when
  /// only a CA bundle can fix it (certificateUnverifiable), else Unavailable with `unreachable`.
  Error failure(std::string untrusted, std::string unreachable) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Strips credentials and query strings from a URL so it can be logged.
std::string redactUrl(std::string_view url);

}  // namespace coinrelay::net
