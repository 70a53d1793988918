#include "net/http_client.h"

#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "common/strings.h"

namespace coinrelay::net {

namespace {

std::once_flag g_curl_init;

size_t writeBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t writeHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a redirect or 100-continue starts a new header block
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->emplace_back(toLower(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name)
      return std::string_view(value);
  }
  return std::nullopt;
}

TlsFailure classifyTlsFailure(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return TlsFailure::UntrustedCertificate;
    case CURLE_SSL_CACERT_BADFILE:
      return TlsFailure::UnreadableCaFile;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CERTPROBLEM:
      return TlsFailure::Handshake;
    default:
      return TlsFailure::None;
  }
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
  HttpAuth auth;
  std::string ca_file;
  TlsFailure last_tls_failure = TlsFailure::None;
};

HttpClient::HttpClient(HttpAuth auth, std::string ca_file) : impl_(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->curl = curl_easy_init();
  impl_->auth = std::move(auth);
  impl_->ca_file = std::move(ca_file);
}

HttpClient::~HttpClient() {
  if (impl_->curl != nullptr)
    curl_easy_cleanup(impl_->curl);
}

Result<HttpResponse> HttpClient::get(const std::string& url, std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.url = url;
  request.timeout = timeout;
  return send(request);
}

TlsFailure HttpClient::lastTlsFailure() const {
  return impl_->last_tls_failure;
}

Error HttpClient::failure(std::string untrusted, std::string unreachable) const {
  if (certificateUnverifiable(impl_->last_tls_failure))
    return Error{ErrorCode::FailedPrecondition, std::move(untrusted)};
  return Error{ErrorCode::Unavailable, std::move(unreachable)};
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  impl_->last_tls_failure = TlsFailure::None;
  CURL* curl = impl_->curl;
  if (curl == nullptr)
    return makeError(ErrorCode::Internal, "libcurl failed to initialise");
  curl_easy_reset(curl);
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(request.timeout.count(), 5000)));
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate when the server offers it
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "coinrelay/0.1");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, writeBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, writeHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (!impl_->ca_file.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, impl_->ca_file.c_str());
  if (!impl_->auth.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, impl_->auth.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, impl_->auth.password.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : request.headers) {
    header_list = curl_slist_append(header_list, fmt::format("{}: {}", name, value).c_str());
  }
  if (!impl_->auth.authorization.empty()) {
    header_list = curl_slist_append(
        header_list, fmt::format("Authorization: {}", impl_->auth.authorization).c_str());
  }
  header_list = curl_slist_append(header_list, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  if (code != CURLE_OK) {
    const char* what = error_buffer[0] != 0 ? error_buffer : curl_easy_strerror(code);
    impl_->last_tls_failure = classifyTlsFailure(code);
    if (certificateUnverifiable(impl_->last_tls_failure)) {
      // Retrying cannot help: the fix is the CA bundle (or the host name in the URL).
      return makeError(ErrorCode::FailedPrecondition,
                       fmt::format("{} {}: {}: {}", request.method, redactUrl(request.url),
                                   kUntrustedCertificate, what));
    }
    return makeError(ErrorCode::Unavailable,
                     fmt::format("{} {}: {}", request.method, redactUrl(request.url), what));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

std::string redactUrl(std::string_view url) {
  std::string out(url.substr(0, url.find('?')));
  const size_t scheme = out.find("://");
  const size_t at = out.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    out.erase(scheme + 3, at - scheme - 2);
  }
  return out;
}

}  // namespace coinrelay::net
