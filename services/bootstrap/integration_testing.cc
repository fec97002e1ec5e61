#include "services/bootstrap/integration_testing.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace peerlab::bootstrap::testing {

namespace pb = ::bootstrap::v1;

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

std::unique_ptr<pb::BootstrapData::Stub> ConnectedStub(
    const std::string& address) {
  auto channel = NewChannel(address);
  EXPECT_TRUE(channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10))))
      << "cannot connect to " << address;
  return pb::BootstrapData::NewStub(channel);
}

pb::Peer MakePeer(const std::string& id, int n) {
  pb::Peer peer;
  peer.set_id(id);
  peer.set_name(absl::StrCat("node-", n));
  peer.set_host("127.0.0.1");
  peer.set_port(20000 + n % 40000);
  peer.set_protocol(pb::PROTOCOL_TCP);
  return peer;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), ": ",
                      status.error_message());
}

}  // namespace peerlab::bootstrap::testing
