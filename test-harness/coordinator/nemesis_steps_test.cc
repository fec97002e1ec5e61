// The nemesis and `check chat` in the runner, on fake links and a fake
// clock: a client that carries out every fault at once, peers that pass
// each message to the others that are not stopped.
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test-harness/coordinator/fake_peer_link.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/runner_testing.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunSummary;
using ::peerlab::testing::Eventually;
using ::testing::HasSubstr;

const std::vector<std::string> kPeers = {"p1", "p2", "p3"};

class NemesisStepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& name : kPeers) {
      ::harness::v1::PeerInfo info;
      info.set_name(name);
      info.set_control_address("fake:" + name);
      info.set_pid(1);
      ASSERT_TRUE(registry_.Register(info).ok());
    }
    links_.SetHandler([this](const std::string& name, const std::string& line)
                          -> absl::StatusOr<::peer::v1::ExecuteResponse> {
      if (line == "init") {
        // Membership events come typed (eventsView records), as a peer
        // sends them; the log says the same for people only.
        for (const auto& other : kPeers) {
          if (other == name) continue;
          links_.WriteMemberEvent(other, ::peer::v1::MemberEvent::JOINED, name,
                                  clock_.Now());
          links_.WriteMemberEvent(name, ::peer::v1::MemberEvent::JOINED, other,
                                  clock_.Now());
        }
      } else if (absl::StartsWith(line, "log ")) {
        links_.Write(name, "logView", line.substr(4), clock_.Now());
      } else if (absl::StartsWith(line, "msg ")) {
        const std::string text = line.substr(4);
        for (const auto& other : kPeers) {
          std::lock_guard<std::mutex> lock(mu_);
          if (other == name || stopped_.count(other)) continue;
          if (drop_ == absl::StrCat(other, " <", name, "> ", text)) continue;
          links_.Write(other, "messagesView",
                       absl::StrCat("<", name, "> ", text), clock_.Now());
        }
      }
      return ::peer::v1::ExecuteResponse();
    });
  }

  std::unique_ptr<harness::Run> Start(const std::string& text) {
    ::harness::v1::RunOptions options;
    options.set_quiet_ms(100);
    options.set_client_faults(true);
    options.set_seed(7);
    auto created =
        harness::Run::Create("r1", "t.cmd", text, options, &registry_,
                             {.clock = &clock_, .links = links_.Factory()});
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return nullptr;
    std::unique_ptr<harness::Run> run = *std::move(created);
    // The client: carries out every fault at once (stop and cont).
    harness::Run* r = run.get();
    run->AddWatcher();
    run->Subscribe([this, r] {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& e : r->EventsFrom(seen_)) {
        ++seen_;
        if (!e.has_fault_request()) continue;
        const auto& f = e.fault_request();
        if (f.kind() == "stop") stopped_.insert(f.peer());
        if (f.kind() == "cont") stopped_.erase(f.peer());
        faults_.push_back(absl::StrCat(f.kind(), " ", f.peer()));
        EXPECT_TRUE(r->ResolveFault(f.fault_id(), true, "").ok());
      }
    });
    run->Start();
    return run;
  }

  RunSummary RunToEnd(harness::Run& run) {
    return testing::RunToEnd(run, clock_);
  }

  static std::string Script() {
    std::string s = "p1 init\np2 init\np3 init\n";
    absl::StrAppend(&s, "nemesis stop every 1s..2s for 6s\n");
    for (int i = 1; i <= 6; ++i) {
      absl::StrAppend(&s, "p1 msg a", i, "\np2 msg b", i, "\np3 msg c", i,
                      "\nsleep 1s\n");
    }
    absl::StrAppend(&s, "sleep 2s\np1 msg last\np2 msg last\np3 msg last\n",
                    "check chat\n");
    return s;
  }

  PeerRegistry registry_;
  FakeClock clock_;
  FakePeerLinks links_{&clock_};
  std::mutex mu_;
  size_t seen_ = 0;
  std::set<std::string> stopped_;
  std::vector<std::string> faults_;
  std::string drop_;  // "RECEIVER <SENDER> TEXT" is not delivered
};

TEST_F(NemesisStepsTest, TheScheduleRunsAsStepsAndCheckChatHolds) {
  auto run = Start(Script());
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  // Every stop was undone, in the order of the schedule.
  std::vector<std::string> actions;
  for (const auto& st : s.steps()) {
    if (absl::StartsWith(st.text(), "nemesis: ")) {
      actions.push_back(st.text().substr(9));
      EXPECT_EQ(st.line(), 4);
    }
  }
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions, faults_);
  EXPECT_EQ(s.nemesis_schedule_size(), static_cast<int>(actions.size()));
  EXPECT_THAT(s.nemesis_schedule(0), HasSubstr("line 4: +"));
  int stops = 0;
  for (const auto& a : actions) stops += absl::StartsWith(a, "stop ") ? 1 : -1;
  EXPECT_EQ(stops, 0);
  const auto& check = s.steps(s.steps_size() - 1);
  EXPECT_EQ(check.kind(), "check");
  // Messages whose sender was stopped were not sent (skipped steps).
  EXPECT_THAT(check.message(), HasSubstr("check chat: OK: "));
}

TEST_F(NemesisStepsTest, ALostMessageFailsCheckChatWithIt) {
  drop_ = "p3 <p1> last";
  auto run = Start(Script());
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  const auto& check = s.steps(s.steps_size() - 1);
  EXPECT_EQ(check.outcome(), ::harness::v1::OUTCOME_FAILED);
  EXPECT_THAT(check.message(), HasSubstr(" of p1 \"last\" (sent at +"));
  EXPECT_THAT(check.message(), HasSubstr("was never shown by p3"));
}

// The groups of `check chat` come from the typed membership events only: a
// log line that reads like one ("member p1 failed") changes nothing, so p3
// still had to show p1's last message. Before: RunHistory read the groups
// from log text (and the typed records not at all), so this run passed and
// a run with only typed events had "nothing checked".
TEST_F(NemesisStepsTest, CheckChatTakesGroupsFromTypedEventsNotLogText) {
  drop_ = "p3 <p1> last";
  std::string script = Script();
  script.insert(script.find("p1 msg last"),
                "p3 log info  [p3] member p1 failed (127.0.0.1:1)\n");
  auto run = Start(script);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED) << s.verdict();
  const auto& check = s.steps(s.steps_size() - 1);
  EXPECT_THAT(check.message(), HasSubstr("was never shown by p3"));
}

}  // namespace
}  // namespace peerlab::harness
