// Every way out of a peer is a clean leave, end to end: real peerlab-peer
// processes against a real peerlab-bootstrap on loopback. alice joins bob's
// group, then ends one way or another (end of input, exit, quit, SIGINT,
// SIGTERM, SIGHUP, SIGTERM during a remote command); bob must see her leave
// (not fail) and the bootstrap list must no longer hold her. Also: a stale
// bootstrap entry does not break the next peer's init, --test without
// --coordinator says what it waits for, and a remote exit is answered.
// Every wait is a condition with a deadline.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/control.grpc.pb.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::peerlab::peer::e2e::Eventually;
using ::peerlab::peer::e2e::ShellQuote;
using ::peerlab::testing::PeerProcessOptions;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::WaitForFileLine;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kDeadline = absl::Seconds(30);

[[maybe_unused]] const bool kBackupPollSet =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", 0) == 0;

// A peer driven through PeerControl, with a WatchViews stream of every view.
using Peer = e2e::WatchedPeer;

// How alice ends.
enum class Way {
  kEndOfInput,
  kExit,
  kQuit,
  kRemoteExit,  // PeerControl.Execute("exit") while stdin stays open
  kSigint,
  kSigterm,
  kSighup
};

std::string WayName(Way way) {
  switch (way) {
    case Way::kEndOfInput:
      return "EndOfInput";
    case Way::kExit:
      return "Exit";
    case Way::kQuit:
      return "Quit";
    case Way::kRemoteExit:
      return "RemoteExit";
    case Way::kSigint:
      return "Sigint";
    case Way::kSigterm:
      return "Sigterm";
    case Way::kSighup:
      return "Sighup";
  }
  return "?";
}

class LeaveE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-leave-e2e"));
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
  }
  void TearDown() override {
    if (writer_ >= 0) ::close(writer_);
    if (HasFailure()) PrintPeerFiles();
  }

  // On failure: the end of every peer's log, stdout and stderr (NAME.log,
  // NAME.stdout, NAME.stderr in dir_), so a rare failure can be read.
  void PrintPeerFiles() {
    constexpr size_t kTail = 24 * 1024;
    std::vector<std::string> files;
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(dir_->path(), error)) {
      const std::string ext = entry.path().extension().string();
      if (ext == ".log" || ext == ".stdout" || ext == ".stderr") {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      auto text = ::peerlab::testing::ReadFile(file);
      if (!text.ok() || text->empty()) continue;
      std::string tail = text->size() > kTail
                             ? "...\n" + text->substr(text->size() - kTail)
                             : *text;
      std::cerr << "---- " << file << " ----\n" << tail << "\n";
    }
  }

  // The peer's arguments after NAME: this test's bootstrap server and
  // timings, then `extra`.
  std::vector<std::string> Args(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--bootstrap", bootstrap_.address,
                                     "--config", config_};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Starts NAME --serve (with init) and waits until it serves and its init
  // is over. The ready file comes before init runs: a peer started next
  // could otherwise find no one on the bootstrap list yet and start a
  // group of its own, which the first then joins (seen under load: bob
  // never printed "<joined> alice has joined").
  std::unique_ptr<Peer> StartServing(const std::string& name,
                                     const std::vector<std::string>& extra) {
    std::vector<std::string> args = Args({"--serve"});
    args.insert(args.end(), extra.begin(), extra.end());
    auto peer = StartWatchedPeer(name, args, kDeadline);
    if (!peer) return nullptr;
    std::string out;
    const bool over = Eventually(
        [&] {
          out = peer->process().ReadStdout();
          return absl::StrContains(out, "init: done") ||
                 absl::StrContains(out, "step(s) failed");
        },
        kDeadline);
    EXPECT_TRUE(over) << name << ": init never ended:\n" << out;
    return over ? std::move(peer) : nullptr;
  }

  // Starts NAME (with init) reading standard input from a FIFO that this
  // test writes (Write) and closes (CloseInput); waits until it serves.
  std::unique_ptr<Peer> StartPiped(const std::string& name,
                                   const std::vector<std::string>& extra = {}) {
    const std::string fifo = dir_->File(name + ".fifo");
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // Read-write: opening never blocks, and the peer sees the end of input
    // only when this test closes it.
    writer_ = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_GE(writer_, 0);
    Subprocess::Options o =
        PeerProcessOptions(bin_, dir_->path(), name, Args(extra));
    std::vector<std::string> quoted;
    for (const std::string& word : o.argv) quoted.push_back(ShellQuote(word));
    o.argv = {"/bin/sh", "-c",
              absl::StrCat("exec ", absl::StrJoin(quoted, " "), " <",
                           ShellQuote(fifo))};
    auto process = Subprocess::Start(o);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    auto ready =
        WaitForFileLine(dir_->File(name + ".ready"), kDeadline, process->get());
    EXPECT_TRUE(ready.ok()) << ready.status() << "\n"
                            << (*process)->ReadStderr();
    if (!ready.ok()) return nullptr;
    return std::make_unique<Peer>(
        *std::move(process), std::string(absl::StripAsciiWhitespace(*ready)));
  }

  void Write(const std::string& text) {
    ASSERT_EQ(::write(writer_, text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }
  void CloseInput() {
    ::close(writer_);
    writer_ = -1;
  }

  // The names in the bootstrap list, as `viewer` reads it.
  static std::string BootstrapNames(Peer& viewer) {
    return viewer.Output("bootstrappeers");
  }

  // bob saw alice leave, not fail, and the list no longer holds her.
  void ExpectCleanLeave(Peer& bob) {
    EXPECT_TRUE(bob.WaitForLine("messagesView", "<left> alice is leaving"));
    std::string members;
    EXPECT_TRUE(Eventually([&] {
      members = bob.Output("showmemberlist");
      for (absl::string_view line : absl::StrSplit(members, '\n')) {
        if (absl::StartsWith(line, "alice ") &&
            absl::StrContains(line, " left ")) {
          return true;
        }
      }
      return false;
    })) << "bob never saw alice leave:\n"
        << members;
    EXPECT_THAT(bob.Lines("messagesView"),
                Not(::testing::Contains(HasSubstr("<failed> alice"))));
    std::string names;
    EXPECT_TRUE(Eventually([&] {
      names = BootstrapNames(bob);
      return !absl::StrContains(names, "alice") &&
             absl::StrContains(names, "bob");
    })) << names;
  }

  int writer_ = -1;
};

class WayOutTest : public LeaveE2eTest,
                   public ::testing::WithParamInterface<Way> {};

TEST_P(WayOutTest, LeavesTheGroupTheChatAndTheBootstrapList) {
  auto bob = StartServing("bob", {});
  ASSERT_TRUE(bob);
  auto alice = StartPiped("alice");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(bob->WaitForLine("messagesView", "<joined> alice has joined"));
  ASSERT_THAT(BootstrapNames(*bob), HasSubstr("alice"));

  absl::Time start = absl::Now();
  switch (GetParam()) {
    case Way::kEndOfInput:
      CloseInput();
      break;
    case Way::kExit:
      ASSERT_NO_FATAL_FAILURE(Write("exit\n"));
      break;
    case Way::kQuit:
      ASSERT_NO_FATAL_FAILURE(Write("quit\n"));
      break;
    case Way::kRemoteExit: {
      pb::ExecuteResponse answer = alice->Execute("exit");
      EXPECT_EQ(answer.code(), 0) << answer.message();
      break;
    }
    case Way::kSigint:
      ASSERT_TRUE(alice->process().Signal(SIGINT).ok());
      break;
    case Way::kSigterm:
      ASSERT_TRUE(alice->process().Signal(SIGTERM).ok());
      break;
    case Way::kSighup:
      ASSERT_TRUE(alice->process().Signal(SIGHUP).ok());
      break;
  }
  auto ended = alice->process().Wait(kDeadline);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString() << "\n"
                                << alice->process().ReadStderr();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ExpectCleanLeave(*bob);
}

INSTANTIATE_TEST_SUITE_P(EveryWay, WayOutTest,
                         ::testing::Values(Way::kEndOfInput, Way::kExit,
                                           Way::kQuit, Way::kRemoteExit,
                                           Way::kSigint, Way::kSigterm,
                                           Way::kSighup),
                         [](const ::testing::TestParamInfo<Way>& info) {
                           return WayName(info.param);
                         });

// SIGTERM while a remote command sleeps: the command is cancelled, its
// caller answered, and the peer leaves and ends promptly.
TEST_F(LeaveE2eTest, SigtermDuringARemoteSleepEndsThePeerPromptly) {
  auto bob = StartServing("bob", {});
  ASSERT_TRUE(bob);
  auto alice = StartServing("alice", {});
  ASSERT_TRUE(alice);
  ASSERT_TRUE(bob->WaitForLine("messagesView", "<joined> alice has joined"));
  const std::string script = dir_->File("long.cmd");
  ASSERT_TRUE(WriteFile(script, "echo sleeping now\nsleep 100000\n").ok());

  pb::ExecuteResponse answer;
  grpc::Status rpc;
  std::thread caller([&] {
    rpc = ::peerlab::testing::ExecuteLine(alice->stub(),
                                          absl::StrCat("execute ", script),
                                          &answer, absl::Seconds(60));
  });
  ASSERT_TRUE(alice->WaitForLine("outputView", "sleeping now"));
  absl::Time sent = absl::Now();
  ASSERT_TRUE(alice->process().Signal(SIGTERM).ok());
  auto ended = alice->process().Wait(kDeadline);
  caller.join();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(10));
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  EXPECT_EQ(answer.code(), static_cast<int>(absl::StatusCode::kCancelled))
      << answer.message();
  EXPECT_THAT(answer.message(), HasSubstr("shutting down"));
  ExpectCleanLeave(*bob);
}

// A lone peer killed with -9 leaves its entry behind; the next peer's init
// still succeeds: nobody answers, so it starts the group, and the stale
// entry is replaced.
TEST_F(LeaveE2eTest, StaleBootstrapEntryDoesNotBreakTheNextInit) {
  auto alice = StartServing("alice", {});
  ASSERT_TRUE(alice);
  ASSERT_TRUE(Eventually(
      [&] { return absl::StrContains(BootstrapNames(*alice), "alice"); }));
  ASSERT_TRUE(alice->process().Kill().ok());
  alice.reset();

  absl::Time start = absl::Now();
  auto bob = StartServing("bob", {});
  ASSERT_TRUE(bob);
  std::string out;
  EXPECT_TRUE(Eventually([&] {
    out = bob->process().ReadStdout();
    return absl::StrContains(out, "init: done") ||
           absl::StrContains(out, "step(s) failed");
  })) << out;
  EXPECT_THAT(out, HasSubstr("init: done"));
  EXPECT_THAT(out, HasSubstr("this peer starts the group"));
  EXPECT_THAT(out, HasSubstr("removed the stale bootstrap entry of alice"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  std::string names = BootstrapNames(*bob);
  EXPECT_THAT(names, Not(HasSubstr("alice")));
  EXPECT_THAT(names, HasSubstr("bob"));

  // And the group it started is one a third peer joins.
  auto carol = StartServing("carol", {});
  ASSERT_TRUE(carol);
  EXPECT_TRUE(bob->WaitForLine("messagesView", "<joined> carol has joined"));
}

// A remote exit ends a peer whose standard input stays open and quiet (no
// group, no log line to wake it).
TEST_F(LeaveE2eTest, RemoteExitEndsAPeerReadingAnOpenPipe) {
  auto alice = StartPiped("alice", {"--no-init"});
  ASSERT_TRUE(alice);
  pb::ExecuteResponse answer = alice->Execute("exit 0");
  EXPECT_EQ(answer.code(), 0) << answer.message();
  auto ended = alice->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
}

// The leave is bounded even when the bootstrap service hangs (stopped, so
// calls get no answer at all): the peer still leaves the group and ends.
TEST_F(LeaveE2eTest, LeaveIsBoundedWhenTheBootstrapServiceHangs) {
  auto bob = StartServing("bob", {});
  ASSERT_TRUE(bob);
  auto alice = StartServing("alice", {});
  ASSERT_TRUE(alice);
  ASSERT_TRUE(bob->WaitForLine("messagesView", "<joined> alice has joined"));
  ASSERT_TRUE(bootstrap_.process->Signal(SIGSTOP).ok());
  // kill() returns before every thread has stopped: wait until all have.
  const std::string tasks =
      absl::StrCat("/proc/", bootstrap_.process->pid(), "/task");
  ASSERT_TRUE(Eventually([&] {
    std::error_code error;
    for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
      auto text = ::peerlab::testing::ReadFile(task.path() / "stat");
      if (!text.ok()) return false;
      size_t paren = text->rfind(')');
      if (paren == std::string::npos || paren + 2 >= text->size() ||
          (*text)[paren + 2] != 'T') {
        return false;
      }
    }
    return !error;
  })) << "the bootstrap server did not stop";
  absl::Time sent = absl::Now();
  ASSERT_TRUE(alice->process().Signal(SIGTERM).ok());
  auto ended = alice->process().Wait(kDeadline);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(12));
  EXPECT_THAT(alice->process().ReadStderr(),
              HasSubstr("bootstrap leave failed"));
  EXPECT_TRUE(bob->WaitForLine("messagesView", "<left> alice is leaving"));
  EXPECT_TRUE(Eventually([&] {
    for (absl::string_view line :
         absl::StrSplit(bob->Output("showmemberlist"), '\n')) {
      if (absl::StartsWith(line, "alice ") &&
          absl::StrContains(line, " left ")) {
        return true;
      }
    }
    return false;
  }));
  ASSERT_TRUE(bootstrap_.process->Signal(SIGCONT).ok());
}

// init refuses a name that a live member holds: the newcomer exits 1
// naming the holder's address, says nothing in that name, and leaves the
// bootstrap list as it was.
TEST_F(LeaveE2eTest, InitRefusesANameHeldByALiveMember) {
  auto bob = StartServing("bob", {});
  ASSERT_TRUE(bob);
  auto alice = StartServing("alice", {});
  ASSERT_TRUE(alice);
  ASSERT_TRUE(bob->WaitForLine("messagesView", "<joined> alice has joined"));

  const std::string dup_dir = dir_->File("dup");
  ASSERT_EQ(::mkdir(dup_dir.c_str(), 0700), 0);
  ASSERT_TRUE(e2e::ShareGroupKey(dir_->path(), dup_dir));  // one user's group
  auto dup = Subprocess::Start(
      PeerProcessOptions(bin_, dup_dir, "alice", Args({"--serve"})));
  ASSERT_TRUE(dup.ok()) << dup.status();
  auto ended = (*dup)->Wait(kDeadline);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->exited && ended->code == 1) << ended->ToString();
  std::string out = (*dup)->ReadStdout();
  EXPECT_THAT(out, HasSubstr("init: the name alice is taken"));
  EXPECT_THAT(out, HasSubstr("127.0.0.1:"));

  // The holder is untouched: still listed once, never shown as gone.
  std::string names = BootstrapNames(*bob);
  EXPECT_EQ(std::count(names.begin(), names.end(), '\n') + 1, 2) << names;
  EXPECT_THAT(names, HasSubstr("alice"));
  pb::ExecuteResponse hi = alice->Execute("msg still here");
  EXPECT_EQ(hi.code(), 0) << hi.message();
  EXPECT_TRUE(bob->WaitForLine("messagesView", "<alice> still here"));
  for (const std::string& line : bob->Lines("messagesView")) {
    EXPECT_THAT(line, Not(HasSubstr("<left> alice")));
    EXPECT_THAT(line, Not(HasSubstr("<failed> alice")));
  }
}

// --test without --coordinator says what it waits for; a remote exit is
// answered before the peer ends.
TEST_F(LeaveE2eTest, TestModeWithoutCoordinatorSaysWhatItWaitsFor) {
  // Not StartServing: without a coordinator, init waits for a command.
  auto alice =
      StartWatchedPeer("alice", Args({"--serve", "--test"}), kDeadline);
  ASSERT_TRUE(alice);
  std::string err;
  EXPECT_TRUE(Eventually([&] {
    err = alice->process().ReadStderr();
    return absl::StrContains(err, "without --coordinator");
  })) << err;
  EXPECT_THAT(err, HasSubstr("waiting for commands through "
                             "peer.v1.PeerControl"));
  pb::ExecuteResponse answer;
  grpc::Status rpc = ::peerlab::testing::ExecuteLine(alice->stub(), "exit 0",
                                                     &answer, kDeadline);
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  EXPECT_EQ(answer.code(), 0) << answer.message();
  auto ended = alice->process().Wait(kDeadline);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
}

}  // namespace
}  // namespace peerlab::peer
