// Event handlers with real tiny programs (/bin/sh scripts the test writes:
// the point is that the peer itself uses no shell).
#include <sys/stat.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/handlers/event_filter.h"
#include "peer/handlers/handler_runner.h"
#include "peer/handlers/run_program.h"

namespace peerlab::handlers {
namespace {

using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// Writes an executable /bin/sh script.
std::string Script(const TempDir& dir, const std::string& name,
                   const std::string& body) {
  const std::string path = dir.File(name);
  EXPECT_TRUE(WriteFile(path, "#!/bin/sh\n" + body + "\n").ok());
  ::chmod(path.c_str(), 0700);
  return path;
}

TEST(EventFilterTest, Table) {
  struct Case {
    std::string filter, type, name;
    bool match;
  };
  const std::vector<Case> cases = {
      {"*", "member-join", "", true},
      {"*", "query", "q", true},
      {"member-join", "member-join", "", true},
      {"member-join", "member-leave", "", false},
      {"member-join,member-failed", "member-failed", "", true},
      {"user", "user", "deploy", true},
      {"user:deploy", "user", "deploy", true},
      {"user:deploy", "user", "other", false},
      {"user:deploy", "query", "deploy", false},
      {"query:uptime", "query", "uptime", true},
      {"query", "user", "uptime", false},
      {"member-reap", "member-reap", "", true},
  };
  for (const Case& c : cases) {
    auto f = EventFilter::Parse(c.filter);
    ASSERT_TRUE(f.ok()) << c.filter << ": " << f.status();
    EXPECT_EQ(f->Matches(c.type, c.name), c.match)
        << c.filter << " vs " << c.type << ":" << c.name;
  }
  for (const char* bad :
       {"", "member-joined", "user:", "query:", "*,", "members"}) {
    EXPECT_FALSE(EventFilter::Parse(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(EventFilter::Parse("joins").status().message()),
              HasSubstr("member-join"));
}

TEST(HandlerSpecTest, FilterAndProgram) {
  auto a = ParseHandlerSpec("member-join,user:deploy=/usr/bin/logger -t x");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->filter.text(), "member-join,user:deploy");
  EXPECT_THAT(a->argv, ElementsAre("/usr/bin/logger", "-t", "x"));
  auto b = ParseHandlerSpec("/bin/handler.sh");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->filter.text(), "*");
  // '=' inside the program is not a filter.
  auto c = ParseHandlerSpec("/usr/bin/env A=B prog");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->filter.text(), "*");
  EXPECT_THAT(c->argv, ElementsAre("/usr/bin/env", "A=B", "prog"));
  auto d = ParseHandlerSpec("query:up='/bin/my prog' 'a b'");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->argv, ElementsAre("/bin/my prog", "a b"));
  EXPECT_FALSE(ParseHandlerSpec("").ok());
  EXPECT_FALSE(ParseHandlerSpec("member-join=").ok());
  EXPECT_FALSE(ParseHandlerSpec("nosuch=prog").ok());
  EXPECT_FALSE(ParseHandlerSpec("prog 'open").ok());
}

TEST(HandlerProgramTest, InputOutputAndNoShell) {
  ProgramRun run;
  // A shell would expand $HOME and run the second command.
  run.argv = {"/bin/echo", "$HOME; echo pwned"};
  ProgramResult r = RunProgram(run);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.output, "$HOME; echo pwned\n");

  run.argv = {"cat"};                    // found in PATH
  run.input = std::string(200000, 'x');  // more than a pipe holds
  run.max_output = 1000;
  r = RunProgram(run);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.output.size(), 1000u);
  EXPECT_TRUE(r.output_truncated);
}

TEST(HandlerProgramTest, FailuresAreDescribed) {
  ProgramRun run;
  run.argv = {"/nonexistent/prog"};
  ProgramResult r = RunProgram(run);
  EXPECT_EQ(r.spawn.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.Describe(), HasSubstr("cannot start /nonexistent/prog"));

  run.argv = {"/bin/sh", "-c", "echo oops >&2; exit 3"};
  r = RunProgram(run);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.error, "oops\n");
  EXPECT_EQ(r.Describe(), "exit code 3");

  // A program that does not read its input still ends cleanly.
  run.argv = {"/bin/true"};
  run.input = std::string(1 << 20, 'y');
  r = RunProgram(run);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

TEST(HandlerProgramTest, KilledAtTheTimeLimitWithItsChildren) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  ProgramRun run;
  // The child keeps standard output open: the whole group must go.
  run.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  run.timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  ProgramResult r = RunProgram(run);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(r.Describe(), HasSubstr("timed out"));
}

TEST(HandlerRunnerTest, EnvironmentAndInput) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string out = (*dir)->File("env.out");
  const std::string script = Script(
      **dir, "h.sh",
      absl::StrCat("env | grep '^PEERLAB_' | sort > ", out, ".tmp; cat >> ",
                   out, ".tmp; mv ", out, ".tmp ", out));
  HandlerRunner runner({.self_name = "alice", .self_tags = [] {
                          return std::map<std::string, std::string>{
                              {"role", "web"}, {"dc-name", "eu1"}};
                        }});
  ASSERT_TRUE(runner.Add("user:deploy=" + script).ok());
  runner.Dispatch({.type = kUser, .name = "other", .ltime = 3});  // no match
  runner.Dispatch(
      {.type = kUser, .name = "deploy", .ltime = 7, .input = "v1.2\n"});
  ASSERT_TRUE(runner.WaitIdle(absl::Seconds(10)));
  auto text = ReadFile(out);
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  EXPECT_THAT(lines,
              IsSupersetOf({"PEERLAB_EVENT=user", "PEERLAB_SELF_NAME=alice",
                            "PEERLAB_TAG_ROLE=web", "PEERLAB_TAG_DC_NAME=eu1",
                            "PEERLAB_USER_EVENT=deploy", "PEERLAB_USER_LTIME=7",
                            "v1.2"}));
  EXPECT_EQ(runner.stats().succeeded, 1u);
  EXPECT_EQ(runner.stats().dispatched, 1u);
}

TEST(HandlerRunnerTest, QueryResponseIsStandardOutputOnExitZero) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string ok = Script(
      **dir, "ok.sh", "echo \"$PEERLAB_QUERY_NAME $PEERLAB_QUERY_LTIME\"; cat");
  const std::string fails = Script(**dir, "fails.sh", "echo partial; exit 1");
  HandlerRunner runner({.self_name = "bob"});
  ASSERT_TRUE(runner.Add("query:uptime=" + ok).ok());
  ASSERT_TRUE(runner.Add("query=" + fails).ok());
  std::mutex mu;
  std::vector<std::string> responses;
  runner.Dispatch({.type = kQuery,
                   .name = "uptime",
                   .ltime = 4,
                   .input = "payload",
                   .respond = [&](std::string r) {
                     std::lock_guard<std::mutex> lock(mu);
                     responses.push_back(std::move(r));
                   }});
  ASSERT_TRUE(runner.WaitIdle(absl::Seconds(10)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(responses, ElementsAre("uptime 4\npayload"));
  EXPECT_EQ(runner.stats().failed, 1u);
  EXPECT_EQ(runner.stats().responses, 1u);
}

TEST(HandlerRunnerTest, TimeLimitKillsAndCounts) {
  HandlerRunner runner({.timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(runner.Add("member-join=/bin/sleep 30").ok());
  runner.Dispatch({.type = kMemberJoin});
  ASSERT_TRUE(runner.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(runner.stats().timed_out, 1u);
}

TEST(HandlerRunnerTest, AFullQueueDropsAndCounts) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string started = (*dir)->File("started");
  const std::string slow = Script(
      **dir, "slow.sh", absl::StrCat("touch ", started, "; exec sleep 30"));
  {
    HandlerRunner runner({.max_concurrent = 1, .max_queue = 2});
    ASSERT_TRUE(runner.Add(slow).ok());
    runner.Dispatch({.type = kMemberJoin});
    ASSERT_TRUE(
        Eventually([&] { return ReadFile(started).ok(); }, absl::Seconds(10)));
    // One runs; two wait; two are dropped. Dispatch never blocks.
    const absl::Time start = absl::Now();
    for (int i = 0; i < 4; ++i) runner.Dispatch({.type = kMemberLeave});
    // Far below the running handler's 30 s: a loaded machine is slow, not
    // blocked.
    EXPECT_LT(absl::Now() - start, absl::Seconds(10));
    EXPECT_EQ(runner.stats().dispatched, 3u);
    EXPECT_EQ(runner.stats().dropped, 2u);
    // The destructor kills the running program and does not run the rest.
  }
}

TEST(HandlerRunnerTest, AddListRemove) {
  HandlerRunner runner({.max_handlers = 2});
  auto a = runner.Add("member-join=/bin/true");
  auto b = runner.Add("/bin/false x");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(runner.Add("/bin/true").ok());  // the limit
  auto list = runner.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].filter, "member-join");
  EXPECT_EQ(list[1].program, "/bin/false x");
  EXPECT_TRUE(runner.Remove(*a).ok());
  EXPECT_EQ(runner.Remove(*a).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(runner.List().size(), 1u);
}

TEST(MemberLineTest, TabsAndTags) {
  EXPECT_EQ(
      MemberLine("a\tb", "127.0.0.1:1", "alive", {{"role", "web"}, {"x", "1"}}),
      "a b\t127.0.0.1:1\talive\trole=web,x=1");
}

}  // namespace
}  // namespace peerlab::handlers
