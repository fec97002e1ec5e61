// TLS end to end for the peer: a peerlab-bootstrap and two peerlab-peer
// processes, all with mutual TLS certificates from
// deploy/tls/make-lab-certs.sh, run init (bootstrap over TLS, membership
// over gRPC with TLS) and chat; the test drives them through
// peer.v1.PeerControl over TLS, and a plaintext client is refused.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/testing/eventually.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"
#include "base/tls.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/chat.grpc.pb.h"
#include "proto/peer/v1/control.grpc.pb.h"

namespace peerlab::peer {
namespace {

using ::peerlab::testing::Eventually;

namespace pb = ::peer::v1;
using ::peerlab::testing::ExecuteOrError;
using ::peerlab::testing::NewPeerChannel;
using ::peerlab::testing::OutputTexts;
using ::peerlab::testing::StartPeerProcess;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::ViewWatcher;

constexpr absl::Duration kDeadline = absl::Seconds(30);

[[maybe_unused]] const bool kBackupPollSet =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", 0) == 0;

// Short membership timings (no memberlist.suspicion_mult, unlike
// e2e::kFastMembership).
constexpr char kFastMembership[] = R"({
  "memberlist.probe_interval": "200ms",
  "memberlist.probe_timeout": "100ms",
  "memberlist.gossip_interval": "50ms",
  "memberlist.reliable_timeout": "500ms",
  "chat.delivery_timeout": "5s"
})";

// Runs `line` on the peer behind `stub`; RPC errors become the response's
// code and message.
pb::ExecuteResponse Execute(pb::PeerControl::Stub& stub,
                            const std::string& line) {
  return ExecuteOrError(stub, line, absl::Seconds(30));
}

std::string Text(const pb::ExecuteResponse& r) {
  return absl::StrJoin(OutputTexts(r), "\n");
}

class PeerTlsE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CreateDir("peerlab-peer-tls-e2e"));
    certs_ = dir_->File("certs");
    const std::string cmd = absl::StrCat(
        PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ", certs_,
        " bootstrap:127.0.0.1 alice:127.0.0.1 bob:127.0.0.1"
        " test:127.0.0.1 > /dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ASSERT_NO_FATAL_FAILURE(StartBootstrap(
        {"--store", "memory:", "--max-peers", "2", "--tls-cert",
         certs_ + "/bootstrap.crt", "--tls-key", certs_ + "/bootstrap.key",
         "--tls-ca", certs_ + "/ca.crt", "--tls-require-client-cert"}));
    ASSERT_NO_FATAL_FAILURE(WriteConfig(kFastMembership));
  }

  // The --tls-* flags of certificate `name`, with mutual TLS.
  std::vector<std::string> TlsArgs(const std::string& name) {
    return {"--tls-cert",
            absl::StrCat(certs_, "/", name, ".crt"),
            "--tls-key",
            absl::StrCat(certs_, "/", name, ".key"),
            "--tls-ca",
            certs_ + "/ca.crt",
            "--tls-require-client-cert"};
  }

  // Starts peerlab-peer NAME --serve with its certificate (and `extra`
  // flags); returns the control address once it serves.
  std::string StartPeer(const std::string& name,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--serve",     "--no-init",
                                     "--bootstrap", bootstrap_.address,
                                     "--config",    config_};
    for (auto& a : TlsArgs(name)) args.push_back(a);
    for (auto& a : extra) args.push_back(a);
    auto started = StartPeerProcess(dir_->path(), name, args, kDeadline);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return "";
    peers_.push_back(std::move(started->process));
    return started->address;
  }

  std::unique_ptr<pb::PeerControl::Stub> Stub(
      const std::string& address,
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return pb::PeerControl::NewStub(NewPeerChannel(address, credentials));
  }

  std::shared_ptr<grpc::ChannelCredentials> TestCredentials() {
    auto credentials =
        MakeChannelCredentials({.cert_file = certs_ + "/test.crt",
                                .key_file = certs_ + "/test.key",
                                .ca_file = certs_ + "/ca.crt"});
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return credentials.ok() ? *credentials : nullptr;
  }

  std::string certs_;
  std::vector<std::unique_ptr<Subprocess>> peers_;
};

TEST_F(PeerTlsE2eTest, TwoPeersInitAndChatOverMutualTls) {
  const std::string alice_addr = StartPeer("alice");
  ASSERT_FALSE(alice_addr.empty());
  const std::string bob_addr = StartPeer("bob");
  ASSERT_FALSE(bob_addr.empty());
  auto alice = Stub(alice_addr, TestCredentials());
  auto bob = Stub(bob_addr, TestCredentials());

  // init: bootstrap (TLS), membership join (gRPC with TLS), chat.
  for (auto* stub : {alice.get(), bob.get()}) {
    auto r = Execute(*stub, "init");
    ASSERT_EQ(r.code(), 0) << r.message() << "\n" << Text(r);
  }
  // Each sees the other as a chat member (gossip and chat announcements
  // travel over the TLS channels).
  for (auto* stub : {alice.get(), bob.get()}) {
    std::string last;
    Eventually(
        [&] {
          auto r = Execute(*stub, "chatmembers");
          last = Text(r);
          return r.code() == 0 && absl::StrContains(last, "1 chat member(s)");
        },
        kDeadline);
    ASSERT_TRUE(absl::StrContains(last, "1 chat member(s)")) << last;
  }

  // msg returns once every other member acked the message.
  auto sent = Execute(*alice, "msg hello over tls");
  ASSERT_EQ(sent.code(), 0) << sent.message() << "\n" << Text(sent);

  // bob shows it: read its views (history included) until the line comes.
  pb::WatchViewsRequest request;
  request.set_include_history(true);
  ViewWatcher watch(bob.get(), request);
  const bool shown = watch.WaitUntil(
      [](const std::vector<pb::ViewLine>& lines) {
        for (const auto& l : lines) {
          if (l.view() == "messagesView" &&
              l.text() == "<alice> hello over tls") {
            return true;
          }
        }
        return false;
      },
      kDeadline);
  EXPECT_TRUE(shown);

  // issue 13: a client with a valid lab certificate of its own ("test")
  // cannot open a chat stream as bob: the hello's sender must be the
  // certificate's name (refused before its signature is even checked).
  auto chat = pb::Chat::NewStub(NewPeerChannel(alice_addr, TestCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
  auto stream = chat->Connect(&context);
  pb::ChatEnvelope forged;
  pb::ChatHello* hello = forged.mutable_hello();
  hello->set_version(1);
  hello->set_sender("bob");
  hello->set_generation(1);
  hello->set_receiver("alice");
  hello->set_nonce("n");
  hello->set_unix_ms(absl::ToUnixMillis(absl::Now()));
  hello->set_signature(std::string(64, 'x'));
  auto* m = forged.add_messages();
  m->set_session("forged");
  m->set_seq(1);
  m->set_text("I am bob");
  ASSERT_TRUE(stream->Write(forged));
  // No WritesDone: a half-close would end the stream (OK) before the
  // refusal; the server ends it.
  pb::ChatEnvelope answer;
  while (stream->Read(&answer)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  EXPECT_THAT(Text(Execute(*alice, "chatstats")),
              ::testing::HasSubstr("streams refused 1 (certificate name 1)"));
}

// issue 19: certificates that name a DNS name only (as a Kubernetes pod's
// "peer-0.peers", whose address changes at every restart) verify once the
// peers advertise that name (--advertise-host): chat, membership's reliable
// path and remote control all dial it. Without the flag the peers dial
// 127.0.0.1, which the certificates do not name, and no chat stream opens.
TEST_F(PeerTlsE2eTest, PeersAdvertisingTheirCertificatesNameChatOverTls) {
  const std::string cmd =
      absl::StrCat(PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ", certs_,
                   " carol:localhost dave:localhost > /dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::vector<std::string> advertise = {"--advertise-host", "localhost"};
  const std::string carol_addr = StartPeer("carol", advertise);
  ASSERT_TRUE(absl::StartsWith(carol_addr, "localhost:")) << carol_addr;
  const std::string dave_addr = StartPeer("dave", advertise);
  ASSERT_TRUE(absl::StartsWith(dave_addr, "localhost:")) << dave_addr;
  auto carol = Stub(carol_addr, TestCredentials());
  auto dave = Stub(dave_addr, TestCredentials());
  for (auto* stub : {carol.get(), dave.get()}) {
    auto r = Execute(*stub, "init");
    ASSERT_EQ(r.code(), 0) << r.message() << "\n" << Text(r);
  }
  for (auto* stub : {carol.get(), dave.get()}) {
    std::string last;
    Eventually(
        [&] {
          auto r = Execute(*stub, "chatmembers");
          last = Text(r);
          return r.code() == 0 && absl::StrContains(last, "1 chat member(s)");
        },
        kDeadline);
    ASSERT_TRUE(absl::StrContains(last, "1 chat member(s)")) << last;
  }
  // Acknowledged by dave: a chat stream to "localhost:PORT" verified.
  auto sent = Execute(*carol, "msg hello by name");
  EXPECT_EQ(sent.code(), 0) << sent.message() << "\n" << Text(sent);
}

TEST_F(PeerTlsE2eTest, PlaintextAndCertificatelessClientsAreRefused) {
  const std::string address = StartPeer("alice");
  ASSERT_FALSE(address.empty());
  EXPECT_EQ(Execute(*Stub(address, TestCredentials()), "echo hi").code(), 0);

  auto plain =
      Execute(*Stub(address, grpc::InsecureChannelCredentials()), "echo hi");
  EXPECT_EQ(plain.code(), grpc::StatusCode::UNAVAILABLE) << plain.message();

  auto no_cert = MakeChannelCredentials({.ca_file = certs_ + "/ca.crt"});
  ASSERT_TRUE(no_cert.ok()) << no_cert.status();
  auto anonymous = Execute(*Stub(address, *no_cert), "echo hi");
  EXPECT_EQ(anonymous.code(), grpc::StatusCode::UNAVAILABLE)
      << anonymous.message();
}

}  // namespace
}  // namespace peerlab::peer
