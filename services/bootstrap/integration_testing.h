// Helpers shared by the bootstrap server's process-level tests
// (server_integration_test, postgres_integration_test): channels, stubs and
// peers as separate clients would have them. Test-only code.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_INTEGRATION_TESTING_H_
#define PEERLAB_SERVICES_BOOTSTRAP_INTEGRATION_TESTING_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"

namespace peerlab::bootstrap::testing {

// A channel of its own (no shared subchannel), as a separate client would
// have, that reconnects promptly after the server went away.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// A stub on a new channel that is already connected (waits up to 10 s,
// failing the test otherwise): a burst of fresh channels can otherwise see
// a first call fail UNAVAILABLE, and these tests are about the server.
std::unique_ptr<::bootstrap::v1::BootstrapData::Stub> ConnectedStub(
    const std::string& address);

// A valid peer named "node-N" with the given id.
::bootstrap::v1::Peer MakePeer(const std::string& id, int n);

// "code C: message", for failure messages.
std::string Describe(const grpc::Status& status);

}  // namespace peerlab::bootstrap::testing

#endif  // PEERLAB_SERVICES_BOOTSTRAP_INTEGRATION_TESTING_H_
