// A peer keeps its bootstrap entry alive, end to end: every entry of a
// client holds a lease (issue 13: squatting without a lease), so a peer
// renews its own and joins anew when its entry is gone, while a client
// that joined and went silent drops out. A real peerlab-bootstrap with a
// 3 s lease and a real peerlab-peer on loopback; every wait is a condition
// with a deadline.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "services/bootstrap/client/bootstrap_client.h"
#include "base/token_file.h"
#include "base/uuid.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;
using ::peerlab::peer::e2e::Eventually;

class BootstrapLeaseE2eTest : public e2e::PeerE2eTest {
 protected:
  bootstrap::BootstrapClient::Options Client(bool admin = false) {
    bootstrap::BootstrapClient::Options options;
    options.address = bootstrap_.address;
    if (admin) {
      auto token = ReadTokenFile(admin_token_file_, "admin token");
      EXPECT_TRUE(token.ok()) << token.status();
      if (token.ok()) options.admin_token = *token;
    }
    return options;
  }
  // The names on the list now.
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    auto list = bootstrap::BootstrapClient(Client()).List();
    EXPECT_TRUE(list.ok()) << list.status();
    if (!list.ok()) return names;
    for (const auto& p : list->document().peers()) names.push_back(p.name());
    return names;
  }
  bool Listed(const std::string& name) {
    for (const auto& n : Names()) {
      if (n == name) return true;
    }
    return false;
  }
};

TEST_F(BootstrapLeaseE2eTest,
       APeerRenewsItsLeaseAndJoinsAnewWhenItsEntryIsGone) {
  ASSERT_NO_FATAL_FAILURE(SetUpBootstrap(
      "peerlab-lease-e2e", {"--store", "memory:", "--max-peers", "5",
                            "--default-lease", "3", "--max-lease", "3"}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  auto alice = StartWatchedPeer(
      "alice",
      {"--serve", "--bootstrap", bootstrap_.address, "--config", config_});
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->WaitForLine("outputView", "init: done"));
  ASSERT_TRUE(Listed("alice"));

  // A client that joins after alice and never renews: once its lease has
  // run out, alice's (older) one would have too, had she not renewed it.
  pb::Peer squatter;
  squatter.set_id(NewUuid());
  squatter.set_name("squatter");
  squatter.set_host("127.0.0.1");
  squatter.set_port(9);
  squatter.set_protocol(pb::PROTOCOL_UDP);
  auto joined = bootstrap::BootstrapClient(Client()).Join(squatter);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_TRUE(joined->joined());
  EXPECT_EQ(joined->lease().seconds(), 3);
  EXPECT_TRUE(
      Eventually([&] { return !Listed("squatter"); }, absl::Seconds(15)));
  EXPECT_TRUE(Listed("alice")) << "alice's lease ran out: she never renewed";

  // Her entry vanishes (as on a restarted server with a memory store): she
  // joins anew at her next renewal.
  std::string alice_id;
  auto list = bootstrap::BootstrapClient(Client()).List();
  ASSERT_TRUE(list.ok());
  for (const auto& p : list->document().peers()) {
    if (p.name() == "alice") alice_id = p.id();
  }
  auto removed = bootstrap::BootstrapClient(Client(true)).Leave(alice_id);
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_TRUE(removed->removed());
  EXPECT_TRUE(Eventually([&] { return Listed("alice"); }, absl::Seconds(15)))
      << "alice did not join anew";
}

}  // namespace
}  // namespace peerlab::peer
