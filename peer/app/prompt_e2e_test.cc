// End-to-end tests of the interactive prompt: the real peerlab-peer on a
// terminal (a tmux pane), against the real peerlab-bootstrap, driven by key
// presses as a person would type them. Every wait polls the screen until a
// condition holds or a deadline passes.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::peerlab::testing::ExecuteOrError;
using ::peerlab::testing::NewPeerChannel;
using ::peerlab::testing::OutputTexts;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::StartPeerProcess;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::ViewWatcher;
using ::peerlab::testing::WaitForFileLine;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kDeadline = absl::Seconds(15);

// The path of `name` in $PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The screen as lines, trailing blank lines dropped.
using Screen = std::vector<std::string>;

std::string LastLine(const Screen& screen) {
  return screen.empty() ? "" : screen.back();
}

// A tmux server of our own (socket in the test's directory, no user
// configuration) with one 200x50 session.
class Tmux {
 public:
  // Starts the server and a detached session running `argv` directly (no
  // shell) with `env` added to its environment.
  static absl::StatusOr<std::unique_ptr<Tmux>> Start(
      const std::string& tmux, const std::string& dir,
      const std::vector<std::string>& argv,
      const std::map<std::string, std::string>& env) {
    std::unique_ptr<Tmux> t(new Tmux(tmux, dir));
    if (auto s = WriteFile(t->conf_,
                           "set -g status off\n"
                           "set -g default-terminal screen\n");
        !s.ok()) {
      return s;
    }
    std::vector<std::string> args = {"new-session", "-d", "-x",
                                     "200",         "-y", "50"};
    for (const auto& [key, value] : env) {
      args.push_back("-e");
      args.push_back(absl::StrCat(key, "=", value));
    }
    args.insert(args.end(), argv.begin(), argv.end());
    if (auto out = t->Run(args); !out.ok()) return out.status();
    t->started_ = true;
    return t;
  }

  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;
  ~Tmux() {
    if (started_) (void)Run({"kill-server"});
  }

  // send-keys with key names ("Enter", "Tab", "C-c", "Up").
  absl::Status Keys(const std::vector<std::string>& keys) {
    std::vector<std::string> args = {"send-keys"};
    args.insert(args.end(), keys.begin(), keys.end());
    return Run(args).status();
  }
  // Types `text` literally.
  absl::Status Type(const std::string& text) {
    return Run({"send-keys", "-l", text}).status();
  }
  // The visible screen; with `escapes`, colours as escape sequences.
  absl::StatusOr<Screen> Capture(bool escapes = false) {
    std::vector<std::string> args = {"capture-pane", "-p"};
    if (escapes) args.push_back("-e");
    auto out = Run(args);
    if (!out.ok()) return out.status();
    Screen lines = absl::StrSplit(*out, '\n');
    while (!lines.empty() &&
           absl::StripTrailingAsciiWhitespace(lines.back()).empty()) {
      lines.pop_back();
    }
    for (std::string& line : lines) {
      line = std::string(absl::StripTrailingAsciiWhitespace(line));
    }
    return lines;
  }
  // A tmux format of the pane, e.g. "#{pane_pid}".
  absl::StatusOr<std::string> Format(const std::string& format) {
    auto out = Run({"display-message", "-p", format});
    if (!out.ok()) return out.status();
    return std::string(absl::StripAsciiWhitespace(*out));
  }

  // Polls the screen until `done` holds; DeadlineExceeded, quoting the last
  // screen and `what`, after `timeout`.
  absl::StatusOr<Screen> WaitFor(const std::string& what,
                                 const std::function<bool(const Screen&)>& done,
                                 absl::Duration timeout = kDeadline) {
    absl::Time deadline = absl::Now() + timeout;
    Screen screen;
    for (;;) {
      auto captured = Capture();
      if (!captured.ok()) return captured.status();
      screen = *std::move(captured);
      if (done(screen)) return screen;
      if (absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(20));  // poll interval
    }
    return absl::DeadlineExceededError(
        absl::StrCat("waited ", absl::FormatDuration(timeout), " for ", what,
                     "; the screen:\n", absl::StrJoin(screen, "\n")));
  }
  // Waits until the last line of the screen is `line`.
  absl::StatusOr<Screen> WaitForLastLine(const std::string& line) {
    return WaitFor(absl::StrCat("the last line to be \"", line, "\""),
                   [&](const Screen& s) { return LastLine(s) == line; });
  }

 private:
  Tmux(std::string tmux, const std::string& dir)
      : tmux_(std::move(tmux)),
        dir_(dir),
        socket_(dir + "/tmux.sock"),
        conf_(dir + "/tmux.conf") {}

  absl::StatusOr<std::string> Run(const std::vector<std::string>& args) {
    Subprocess::Options o;
    o.argv = {tmux_, "-S", socket_, "-f", conf_};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.stdout_path = absl::StrCat(dir_, "/tmux.out");
    o.stderr_path = absl::StrCat(dir_, "/tmux.err");
    o.env["TMUX"] = "";  // in case the tests run inside tmux
    auto process = Subprocess::Start(o);
    if (!process.ok()) return process.status();
    auto status = (*process)->Wait(absl::Seconds(10));
    if (!status.ok()) return status.status();
    if (!status->success()) {
      return absl::InternalError(absl::StrCat("tmux ", absl::StrJoin(args, " "),
                                              ": ", status->ToString(), ": ",
                                              (*process)->ReadStderr()));
    }
    return (*process)->ReadStdout();
  }

  const std::string tmux_;
  const std::string dir_;
  const std::string socket_;
  const std::string conf_;
  bool started_ = false;
};

class PromptE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    tmux_path_ = FindOnPath("tmux");
    if (tmux_path_.empty()) {
      GTEST_SKIP() << "tmux is not installed (apt-get install tmux), so the "
                      "interactive prompt is not tested";
    }
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-prompt-e2e"));
    history_ = dir_->File("history");
  }

  // Starts alice in a tmux pane, under a shell that reports her exit status
  // and then the terminal settings she left ("stty -a"), and waits for her
  // prompt.
  void StartAlice(const std::vector<std::string>& extra = {"--no-init"}) {
    // Ctrl-C goes to the whole foreground process group: the shell catches
    // it (children get the default disposition back) so that it survives.
    const std::string script =
        "trap : INT; \"$@\"; echo \"[peer exited with status $?]\"; "
        "stty -a; exec sleep 3600";
    std::vector<std::string> argv = {"/bin/sh",
                                     "-c",
                                     script,
                                     "sh",
                                     absl::StrCat(bin_, "/peerlab-peer"),
                                     "alice",
                                     "--bootstrap",
                                     bootstrap_.address,
                                     "--history-file",
                                     history_,
                                     "--ready-file",
                                     dir_->File("alice.ready"),
                                     "--log-file",
                                     dir_->File("alice.log")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto tmux = Tmux::Start(tmux_path_, dir_->path(), argv,
                            {{"HOME", dir_->path()},
                             {"LANG", "C.UTF-8"},
                             {"PEERLAB_CONTROL_TOKEN_FILE",
                              ::peerlab::testing::TestControlTokenFile()}});
    ASSERT_TRUE(tmux.ok()) << tmux.status();
    tmux_ = *std::move(tmux);
    auto ready = WaitForFileLine(dir_->File("alice.ready"), kDeadline);
    ASSERT_TRUE(ready.ok()) << ready.status();
    control_address_ = std::string(absl::StripAsciiWhitespace(*ready));
    ASSERT_TRUE(tmux_->WaitForLastLine("alice>").ok());
  }

  // The pid of the peer: the child of the pane's shell.
  absl::StatusOr<pid_t> AlicePid() {
    auto shell = tmux_->Format("#{pane_pid}");
    if (!shell.ok()) return shell.status();
    auto children =
        ReadFile(absl::StrCat("/proc/", *shell, "/task/", *shell, "/children"));
    if (!children.ok()) return children.status();
    int pid = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*children), &pid)) {
      return absl::NotFoundError(
          absl::StrCat("no single child of the pane's shell: ", *children));
    }
    return pid;
  }

  // Runs `line` on alice through PeerControl.Execute.
  pb::ExecuteResponse ExecuteRemotely(const std::string& line) {
    auto stub = pb::PeerControl::NewStub(NewPeerChannel(control_address_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(15));
    pb::ExecuteRequest request;
    request.set_line(line);
    pb::ExecuteResponse response;
    grpc::Status status = stub->Execute(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Waits until alice has exited and the shell has shown the terminal
  // settings; returns the screen.
  Screen WaitForExit(int code) {
    auto screen = tmux_->WaitFor(
        absl::StrCat("the peer to exit with status ", code, " and stty -a"),
        [&](const Screen& s) {
          bool exited = false, settings = false;
          for (const std::string& l : s) {
            exited = exited || absl::StartsWith(l, "[peer exited");
            settings = settings || absl::StrContains(l, "icanon");
          }
          return exited && settings;
        });
    EXPECT_TRUE(screen.ok()) << screen.status();
    if (!screen.ok()) return {};
    EXPECT_THAT(*screen, ::testing::Contains(absl::StrCat(
                             "[peer exited with status ", code, "]")));
    return *screen;
  }

  // The terminal settings printed by `stty -a` after alice exited: she must
  // have left the terminal in its normal (canonical, echoing) mode.
  void ExpectTerminalRestored(const Screen& screen) {
    std::string settings = absl::StrJoin(screen, " ");
    std::vector<std::string> words =
        absl::StrSplit(settings, absl::ByAnyChar(" ;"), absl::SkipEmpty());
    EXPECT_THAT(words, ::testing::Contains("icanon")) << settings;
    EXPECT_THAT(words, ::testing::Contains("echo")) << settings;
    EXPECT_THAT(words, ::testing::Contains("isig")) << settings;
  }

  std::string tmux_path_;
  std::string history_;
  std::unique_ptr<Tmux> tmux_;
  std::string control_address_;
};

bool Has(const Screen& screen, const std::string& line) {
  for (const std::string& l : screen) {
    if (l == line) return true;
  }
  return false;
}

TEST_F(PromptE2eTest, HelpCompletionCancelHistoryAndCtrlD) {
  ASSERT_NO_FATAL_FAILURE(StartAlice());

  // help lists the groups, then a new prompt.
  ASSERT_TRUE(tmux_->Type("help").ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  auto screen =
      tmux_->WaitFor("help's groups and a new prompt", [](const Screen& s) {
        return Has(s, "alice> help") && Has(s, "cli: exit help log") &&
               LastLine(s) == "alice>";
      });
  ASSERT_TRUE(screen.ok()) << screen.status();
  EXPECT_TRUE(Has(*screen, "script: echo execute shell sleep"));

  // Tab completes "boot" to the common prefix; a second Tab lists the
  // choices above the prompt; "c" + Tab completes to the one left.
  ASSERT_TRUE(tmux_->Type("boot").ok());
  ASSERT_TRUE(tmux_->Keys({"Tab"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> bootstrap").ok());
  ASSERT_TRUE(tmux_->Keys({"Tab"}).ok());
  screen =
      tmux_->WaitFor("the list of bootstrap commands", [](const Screen& s) {
        bool listed = false;
        for (const std::string& l : s) {
          listed = listed || (absl::StrContains(l, "bootstrapconfig") &&
                              absl::StrContains(l, "bootstrapleave"));
        }
        return listed && LastLine(s) == "alice> bootstrap";
      });
  ASSERT_TRUE(screen.ok()) << screen.status();
  ASSERT_TRUE(tmux_->Type("c").ok());
  ASSERT_TRUE(tmux_->Keys({"Tab"}).ok());
  // capture-pane drops the trailing space the completion added.
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> bootstrapconfig").ok());

  // Ctrl-C cancels the line: it stays on screen marked ^C, is not run and
  // is not remembered.
  ASSERT_TRUE(tmux_->Keys({"C-c"}).ok());
  screen = tmux_->WaitFor("the cancelled line", [](const Screen& s) {
    return Has(s, "alice> bootstrapconfig ^C") && LastLine(s) == "alice>";
  });
  ASSERT_TRUE(screen.ok()) << screen.status();

  // File names complete for execute; the script runs.
  ASSERT_TRUE(
      WriteFile(dir_->File("hello-script.cmd"), "echo from the script\n").ok());
  ASSERT_TRUE(tmux_->Type("execute " + dir_->File("hello-sc")).ok());
  ASSERT_TRUE(tmux_->Keys({"Tab"}).ok());
  const std::string execute_line = "execute " + dir_->File("hello-script.cmd");
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> " + execute_line).ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  screen = tmux_->WaitFor("the script's output", [](const Screen& s) {
    return Has(s, "from the script") && LastLine(s) == "alice>";
  });
  ASSERT_TRUE(screen.ok()) << screen.status();

  // An unknown command: an error, and the prompt again.
  ASSERT_TRUE(tmux_->Type("nosuchcommand").ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  screen = tmux_->WaitFor("the error", [](const Screen& s) {
    return Has(s,
               "error: unknown command \"nosuchcommand\"; type help for "
               "the list") &&
           LastLine(s) == "alice>";
  });
  ASSERT_TRUE(screen.ok()) << screen.status();
  // Coloured on a terminal: the error line is red, help's lines are not.
  auto coloured = tmux_->Capture(/*escapes=*/true);
  ASSERT_TRUE(coloured.ok());
  bool error_red = false, help_plain = false;
  for (const std::string& l : *coloured) {
    if (absl::StrContains(l, "error: unknown command \"nosuchcommand\"")) {
      error_red = absl::StrContains(l, "31m");
    }
    if (l == "cli: exit help log") help_plain = true;
  }
  EXPECT_TRUE(error_red) << absl::StrJoin(*coloured, "\n");
  EXPECT_TRUE(help_plain) << absl::StrJoin(*coloured, "\n");

  // Up recalls history, newest first.
  ASSERT_TRUE(tmux_->Keys({"Up"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> nosuchcommand").ok());
  ASSERT_TRUE(tmux_->Keys({"Up"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> " + execute_line).ok());
  ASSERT_TRUE(tmux_->Keys({"Up"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> help").ok());
  ASSERT_TRUE(tmux_->Keys({"Down", "Down", "Down"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice>").ok());

  // The history file has the lines entered, in order; not the cancelled one.
  auto history = ReadFile(history_);
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(*history,
            absl::StrCat("help\n", execute_line, "\nnosuchcommand\n"));

  // Ctrl-D on the empty line ends the peer; the terminal is restored. The
  // exit status says a command failed (nosuchcommand).
  ASSERT_TRUE(tmux_->Keys({"C-d"}).ok());
  Screen end = WaitForExit(1);
  ExpectTerminalRestored(end);
}

TEST_F(PromptE2eTest, HistoryFromAnEarlierRunAndExit) {
  ASSERT_TRUE(WriteFile(history_, "echo from last time\n").ok());
  ASSERT_NO_FATAL_FAILURE(StartAlice());
  ASSERT_TRUE(tmux_->Keys({"Up"}).ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> echo from last time").ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  ASSERT_TRUE(tmux_
                  ->WaitFor("the recalled line's output",
                            [](const Screen& s) {
                              return Has(s, "from last time") &&
                                     LastLine(s) == "alice>";
                            })
                  .ok());
  // Ctrl-D on a line that is not empty does not quit.
  ASSERT_TRUE(tmux_->Type("echo x").ok());
  ASSERT_TRUE(tmux_->Keys({"C-d"}).ok());
  ASSERT_TRUE(tmux_->Type("y").ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> echo xy").ok());
  ASSERT_TRUE(tmux_->Keys({"C-u"}).ok());
  ASSERT_TRUE(tmux_->Type("exit 4").ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  Screen end = WaitForExit(4);
  ExpectTerminalRestored(end);
  auto history = ReadFile(history_);
  ASSERT_TRUE(history.ok());
  // A line repeated is kept once.
  EXPECT_EQ(*history, "echo from last time\nexit 4\n");
}

TEST_F(PromptE2eTest, OutputArrivingWhileALineIsTyped) {
  ASSERT_NO_FATAL_FAILURE(StartAlice());
  // A partial line, the cursor moved back into it.
  ASSERT_TRUE(tmux_->Type("echo partial").ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> echo partial").ok());
  ASSERT_TRUE(tmux_->Keys({"Left", "Left", "Left"}).ok());

  // Output from another source (a remote command) arrives meanwhile.
  pb::ExecuteResponse response = ExecuteRemotely("echo async hello");
  EXPECT_EQ(response.code(), 0) << response.message();
  auto screen = tmux_->WaitFor(
      "the remote output above the intact partial line", [](const Screen& s) {
        return s.size() >= 2 && s[s.size() - 2] == "async hello" &&
               LastLine(s) == "alice> echo partial";
      });
  ASSERT_TRUE(screen.ok()) << screen.status();
  // Several lines at once, including an error (remote errors are printed
  // too).
  response = ExecuteRemotely("nosuch-remote");
  EXPECT_NE(response.code(), 0);
  ExecuteRemotely("echo second async line");
  screen = tmux_->WaitFor(
      "more remote output above the partial line", [](const Screen& s) {
        return Has(s, "async hello") && Has(s, "second async line") &&
               LastLine(s) == "alice> echo partial";
      });
  ASSERT_TRUE(screen.ok()) << screen.status();
  EXPECT_FALSE(Has(*screen, "alice> echo partialasync hello"));

  // The cursor is where it was: typing inserts before "ial".
  ASSERT_TRUE(tmux_->Type("_").ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> echo part_ial").ok());
  ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
  screen = tmux_->WaitFor("the typed line's output", [](const Screen& s) {
    return s.size() >= 3 && s[s.size() - 3] == "alice> echo part_ial" &&
           s[s.size() - 2] == "part_ial" && LastLine(s) == "alice>";
  });
  ASSERT_TRUE(screen.ok()) << screen.status();

  // SIGTERM while a line is being typed: the peer ends at once, exit 0,
  // with the terminal restored.
  ASSERT_TRUE(tmux_->Type("echo never run").ok());
  ASSERT_TRUE(tmux_->WaitForLastLine("alice> echo never run").ok());
  auto pid = AlicePid();
  ASSERT_TRUE(pid.ok()) << pid.status();
  absl::Time sent = absl::Now();
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  Screen end = WaitForExit(0);
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
  EXPECT_FALSE(Has(end, "never run"));
  ExpectTerminalRestored(end);
  EXPECT_NE(::kill(*pid, 0), 0);  // gone (reaped by the shell)
}

// Lines longer than the 200-column screen wrap; output arriving meanwhile
// must not eat the row above the prompt or leave parts of the input behind.
// Lengths around the width hit libedit's wrapping edge cases.
TEST_F(PromptE2eTest, WrappedInputSurvivesOutput) {
  ASSERT_NO_FATAL_FAILURE(StartAlice());
  int round = 0;
  for (size_t length : {192u, 193u, 194u, 260u, 393u}) {
    ++round;
    std::string word(length - 5, 'a' + round);
    std::string input = "echo " + word;  // `length` characters
    std::string shown = "alice> " + input;
    // The screen rows the prompt and input take.
    std::vector<std::string> rows;
    for (size_t i = 0; i < shown.size(); i += 200) {
      rows.push_back(shown.substr(i, 200));
    }
    ASSERT_TRUE(tmux_->Type(input).ok());
    auto ends_with_input = [&](const Screen& s) {
      if (s.size() < rows.size()) return false;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (s[s.size() - rows.size() + i] != rows[i]) return false;
      }
      return true;
    };
    ASSERT_TRUE(tmux_->WaitFor("the long input", ends_with_input).ok());
    const std::string marker = absl::StrCat("async line ", round);
    ExecuteRemotely("echo " + marker);
    auto screen = tmux_->WaitFor(
        "the output above the wrapped input", [&](const Screen& s) {
          return ends_with_input(s) && s.size() > rows.size() &&
                 s[s.size() - rows.size() - 1] == marker;
        });
    ASSERT_TRUE(screen.ok()) << screen.status();
    // Nothing above was overwritten: the previous round's lines are intact.
    if (round > 1) {
      EXPECT_TRUE(Has(*screen, absl::StrCat("async line ", round - 1)))
          << absl::StrJoin(*screen, "\n");
    }
    ASSERT_TRUE(tmux_->Keys({"Enter"}).ok());
    screen = tmux_->WaitFor("the long line's output", [&](const Screen& s) {
      return LastLine(s) == "alice>" && s.size() >= 2 &&
             absl::StrContains(s[s.size() - 2], std::string(10, 'a' + round));
    });
    ASSERT_TRUE(screen.ok()) << screen.status();
  }
}

// Ctrl-D is a clean leave like quit: bob, in alice's group, sees her leave
// (not fail) and the bootstrap list no longer holds her.
TEST_F(PromptE2eTest, CtrlDLeavesTheGroupAndTheBootstrapList) {
  // Short membership timings: without a leave alice would be declared dead
  // ("<failed> alice") within about two seconds.
  const std::string config = dir_->File("fast.json");
  ASSERT_TRUE(WriteFile(config, R"({
    "memberlist.probe_interval": "200ms",
    "memberlist.probe_timeout": "100ms",
    "memberlist.gossip_interval": "50ms",
    "memberlist.suspicion_mult": 2,
    "memberlist.reliable_timeout": "500ms"
  })")
                  .ok());
  auto bob = StartPeerProcess(
      dir_->path(), "bob",
      {"--serve", "--bootstrap", bootstrap_.address, "--config", config},
      kDeadline);
  ASSERT_TRUE(bob.ok()) << bob.status();
  auto stub = pb::PeerControl::NewStub(NewPeerChannel(bob->address));
  pb::WatchViewsRequest request;
  request.set_include_history(true);
  request.add_views("messagesView");
  ViewWatcher watch(stub.get(), request);
  auto seen = [&](const std::string& text) {
    return e2e::WaitForText(watch, text, kDeadline);
  };

  ASSERT_NO_FATAL_FAILURE(StartAlice({"--config", config}));
  ASSERT_TRUE(seen("<joined> alice has joined"));
  ASSERT_TRUE(tmux_->Keys({"C-d"}).ok());
  Screen end = WaitForExit(0);
  ExpectTerminalRestored(end);

  EXPECT_TRUE(seen("<left> alice is leaving"));
  auto members = ExecuteOrError(*stub, "showmemberlist", kDeadline);
  bool left = false;
  for (const std::string& line : OutputTexts(members)) {
    left = left || (absl::StartsWith(line, "alice ") &&
                    absl::StrContains(line, " left "));
  }
  EXPECT_TRUE(left) << absl::StrJoin(OutputTexts(members), "\n");
  for (const auto& l : watch.lines()) {
    EXPECT_THAT(l.text(), Not(HasSubstr("<failed> alice")));
  }
  auto names = ExecuteOrError(*stub, "bootstrappeers", kDeadline);
  EXPECT_THAT(absl::StrJoin(OutputTexts(names), "\n"), Not(HasSubstr("alice")));
}

}  // namespace
}  // namespace peerlab::peer
