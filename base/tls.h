// TLS for peerlab's gRPC servers and clients, from three files: a
// certificate, its key and a CA. The same flags on every binary:
//
//   --tls-cert FILE  --tls-key FILE  --tls-ca FILE  [--tls-require-client-cert]
//
// Servers: with cert and key they serve TLS; with a CA as well they accept
// client certificates signed by it, and with --tls-require-client-cert they
// demand one (mutual TLS). Clients: with a CA they speak TLS and verify the
// server against it; with cert and key too they present a client
// certificate. Without any flag everything is plaintext, as before.
// deploy/tls/make-lab-certs.sh makes a CA and certificates for a lab.
#ifndef PEERLAB_BASE_TLS_H_
#define PEERLAB_BASE_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace CLI {
class App;
}

namespace peerlab {

struct TlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool require_client_cert = false;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !ca_file.empty();
  }
};

// Adds the --tls-* flags to `app`, filling `options`.
void AddTlsFlags(CLI::App& app, TlsOptions* options);

// The flags that reproduce `options` (for the processes a lab starts);
// empty when TLS is off.
std::vector<std::string> TlsFlags(const TlsOptions& options);

// Credentials for a server. InvalidArgument naming the flag when a file
// cannot be read or the combination makes no sense (a key without a cert,
// client certificates required without a CA).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

// Credentials for a client channel (insecure when TLS is off).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const TlsOptions& options);

}  // namespace peerlab

#endif  // PEERLAB_BASE_TLS_H_
