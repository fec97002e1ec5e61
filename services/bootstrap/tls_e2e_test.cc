// TLS end to end: the real server with certificates from
// deploy/tls/make-lab-certs.sh, called by BootstrapClient with and without
// the right credentials; the admin token still guards Reset over TLS.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/bootstrap/client/bootstrap_client.h"
#include "base/testing/subprocess.h"
#include "base/tls.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::StartBootstrapServer;
using ::peerlab::testing::TempDir;
using ::peerlab::testing::WriteFile;

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("tls-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    certs_ = dir_->File("certs");
    const std::string cmd = absl::StrCat(
        PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ", certs_,
        " server:127.0.0.1,localhost client:127.0.0.1 > /dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ASSERT_TRUE(WriteFile(dir_->File("admin.token"), "s3cret\n").ok());
    auto server = StartBootstrapServer(
        dir_->path(),
        {"--store", "memory:", "--admin-token-file", dir_->File("admin.token"),
         "--tls-cert", certs_ + "/server.crt", "--tls-key",
         certs_ + "/server.key", "--tls-ca", certs_ + "/ca.crt",
         "--tls-require-client-cert"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server->process);
    address_ = server->address;
  }

  BootstrapClient Client(const TlsOptions& tls,
                         std::optional<std::string> token = std::nullopt) {
    auto credentials = MakeChannelCredentials(tls);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return BootstrapClient({.address = address_,
                            .admin_token = token,
                            .credentials = *credentials,
                            .deadline = absl::Seconds(3),
                            .max_attempts = 1});
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<peerlab::testing::Subprocess> server_;
  std::string certs_, address_;
};

TEST_F(TlsE2eTest, MutualTlsAcceptsOnlyClientsWithCertificates) {
  TlsOptions full{.cert_file = certs_ + "/client.crt",
                  .key_file = certs_ + "/client.key",
                  .ca_file = certs_ + "/ca.crt"};
  EXPECT_TRUE(Client(full).Ping().ok());

  TlsOptions no_client_cert{.ca_file = certs_ + "/ca.crt"};
  EXPECT_EQ(Client(no_client_cert).Ping().status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Client(TlsOptions{}).Ping().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(TlsE2eTest, AdminTokenWorksOverTls) {
  TlsOptions full{.cert_file = certs_ + "/client.crt",
                  .key_file = certs_ + "/client.key",
                  .ca_file = certs_ + "/ca.crt"};
  EXPECT_EQ(Client(full).Reset().status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Client(full, "s3cret").Reset().ok());
}

TEST(TlsOptionsTest, BadCombinationsAreRefusedNamingTheFlag) {
  auto key_only = MakeServerCredentials({.key_file = "/x"});
  EXPECT_FALSE(key_only.ok());
  auto mutual_without_ca = MakeServerCredentials({.cert_file = "/etc/hostname",
                                                  .key_file = "/etc/hostname",
                                                  .require_client_cert = true});
  EXPECT_NE(mutual_without_ca.status().message().find("--tls-ca"),
            std::string::npos);
  auto missing = MakeChannelCredentials({.ca_file = "/nonexistent.pem"});
  EXPECT_NE(missing.status().message().find("--tls-ca"), std::string::npos);
  EXPECT_TRUE(MakeChannelCredentials({}).ok());
}

}  // namespace
}  // namespace peerlab::bootstrap
