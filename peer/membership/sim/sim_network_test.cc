#include "peer/membership/sim/sim_network.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"

namespace peerlab::membership::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

using ::peer::v1::ReliableRequest;
using ::peer::v1::ReliableResponse;

// A trivial protocol: answers "ping…" datagrams with "pong…", answers
// reliable pings with an ack of the same sequence number, and records what
// it receives.
class Echo {
 public:
  struct Received {
    absl::Time time;
    std::string from;
    std::string bytes;
  };

  Echo(SimNetwork& net, NodeId id)
      : net_(net),
        id_(id),
        scheduler_(net.scheduler(id)),
        transport_(net.transport(id)) {
    Transport::Handlers handlers;
    handlers.on_packet = [this](const std::string& from,
                                const std::string& bytes) {
      received.push_back({net_.Now(), from, bytes});
      if (absl::StartsWith(bytes, "ping")) {
        transport_->SendPacket(from, "pong" + bytes.substr(4));
      }
    };
    handlers.on_reliable = [this](const std::string& from,
                                  const ReliableRequest& request,
                                  Transport::ReliableDone respond) {
      served.push_back(from);
      ReliableResponse response;
      response.mutable_ack()->set_seq_no(request.ping().seq_no());
      if (reply_delay > absl::ZeroDuration()) {
        scheduler_->After(reply_delay,
                          [respond, response] { respond(response); });
      } else {
        respond(response);
      }
    };
    transport_->SetHandlers(std::move(handlers));
  }

  void Send(NodeId to, std::string bytes) {
    transport_->SendPacket(net_.address(to), std::move(bytes));
  }

  // Makes a reliable ping; the outcome lands in `results`.
  void Call(const std::string& to, uint32_t seq, absl::Duration timeout) {
    ReliableRequest request;
    request.mutable_ping()->set_seq_no(seq);
    transport_->SendReliable(
        to, request, timeout, [this](absl::StatusOr<ReliableResponse> result) {
          results.push_back({net_.Now(), std::move(result)});
        });
  }

  size_t CountStartingWith(absl::string_view prefix) const {
    size_t n = 0;
    for (const auto& r : received) n += absl::StartsWith(r.bytes, prefix);
    return n;
  }

  SimScheduler* scheduler() { return scheduler_; }
  SimTransport* transport() { return transport_; }

  std::vector<Received> received;
  std::vector<std::string> served;
  std::vector<std::pair<absl::Time, absl::StatusOr<ReliableResponse>>> results;
  absl::Duration reply_delay = absl::ZeroDuration();

 private:
  SimNetwork& net_;
  const NodeId id_;
  SimScheduler* const scheduler_;
  SimTransport* const transport_;
};

// A network of n echo nodes.
struct EchoNet {
  EchoNet(size_t n, SimNetworkOptions options) : net(options) {
    for (size_t i = 0; i < n; ++i) {
      const NodeId id = net.AddNode();
      nodes.push_back(std::make_unique<Echo>(net, id));
    }
  }
  Echo& operator[](size_t i) { return *nodes[i]; }
  SimNetwork net;
  std::vector<std::unique_ptr<Echo>> nodes;
};

SimNetworkOptions Exact(uint64_t seed = 1) {
  SimNetworkOptions options;
  options.seed = seed;
  options.link.latency = absl::Milliseconds(10);
  options.link.jitter = absl::ZeroDuration();
  return options;
}

TEST(SimNetworkTest, AddressesAreGeneratedAndFound) {
  SimNetwork net;
  EXPECT_EQ(net.address(net.AddNode()), "10.0.0.1:7946");
  ASSERT_TRUE(net.AddNodeWithAddress("10.0.0.2:7946").ok());
  EXPECT_EQ(net.address(net.AddNode()), "10.0.0.3:7946");  // .2 was taken
  EXPECT_EQ(net.AddNodeWithAddress("10.0.0.1:7946").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(net.AddNodeWithAddress("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net.Find("10.0.0.2:7946"), NodeId{1});
  EXPECT_FALSE(net.Find("10.9.9.9:7946").has_value());
  EXPECT_EQ(net.transport(0)->LocalAddress(), "10.0.0.1:7946");

  SimNetwork big;
  for (int i = 0; i < 70000; ++i) big.AddNode();
  EXPECT_EQ(big.address(299), "10.0.1.44:7946");   // 300 = 1 * 256 + 44
  EXPECT_EQ(big.address(65535), "10.1.0.0:7946");  // 65536
  EXPECT_EQ(big.Find("10.0.1.44:7946"), NodeId{299});
}

TEST(SimNetworkTest, SameSeedSameTraceOtherSeedOtherTrace) {
  auto run = [](uint64_t seed) {
    SimNetworkOptions options;
    options.seed = seed;
    options.link.loss = 0.2;
    options.duplicate_rate = 0.05;
    EchoNet e(20, options);
    std::vector<std::string> trace;
    e.net.SetPacketObserver([&](const PacketEvent& p) {
      trace.push_back(absl::StrCat(absl::ToUnixNanos(p.time), " ", p.from, ">",
                                   p.to, " ", static_cast<int>(p.outcome)));
    });
    e.net.SetSlowness(3, {absl::Milliseconds(20), absl::Milliseconds(5)});
    // Every node pings a few others from its own timers.
    for (NodeId i = 0; i < 20; ++i) {
      Echo* node = e.nodes[i].get();
      for (int k = 1; k <= 5; ++k) {
        node->scheduler()->After(absl::Milliseconds(k * 7), [node, i, k] {
          node->Send((i + k) % 20, absl::StrCat("ping", i, "-", k));
        });
      }
    }
    e.net.clock().RunFor(absl::Seconds(1));
    trace.push_back(absl::StrCat("events ", e.net.clock().events_processed()));
    return trace;
  };
  const uint64_t seed = SimSeed(7);
  PEERLAB_SIM_TRACE_SEED(seed);
  const auto a = run(seed);
  const auto b = run(seed);
  EXPECT_GT(a.size(), 150u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, run(seed + 1));
}

TEST(SimNetworkTest, DatagramsArriveAfterTheLinkLatency) {
  EchoNet e(3, Exact());
  const absl::Time t0 = e.net.Now();
  e[0].Send(1, "ping");
  LinkOptions slow;
  slow.latency = absl::Milliseconds(40);
  slow.jitter = absl::ZeroDuration();
  e.net.SetLink(0, 2, slow);
  e[0].Send(2, "hello");
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[1].received, SizeIs(1));
  EXPECT_EQ(e[1].received[0].time, t0 + absl::Milliseconds(10));
  EXPECT_EQ(e[1].received[0].from, "10.0.0.1:7946");
  ASSERT_THAT(e[0].received, SizeIs(1));  // the pong: one round trip
  EXPECT_EQ(e[0].received[0].time, t0 + absl::Milliseconds(20));
  ASSERT_THAT(e[2].received, SizeIs(1));
  EXPECT_EQ(e[2].received[0].time, t0 + absl::Milliseconds(40));
}

TEST(SimNetworkTest, JitterStaysWithinBoundsAndReorders) {
  const uint64_t seed = SimSeed(11);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimNetworkOptions options = Exact(seed);
  options.link.jitter = absl::Milliseconds(5);
  EchoNet e(2, options);
  const absl::Time t0 = e.net.Now();
  for (int i = 0; i < 1000; ++i) e[0].Send(1, absl::StrCat("m", i));
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[1].received, SizeIs(1000));
  bool reordered = false;
  for (size_t i = 0; i < e[1].received.size(); ++i) {
    const auto& r = e[1].received[i];
    EXPECT_GE(r.time, t0 + absl::Milliseconds(10));
    EXPECT_LT(r.time, t0 + absl::Milliseconds(15));
    if (r.bytes != absl::StrCat("m", i)) reordered = true;
  }
  EXPECT_TRUE(reordered);
}

TEST(SimNetworkTest, LossRateIsStatisticallyRight) {
  const uint64_t seed = SimSeed(12345);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimNetworkOptions options = Exact(seed);
  options.link.loss = 0.3;
  EchoNet e(3, options);
  LinkOptions lossless = options.link;
  lossless.loss = 0.0;
  e.net.SetLink(0, 2, lossless);  // a per-link override
  constexpr int kPackets = 20000;
  for (int i = 0; i < kPackets; ++i) {
    e[0].Send(1, "x");
    e[0].Send(2, "x");
  }
  e.net.clock().RunFor(absl::Seconds(1));
  // Binomial(20000, 0.7): sd = 65 packets; 6 sd either side.
  const double delivered = static_cast<double>(e[1].received.size());
  EXPECT_NEAR(delivered / kPackets, 0.7, 0.02);
  EXPECT_EQ(e[2].received.size(), static_cast<size_t>(kPackets));
  const NodeStats& s = e.net.stats(0);
  EXPECT_EQ(s.packets_sent, 2u * kPackets);
  EXPECT_EQ(s.packets_dropped, kPackets - e[1].received.size());

  // Global loss changed at run time; 1.0 loses everything.
  e.net.SetLossRate(1.0);
  e[0].Send(1, "y");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[1].CountStartingWith("y"), 0u);
}

TEST(SimNetworkTest, OneWayCut) {
  EchoNet e(2, Exact());
  e.net.Cut(0, 1);
  EXPECT_FALSE(e.net.Reachable(0, 1));
  EXPECT_TRUE(e.net.Reachable(1, 0));
  e[0].Send(1, "a");
  e[1].Send(0, "b");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_THAT(e[1].received, SizeIs(0));
  ASSERT_THAT(e[0].received, SizeIs(1));
  // B's ping gets through but A's pong does not.
  e[1].Send(0, "ping");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[0].CountStartingWith("ping"), 1u);
  EXPECT_EQ(e[1].CountStartingWith("pong"), 0u);
  e.net.Uncut(0, 1);
  e[1].Send(0, "ping");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[1].CountStartingWith("pong"), 1u);
}

TEST(SimNetworkTest, CutDropsPacketsInFlight) {
  EchoNet e(2, Exact());
  std::vector<PacketEvent::Outcome> outcomes;
  e.net.SetPacketObserver(
      [&](const PacketEvent& p) { outcomes.push_back(p.outcome); });
  e[0].Send(1, "a");
  e.net.clock().RunFor(absl::Milliseconds(5));
  e.net.Cut(0, 1);
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_THAT(e[1].received, SizeIs(0));
  EXPECT_THAT(outcomes, ElementsAre(PacketEvent::Outcome::kUnreachable));
}

TEST(SimNetworkTest, IngressDropStopsEverythingArrivingButLetsItsOwnOut) {
  EchoNet e(4, Exact());
  e.net.DropIngress(0, /*except=*/{3});
  EXPECT_TRUE(e.net.ingress_dropped(0));
  EXPECT_FALSE(e.net.Reachable(1, 0));
  EXPECT_FALSE(e.net.Reachable(2, 0));
  EXPECT_TRUE(e.net.Reachable(3, 0));  // the one sender let in
  EXPECT_TRUE(e.net.Reachable(0, 1));  // what it sends still leaves
  e[1].Send(0, "a");
  e[2].Send(0, "b");
  e[3].Send(0, "c");
  e[0].Send(1, "d");
  // A reliable call to it is silence; its own call gets no answer either
  // (a stateless drop: the response is an arrival too).
  e[1].Call(e.net.address(0), 1, absl::Milliseconds(300));
  e[0].Call(e.net.address(2), 2, absl::Milliseconds(300));
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[0].received, SizeIs(1));
  EXPECT_EQ(e[0].received[0].bytes, "c");
  EXPECT_EQ(e[1].CountStartingWith("d"), 1u);
  EXPECT_THAT(e[0].served, SizeIs(0));
  EXPECT_THAT(e[2].served, SizeIs(1));  // the request went out
  ASSERT_THAT(e[1].results, SizeIs(1));
  EXPECT_EQ(e[1].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_THAT(e[0].results, SizeIs(1));
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // Counted at the receiver: 2 datagrams, 1 request, 1 response.
  EXPECT_EQ(e.net.stats(0).ingress_dropped, 4u);
  EXPECT_EQ(e.net.TotalStats().ingress_dropped, 4u);

  // Heal() lifts partitions and cuts, not a host's firewall.
  e.net.Heal();
  EXPECT_FALSE(e.net.Reachable(1, 0));
  // In flight when it starts: lost on arrival.
  e.net.OpenIngress(0);
  e[1].Send(0, "e");
  e.net.clock().RunFor(absl::Milliseconds(5));
  e.net.DropIngress(0);
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[0].CountStartingWith("e"), 0u);
  EXPECT_EQ(e.net.stats(0).ingress_dropped, 5u);
  e.net.OpenIngress(0);
  EXPECT_FALSE(e.net.ingress_dropped(0));
  e[1].Send(0, "f");
  e[2].Call(e.net.address(0), 3, absl::Milliseconds(300));
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[0].CountStartingWith("f"), 1u);
  ASSERT_THAT(e[2].results, SizeIs(1));
  EXPECT_TRUE(e[2].results[0].second.ok());
}

TEST(SimNetworkTest, IngressDropBehindAPartitionIsNotCountedAsIngress) {
  EchoNet e(2, Exact());
  e.net.Partition({{0}});
  e.net.DropIngress(0);
  e[1].Send(0, "a");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e.net.stats(0).ingress_dropped, 0u);
  EXPECT_EQ(e.net.stats(1).packets_dropped, 1u);
}

TEST(SimNetworkTest, PartitionAndHeal) {
  EchoNet e(5, Exact());
  e.net.Partition({{0, 1}, {2, 3}});  // 4 is alone in the rest group
  auto send_all = [&](const std::string& tag) {
    for (NodeId a = 0; a < 5; ++a) {
      for (NodeId b = 0; b < 5; ++b) {
        if (a != b) e[a].Send(b, tag);
      }
    }
    e.net.clock().RunFor(absl::Seconds(1));
  };
  send_all("p");
  EXPECT_EQ(e[0].CountStartingWith("p"), 1u);  // from 1 only
  EXPECT_EQ(e[1].CountStartingWith("p"), 1u);
  EXPECT_EQ(e[2].CountStartingWith("p"), 1u);  // from 3 only
  EXPECT_EQ(e[4].CountStartingWith("p"), 0u);
  EXPECT_TRUE(e.net.Reachable(2, 3));
  EXPECT_FALSE(e.net.Reachable(1, 2));
  e.net.Cut(0, 1);
  e.net.Heal();
  EXPECT_TRUE(e.net.Reachable(0, 1));
  send_all("h");
  for (NodeId i = 0; i < 5; ++i) EXPECT_EQ(e[i].CountStartingWith("h"), 4u);
}

TEST(SimNetworkTest, ReliableCallRoundTrip) {
  EchoNet e(2, Exact());
  const absl::Time t0 = e.net.Now();
  e[0].Call(e.net.address(1), 42, absl::Seconds(1));
  e.net.clock().RunFor(absl::Seconds(2));
  ASSERT_THAT(e[0].results, SizeIs(1));
  EXPECT_EQ(e[0].results[0].first, t0 + absl::Milliseconds(20));
  ASSERT_TRUE(e[0].results[0].second.ok());
  EXPECT_EQ(e[0].results[0].second->ack().seq_no(), 42u);
  EXPECT_THAT(e[1].served, ElementsAre("10.0.0.1:7946"));
  const NodeStats& a = e.net.stats(0);
  const NodeStats& b = e.net.stats(1);
  EXPECT_EQ(a.reliable_calls, 1u);
  EXPECT_EQ(b.reliable_served, 1u);
  EXPECT_GT(a.reliable_bytes_sent, 0u);
  EXPECT_EQ(a.reliable_bytes_sent, b.reliable_bytes_received);
  EXPECT_EQ(b.reliable_bytes_sent, a.reliable_bytes_received);
  EXPECT_EQ(a.reliable_failed, 0u);
}

TEST(SimNetworkTest, ReliableAnsweredLaterByTheHandler) {
  EchoNet e(2, Exact());
  e[1].reply_delay = absl::Milliseconds(100);
  const absl::Time t0 = e.net.Now();
  e[0].Call(e.net.address(1), 1, absl::Seconds(1));
  e[0].Call(e.net.address(1), 2, absl::Milliseconds(50));  // too short
  e.net.clock().RunFor(absl::Seconds(2));
  ASSERT_THAT(e[0].results, SizeIs(2));
  EXPECT_EQ(e[0].results[0].first, t0 + absl::Milliseconds(50));
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(e[0].results[1].first, t0 + absl::Milliseconds(120));
  EXPECT_EQ(e[0].results[1].second->ack().seq_no(), 1u);
}

TEST(SimNetworkTest, ReliableTimesOutWhenCutEitherWay) {
  EchoNet e(3, Exact());
  const absl::Time t0 = e.net.Now();
  e.net.Cut(0, 1);  // the request cannot go
  e.net.Cut(2, 0);  // the response cannot come back
  e[0].Call(e.net.address(1), 1, absl::Milliseconds(300));
  e[0].Call(e.net.address(2), 2, absl::Milliseconds(400));
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[0].results, SizeIs(2));
  EXPECT_EQ(e[0].results[0].first, t0 + absl::Milliseconds(300));
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(e[0].results[1].first, t0 + absl::Milliseconds(400));
  EXPECT_EQ(e[0].results[1].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(e[1].served, SizeIs(0));
  EXPECT_THAT(e[2].served, SizeIs(1));  // it did get there
  EXPECT_EQ(e.net.stats(0).reliable_failed, 2u);
}

// A fault plan's drop makes a reliable call a TCP connection on a lossy
// path (tcp_model.h): to a member losing 80 % of what it sends, most calls
// miss their deadline (its SYN-ACKs and its answer are lost, each retry
// later), some arrive late, a few in time; calls between members without
// loss are untouched. Before, every call succeeded after exactly a round
// trip whatever the loss.
TEST(SimNetworkTest, ReliableCallsOnALossyPathAreLateOrMissTheirDeadline) {
  const uint64_t seed = SimSeed(1);
  PEERLAB_SIM_TRACE_SEED(seed);
  EchoNet e(3, Exact(seed));
  runtime::FaultRule lossy;
  lossy.drop = 0.8;
  ASSERT_TRUE(e.net.faults(1).Set("*", lossy).ok());
  const absl::Time t0 = e.net.Now();
  constexpr int kCalls = 400;
  for (int i = 0; i < kCalls; ++i) {
    e[0].Call(e.net.address(1), i, absl::Seconds(1));  // to the lossy one
    e[2].Call(e.net.address(0), i, absl::Seconds(1));  // healthy to healthy
  }
  e.net.clock().RunFor(absl::Seconds(3));
  ASSERT_THAT(e[2].results, SizeIs(kCalls));
  for (const auto& [t, r] : e[2].results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(t, t0 + absl::Milliseconds(20));
  }
  EXPECT_EQ(e.net.stats(2).reliable_lossy, 0u);
  ASSERT_THAT(e[0].results, SizeIs(kCalls));
  int in_time = 0, late = 0, missed = 0;
  for (const auto& [t, r] : e[0].results) {
    if (r.ok()) {
      ++in_time;
      late += t > t0 + absl::Milliseconds(20);
      EXPECT_LT(t, t0 + absl::Seconds(1));
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
      EXPECT_EQ(t, t0 + absl::Seconds(1));
      ++missed;
    }
  }
  // In time: the first SYN-ACK (20 %; the next try is 1 s later) and the
  // one-segment answer within 0, 200 or 600 ms of retransmissions
  // (0.2 + 0.16 + 0.128): about 9.8 %.
  EXPECT_GT(in_time, kCalls * 5 / 100);
  EXPECT_LT(in_time, kCalls * 15 / 100);
  EXPECT_GT(late, 0);
  EXPECT_EQ(e.net.stats(0).reliable_lossy, uint64_t{kCalls});
  EXPECT_EQ(e.net.stats(0).reliable_lossy_missed, uint64_t(missed));
  // Served: the requests whose handshake got through (about 20 %).
  EXPECT_GT(e[1].served.size(), size_t(in_time));
  EXPECT_LT(e[1].served.size(), size_t{kCalls * 30 / 100});
}

// At 100 % loss nothing gets through: never served, every call times out.
TEST(SimNetworkTest, ReliableCallsFromAMemberLosingEverythingTimeOut) {
  EchoNet e(2, Exact());
  runtime::FaultRule lost;
  lost.drop = 1.0;
  ASSERT_TRUE(e.net.faults(0).Set("*", lost).ok());
  const absl::Time t0 = e.net.Now();
  for (int i = 0; i < 20; ++i) e[0].Call(e.net.address(1), i, absl::Seconds(2));
  e.net.clock().RunFor(absl::Seconds(3));
  ASSERT_THAT(e[0].results, SizeIs(20));
  for (const auto& [t, r] : e[0].results) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(t, t0 + absl::Seconds(2));
  }
  EXPECT_THAT(e[1].served, SizeIs(0));
  EXPECT_EQ(e.net.stats(0).reliable_lossy_missed, 20u);
}

TEST(SimNetworkTest, ReliableToNobodyOrAClosedPortIsUnavailable) {
  EchoNet e(2, Exact());
  const absl::Time t0 = e.net.Now();
  e[1].transport()->Shutdown();
  e[0].Call("10.0.0.99:7946", 1, absl::Seconds(5));
  e[0].Call(e.net.address(1), 2, absl::Seconds(5));
  e.net.clock().RunFor(absl::Seconds(10));
  ASSERT_THAT(e[0].results, SizeIs(2));
  for (const auto& [time, result] : e[0].results) {
    EXPECT_EQ(time, t0 + absl::Milliseconds(20));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  }
}

TEST(SimNetworkTest, ShutdownCancelsPendingCallsAndStopsTraffic) {
  EchoNet e(2, Exact());
  e[1].reply_delay = absl::Seconds(1);
  e[0].Call(e.net.address(1), 1, absl::Seconds(5));
  e[0].Call(e.net.address(1), 2, absl::Seconds(5));
  e.net.clock().RunFor(absl::Milliseconds(50));
  e[0].transport()->Shutdown();
  e.net.clock().RunFor(absl::Milliseconds(1));
  ASSERT_THAT(e[0].results, SizeIs(2));
  for (const auto& [time, result] : e[0].results) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  }
  e[0].Send(1, "after");
  e[1].Send(0, "to a closed port");
  e.net.clock().RunFor(absl::Seconds(10));
  EXPECT_THAT(e[1].received, SizeIs(0));
  EXPECT_THAT(e[0].received, SizeIs(0));
  EXPECT_THAT(e[0].results, SizeIs(2));  // the late responses went nowhere
  EXPECT_EQ(e.net.stats(1).packets_dropped, 1u);
}

TEST(SimNetworkTest, CrashStopsTimersAndDeliveryRestartGivesANewProcess) {
  EchoNet e(2, Exact());
  int ticks = 0;
  e[1].scheduler()->After(absl::Milliseconds(100), [&] { ++ticks; });
  e[1].scheduler()->After(absl::Milliseconds(300), [&] { ++ticks; });
  e.net.clock().RunFor(absl::Milliseconds(150));
  EXPECT_EQ(ticks, 1);
  const uint64_t old_seed = e.net.NodeSeed(1);
  SimScheduler* old_scheduler = e[1].scheduler();
  SimTransport* old_transport = e[1].transport();

  e.net.Crash(1);
  EXPECT_TRUE(e.net.crashed(1));
  e[0].Send(1, "ping");
  e[0].Call(e.net.address(1), 1, absl::Milliseconds(200));
  old_transport->SendPacket(e.net.address(0), "from the dead");
  EXPECT_EQ(old_scheduler->After(absl::Milliseconds(1), [&] { ++ticks; }), 0u);
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(ticks, 1);  // the 300 ms timer died with the node
  EXPECT_THAT(e[1].received, SizeIs(0));
  EXPECT_THAT(e[0].received, SizeIs(0));
  ASSERT_THAT(e[0].results, SizeIs(1));  // a dead host does not answer
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);

  e.net.Restart(1);
  EXPECT_FALSE(e.net.crashed(1));
  EXPECT_NE(e.net.scheduler(1), old_scheduler);
  EXPECT_NE(e.net.transport(1), old_transport);
  EXPECT_NE(e.net.NodeSeed(1), old_seed);
  Echo reborn(e.net, 1);
  e[0].Send(1, "ping");
  old_transport->SendPacket(e.net.address(0), "still dead");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_THAT(reborn.received, SizeIs(1));
  EXPECT_THAT(e[1].received, SizeIs(0));  // the old process got nothing
  EXPECT_EQ(e[0].CountStartingWith("pong"), 1u);
  EXPECT_EQ(e[0].CountStartingWith("still"), 0u);
}

TEST(SimNetworkTest, CrashedNodeCanRefuseConnections) {
  SimNetworkOptions options = Exact();
  options.crashed_refuses_connections = true;
  EchoNet e(2, options);
  e.net.Crash(1);
  const absl::Time t0 = e.net.Now();
  e[0].Call(e.net.address(1), 1, absl::Seconds(5));
  e.net.clock().RunFor(absl::Seconds(10));
  ASSERT_THAT(e[0].results, SizeIs(1));
  EXPECT_EQ(e[0].results[0].first, t0 + absl::Milliseconds(20));
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(SimNetworkTest, SlowNodeTimersRunLateByUpToTheLag) {
  const uint64_t seed = SimSeed(99);
  PEERLAB_SIM_TRACE_SEED(seed);
  EchoNet e(2, Exact(seed));
  e.net.SetSlowness(0, {.timer_lag = absl::Milliseconds(50)});
  const absl::Time t0 = e.net.Now();
  std::vector<absl::Duration> slow_late, fast_late;
  absl::Duration post_late = absl::InfiniteDuration();
  for (int i = 0; i < 2000; ++i) {
    e[0].scheduler()->After(absl::Milliseconds(100), [&] {
      slow_late.push_back(e.net.Now() - t0 - absl::Milliseconds(100));
    });
    e[1].scheduler()->After(absl::Milliseconds(100), [&] {
      fast_late.push_back(e.net.Now() - t0 - absl::Milliseconds(100));
    });
  }
  e[0].scheduler()->Post([&] { post_late = e.net.Now() - t0; });
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(slow_late, SizeIs(2000));
  absl::Duration sum, max;
  for (absl::Duration d : slow_late) {
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Milliseconds(50));
    sum += d;
    max = std::max(max, d);
  }
  // Uniform on [0, 50 ms]: mean 25 ms, sd of the mean 0.3 ms.
  EXPECT_NEAR(absl::ToDoubleMilliseconds(sum / 2000), 25.0, 2.0);
  EXPECT_GT(max, absl::Milliseconds(45));
  for (absl::Duration d : fast_late) EXPECT_EQ(d, absl::ZeroDuration());
  EXPECT_EQ(post_late, absl::ZeroDuration());  // Post is not delayed
}

TEST(SimNetworkTest, SlowNodeHandlesArrivalsLate) {
  const uint64_t seed = SimSeed(5);
  PEERLAB_SIM_TRACE_SEED(seed);
  EchoNet e(2, Exact(seed));
  e.net.SetSlowness(1, {.inbound_lag = absl::Milliseconds(30)});
  const absl::Time t0 = e.net.Now();
  for (int i = 0; i < 500; ++i) e[0].Send(1, "x");
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[1].received, SizeIs(500));
  absl::Duration latest;
  for (const auto& r : e[1].received) {
    EXPECT_GE(r.time, t0 + absl::Milliseconds(10));
    EXPECT_LE(r.time, t0 + absl::Milliseconds(40));
    latest = std::max(latest, r.time - t0);
  }
  EXPECT_GT(latest, absl::Milliseconds(35));
}

TEST(SimNetworkTest, FreezeQueuesEverythingUntilUnfreeze) {
  EchoNet e(2, Exact());
  const absl::Time t0 = e.net.Now();
  std::vector<std::string> order;
  e[1].scheduler()->After(absl::Milliseconds(50),
                          [&] { order.push_back("timer50"); });
  e[1].scheduler()->After(absl::Milliseconds(150),
                          [&] { order.push_back("timer150"); });
  e.net.Freeze(1);
  EXPECT_TRUE(e.net.frozen(1));
  e[0].Send(1, "ping1");
  e.net.clock().RunFor(absl::Milliseconds(100));
  e[0].Send(1, "ping2");
  e[0].Call(e.net.address(1), 7, absl::Milliseconds(150));
  e.net.clock().RunFor(absl::Milliseconds(400));
  EXPECT_THAT(order, SizeIs(0));
  EXPECT_THAT(e[1].received, SizeIs(0));
  ASSERT_THAT(e[0].results, SizeIs(1));  // the call timed out meanwhile
  EXPECT_EQ(e[0].results[0].second.status().code(),
            absl::StatusCode::kDeadlineExceeded);

  e.net.Unfreeze(1);
  e.net.clock().RunFor(absl::Milliseconds(1));
  // All at the unfreeze instant (500 ms), in their original order.
  EXPECT_THAT(order, ElementsAre("timer50", "timer150"));
  ASSERT_THAT(e[1].received, SizeIs(2));
  EXPECT_EQ(e[1].received[0].bytes, "ping1");
  EXPECT_EQ(e[1].received[1].bytes, "ping2");
  EXPECT_EQ(e[1].received[0].time, t0 + absl::Milliseconds(500));
  EXPECT_THAT(e[1].served, SizeIs(1));  // served late; the answer is ignored
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(e[0].CountStartingWith("pong"), 2u);
  EXPECT_THAT(e[0].results, SizeIs(1));
}

TEST(SimNetworkTest, FreezeForUnfreezesByItself) {
  EchoNet e(2, Exact());
  const absl::Time t0 = e.net.Now();
  e.net.FreezeFor(1, absl::Milliseconds(300));
  e[0].Send(1, "x");
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_FALSE(e.net.frozen(1));
  ASSERT_THAT(e[1].received, SizeIs(1));
  EXPECT_EQ(e[1].received[0].time, t0 + absl::Milliseconds(300));
}

TEST(SimNetworkTest, CrashWhileFrozenDropsTheQueue) {
  EchoNet e(2, Exact());
  int ran = 0;
  e[1].scheduler()->After(absl::Milliseconds(10), [&] { ++ran; });
  e.net.Freeze(1);
  e[0].Send(1, "x");
  e.net.clock().RunFor(absl::Milliseconds(100));
  e.net.Crash(1);
  e.net.Unfreeze(1);
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(ran, 0);
  EXPECT_THAT(e[1].received, SizeIs(0));
  EXPECT_EQ(e.net.clock().pending_events(), 0u);
}

TEST(SimNetworkTest, CancelOnlyAffectsTheOwnNode) {
  EchoNet e(2, Exact());
  int ran = 0;
  const runtime::Scheduler::TimerId id =
      e[0].scheduler()->After(absl::Milliseconds(10), [&] { ++ran; });
  e[1].scheduler()->Cancel(id);  // not node 1's timer
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(ran, 1);
  const runtime::Scheduler::TimerId id2 =
      e[0].scheduler()->After(absl::Milliseconds(10), [&] { ++ran; });
  e[0].scheduler()->Cancel(id2);
  e.net.clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(ran, 1);
}

TEST(SimNetworkTest, OversizeDatagramsAreDroppedAndCounted) {
  SimNetworkOptions options = Exact();
  options.max_packet_bytes = 1400;
  EchoNet e(2, options);
  e[0].Send(1, std::string(1400, 'a'));
  e[0].Send(1, std::string(1401, 'b'));
  e.net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(e[1].received, SizeIs(1));
  const NodeStats& s = e.net.stats(0);
  EXPECT_EQ(s.packets_sent, 2u);
  EXPECT_EQ(s.bytes_sent, 2801u);
  EXPECT_EQ(s.packets_dropped, 1u);
  EXPECT_EQ(e.net.stats(1).bytes_received, 1400u);
  EXPECT_EQ(e.net.TotalStats().packets_sent, 2u);
}

TEST(SimNetworkTest, TenThousandNodesExchangeAPacketEach) {
  const uint64_t seed = SimSeed(2024);
  PEERLAB_SIM_TRACE_SEED(seed);
  constexpr NodeId kNodes = 10000;
  const auto wall_start = std::chrono::steady_clock::now();
  SimNetworkOptions options;
  options.seed = seed;
  EchoNet e(kNodes, options);
  // Each node pings a random-ish peer from a timer at a random instant in
  // the first second, through the full Scheduler/Transport path.
  for (NodeId i = 0; i < kNodes; ++i) {
    Echo* node = e.nodes[i].get();
    const NodeId to = static_cast<NodeId>((i * 7919ULL + 1) % kNodes);
    const absl::Duration at = absl::Microseconds((i * 104729ULL) % 1000000);
    node->scheduler()->After(
        at, [node, to, i] { node->Send(to, absl::StrCat("ping", i)); });
  }
  size_t pongs = 0;
  ASSERT_TRUE(e.net.clock().RunUntilCondition(
      [&] { return e.net.TotalStats().packets_received == 2 * kNodes; },
      e.net.Now() + absl::Seconds(5), absl::Milliseconds(100)));
  for (NodeId i = 0; i < kNodes; ++i) pongs += e[i].CountStartingWith("pong");
  EXPECT_EQ(pongs, kNodes);
  EXPECT_EQ(e.net.clock().events_processed(), 3u * kNodes);
  const double wall = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - wall_start)
                          .count();
  RecordProperty("wall_seconds", std::to_string(wall));
  EXPECT_LT(wall, 10.0);
}

// --- Adversaries ---

// The tap sees every delivered datagram's bytes and the source its receiver
// saw; a spoofed datagram arrives from the forged source (the answer goes
// there), travels the real sender's link (a cut stops it) and is counted
// as sent by the real sender.
TEST(SimNetworkTest, TapSeesDeliveriesAndSpoofedSourcesArriveForged) {
  SimNetwork net;
  const NodeId a = net.AddNode(), b = net.AddNode(), mallory = net.AddNode();
  Echo ea(net, a), eb(net, b), em(net, mallory);
  struct Tapped {
    NodeId from, to;
    std::string source, bytes;
  };
  std::vector<Tapped> tapped;
  net.SetPacketTap([&](NodeId from, NodeId to, const std::string& source,
                       const std::string& bytes) {
    tapped.push_back({from, to, source, bytes});
  });
  net.SendSpoofedPacket(mallory, net.address(a), net.address(b), "ping1");
  net.clock().RunFor(absl::Seconds(1));
  // b answered the forged source, a; mallory got nothing.
  ASSERT_THAT(eb.received, SizeIs(1));
  EXPECT_EQ(eb.received[0].from, net.address(a));
  EXPECT_EQ(ea.CountStartingWith("pong1"), 1u);
  EXPECT_THAT(em.received, SizeIs(0));
  EXPECT_EQ(net.stats(mallory).packets_sent, 1u);
  EXPECT_EQ(net.stats(a).packets_sent, 0u);
  ASSERT_THAT(tapped, SizeIs(2));
  EXPECT_EQ(tapped[0].from, mallory);
  EXPECT_EQ(tapped[0].to, b);
  EXPECT_EQ(tapped[0].source, net.address(a));
  EXPECT_EQ(tapped[0].bytes, "ping1");
  EXPECT_EQ(tapped[1].from, b);
  EXPECT_EQ(tapped[1].to, a);
  EXPECT_EQ(tapped[1].bytes, "pong1");

  // A source that is no node's address; then a cut on the real link.
  net.SendSpoofedPacket(mallory, "10.9.9.9:1", net.address(b), "x");
  net.clock().RunFor(absl::Seconds(1));
  net.Cut(mallory, b);
  net.SendSpoofedPacket(mallory, net.address(a), net.address(b), "ping2");
  net.clock().RunFor(absl::Seconds(1));
  ASSERT_THAT(eb.received, SizeIs(2));
  EXPECT_EQ(eb.received[1].from, "10.9.9.9:1");
  EXPECT_EQ(ea.CountStartingWith("pong2"), 0u);
  net.SetPacketTap(nullptr);
}

}  // namespace
}  // namespace peerlab::membership::sim
