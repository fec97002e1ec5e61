// Why a server cannot be reached: peerlab-bootstrapctl asks this when a call
// ends UNAVAILABLE, so that the user reads "nothing listens there", "the
// server speaks TLS" or "the server requires a client certificate" instead
// of gRPC's transport message.
//
// Thread-safe (no shared state); blocks at most about 2 * `timeout`.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_CLIENT_CONNECTION_CHECK_H_
#define PEERLAB_SERVICES_BOOTSTRAP_CLIENT_CONNECTION_CHECK_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "base/tls.h"

namespace peerlab::bootstrap {

// Probes `address` (HOST:PORT) the way a client with `tls` would connect,
// with plain sockets and OpenSSL, and returns one sentence saying what is
// wrong, or nullopt when the probe finds nothing wrong at the connection
// level (then gRPC's own message is the better one):
//   - nothing listens there (connection refused), no answer, unresolvable;
//   - the server speaks TLS and the client plaintext (give --tls-ca);
//   - the server speaks plaintext and the client TLS (drop --tls-*);
//   - the server requires a client certificate the client does not have
//     (give --tls-cert and --tls-key), or refused the one it has.
std::optional<std::string> CheckConnection(const std::string& address,
                                           const TlsOptions& tls,
                                           absl::Duration timeout);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_CLIENT_CONNECTION_CHECK_H_
