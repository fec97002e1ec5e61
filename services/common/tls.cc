#include "services/common/tls.h"

#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace peerlab {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " is not a PEM file"));
  }
  return ss.str();
}

absl::Status CheckPair(const TlsOptions& o) {
  if (o.cert_file.empty() != o.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: give both or neither");
  }
  return absl::OkStatus();
}

}  // namespace

void AddTlsFlags(CLI::App& app, TlsOptions* o) {
  app.add_option("--tls-cert", o->cert_file,
                 "TLS certificate (PEM) this program presents");
  app.add_option("--tls-key", o->key_file, "private key of --tls-cert (PEM)");
  app.add_option("--tls-ca", o->ca_file,
                 "CA (PEM) that peers' certificates must be signed by; a "
                 "client with only this flag speaks TLS and verifies the "
                 "server");
  app.add_flag("--tls-require-client-cert", o->require_client_cert,
               "servers: demand a client certificate signed by --tls-ca "
               "(mutual TLS)");
}

std::vector<std::string> TlsFlags(const TlsOptions& o) {
  std::vector<std::string> flags;
  for (const auto& [flag, value] : {std::pair{"--tls-cert", &o.cert_file},
                                    std::pair{"--tls-key", &o.key_file},
                                    std::pair{"--tls-ca", &o.ca_file}}) {
    if (value->empty()) continue;
    flags.push_back(flag);
    flags.push_back(*value);
  }
  if (o.require_client_cert) flags.push_back("--tls-require-client-cert");
  return flags;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& o) {
  if (!o.enabled()) return grpc::InsecureServerCredentials();
  if (auto s = CheckPair(o); !s.ok()) return s;
  if (o.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a server needs --tls-cert and --tls-key to serve TLS");
  }
  if (o.require_client_cert && o.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-require-client-cert needs --tls-ca to check client "
        "certificates against");
  }
  auto cert = ReadPem(o.cert_file, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(o.key_file, "--tls-key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(
      o.ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : (o.require_client_cert
                 ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                 : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY));
  if (!o.ca_file.empty()) {
    auto ca = ReadPem(o.ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const TlsOptions& o) {
  if (!o.enabled()) return grpc::InsecureChannelCredentials();
  if (auto s = CheckPair(o); !s.ok()) return s;
  grpc::SslCredentialsOptions ssl;
  if (!o.ca_file.empty()) {
    auto ca = ReadPem(o.ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!o.cert_file.empty()) {
    auto cert = ReadPem(o.cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(o.key_file, "--tls-key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace peerlab
