#include "base/tls.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/tls-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    const std::string cmd =
        absl::StrCat(PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ",
                     *dir_, " server:127.0.0.1 client:127.0.0.1 > /dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
  }
  static std::string File(const std::string& name) {
    return *dir_ + "/" + name;
  }
  static std::string* dir_;
};
std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, MatchingFilesMakeCredentials) {
  TlsOptions server{.cert_file = File("server.crt"),
                    .key_file = File("server.key"),
                    .ca_file = File("ca.crt"),
                    .require_client_cert = true};
  EXPECT_TRUE(MakeServerCredentials(server).ok());
  TlsOptions client{.cert_file = File("client.crt"),
                    .key_file = File("client.key"),
                    .ca_file = File("ca.crt")};
  EXPECT_TRUE(MakeChannelCredentials(client).ok());
}

TEST_F(TlsTest, AKeyOfAnotherCertificateIsNamed) {
  TlsOptions server{.cert_file = File("server.crt"),
                    .key_file = File("client.key")};
  auto credentials = MakeServerCredentials(server);
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(credentials.status().message(),
              HasSubstr("is not the key of the certificate"));
  TlsOptions client{.cert_file = File("client.crt"),
                    .key_file = File("server.key"),
                    .ca_file = File("ca.crt")};
  EXPECT_THAT(MakeChannelCredentials(client).status().message(),
              HasSubstr("is not the key of the certificate"));
}

TEST_F(TlsTest, RequireClientCertAloneIsRefused) {
  TlsOptions alone{.require_client_cert = true};
  auto server = MakeServerCredentials(alone);
  ASSERT_FALSE(server.ok()) << "served plaintext";
  EXPECT_THAT(server.status().message(),
              HasSubstr("--tls-require-client-cert"));
  EXPECT_FALSE(MakeChannelCredentials(alone).ok());
}

TEST_F(TlsTest, MissingAndOversizedFilesAreRefusedNamingTheFlag) {
  auto missing = MakeChannelCredentials({.ca_file = File("none.pem")});
  EXPECT_THAT(missing.status().message(), HasSubstr("--tls-ca"));
  EXPECT_THAT(missing.status().message(), HasSubstr("no such file"));
  EXPECT_FALSE(MakeChannelCredentials({.ca_file = "/dev/zero"}).ok());
}

}  // namespace
}  // namespace peerlab
