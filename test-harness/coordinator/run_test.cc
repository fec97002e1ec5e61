// The runner against in-process peers: real peer.v1.PeerControl servers
// (ControlService over a command registry with a few test commands) and a
// PeerRegistry driven by the test.
#include "test-harness/coordinator/run.h"

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "peer/control/control_service.h"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::Eventually;

using ::harness::v1::RunEvent;
using ::harness::v1::RunSummary;
using ::testing::HasSubstr;
using ::testing::Not;

// One peer: commands `say TEXT...` (a line in messagesView), `later MS
// TEXT...` (the same, MS milliseconds later, on another thread) and `fail`.
class FakePeer {
 public:
  explicit FakePeer(std::string name) : name_(std::move(name)) {
    auto add = [&](cli::Command c) { EXPECT_TRUE(registry_.Register(c).ok()); };
    add({.name = "say",
         .group = "test",
         .usage = "say TEXT",
         .summary = "writes TEXT to messagesView",
         .handler = [](const cli::Call& call, cli::Output& out) {
           out.ToView(cli::kMessagesView, call.rest);
           return absl::OkStatus();
         }});
    add({.name = "later",
         .group = "test",
         .usage = "later MS TEXT",
         .summary = "writes TEXT to messagesView after MS ms",
         .min_args = 2,
         .handler = [this](const cli::Call& call, cli::Output&) {
           int ms = std::stoi(call.args[0]);
           std::string text = call.rest.substr(call.rest.find(' ') + 1);
           threads_.emplace_back([this, ms, text] {
             absl::SleepFor(absl::Milliseconds(ms));
             hub_.Write(cli::kMessagesView, text);
           });
           return absl::OkStatus();
         }});
    add({.name = "log",
         .group = "test",
         .usage = "log TEXT",
         .summary = "writes TEXT to logView",
         .handler = [](const cli::Call& call, cli::Output& out) {
           out.ToView(cli::kLogView, call.rest);
           return absl::OkStatus();
         }});
    add({.name = "event",
         .group = "test",
         .usage = "event KIND NAME INCARNATION",
         .summary = "a membership event record (KIND: a MemberEvent kind)",
         .min_args = 3,
         .handler = [this](const cli::Call& call, cli::Output&) {
           ::peer::v1::ViewRecord record;
           ::peer::v1::MemberEvent::Kind kind;
           if (!::peer::v1::MemberEvent::Kind_Parse(call.args[0], &kind)) {
             return absl::InvalidArgumentError("no such kind");
           }
           record.mutable_member()->set_kind(kind);
           record.mutable_member()->set_name(call.args[1]);
           record.mutable_member()->set_incarnation(std::stoull(call.args[2]));
           hub_.WriteRecord(cli::kEventsView, "an event",
                            record.SerializeAsString());
           return absl::OkStatus();
         }});
    add({.name = "fail",
         .group = "test",
         .usage = "fail",
         .summary = "fails",
         .handler = [](const cli::Call&, cli::Output&) {
           return absl::NotFoundError("nothing here");
         }});
    service_ = std::make_unique<peer::ControlService>(
        &registry_, &hub_, peer::ControlService::Options{});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~FakePeer() {
    for (auto& t : threads_) t.join();
    service_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(1));
    server_->Wait();
  }

  // Registers with `registry` like a real peer would (a new process: its
  // previous registration, if any, has ended); returns the generation.
  uint64_t RegisterWith(PeerRegistry& registry) {
    if (generation_ != 0) registry.Unregister(name_, generation_);
    ::harness::v1::PeerInfo info;
    info.set_name(name_);
    info.set_control_address(address_);
    info.set_pid(1);
    auto generation = registry.Register(info);
    EXPECT_TRUE(generation.ok()) << generation.status();
    generation_ = generation.value_or(0);
    return generation_;
  }
  uint64_t generation() const { return generation_; }
  cli::ViewHub& hub() { return hub_; }

 private:
  std::string name_;
  cli::ViewHub hub_;
  cli::Registry registry_;
  std::unique_ptr<peer::ControlService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  uint64_t generation_ = 0;
  std::vector<std::thread> threads_;
};

::harness::v1::RunOptions Fast() {
  ::harness::v1::RunOptions o;
  o.set_end_timeout_ms(2000);
  o.set_quiet_ms(50);
  o.set_peer_wait_timeout_ms(2000);
  o.set_step_timeout_ms(5000);
  return o;
}

std::unique_ptr<Run> MustCreate(const std::string& text,
                                ::harness::v1::RunOptions options,
                                PeerRegistry* registry,
                                const std::string& id = "r1") {
  auto run = Run::Create(id, "t.cmd", text, options, registry);
  EXPECT_TRUE(run.ok()) << run.status();
  return run.ok() ? *std::move(run) : nullptr;
}

RunSummary Finish(Run& run, absl::Duration timeout = absl::Seconds(20)) {
  EXPECT_TRUE(run.WaitFinished(timeout)) << "the run hangs";
  return run.Summary();
}

// Whether `run` has begun a step of `kind` ("wait", "sleep"...): tests act
// on a run at a given step by waiting for this, never by sleeping.
bool StepStarted(const Run& run, const std::string& kind) {
  for (const RunEvent& e : run.EventsFrom(0)) {
    if (e.has_step_started() && e.step_started().kind() == kind) return true;
  }
  return false;
}

std::string Steps(const RunSummary& s) {
  std::vector<std::string> out;
  for (const auto& st : s.steps()) {
    out.push_back(absl::StrCat(st.line(), ":",
                               ::harness::v1::Outcome_Name(st.outcome()), ":",
                               st.message()));
  }
  return absl::StrJoin(out, "\n");
}

TEST(RunTest, PassesAndKeepsEveryEvent) {
  PeerRegistry registry;
  FakePeer alice("alice"), bob("bob");
  alice.RegisterWith(registry);
  bob.RegisterWith(registry);
  auto run = MustCreate(
      "alice say <alice> hi\n"
      "bob say <bob> hi\n"
      "bob say <bob> hi\n"
      "alice testfilter messagesView 1 <alice> hi\n"
      "expect bob messagesView >= 2 <bob>\n"
      "expect bob messagesView never <alice>\n"
      "expect alice messagesView == 0 <nobody>\n",
      Fast(), &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict() << "\n"
                                                        << Steps(s);
  // Filters are filters, not also steps.
  ASSERT_EQ(s.steps_size(), 3);
  ASSERT_EQ(s.filters_size(), 4);
  EXPECT_EQ(s.filters(0).received(), 1);
  EXPECT_EQ(s.filters(1).received(), 2);
  EXPECT_EQ(s.filters(3).received(), 0);
  std::vector<RunEvent> events = run->EventsFrom(0);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.front().has_started());
  EXPECT_TRUE(events.back().has_finished());
  int finished_steps = 0;
  for (const auto& e : events) finished_steps += e.has_step_finished();
  EXPECT_EQ(finished_steps, 3);
  // Messages made it to the timeline.
  bool message = false;
  for (const auto& t : s.timeline()) message |= t.kind() == "message";
  EXPECT_TRUE(message);
}

TEST(RunTest, FailingStepIsRecordedAndTheRunGoesOn) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate("alice fail\nalice nosuchcommand\nalice say ok\n",
                        Fast(), &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(s.steps_size(), 3);
  EXPECT_THAT(s.steps(0).message(), HasSubstr("nothing here"));
  EXPECT_THAT(s.steps(1).message(), HasSubstr("unknown command"));
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_OK);
  EXPECT_THAT(s.verdict(), HasSubstr("2 of 3 steps failed"));
}

TEST(RunTest, FailFastSkipsTheRest) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto options = Fast();
  options.set_fail_fast(true);
  auto run = MustCreate("alice fail\nalice say ok\n", options, &registry);
  run->Start();
  RunSummary s = Finish(*run);
  ASSERT_EQ(s.steps_size(), 2);
  EXPECT_EQ(s.steps(1).outcome(), ::harness::v1::OUTCOME_SKIPPED);
}

TEST(RunTest, FilterThatCannotHoldFailsWithoutWaitingForTheTimeout) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto options = Fast();
  options.set_end_timeout_ms(10000);
  auto run = MustCreate(
      "alice say x\nalice say x\nalice testfilter messagesView 1 x\n", options,
      &registry);
  absl::Time start = absl::Now();
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_EQ(s.filters(0).received(), 2);
  EXPECT_EQ(s.filters(0).outcome(), ::harness::v1::OUTCOME_FAILED);
}

TEST(RunTest, MissingLinesFailAtTheEndTimeout) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto options = Fast();
  options.set_end_timeout_ms(300);
  auto run = MustCreate("alice say x\nexpect alice messagesView >= 2 x\n",
                        options, &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_EQ(s.filters(0).expected(), 2);
  EXPECT_EQ(s.filters(0).received(), 1);
}

TEST(RunTest, LateLinesCountWhenTheyComeBeforeTheTimeout) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate(
      "alice later 300 <bob> late\nalice testfilter messagesView 1 <bob> "
      "late\n",
      Fast(), &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
}

TEST(RunTest, WaitIsABarrier) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate(
      "alice later 200 ready\n"
      "wait alice messagesView 1 ready 5s\n"
      "wait alice messagesView 2 ready 200ms\n",
      Fast(), &registry);
  run->Start();
  RunSummary s = Finish(*run);
  ASSERT_EQ(s.steps_size(), 3);
  EXPECT_EQ(s.steps(1).outcome(), ::harness::v1::OUTCOME_OK) << Steps(s);
  EXPECT_GE(s.steps(1).duration_us(), 100000);
  EXPECT_LT(s.steps(1).duration_us(), 4000000);
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_FAILED);
  EXPECT_THAT(s.steps(2).message(), HasSubstr("has 1 of 2 lines"));
}

TEST(RunTest, PeersThatNeverRegisterAreAnError) {
  PeerRegistry registry;
  auto options = Fast();
  options.set_peer_wait_timeout_ms(200);
  auto run = MustCreate("ghost say hi\n", options, &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_ERROR);
  EXPECT_THAT(s.verdict(), HasSubstr("did not register"));
  EXPECT_THAT(s.verdict(), HasSubstr("ghost"));
}

TEST(RunTest, UnexpectedDeathFailsTheRestAndTheRunWithoutHanging) {
  PeerRegistry registry;
  FakePeer alice("alice"), bob("bob");
  alice.RegisterWith(registry);
  bob.RegisterWith(registry);
  auto run = MustCreate(
      "alice say start\n"
      "wait alice messagesView 1 go\n"
      "bob say still here\n"
      "alice say hi\n",
      Fast(), &registry);
  // bob "crashes" while the run waits, then alice's line lets it go on.
  run->Subscribe([&] {});
  run->Start();
  ASSERT_TRUE(Eventually([&] { return StepStarted(*run, "wait"); }));
  registry.Unregister("bob", bob.generation());
  alice.hub().Write(cli::kMessagesView, "go");
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_THAT(s.verdict(), HasSubstr("peer bob died unexpectedly"));
  ASSERT_EQ(s.steps_size(), 4);
  EXPECT_THAT(s.steps(2).message(), HasSubstr("died unexpectedly"));
  EXPECT_EQ(s.steps(3).outcome(), ::harness::v1::OUTCOME_OK);
}

TEST(RunTest, ProcessFaultsGoToTheClient) {
  PeerRegistry registry;
  FakePeer alice("alice"), bob("bob");
  alice.RegisterWith(registry);
  bob.RegisterWith(registry);
  auto options = Fast();
  options.set_client_faults(true);
  auto run = MustCreate(
      "kill bob\nbob say hi\nstart bob\nbob say back\nstop alice\n"
      "alice say x\ncont alice\nalice say y\n",
      options, &registry);
  // The "client": answers each FaultRequest as a lab would, on its own
  // thread.
  std::mutex mu;
  std::condition_variable cv;
  size_t seen = 0;
  bool done = false;
  run->AddWatcher();
  int sub = run->Subscribe([&] { cv.notify_all(); });
  std::thread client([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!done) {
      for (const RunEvent& e : run->EventsFrom(seen)) {
        ++seen;
        if (e.has_finished()) done = true;
        if (!e.has_fault_request()) continue;
        const auto& f = e.fault_request();
        if (f.kind() == "kill") registry.Unregister("bob", bob.generation());
        if (f.kind() == "start") bob.RegisterWith(registry);
        EXPECT_TRUE(run->ResolveFault(f.fault_id(), true, "").ok());
      }
      cv.wait_for(lock, std::chrono::milliseconds(50));
    }
  });
  run->Start();
  RunSummary s = Finish(*run);
  client.join();
  run->Unsubscribe(sub);
  run->RemoveWatcher();
  ASSERT_EQ(s.steps_size(), 8) << Steps(s);
  EXPECT_EQ(s.steps(0).outcome(), ::harness::v1::OUTCOME_OK) << Steps(s);
  EXPECT_THAT(s.steps(1).message(), HasSubstr("killed by `kill bob`"));
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_OK) << Steps(s);
  EXPECT_EQ(s.steps(3).outcome(), ::harness::v1::OUTCOME_OK) << Steps(s);
  EXPECT_THAT(s.steps(5).message(), HasSubstr("is stopped"));
  EXPECT_EQ(s.steps(7).outcome(), ::harness::v1::OUTCOME_OK) << Steps(s);
  // Expected deaths are no failure of the run by themselves.
  EXPECT_THAT(s.verdict(), Not(HasSubstr("unexpectedly")));
}

// The registry forgets the oldest ended peers beyond its bound (names come
// from remote parties); live peers are never forgotten, and a forgotten
// name that registers again gets a newer generation than it ever had.
TEST(PeerRegistryTest, EndedPeersAreBounded) {
  PeerRegistry registry;
  ::harness::v1::PeerInfo keep;
  keep.set_name("alive-one");
  ASSERT_TRUE(registry.Register(keep).ok());
  ::harness::v1::PeerInfo first;
  first.set_name("p0");
  uint64_t first_generation = *registry.Register(first);
  registry.Unregister("p0", first_generation);
  for (int i = 1; i < 5000; ++i) {
    ::harness::v1::PeerInfo info;
    info.set_name(absl::StrCat("p", i));
    uint64_t g = *registry.Register(info);
    registry.Unregister(info.name(), g);
  }
  EXPECT_LE(registry.List().size(), 1025u);
  EXPECT_EQ(registry.forgotten(), 5000u - PeerRegistry::kMaxEndedPeers);
  ASSERT_TRUE(registry.Get("alive-one").has_value());
  EXPECT_TRUE(registry.Get("alive-one")->alive());
  EXPECT_FALSE(registry.Get("p0").has_value());
  EXPECT_TRUE(registry.Get("p4999").has_value());
  EXPECT_GT(registry.Register(first).value_or(0), first_generation);
}

// A live name is not taken over; once its registration has ended, the same
// or a newer peer generation registers again (a restart), an older one
// does not (a stale process). Only the current registration has a session
// token.
TEST(PeerRegistryTest, ALiveNameIsNotTakenOver) {
  PeerRegistry registry;
  ::harness::v1::PeerInfo alice;
  alice.set_name("alice");
  alice.set_pid(42);
  alice.set_peer_generation(7);
  auto first = registry.Register(alice, "session-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(registry.SessionToken("alice", *first), "session-1");
  ::harness::v1::PeerInfo thief = alice;
  thief.set_pid(666);
  thief.set_peer_generation(8);
  auto taken = registry.Register(thief, "session-thief");
  EXPECT_TRUE(absl::IsAlreadyExists(taken.status())) << taken.status();
  EXPECT_THAT(taken.status().message(), HasSubstr("pid 42"));
  EXPECT_EQ(registry.Get("alice")->pid(), 42);
  EXPECT_EQ(registry.SessionToken("alice", *first), "session-1");

  registry.Unregister("alice", *first);
  EXPECT_EQ(registry.SessionToken("alice", *first), "");
  ::harness::v1::PeerInfo stale = alice;
  stale.set_peer_generation(6);
  EXPECT_TRUE(absl::IsFailedPrecondition(registry.Register(stale).status()));
  auto restarted = registry.Register(thief, "session-2");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_GT(*restarted, *first);
  EXPECT_EQ(registry.SessionToken("alice", *restarted), "session-2");
  EXPECT_EQ(registry.SessionToken("alice", *first), "");
}

// A peer that registers again and again (each registration is a connection
// and a watch thread until the step ends) is cut off at the run's bound.
TEST(RunTest, RegistrationsPerRunAreBounded) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate("alice say hi\nsleep 30\nalice say again\n", Fast(),
                        &registry);
  std::atomic<bool> sleeping = false;
  run->Subscribe([&] {
    for (const auto& e : run->EventsFrom(0)) {
      if (e.has_step_started() && e.step_started().kind() == "sleep") {
        sleeping = true;
      }
    }
  });
  run->Start();
  Eventually([&] { return sleeping.load(); }, absl::Seconds(5));
  ASSERT_TRUE(sleeping);
  for (int i = 0; i < 600; ++i) alice.RegisterWith(registry);
  run->Cancel("enough");
  RunSummary s = Finish(*run);
  EXPECT_THAT(absl::StrJoin(s.warnings(), "\n"),
              HasSubstr("registrations beyond the run's limit of 500 were "
                        "ignored"));
}

// Size of this process's resident memory.
int64_t ResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      return std::stoll(line.substr(6)) * 1024;
    }
  }
  return 0;
}

// A run keeps no copy of the view lines it counts: 100 MiB of lines that
// go through a run leave its memory flat.
TEST(RunTest, ViewLinesAreCountedNotKept) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate(
      "alice say start\n"
      "wait alice outputView 1 end 60s\n"
      "expect alice outputView >= 1 x\n",
      Fast(), &registry);
  run->Start();
  // The lines must reach the run: write at the pace of its watch.
  Eventually([&] { return run->state() == ::harness::v1::RUN_STATE_RUNNING; },
             absl::Seconds(2));
  const int64_t before = ResidentBytes();
  const std::string line(1024, 'x');
  for (int i = 0; i < 100 * 1024; ++i) {
    alice.hub().Write(cli::kOutputView, line);
    if (i % 500 == 499) absl::SleepFor(absl::Milliseconds(10));
  }
  alice.hub().Write(cli::kOutputView, "end");
  ASSERT_TRUE(run->WaitFinished(absl::Seconds(60)));
  const int64_t growth = ResidentBytes() - before;
  RunSummary s = run->Summary();
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  // (Under load the peer may drop lines for a slow watcher: the summary
  // warns, and fewer lines reach the run; the bound holds either way.)
  std::cout << "100 MiB of view lines: the process grew by " << (growth >> 20)
            << " MiB\n";
  EXPECT_LT(growth, 40 << 20) << "the run grew by " << (growth >> 20)
                              << " MiB for 100 MiB of view lines";
}

// A script is checked as a whole before it runs: faults that this run
// cannot carry out, peers that run no command and unknown views are refused
// by Create, each naming its line.
TEST(RunTest, ImpossibleFaultsAndUnknownNamesAreRefusedBeforeTheRun) {
  PeerRegistry registry;
  auto run = Run::Create(
      "r1", "t.cmd",
      "alice say hi\nbob say hi\nkill alice\npartition alice | bob\n"
      "netem alice corrupt 1%\nexpect bbo messagesView never x\n"
      "wait alice mesagesView 1 x\n",
      Fast(), &registry);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string e(run.status().message());
  EXPECT_THAT(e, HasSubstr("t.cmd:3: kill signals a peer's process"));
  EXPECT_THAT(e, HasSubstr("peerlab-test"));
  EXPECT_THAT(e, Not(HasSubstr("t.cmd:4")));  // partition: every lab
  EXPECT_THAT(e, HasSubstr("t.cmd:5: netem corrupt needs --lab netns"));
  EXPECT_THAT(e, HasSubstr("t.cmd:6: peer bbo runs no command in this script "
                           "(did you mean bob?)"));
  EXPECT_THAT(e, HasSubstr("t.cmd:7: view mesagesView does not exist (did "
                           "you mean messagesView?)"));
  auto options = Fast();
  options.set_client_faults(true);
  options.set_lab("netns");
  EXPECT_TRUE(Run::Create("r2", "t.cmd",
                          "alice say hi\nbob say hi\nkill alice\n"
                          "partition alice | bob\nnetem alice clear\n",
                          options, &registry)
                  .ok());
}

TEST(RunTest, CancelEndsASleepingRun) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate("sleep 30\nalice say hi\n", Fast(), &registry);
  run->Start();
  ASSERT_TRUE(Eventually([&] { return StepStarted(*run, "sleep"); }));
  run->Cancel("test says stop");
  RunSummary s = Finish(*run, absl::Seconds(5));
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_CANCELLED);
  EXPECT_THAT(s.verdict(), HasSubstr("test says stop"));
  EXPECT_EQ(s.steps(1).outcome(), ::harness::v1::OUTCOME_SKIPPED);
}

TEST(RunTest, APeerTakesPartInOneRunAtATime) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto first = MustCreate("sleep 30\n", Fast(), &registry, "first");
  auto uses_alice =
      MustCreate("alice say hi\nsleep 30\n", Fast(), &registry, "second");
  auto again = MustCreate("alice say hi\n", Fast(), &registry, "third");
  uses_alice->Start();
  // Wait until the second run holds alice.
  ASSERT_TRUE(
      Eventually([&] { return !registry.Get("alice")->run_id().empty(); }));
  again->Start();
  RunSummary s = Finish(*again);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_ERROR);
  EXPECT_THAT(s.verdict(), HasSubstr("in use by run second"));
  uses_alice->Cancel("done");
  Finish(*uses_alice);
}

// Membership events reach the run as typed records on the watch stream;
// log text that merely reads like one (a chat message or a command's text
// logged, `echo member bob is suspect`) is no event.
TEST(RunTest, MembershipEventsAreRecordsNotLogText) {
  PeerRegistry registry;
  FakePeer alice("alice");
  alice.RegisterWith(registry);
  auto run = MustCreate(
      "alice log info  [alice] member bob is suspect\n"
      "alice log warn  [alice] refused \"x] member bob failed\"\n"
      "alice event SUSPECT carol 3\n"
      "alice event FAILED dave 2\n"
      // One stream in order: once `done` arrived, so had the events.
      "alice say done\n"
      "expect alice messagesView == 1 done\n",
      Fast(), &registry);
  run->Start();
  RunSummary s = Finish(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << Steps(s);
  std::vector<std::string> membership;
  for (const auto& t : s.timeline()) {
    if (t.kind() == "membership") {
      membership.push_back(
          absl::StrCat(t.peer(), ": ", t.text(), t.ok() ? "" : " (not ok)"));
    }
  }
  EXPECT_THAT(membership,
              ::testing::ElementsAre(
                  "alice: member carol is suspect (incarnation 3)",
                  "alice: member dave failed (incarnation 2) (not ok)"));
}

}  // namespace
}  // namespace peerlab::harness
