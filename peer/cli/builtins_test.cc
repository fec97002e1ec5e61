#include "peer/cli/builtins.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/cli/session.h"
#include "peer/cli/test_output.h"
#include "base/logging.h"
#include "peer/cli/spdlog_log_control.h"

namespace peerlab::cli {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BuiltinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat(
               "peerlab-builtins-test-", ::getpid(), "-",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(RegisterBuiltins(
                    {.registry = &registry_,
                     .config = &config_,
                     .log_control = DefaultSpdlogLogControl(),
                     .request_exit = [this](int code) { exit_code_ = code; },
                     .default_config_file = Path("default.json")},
                    &settings_)
                    .ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
    return Path(name);
  }
  absl::Status Run(const std::string& line) {
    return registry_.Execute(line, out_);
  }

  std::filesystem::path dir_;
  Registry registry_;
  ConfigRegistry config_;
  BuiltinSettings settings_;
  CapturingOutput out_;
  int exit_code_ = -1;
};

TEST_F(BuiltinsTest, HelpListsGroupsAndCommands) {
  ASSERT_TRUE(Run("help").ok());
  EXPECT_THAT(out_.lines(),
              Contains(HasSubstr("script: echo execute shell sleep")));
  ASSERT_TRUE(Run("help groups").ok());
  EXPECT_THAT(out_.lines(), Contains("config"));
  ASSERT_TRUE(Run("help groups script").ok());
  EXPECT_THAT(out_.lines(), Contains(HasSubstr("execute FILE")));
  ASSERT_TRUE(Run("help /execute").ok());
  EXPECT_THAT(out_.lines(), Contains("usage: execute FILE"));
  EXPECT_THAT(std::string(Run("help groups nope").message()),
              HasSubstr("unknown group"));
  EXPECT_THAT(std::string(Run("help exeute").message()),
              HasSubstr("did you mean: execute"));
}

TEST_F(BuiltinsTest, EchoAndSleep) {
  ASSERT_TRUE(Run("echo hello   'big world'").ok());
  EXPECT_THAT(out_.lines(), ElementsAre("hello big world"));
  absl::Time start = absl::Now();
  ASSERT_TRUE(Run("sleep 0.05").ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_EQ(Run("sleep soon").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Run("sleep -1").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BuiltinsTest, ExecuteSkipsCommentsAndStopsAtFirstFailure) {
  std::string script = Write("s.script",
                             "# a comment\n"
                             "\n"
                             "echo one\n"
                             "   # indented comment\n"
                             "echo two\n"
                             "nosuchcommand\n"
                             "echo never\n");
  absl::Status s = Run("execute " + script);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat(script, ":6: unknown command")));
  EXPECT_THAT(out_.lines(), ElementsAre("one", "two"));
}

TEST_F(BuiltinsTest, NestedScriptsReportTheirOwnLine) {
  std::string inner = Write("inner.script", "echo in\nsleep x\n");
  std::string outer =
      Write("outer.script", "echo out\nexecute " + inner + "\n");
  absl::Status s = Run("execute " + outer);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat(outer, ":2: ", inner, ":2: ")));
}

TEST_F(BuiltinsTest, NestingIsLimited) {
  std::string self = Path("self.script");
  Write("self.script", "execute " + self + "\n");
  absl::Status s = Run("execute " + self);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nested deeper than 8"));
}

TEST_F(BuiltinsTest, ExecuteMissingFile) {
  EXPECT_EQ(Run("execute " + Path("missing")).code(),
            absl::StatusCode::kNotFound);
}

// A folder or a device is no script (`execute DIR`, `--script DIR` used to
// succeed and do nothing; /dev/zero exhausted memory): refused clearly.
TEST_F(BuiltinsTest, ExecuteRefusesWhatIsNoScriptFile) {
  absl::Status dir = Run("execute " + dir_.string());
  EXPECT_EQ(dir.code(), absl::StatusCode::kFailedPrecondition) << dir;
  EXPECT_THAT(std::string(dir.message()), HasSubstr("is a directory"));
  absl::Status zero = Run("execute /dev/zero");
  EXPECT_EQ(zero.code(), absl::StatusCode::kFailedPrecondition) << zero;
  EXPECT_THAT(std::string(zero.message()), HasSubstr("not a regular file"));
  absl::Status missing = Run("execute " + Path("missing"));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("no such file"));
}

TEST_F(BuiltinsTest, ShellRunsWithoutShellUnlessAsked) {
  ASSERT_TRUE(Run("shell echo 'a  b' '$HOME'").ok());
  EXPECT_THAT(out_.lines(), ElementsAre("a  b $HOME"));
  ASSERT_TRUE(Run("shell -c 'echo x | tr x y'").ok());
  EXPECT_THAT(out_.lines(), Contains("y"));
  EXPECT_EQ(Run("shell false").code(), absl::StatusCode::kAborted);
}

TEST_F(BuiltinsTest, ShellTimeoutIsAConfigKey) {
  ASSERT_TRUE(Run("set shell.timeout 100ms").ok());
  EXPECT_EQ(Run("shell sleep 5").code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(BuiltinsTest, RemoteShellCanBeRefused) {
  ASSERT_TRUE(Run("set shell.allow_remote false").ok());
  EXPECT_EQ(registry_.Execute("shell true", out_, 0, /*remote=*/true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(registry_.Execute("shell true", out_, 0, /*remote=*/false).ok());
}

TEST_F(BuiltinsTest, RemoteExecuteCanBeRefused) {
  const std::string script = Write("hello.script", "echo hello\n");
  // Allowed by default, remote or not.
  EXPECT_TRUE(registry_.Execute("execute " + script, out_, 0, true).ok());
  ASSERT_TRUE(Run("set execute.allow_remote false").ok());
  absl::Status s = registry_.Execute("execute " + script, out_, 0, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("execute.allow_remote"));
  // Local callers and the scripts they run are not affected.
  CapturingOutput local;
  ASSERT_TRUE(registry_.Execute("execute " + script, local).ok());
  EXPECT_THAT(local.lines(), ElementsAre("hello"));
  // A local script nesting execute keeps working; run remotely, the refusal
  // holds at the first execute already.
  const std::string outer = Write("outer.script", "execute " + script + "\n");
  EXPECT_TRUE(Run("execute " + outer).ok());
  EXPECT_EQ(registry_.Execute("execute " + outer, out_, 0, true).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(BuiltinsTest, RemoteCallersCannotLiftTheRefusals) {
  ASSERT_TRUE(Run("set shell.allow_remote false").ok());
  ASSERT_TRUE(Run("set execute.allow_remote false").ok());
  for (const char* key : {"shell.allow_remote", "execute.allow_remote"}) {
    EXPECT_EQ(registry_
                  .Execute(absl::StrCat("set ", key, " true"), out_, 0,
                           /*remote=*/true)
                  .code(),
              absl::StatusCode::kPermissionDenied)
        << key;
  }
  const std::string lift =
      Write("lift.json", R"({"shell.allow_remote": true})");
  EXPECT_EQ(registry_.Execute("loadconfig " + lift, out_, 0, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(settings_.allow_remote_shell);
  EXPECT_FALSE(settings_.allow_remote_execute);
  // Other settings stay remotely settable; local callers may change all.
  EXPECT_TRUE(
      registry_.Execute("set shell.timeout 5s", out_, 0, /*remote=*/true).ok());
  ASSERT_TRUE(Run("loadconfig " + lift).ok());
  EXPECT_TRUE(settings_.allow_remote_shell);
}

// The lock is decided on the parsed key: JSON escapes that spell an
// allow_remote key (issue 13: "shell.allow\u005fremote") do not get past it.
TEST_F(BuiltinsTest, RemoteLoadconfigCannotLiftTheRefusalsWithEscapes) {
  ASSERT_TRUE(Run("set shell.allow_remote false").ok());
  ASSERT_TRUE(Run("set execute.allow_remote false").ok());
  const std::vector<std::string> spellings = {
      R"({"shell.allow\u005fremote": true})",
      R"({"shell.allow\u005Fremote": true})",
      R"({"execute.allow\u005fremote": true})",
      R"({"shell\u002eallow\u005fremote": true})",
      R"({"\u0073hell.\u0061llow\u005f\u0072emote": true})",
      R"({"shell.timeout": "5s", "execute.allow\u005fremote": true})",
  };
  for (size_t i = 0; i < spellings.size(); ++i) {
    const std::string file =
        Write(absl::StrCat("lift", i, ".json"), spellings[i]);
    absl::Status s = registry_.Execute("loadconfig " + file, out_, 0, true);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied)
        << spellings[i] << ": " << s;
    EXPECT_FALSE(settings_.allow_remote_shell) << spellings[i];
    EXPECT_FALSE(settings_.allow_remote_execute) << spellings[i];
    EXPECT_EQ(settings_.shell_timeout, absl::Seconds(60)) << spellings[i];
  }
  // Nor through a script run remotely.
  const std::string script =
      Write("lift.script", "set shell.allow_remote true\n");
  ASSERT_TRUE(Run("set execute.allow_remote true").ok());
  EXPECT_EQ(registry_.Execute("execute " + script, out_, 0, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(settings_.allow_remote_shell);
  // A local caller loads every spelling.
  ASSERT_TRUE(Run("loadconfig " + Path("lift0.json")).ok());
  EXPECT_TRUE(settings_.allow_remote_shell);
}

TEST_F(BuiltinsTest, ConfigCommands) {
  ASSERT_TRUE(Run("set shell.timeout 2s").ok());
  EXPECT_EQ(settings_.shell_timeout, absl::Seconds(2));
  ASSERT_TRUE(Run("show config").ok());
  EXPECT_THAT(out_.lines(), Contains(HasSubstr("shell.timeout")));
  ASSERT_TRUE(Run("saveconfig").ok());
  EXPECT_TRUE(std::filesystem::exists(Path("default.json")));
  ASSERT_TRUE(Run("set shell.timeout 9s").ok());
  ASSERT_TRUE(Run("loadconfig " + Path("default.json")).ok());
  EXPECT_EQ(settings_.shell_timeout, absl::Seconds(2));
  EXPECT_EQ(Run("set nosuch 1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Run("show nothing").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BuiltinsTest, ExitAsksTheProgram) {
  ASSERT_TRUE(Run("exit 3").ok());
  EXPECT_EQ(exit_code_, 3);
  ASSERT_TRUE(Run("exit").ok());
  EXPECT_EQ(exit_code_, -1);
  EXPECT_EQ(Run("exit soon").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BuiltinsTest, LogToFileAndLevels) {
  std::string log = Path("peer.log");
  ASSERT_TRUE(Run("log on " + log).ok());
  spdlog::warn("a line for the file");
  spdlog::default_logger()->flush();
  ASSERT_TRUE(Run("log off").ok());
  std::ifstream in(log);
  std::string contents((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  EXPECT_THAT(contents, HasSubstr("a line for the file"));
  EXPECT_TRUE(Run("log level debug").ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_TRUE(Run("log level info").ok());
  EXPECT_EQ(Run("log level loud").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Run("log sideways").code(), absl::StatusCode::kInvalidArgument);
}

// The CLI library links no logging library: a program that gives it no
// LogControl gets a clear refusal from `log level`, and `log on FILE`
// still works with views.
TEST(BuiltinsNoLogControlTest, LogLevelIsRefusedClearly) {
  Registry registry;
  ConfigRegistry config;
  BuiltinSettings settings;
  ASSERT_TRUE(
      RegisterBuiltins({.registry = &registry, .config = &config}, &settings)
          .ok());
  CapturingOutput out;
  absl::Status s = registry.Execute("log level debug", out);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log level"));
  EXPECT_EQ(registry.Execute("log level loud", out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Execute("log on /dev/null", out).code(),
            absl::StatusCode::kFailedPrecondition);
}

// The program's shutdown ends a long `sleep` and a long `shell` at once.
TEST(BuiltinsCancelTest, SleepAndShellEndWhenTheProgramShutsDown) {
  Registry registry;
  ConfigRegistry config;
  BuiltinSettings settings;
  Cancellation shutdown;
  ASSERT_TRUE(
      RegisterBuiltins(
          {.registry = &registry, .config = &config, .cancel = &shutdown},
          &settings)
          .ok());
  CapturingOutput out;
  EXPECT_TRUE(registry.Execute("sleep 0.01", out).ok());
  for (const char* line : {"sleep 100000", "shell sleep 100000"}) {
    absl::Status status;
    std::thread runner([&] { status = registry.Execute(line, out); });
    // Cancel only once the command is under way (its wait has started or is
    // about to: either way it must end promptly).
    absl::SleepFor(absl::Milliseconds(50));
    absl::Time cancelled = absl::Now();
    shutdown.Cancel("the peer is shutting down");
    runner.join();
    EXPECT_LT(absl::Now() - cancelled, absl::Seconds(2)) << line;
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled)
        << line << ": " << status;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("the peer is shutting down"));
  }
}

// issue 20: a directory is not a script.
TEST_F(BuiltinsTest, ExecuteDirectoryFailsClearly) {
  absl::Status s = Run("execute " + dir_.string());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir_.string()));
  EXPECT_THAT(std::string(s.message()), HasSubstr("directory"));
}

// issue 20: an unknown subcommand is named with the valid ones.
TEST_F(BuiltinsTest, UnknownSubcommandsListTheValidOnes) {
  absl::Status s = Run("show nothing");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"nothing\""));
  EXPECT_THAT(std::string(s.message()), HasSubstr("config"));
  s = Run("log sideways");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"sideways\""));
  EXPECT_THAT(std::string(s.message()), HasSubstr("on, off, level"));
}

// issue 20: an unknown logger is answered with the names there are.
TEST_F(BuiltinsTest, LogLevelOfAnUnknownLoggerListsTheLoggers) {
  ComponentLogger("chat-test-logger");
  absl::Status s = Run("log level debug nosuch");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nosuch"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("chat-test-logger"));
  EXPECT_TRUE(Run("log level debug chat-test-logger").ok());
}

// issue 12: `log on FILE` writes what every watcher sees (command output,
// messages, logs), as docs/cli.md says; control characters are escaped.
TEST(LogOnTest, FileGetsEveryViewEscaped) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              absl::StrCat("peerlab-log-on-test-", ::getpid());
  std::filesystem::create_directories(dir);
  ViewHub hub;
  Registry registry;
  ConfigRegistry config;
  BuiltinSettings settings;
  ASSERT_TRUE(
      RegisterBuiltins(
          {.registry = &registry, .config = &config, .views = &hub}, &settings)
          .ok());
  ViewOutput out(&hub);
  const std::string file = (dir / "peer.log").string();
  ASSERT_TRUE(registry.Execute("log on " + file, out).ok());
  ASSERT_TRUE(registry.Execute("echo command output", out).ok());
  hub.Write(kMessagesView,
            "<mallory> hi\r2026-01-01T00:00:00.000 [outputView] forged");
  hub.Write(kLogView, "info  [membership] member \x1b[2Jx joined");
  ASSERT_TRUE(registry.Execute("log off", out).ok());
  hub.Write(kOutputView, "after log off");
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::filesystem::remove_all(dir);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_THAT(lines, Contains(HasSubstr("[outputView] command output")));
  EXPECT_THAT(lines,
              Contains(HasSubstr("[messagesView] <mallory> hi\\r2026-01-01")));
  EXPECT_THAT(lines, Contains(HasSubstr("member \\x1b[2Jx joined")));
  for (const auto& l : lines) {
    EXPECT_THAT(l, ::testing::Not(HasSubstr("after log off")));
    EXPECT_THAT(l, ::testing::Not(HasSubstr("\r")));
  }
}

// issue 12: log records with control characters (a member name from the
// network) stay one escaped line in a log file.
TEST_F(BuiltinsTest, LogFileRecordsAreEscaped) {
  std::string log = Path("peer.log");
  ASSERT_TRUE(Run("log on " + log).ok());
  spdlog::warn("member {} joined", "eve\n2026-01-01T00:00:00.000 info  forged");
  spdlog::default_logger()->flush();
  ASSERT_TRUE(Run("log off").ok());
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_THAT(lines, Contains(HasSubstr("member eve\\n2026-01-01")));
  EXPECT_THAT(lines,
              ::testing::Not(Contains(::testing::StartsWith("2026-01-01"))));
}

// saveconfig used to rename its file over whatever the path named: a FIFO
// (or, as root, a device node such as /dev/full) became a regular file and
// the command said "saved".
TEST_F(BuiltinsTest, SaveconfigRefusesWhatIsNoRegularFile) {
  std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::Status s = Run("saveconfig " + fifo);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a regular file"));
  struct stat st;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_EQ(Run("saveconfig " + dir_.string()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Run("saveconfig " + Path("no/such/dir/c.json")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(Path("no")));
}

TEST_F(BuiltinsTest, SaveconfigThroughASymlinkKeepsTheLink) {
  std::string real = Write("real.json", "{}");
  std::string link = Path("link.json");
  std::filesystem::create_symlink(real, link);
  ASSERT_TRUE(Run("saveconfig " + link).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  std::ifstream in(real);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_NE(text, "{}");
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".tmp")))
        << "a temporary file was left";
  }
}

// `log on FIFO` used to block in open() with no reader, and with it the
// command line and, at shutdown, the peer: one SIGTERM did not end it.
TEST_F(BuiltinsTest, LogOnRefusesAFifoWithoutBlocking) {
  std::string fifo = Path("logfifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::Time start = absl::Now();
  absl::Status s = Run("log on " + fifo);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("FIFO"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ASSERT_TRUE(Run("log on " + Path("ok.log")).ok());
  ASSERT_TRUE(Run("log off").ok());
  ASSERT_TRUE(Run("log on /dev/null").ok());
  ASSERT_TRUE(Run("log off").ok());
}

}  // namespace
}  // namespace peerlab::cli
