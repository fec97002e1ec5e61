#include "base/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "base/bounded_file.h"
#include "base/option_checks.h"

namespace peerlab {
namespace {

// PEM files are small; anything larger is not one.
constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    const std::string& flag) {
  auto text = ReadFileBounded(path, kMaxPemBytes, flag);
  if (!text.ok()) return text.status();
  if (text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " is not a PEM file"));
  }
  return *std::move(text);
}

absl::Status CheckPair(const TlsOptions& o) {
  if (o.require_client_cert && !o.enabled()) {
    return absl::InvalidArgumentError(
        "--tls-require-client-cert needs --tls-cert, --tls-key and --tls-ca "
        "(alone it would serve plaintext)");
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: give both or neither");
  }
  return absl::OkStatus();
}

// InvalidArgument unless `key_pem` is the private key of `cert_pem`.
absl::Status CheckKeyMatchesCert(const std::string& cert_pem,
                                 const std::string& key_pem,
                                 const TlsOptions& o) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
      BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert: ", o.cert_file, " holds no PEM certificate"));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())),
      BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      EVP_PKEY_free);
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key: ", o.key_file,
                     " holds no PEM private key (or it is encrypted)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: ", o.key_file,
        " is not the key of the certificate --tls-cert ", o.cert_file));
  }
  return absl::OkStatus();
}

}  // namespace

void AddTlsFlags(CLI::App& app, TlsOptions* o) {
  app.add_option("--tls-cert", o->cert_file,
                 "TLS certificate (PEM) this program presents")
      ->check(ReadableFile);
  app.add_option("--tls-key", o->key_file, "private key of --tls-cert (PEM)")
      ->check(ReadableFile);
  app.add_option("--tls-ca", o->ca_file,
                 "CA (PEM) that peers' certificates must be signed by; a "
                 "client with only this flag speaks TLS and verifies the "
                 "server")
      ->check(ReadableFile);
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
  if (auto s = CheckPair(o); !s.ok()) return s;
  if (!o.enabled()) return grpc::InsecureServerCredentials();
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
  if (auto s = CheckKeyMatchesCert(*cert, *key, o); !s.ok()) return s;
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
  if (auto s = CheckPair(o); !s.ok()) return s;
  if (!o.enabled()) return grpc::InsecureChannelCredentials();
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
    if (auto s = CheckKeyMatchesCert(*cert, *key, o); !s.ok()) return s;
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace peerlab
