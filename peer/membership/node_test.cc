// The embedding API on real loopback sockets: several Nodes in one process.
// Waits are on events the nodes' callbacks record, with deadlines.
#include "peer/membership/node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(8);

// What a node's callbacks and delegate saw.
class Recorder : public Delegate {
 public:
  struct Event {
    std::string kind;  // join, leave, update, suspect, alive, user
    Member member;
    std::string payload;  // user
  };

  void Record(const std::string& kind, const Member& m) {
    absl::MutexLock lock(&mu_);
    events_.push_back({kind, m, ""});
  }
  // Installs the callbacks in `o`.
  void Attach(NodeOptions& o) {
    o.on_join = [this](const Member& m) { Record("join", m); };
    o.on_leave = [this](const Member& m) { Record("leave", m); };
    o.on_update = [this](const Member& m) { Record("update", m); };
    o.on_suspect = [this](const Member& m) { Record("suspect", m); };
    o.on_alive = [this](const Member& m) { Record("alive", m); };
    o.delegate = this;
  }

  // Waits until an event satisfies `pred`; false at the deadline.
  bool WaitFor(const std::function<bool(const Event&)>& pred,
               absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto found = [&] {
      for (const Event& e : events_) {
        if (pred(e)) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  }
  bool WaitFor(const std::string& kind, const std::string& name,
               absl::Duration timeout = kWait) {
    return WaitFor(
        [&](const Event& e) { return e.kind == kind && e.member.name == name; },
        timeout);
  }

  // Delegate.
  void OnUserMessage(const std::string& payload) override {
    absl::MutexLock lock(&mu_);
    events_.push_back({"user", Member{}, payload});
  }
  std::string LocalState(bool) override { return ""; }
  void MergeRemoteState(const std::string&, bool) override {}

 private:
  absl::Mutex mu_;
  std::vector<Event> events_;
};

bool HasMember(const std::vector<Member>& members, const std::string& name) {
  for (const Member& m : members) {
    if (m.name == name) return true;
  }
  return false;
}

int PortOf(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The per-user state (group key, node keys) of this test only.
    std::string tmpl = ::testing::TempDir() + "node_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    state_dir_ = tmpl;
    ASSERT_EQ(::setenv("PEERLAB_STATE_DIR", state_dir_.c_str(), 1), 0);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(state_dir_, ignored);
  }

  // Fast timings, so failures are detected within a second or two.
  static NodeOptions Options(const std::string& name) {
    NodeOptions o;
    o.name = name;
    o.profile = "local";
    o.configure = [](Config& c) {
      c.probe_interval = absl::Milliseconds(200);
      c.probe_timeout = absl::Milliseconds(100);
      c.gossip_interval = absl::Milliseconds(50);
      c.reliable_timeout = absl::Seconds(2);
    };
    return o;
  }

  std::unique_ptr<Node> StartNode(NodeOptions o) {
    auto node = Node::Start(std::move(o));
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? *std::move(node) : nullptr;
  }

  std::string state_dir_;
};

TEST_F(NodeTest, TwoNodesJoinAndSeeEachOtherAlive) {
  Recorder ra, rb;
  NodeOptions oa = Options("alice");
  oa.metadata = "role=a";
  ra.Attach(oa);
  NodeOptions ob = Options("bob");
  rb.Attach(ob);
  auto a = StartNode(oa);
  auto b = StartNode(ob);
  ASSERT_TRUE(a && b);
  EXPECT_THAT(a->Address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(a->Address(), a->GrpcAddress());

  auto joined = b->Join({a->Address()});
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(*joined, 1);
  ASSERT_TRUE(ra.WaitFor("join", "bob"));
  ASSERT_TRUE(rb.WaitFor("join", "alice"));

  std::vector<Member> seen = a->Members();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(a->NumMembers(), 2);
  for (const Member& m : b->Members()) {
    EXPECT_EQ(m.state, MemberState::kAlive) << m.name;
    if (m.name == "alice") {
      EXPECT_EQ(m.addr, a->Address());
      EXPECT_EQ(m.meta, "role=a");
    }
  }
  EXPECT_EQ(b->LocalMember().name, "bob");
  EXPECT_EQ(b->LocalMember().addr, b->Address());
}

TEST_F(NodeTest, MetadataUpdateAndLeaveAreSeenByTheOthers) {
  Recorder ra, rb, rc;
  NodeOptions oa = Options("alice"), ob = Options("bob"), oc = Options("carol");
  ra.Attach(oa);
  rb.Attach(ob);
  rc.Attach(oc);
  auto a = StartNode(oa);
  auto b = StartNode(ob);
  auto c = StartNode(oc);
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  ASSERT_TRUE(c->Join({a->Address(), b->Address()}).ok());
  ASSERT_TRUE(ra.WaitFor("join", "carol"));
  ASSERT_TRUE(rb.WaitFor("join", "carol"));

  ASSERT_TRUE(c->UpdateMetadata("v=2", absl::Seconds(5)).ok());
  for (Recorder* r : {&ra, &rb}) {
    EXPECT_TRUE(r->WaitFor([](const Recorder::Event& e) {
      return e.kind == "update" && e.member.name == "carol" &&
             e.member.meta == "v=2";
    }));
  }

  ASSERT_TRUE(c->Leave(absl::Seconds(5)).ok());
  for (Recorder* r : {&ra, &rb}) {
    EXPECT_TRUE(r->WaitFor([](const Recorder::Event& e) {
      return e.kind == "leave" && e.member.name == "carol" &&
             e.member.state == MemberState::kLeft;
    }));
  }
  EXPECT_FALSE(HasMember(a->Members(), "carol"));
  EXPECT_TRUE(HasMember(a->Members(), "bob"));
  // A node that left cannot join again; leaving twice is fine.
  EXPECT_EQ(c->Join({a->Address()}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(c->Leave(absl::Seconds(1)).ok());
}

TEST_F(NodeTest, GrpcOnlyNodesFormAGroupOverGrpc) {
  Recorder ra;
  NodeOptions oa = Options("alice");
  oa.grpc_only = true;
  ra.Attach(oa);
  NodeOptions ob = Options("bob");
  ob.grpc_only = true;
  auto a = StartNode(oa);
  auto b = StartNode(ob);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->Address(), a->GrpcAddress());
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  ASSERT_TRUE(ra.WaitFor("join", "bob"));
  EXPECT_EQ(b->NumMembers(), 2);
}

TEST_F(NodeTest, AFailedNodeIsSuspectedThenDeclaredDead) {
  Recorder ra;
  NodeOptions oa = Options("alice");
  ra.Attach(oa);
  auto a = StartNode(oa);
  auto b = StartNode(Options("bob"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  ASSERT_TRUE(ra.WaitFor("join", "bob"));

  b->Shutdown();  // no leave: a must find out
  EXPECT_TRUE(ra.WaitFor("suspect", "bob"));
  EXPECT_TRUE(ra.WaitFor([](const Recorder::Event& e) {
    return e.kind == "leave" && e.member.name == "bob" &&
           e.member.state == MemberState::kDead;
  }));
}

TEST_F(NodeTest, ShutdownTwiceIsFineAndLaterCallsSaySo) {
  auto a = StartNode(Options("alice"));
  ASSERT_TRUE(a);
  const std::string address = a->Address();
  a->Shutdown();
  a->Shutdown();
  EXPECT_TRUE(a->Members().empty());
  EXPECT_EQ(a->NumMembers(), 0);
  EXPECT_EQ(a->Address(), address);
  EXPECT_EQ(a->Join({"127.0.0.1:1"}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->Leave(absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->UpdateMetadata("x", absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->Broadcast("x").code(), absl::StatusCode::kFailedPrecondition);
  // The ports are free again.
  NodeOptions again = Options("alice2");
  again.gossip_port = PortOf(address);
  EXPECT_TRUE(StartNode(again));
}

TEST_F(NodeTest, BadOptionsAreRefusedNamingTheField) {
  struct Case {
    std::string expected;  // in the message
    std::function<void(NodeOptions&)> change;
  };
  const std::vector<Case> cases = {
      {"NodeOptions.name: a node needs a name",
       [](NodeOptions& o) { o.name = ""; }},
      {"NodeOptions.name: 300 bytes, at most 256",
       [](NodeOptions& o) { o.name = std::string(300, 'x'); }},
      {"NodeOptions.name: no control characters",
       [](NodeOptions& o) { o.name = "a\nb"; }},
      {"NodeOptions.name: no '/'", [](NodeOptions& o) { o.name = "a/b"; }},
      {"NodeOptions.bind_address: \"localhost\" is not an IPv4 address",
       [](NodeOptions& o) { o.bind_address = "localhost"; }},
      {"NodeOptions.bind_address: 0.0.0.0 needs an advertise_address",
       [](NodeOptions& o) { o.bind_address = "0.0.0.0"; }},
      {"NodeOptions.gossip_port: 70000 is not in 0..65535",
       [](NodeOptions& o) { o.gossip_port = 70000; }},
      {"NodeOptions.grpc_port: -1 is not in 0..65535",
       [](NodeOptions& o) { o.grpc_port = -1; }},
      {"NodeOptions.profile: \"fast\" is not lan, wan or local",
       [](NodeOptions& o) { o.profile = "fast"; }},
      {"NodeOptions.metadata: 600 bytes, at most 512",
       [](NodeOptions& o) { o.metadata = std::string(600, 'm'); }},
      {"NodeOptions.insecure_gossip: a keyring_file is given too",
       [](NodeOptions& o) {
         o.insecure_gossip = true;
         o.keyring_file = "/nonexistent";
       }},
      {"NodeOptions.gossip_port: grpc_only opens no UDP socket",
       [](NodeOptions& o) {
         o.grpc_only = true;
         o.gossip_port = 7946;
       }},
      {"NodeOptions.group_label: label",
       [](NodeOptions& o) { o.group_label = std::string(300, 'l'); }},
      {"NodeOptions.configure: probe_interval",
       [](NodeOptions& o) {
         o.configure = [](Config& c) {
           c.probe_interval = absl::ZeroDuration();
         };
       }},
      {"NodeOptions.keyring_file: ",
       [](NodeOptions& o) { o.keyring_file = "/nonexistent/keys"; }},
  };
  for (const Case& c : cases) {
    NodeOptions o = Options("alice");
    c.change(o);
    auto node = Node::Start(o);
    ASSERT_FALSE(node.ok()) << c.expected;
    if (!absl::StartsWith(c.expected, "NodeOptions.keyring_file")) {
      EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument)
          << node.status();
    }
    EXPECT_THAT(node.status().message(), HasSubstr(c.expected));
  }
}

// A Join still waiting for an answer when the node shuts down ends, saying
// so, instead of waiting for ever.
TEST_F(NodeTest, AJoinWaitingWhenTheNodeShutsDownEnds) {
  NodeOptions o = Options("alice");
  o.configure = [](Config& c) { c.reliable_timeout = absl::Seconds(60); };
  auto a = StartNode(o);
  ASSERT_TRUE(a);
  // A UDP socket that never answers: the join waits for its gRPC address.
  const int silent = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string target = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  absl::Notification ended;
  absl::StatusOr<int> joined = 0;
  std::thread joiner([&] {
    joined = a->Join({target});
    ended.Notify();
  });
  // The join is under way once its resolve query reaches the socket.
  timeval wait{.tv_sec = 10, .tv_usec = 0};
  ASSERT_EQ(::setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)),
            0);
  char buf[128];
  ASSERT_GT(::recv(silent, buf, sizeof(buf), 0), 0) << "no resolve query";
  EXPECT_FALSE(ended.HasBeenNotified());
  a->Shutdown();
  EXPECT_TRUE(ended.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "Join still waits after Shutdown";
  joiner.join();
  EXPECT_FALSE(joined.ok());
  std::cout << joined.status() << "\n";
  ::close(silent);
}

TEST_F(NodeTest, TakenPortsAreRefusedNamingThePortAndTheReason) {
  auto a = StartNode(Options("alice"));
  ASSERT_TRUE(a);

  NodeOptions udp = Options("bob");
  udp.gossip_port = PortOf(a->Address());
  auto b = Node::Start(udp);
  ASSERT_FALSE(b.ok());
  std::cout << b.status() << "\n";
  EXPECT_THAT(
      b.status().message(),
      HasSubstr(absl::StrCat("NodeOptions.gossip_port ", udp.gossip_port)));
  EXPECT_THAT(b.status().message(), HasSubstr("in use"));

  NodeOptions grpc = Options("bob");
  grpc.grpc_port = PortOf(a->GrpcAddress());
  auto c = Node::Start(grpc);
  ASSERT_FALSE(c.ok());
  std::cout << c.status() << "\n";
  EXPECT_THAT(c.status().message(), HasSubstr("NodeOptions.grpc_port"));
  EXPECT_THAT(c.status().message(), HasSubstr("in use"));
}

TEST_F(NodeTest, SecureByDefaultWithTheUserGroupKey) {
  auto a = StartNode(Options("alice"));
  auto b = StartNode(Options("bob"));
  ASSERT_TRUE(a && b);
  // No set-up: both use the per-user group key, made 0600.
  struct stat st;
  ASSERT_EQ(::stat((state_dir_ + "/gossip.keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_TRUE(b->Join({a->Address()}).ok());

  // A node in the clear is not let in.
  NodeOptions open = Options("mallory");
  open.insecure_gossip = true;
  auto m = StartNode(open);
  ASSERT_TRUE(m);
  auto joined = m->Join({a->Address()});
  EXPECT_FALSE(joined.ok());
  EXPECT_FALSE(HasMember(a->Members(), "mallory"));
}

TEST_F(NodeTest, BroadcastsReachTheOthersDelegateUpToTheLimit) {
  Recorder ra;
  NodeOptions oa = Options("alice");
  ra.Attach(oa);
  auto a = StartNode(oa);
  auto b = StartNode(Options("bob"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  ASSERT_TRUE(ra.WaitFor("join", "bob"));

  const int limit = b->MaxBroadcastBytes();
  std::cout << "MaxBroadcastBytes " << limit << "\n";
  EXPECT_GT(limit, 1000);
  EXPECT_EQ(b->Broadcast(std::string(limit + 1, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  const std::string payload(limit, 'p');
  ASSERT_TRUE(b->Broadcast(payload, "k").ok());
  EXPECT_TRUE(ra.WaitFor([&](const Recorder::Event& e) {
    return e.kind == "user" && e.payload == payload;
  }));
}

// An embedder's own component on a channel of its own (NodeOptions::
// channels): one broadcast and one direct message between two nodes.
class ChannelRecorder : public Delegate {
 public:
  void OnUserMessage(const std::string& payload) override {
    absl::MutexLock lock(&mu_);
    broadcasts_.push_back(payload);
  }
  std::string LocalState(bool) override { return ""; }
  void MergeRemoteState(const std::string&, bool) override {}
  absl::Status OnDirectMessage(const DirectMessage& m) override {
    absl::MutexLock lock(&mu_);
    directs_.push_back(absl::StrCat(m.from, "@", m.channel, ":", m.payload));
    return m.payload == "refuse me" ? absl::PermissionDeniedError("no")
                                    : absl::OkStatus();
  }
  bool WaitBroadcast(const std::string& payload) {
    absl::MutexLock lock(&mu_);
    auto found = [&] {
      return std::find(broadcasts_.begin(), broadcasts_.end(), payload) !=
             broadcasts_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&found), kWait);
  }
  std::vector<std::string> directs() {
    absl::MutexLock lock(&mu_);
    return directs_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> broadcasts_;
  std::vector<std::string> directs_;
};

TEST_F(NodeTest, AnEmbeddersChannelCarriesABroadcastAndADirectMessage) {
  ChannelRecorder ca, cb;
  NodeOptions oa = Options("alice");
  oa.channels = {{7, &ca}};
  NodeOptions ob = Options("bob");
  ob.channels = {{7, &cb}};
  auto a = StartNode(oa);
  auto b = StartNode(ob);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  ASSERT_TRUE(b->BroadcastOn(7, "hello on 7").ok());
  EXPECT_TRUE(ca.WaitBroadcast("hello on 7"));
  EXPECT_TRUE(a->SendDirect("bob", 7, "direct to bob").ok());
  EXPECT_EQ(cb.directs(), std::vector<std::string>{"alice@7:direct to bob"});
  // The component's answer is the sender's status; a channel nobody
  // registered is refused (NotFound), as is an unknown member.
  EXPECT_EQ(a->SendDirect("bob", 7, "refuse me").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(a->SendDirect("bob", 9, "nobody").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(a->SendDirect("carol", 7, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a->BroadcastOn(7, std::string(a->MaxBroadcastBytes(), 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  // Channel 0 and a delegate beside channels are refused at Start.
  NodeOptions bad = Options("carol");
  bad.channels = {{0, &ca}};
  EXPECT_THAT(std::string(Node::Start(bad).status().message()),
              HasSubstr("channels"));
  Recorder r;
  bad.channels = {{7, &ca}};
  bad.delegate = &r;
  EXPECT_THAT(std::string(Node::Start(bad).status().message()),
              HasSubstr("channels"));
}

TEST_F(NodeTest, BlockingCallsFromACallbackAreRefusedNotDeadlocked) {
  absl::Mutex mu;
  bool done = false;
  absl::Status join_status;
  int members_seen = 0;
  Node* self = nullptr;
  NodeOptions oa = Options("alice");
  oa.on_join = [&](const Member&) {
    absl::MutexLock lock(&mu);
    if (done) return;
    join_status = self->Join({"127.0.0.1:1"}).status();
    members_seen = static_cast<int>(self->Members().size());
    self->Shutdown();  // ignored (logged)
    done = true;
  };
  auto a = StartNode(oa);
  auto b = StartNode(Options("bob"));
  ASSERT_TRUE(a && b);
  {
    absl::MutexLock lock(&mu);
    self = a.get();
  }
  ASSERT_TRUE(b->Join({a->Address()}).ok());
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), kWait));
  EXPECT_EQ(join_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(join_status.message(), HasSubstr("from a Node callback"));
  EXPECT_EQ(members_seen, 2);
  EXPECT_EQ(a->NumMembers(), 2);  // still running
}

}  // namespace
}  // namespace peerlab::membership
