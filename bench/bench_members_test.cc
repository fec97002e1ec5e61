// What the side-by-side benchmarks share: the ports they give members.
#include "bench/bench_members.h"

#include <fstream>
#include <set>

#include "gtest/gtest.h"

namespace peerlab::bench {
namespace {

// The ports FreePort hands out lie outside the kernel's ephemeral range
// (where every port-0 bind and outgoing connection on the machine gets its
// port, so another process may take one between FreePort and the
// member's bind), and never twice. Before, FreePort bound port 0 and
// returned the kernel's pick: always an ephemeral port.
TEST(FreePortTest, PortsAreOutsideTheEphemeralRangeAndNeverRepeat) {
  int low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    const int port = FreePort();
    ASSERT_GT(port, 0) << "call " << i;
    EXPECT_TRUE(port < low || port > high)
        << "port " << port << " is in the ephemeral range " << low << "-"
        << high;
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " again";
  }
}

// Both systems' words for a port taken before they bound it.
TEST(FreePortTest, APortTakenMeanwhileIsRecognised) {
  // peerlab-peer (its gossip socket, then its gRPC server).
  EXPECT_TRUE(
      PortWasTaken("error: --gossip-port 20001: Address already in use\n"));
  EXPECT_TRUE(PortWasTaken(
      "error: 127.0.0.1:20002 (--grpc-port): cannot listen: address already "
      "in use (another process listens on that port)\n"));
  // serf.
  EXPECT_TRUE(PortWasTaken(
      "==> Error starting agent: Failed to start the Serf agent: Error "
      "creating Serf: Failed to create memberlist: Could not set up network "
      "transport: failed to obtain an address: Failed to start TCP "
      "listener on \"127.0.0.1\" port 20003: listen tcp 127.0.0.1:20003: "
      "bind: address already in use\n"));
  EXPECT_FALSE(PortWasTaken("error: --log-file /x: cannot open\n"));
  EXPECT_FALSE(PortWasTaken(""));
}

}  // namespace
}  // namespace peerlab::bench
