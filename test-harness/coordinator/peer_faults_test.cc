// Network faults in the local lab (peer_faults.cc) on fake links and a fake
// clock: the peers' `faults` commands a partition, a nemesis and the
// repairs of stopped and restarted peers send.
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test-harness/coordinator/fake_peer_link.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/runner_testing.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunSummary;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

class PeerFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* p : {"p1", "p2", "p3"}) Register(p);
    // `faults self`: the addresses of the peer's current process,
    // "pN.G:1" (gossip) and "pN.G:2" (gRPC) for its start G.
    links_.SetHandler([this](const std::string& name, const std::string& line)
                          -> absl::StatusOr<::peer::v1::ExecuteResponse> {
      ::peer::v1::ExecuteResponse r;
      if (line == "faults self") {
        const uint64_t g = registry_.Get(name)->generation();
        r.add_output()->set_text(absl::StrCat("gossip=", name, ".", g,
                                              ":1 grpc=", name, ".", g, ":2"));
      }
      return r;
    });
  }

  void Register(const std::string& name) {
    ::harness::v1::PeerInfo info;
    info.set_name(name);
    info.set_control_address("fake:" + name);
    info.set_pid(1);
    ASSERT_TRUE(registry_.Register(info).ok());
  }

  // The client that owns the processes: carries out every fault at once.
  size_t ServeFaults(harness::Run& run) {
    std::vector<::harness::v1::RunEvent> events = run.EventsFrom(served_);
    served_ += events.size();
    for (const auto& e : events) {
      if (!e.has_fault_request()) continue;
      const auto& f = e.fault_request();
      if (f.kind() == "kill" || f.kind() == "restart") {
        auto info = registry_.Get(f.peer());
        if (info && info->alive()) {
          registry_.Unregister(f.peer(), info->generation());
        }
      }
      if (f.kind() == "start" || f.kind() == "restart") Register(f.peer());
      EXPECT_TRUE(run.ResolveFault(f.fault_id(), true, "").ok());
    }
    return served_;
  }

  RunSummary RunScript(const std::string& text) {
    ::harness::v1::RunOptions options;
    options.set_quiet_ms(100);
    options.set_client_faults(true);
    options.set_seed(7);
    auto run =
        harness::Run::Create("r1", "t.cmd", text, options, &registry_,
                             {.clock = &clock_, .links = links_.Factory()});
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return {};
    (*run)->AddWatcher();
    (*run)->Start();
    return testing::RunToEnd(**run, clock_, [&] { return ServeFaults(**run); });
  }

  // The `faults` commands sent, without `faults self`.
  std::vector<std::string> FaultCommands() const {
    std::vector<std::string> out;
    for (const std::string& c : links_.commands()) {
      if (absl::StrContains(c, ": faults ") &&
          !absl::EndsWith(c, "faults self")) {
        out.push_back(c);
      }
    }
    return out;
  }

  PeerRegistry registry_;
  FakeClock clock_;
  FakePeerLinks links_{&clock_};
  size_t served_ = 0;
};

// Before: every network fault of the nemesis was SKIPPED in the local lab
// ("the nemesis does not carry out partition in the local lab yet").
TEST_F(PeerFaultsTest, TheNemesisCarriesOutItsNetworkFaultsAndRepairsThem) {
  RunSummary s = RunScript(
      "p1 init\np2 init\np3 init\n"
      "nemesis stop,partition,loss,delay,oneway every 500ms..1s for 6s\n");
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  int nemesis_steps = 0;
  for (const auto& step : s.steps()) {
    if (!absl::StartsWith(step.text(), "nemesis: ")) continue;
    ++nemesis_steps;
    EXPECT_EQ(step.outcome(), ::harness::v1::OUTCOME_OK)
        << step.text() << ": " << step.message();
  }
  EXPECT_GE(nemesis_steps, 4);
  const std::vector<std::string> sent = FaultCommands();
  EXPECT_THAT(sent, Contains(HasSubstr(": faults block p")));
  // Every block and every shaping is undone by the end.
  std::map<std::string, int> in_force;
  for (const std::string& c : sent) {
    const std::string peer = c.substr(0, c.find(':'));
    const std::string rest = c.substr(c.find(": faults ") + 9);
    if (absl::StartsWith(rest, "block ")) {
      ++in_force[peer + " " + rest.substr(6)];
    } else if (absl::StartsWith(rest, "clear ")) {
      in_force[peer + " " + rest.substr(6)] = 0;
      if (rest == "clear *") {
        for (auto& [key, n] : in_force) {
          if (absl::StartsWith(key, peer + " *")) n = 0;
        }
      }
    } else {
      in_force[peer + " *" + rest] = 1;  // drop/delay *
    }
  }
  for (const auto& [key, n] : in_force) EXPECT_EQ(n, 0) << key;
}

// A peer that is stopped takes its blocks at `cont`; a new process gets
// its blocks at `start`, and the others block its new addresses. Before:
// the partition FAILED ("p3: peer p3 is stopped ...").
TEST_F(PeerFaultsTest, APeerThatWasNotRunningTakesItsPartWhenItRunsAgain) {
  RunSummary s = RunScript(
      "p1 init\np2 init\np3 init\nstop p3\nkill p2\n"
      "partition p1 | p2,p3\ncont p3\nstart p2\nheal\n");
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  for (const auto& step : s.steps()) {
    if (step.kind() == "partition") {
      EXPECT_THAT(step.message(), HasSubstr("its part follows"));
    }
  }
  const std::vector<std::string> sent = FaultCommands();
  // p2 was killed before anyone asked its addresses: p1 blocks its new
  // process's at `start`; p3 blocks p1 once it runs again (`cont`).
  EXPECT_THAT(
      sent,
      IsSupersetOf({"p1: faults block p3.1:1", "p3: faults block p1.1:1",
                    "p2: faults block p1.1:1", "p1: faults block p2.2:1",
                    "p1: faults clear p2.2:1", "p1: faults clear p3.1:1",
                    "p2: faults clear p1.1:1", "p3: faults clear p1.1:1"}));
  auto index = [&](const std::string& c) {
    return std::find(sent.begin(), sent.end(), c) - sent.begin();
  };
  EXPECT_LT(index("p3: faults block p1.1:1"), index("p2: faults block p1.1:1"));
  EXPECT_LT(index("p2: faults block p1.1:1"), index("p1: faults clear p3.1:1"));
}

// A `faults` command has a short deadline, not the step's 30 s: a peer
// stopped just after the not-running check never answers, and the call
// holds the fault lock. Before: every call had the step timeout.
TEST_F(PeerFaultsTest, FaultsCommandsHaveAShortDeadline) {
  RunSummary s = RunScript("p1 init\np2 init\npartition p1 | p2\nheal\n");
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  const std::vector<std::string> sent = links_.commands();
  const std::vector<absl::Duration> budgets = links_.budgets();
  ASSERT_EQ(sent.size(), budgets.size());
  int faults = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (!absl::StrContains(sent[i], ": faults ")) continue;
    ++faults;
    EXPECT_LE(budgets[i], absl::Seconds(2)) << sent[i];
  }
  EXPECT_GE(faults, 4);
}

}  // namespace
}  // namespace peerlab::harness
