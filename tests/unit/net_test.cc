// src/net/ on its own: how the HTTP client classifies TLS failures (from libcurl's codes), and
// what its callers make of them, against a plain-HTTP fake server on loopback.

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "elasticsearch/elasticsearch_client.h"
#include "kibana/kibana_setup.h"
#include "net/http_client.h"
#include "support/fake_http_server.h"

namespace coinrelay::net {
namespace {

TEST(TlsFailureTest, ComesFromLibcurlsErrorCode) {
  EXPECT_EQ(classifyTlsFailure(CURLE_PEER_FAILED_VERIFICATION), TlsFailure::UntrustedCertificate);
  EXPECT_EQ(classifyTlsFailure(CURLE_SSL_CACERT_BADFILE), TlsFailure::UnreadableCaFile);
  EXPECT_EQ(classifyTlsFailure(CURLE_SSL_CONNECT_ERROR), TlsFailure::Handshake);
  EXPECT_EQ(classifyTlsFailure(CURLE_COULDNT_CONNECT), TlsFailure::None);
  EXPECT_EQ(classifyTlsFailure(CURLE_OPERATION_TIMEDOUT), TlsFailure::None);
  EXPECT_EQ(classifyTlsFailure(CURLE_OK), TlsFailure::None);
  EXPECT_TRUE(certificateUnverifiable(TlsFailure::UntrustedCertificate));
  EXPECT_TRUE(certificateUnverifiable(TlsFailure::UnreadableCaFile));
  EXPECT_FALSE(certificateUnverifiable(TlsFailure::Handshake));
}

TEST(TlsFailureTest, AHandshakeWithAPlainServerIsTransientAndAnUnreadableCaFileIsNot) {
  testing::FakeHttpServer plain([](const Request&) { return Reply{200, "text/plain", "ok"}; });
  const std::string https = "https://127.0.0.1:" + std::to_string(plain.port()) + "/";

  HttpClient client;
  auto handshake = client.get(https);
  ASSERT_FALSE(handshake);
  EXPECT_EQ(client.lastTlsFailure(), TlsFailure::Handshake) << handshake.error().message;
  EXPECT_EQ(handshake.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(handshake.error().message.find(kUntrustedCertificate), std::string::npos);
  auto fine = client.get(plain.url() + "/");
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(client.lastTlsFailure(), TlsFailure::None) << "each send classifies its own failure";

  HttpClient with_missing_ca({}, "/nonexistent/ca.pem");
  auto unreadable = with_missing_ca.get(https);
  ASSERT_FALSE(unreadable);
  EXPECT_EQ(with_missing_ca.lastTlsFailure(), TlsFailure::UnreadableCaFile)
      << unreadable.error().message;
  EXPECT_EQ(unreadable.error().code, ErrorCode::FailedPrecondition);
  EXPECT_NE(unreadable.error().message.find(kUntrustedCertificate), std::string::npos);
}

TEST(TlsFailureTest, CallersNameTheirCaFileSettingOnlyWhenItCanHelp) {
  testing::FakeHttpServer plain;
  const std::string https = "https://127.0.0.1:" + std::to_string(plain.port());

  config::ElasticsearchConfig engine;
  engine.url = https;
  engine.ca_file = "/nonexistent/ca.pem";
  auto untrusted = elasticsearch::ElasticsearchClient(engine).probe();
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, ErrorCode::FailedPrecondition);
  EXPECT_NE(untrusted.error().message.find("set elasticsearch.ca_file"), std::string::npos)
      << untrusted.error().message;
  engine.ca_file.clear();
  auto handshake = elasticsearch::ElasticsearchClient(engine).probe();
  ASSERT_FALSE(handshake);
  EXPECT_EQ(handshake.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(handshake.error().message.find("ca_file"), std::string::npos)
      << handshake.error().message;

  kibana::SetupOptions kibana;
  kibana.url = https;
  kibana.ca_file = "/nonexistent/ca.pem";
  auto refused = kibana::setupKibana(kibana);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("set kibana.ca_file"), std::string::npos)
      << refused.error().message;
  kibana.ca_file.clear();
  auto unreachable = kibana::setupKibana(kibana);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().message.find("ca_file"), std::string::npos)
      << unreachable.error().message;
}

}  // namespace
}  // namespace coinrelay::net
