#include "test-harness/script/script.h"

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace peerlab::harness {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Script MustParse(const std::string& text) {
  auto s = ParseScript("t.cmd", text);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Script{};
}

std::string ParseError(const std::string& text) {
  auto s = ParseScript("t.cmd", text);
  EXPECT_FALSE(s.ok()) << "parsed: " << text;
  return s.ok() ? "" : std::string(s.status().message());
}

std::string ReadSeed(const std::string& name) {
  std::ifstream in(std::string(PEERLAB_SOURCE_DIR) +
                   "/test-harness/seed-tests/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ScriptTest, SeedDefaultParsesUnchanged) {
  Script s = MustParse(ReadSeed("default.cmd"));
  ASSERT_EQ(s.steps.size(), 12u);
  EXPECT_THAT(s.peers, ElementsAre("alice", "bob", "charly"));
  EXPECT_THAT(s.InitialPeers(), ElementsAre("alice", "bob", "charly"));
  EXPECT_EQ(s.steps[0].kind, StepKind::kCommand);
  EXPECT_EQ(s.steps[0].command, "init");
  const Step& f = s.steps[3];
  EXPECT_EQ(f.kind, StepKind::kFilter);
  EXPECT_EQ(f.filter.peer, "alice");
  EXPECT_EQ(f.filter.view, "messagesView");
  EXPECT_EQ(f.filter.op, CountOp::kExactly);
  EXPECT_EQ(f.filter.count, 1);
  EXPECT_EQ(f.filter.match.text, "<bob> test");
  EXPECT_FALSE(f.filter.match.contains);
  EXPECT_EQ(s.steps[11].command, "msg test");
  EXPECT_EQ(s.steps[11].line, 12);
  EXPECT_EQ(s.Filters().size(), 6u);
}

TEST(ScriptTest, SeedStartParsesUnchanged) {
  Script s = MustParse(ReadSeed("start.cmd"));
  EXPECT_EQ(s.steps.size(), 14u);
  EXPECT_EQ(s.Filters().size(), 6u);
  EXPECT_EQ(s.Filters()[0].count, 2);
}

TEST(ScriptTest, CommentsBlankLinesAndCarriageReturns) {
  Script s = MustParse(
      "# a comment\n\n   \t\n  # indented comment\r\n"
      "alice  msg  two  spaces \r\n");
  ASSERT_EQ(s.steps.size(), 1u);
  EXPECT_EQ(s.steps[0].line, 5);
  EXPECT_EQ(s.steps[0].peer, "alice");
  // Inner spacing of the command is the peer's business: kept.
  EXPECT_EQ(s.steps[0].command, "msg  two  spaces");
}

struct FilterCase {
  std::string line;
  std::string peer, view;
  CountOp op;
  int64_t count;
  std::string text;
  bool contains;
};

TEST(ScriptTest, FilterForms) {
  const FilterCase cases[] = {
      {"bob testfilter messagesView 0 <left>", "bob", "messagesView",
       CountOp::kExactly, 0, "<left>", false},
      {"bob /testfilter outputView 3 x  y", "bob", "outputView",
       CountOp::kExactly, 3, "x  y", false},
      {"expect bob messagesView >= 2 <joined>", "bob", "messagesView",
       CountOp::kAtLeast, 2, "<joined>", false},
      {"expect bob messagesView atleast 2 <joined>", "bob", "messagesView",
       CountOp::kAtLeast, 2, "<joined>", false},
      {"expect bob logView <= 1 ~member alice is suspect", "bob", "logView",
       CountOp::kAtMost, 1, "member alice is suspect", true},
      {"expect bob logView atmost 1 x", "bob", "logView", CountOp::kAtMost, 1,
       "x", false},
      {"expect bob logView == 4 x", "bob", "logView", CountOp::kExactly, 4, "x",
       false},
      {"expect bob messagesView never <error>", "bob", "messagesView",
       CountOp::kNever, 0, "<error>", false},
      {"expect bob messagesView never \\~tilde", "bob", "messagesView",
       CountOp::kNever, 0, "~tilde", false},
      {"expect bob messagesView == 0", "bob", "messagesView", CountOp::kExactly,
       0, "", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Script s = MustParse(c.line);
    ASSERT_EQ(s.steps.size(), 1u);
    const Step& st = s.steps[0];
    EXPECT_EQ(st.kind, StepKind::kFilter);
    EXPECT_EQ(st.filter.peer, c.peer);
    EXPECT_EQ(st.filter.view, c.view);
    EXPECT_EQ(st.filter.op, c.op);
    EXPECT_EQ(st.filter.count, c.count);
    EXPECT_EQ(st.filter.match.text, c.text);
    EXPECT_EQ(st.filter.match.contains, c.contains);
  }
}

TEST(ScriptTest, FilterSemantics) {
  Filter f{.op = CountOp::kExactly, .count = 2};
  EXPECT_FALSE(f.Holds(1));
  EXPECT_TRUE(f.Holds(2));
  EXPECT_FALSE(f.Exceeded(2));
  EXPECT_TRUE(f.Exceeded(3));
  f.op = CountOp::kAtLeast;
  EXPECT_TRUE(f.Holds(5));
  EXPECT_FALSE(f.Exceeded(500));
  f.op = CountOp::kAtMost;
  EXPECT_TRUE(f.Holds(0));
  EXPECT_FALSE(f.Holds(3));
  f.op = CountOp::kNever;
  EXPECT_TRUE(f.Holds(0));
  EXPECT_TRUE(f.Exceeded(1));
  // N = 0 passes when nothing arrived (the original could never pass it).
  Filter zero{.op = CountOp::kExactly, .count = 0};
  EXPECT_TRUE(zero.Holds(0));

  LineMatch prefix{.text = "<bob> test"};
  EXPECT_TRUE(prefix.Matches("<bob> test"));
  EXPECT_TRUE(prefix.Matches("<bob> testing"));
  EXPECT_FALSE(prefix.Matches(" <bob> test"));
  LineMatch contains{.text = "is suspect", .contains = true};
  EXPECT_TRUE(contains.Matches("info  [a] member b is suspect"));
  EXPECT_EQ(contains.ToString(), "~is suspect");
}

TEST(ScriptTest, WaitWithAndWithoutTimeout) {
  Script s = MustParse(
      "wait alice messagesView 1 <joined> bob\n"
      "wait alice messagesView 2 <bob> hello world 5s\n"
      "wait alice logView 1 ~is alive 250ms\n"
      "wait alice messagesView 1 <bob> 5\n");
  ASSERT_EQ(s.steps.size(), 4u);
  EXPECT_EQ(s.steps[0].kind, StepKind::kWait);
  EXPECT_EQ(s.steps[0].filter.match.text, "<joined> bob");
  EXPECT_EQ(s.steps[0].duration, absl::ZeroDuration());
  EXPECT_EQ(s.steps[1].filter.count, 2);
  EXPECT_EQ(s.steps[1].filter.match.text, "<bob> hello world");
  EXPECT_EQ(s.steps[1].duration, absl::Seconds(5));
  EXPECT_TRUE(s.steps[2].filter.match.contains);
  EXPECT_EQ(s.steps[2].filter.match.text, "is alive");
  EXPECT_EQ(s.steps[2].duration, absl::Milliseconds(250));
  // A bare number is text, not a timeout.
  EXPECT_EQ(s.steps[3].filter.match.text, "<bob> 5");
  EXPECT_TRUE(s.Filters().empty());
}

TEST(ScriptTest, FaultsAndLateJoiners) {
  Script s = MustParse(
      "alice init\n"
      "kill alice\n"
      "start dave\n"
      "dave init\n"
      "stop bob\n"
      "cont bob\n"
      "restart alice\n"
      "partition alice, bob | dave\n"
      "heal\n"
      "netem bob loss 10% delay 20ms 5ms\n"
      "netem bob clear\n"
      "sleep 0.5\n"
      "sleep 250ms\n");
  ASSERT_EQ(s.steps.size(), 13u);
  EXPECT_EQ(s.steps[1].kind, StepKind::kKill);
  EXPECT_EQ(s.steps[2].kind, StepKind::kStart);
  EXPECT_EQ(s.steps[4].kind, StepKind::kStop);
  EXPECT_EQ(s.steps[5].kind, StepKind::kCont);
  EXPECT_EQ(s.steps[6].kind, StepKind::kRestart);
  EXPECT_EQ(s.steps[7].kind, StepKind::kPartition);
  EXPECT_EQ(s.steps[7].groups, (std::vector<std::vector<std::string>>{
                                   {"alice", "bob"}, {"dave"}}));
  EXPECT_EQ(s.steps[8].kind, StepKind::kHeal);
  EXPECT_EQ(s.steps[9].kind, StepKind::kNetem);
  EXPECT_EQ(s.steps[9].netem.size(), 5u);
  EXPECT_EQ(s.steps[11].duration, absl::Milliseconds(500));
  EXPECT_EQ(s.steps[12].duration, absl::Milliseconds(250));
  EXPECT_THAT(s.peers, ElementsAre("alice", "dave", "bob"));
  // dave is first named by `start`: a late joiner, not started up front.
  EXPECT_THAT(s.InitialPeers(), ElementsAre("alice", "bob"));
  EXPECT_TRUE(IsProcessFault(StepKind::kRestart));
  EXPECT_TRUE(IsNetworkFault(StepKind::kNetem));
  EXPECT_FALSE(IsProcessFault(StepKind::kSleep));
}

TEST(ScriptTest, ErrorsNameFileAndLine) {
  struct Case {
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"alice\n", "t.cmd:1: PEER COMMAND: no command for peer alice"},
      {"\n\nalice testfilter messagesView x <bob>\n",
       "t.cmd:3: testfilter: expected VIEW N TEXT, N \"x\" is not a count"},
      {"alice testfilter 1 2 x\n", "t.cmd:1: testfilter: expected VIEW N TEXT"},
      {"alice testfilter messagesView -1 x\n", "is not a count"},
      {"expect alice messagesView > 1 x\n", "OP \">\" is not one of"},
      {"expect\n", "t.cmd:1: expect PEER VIEW OP N TEXT: missing PEER"},
      {"wait alice messagesView 1\n", "TEXT is missing"},
      {"kill\n", "t.cmd:1: kill PEER: missing PEER"},
      {"kill alice bob\n", "one peer per line"},
      {"stop sleep\n", "is not a peer name"},
      {"partition alice bob\n", "needs at least two groups"},
      {"partition alice | alice\n", "peer alice is in two groups"},
      {"partition alice | \n", "empty group"},
      {"heal now\n", "heal takes no arguments"},
      {"netem bob\n", "nothing to set"},
      {"netem bob loss ten\n", "is not a percentage"},
      {"netem bob jitter 5ms\n", "unknown setting"},
      {"netem bob delay\n", "delay needs a value"},
      {"sleep\n", "sleep SECONDS"},
      {"sleep soon\n", "is not a duration"},
      {"sleep 1 2\n", "is not a duration"},
      {"sleep -1\n", "is not a duration"},
      {"al!ce msg hi\n", "is neither a harness keyword"},
      {"# only a comment\n\n", "t.cmd:3: the script has no steps"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseError(c.text), HasSubstr(c.want));
  }
}

TEST(ScriptTest, EveryErrorIsReported) {
  std::string e = ParseError("alice init\nkill\nbob msg hi\nsleep x\n");
  EXPECT_THAT(e, HasSubstr("t.cmd:2: kill PEER"));
  EXPECT_THAT(e, HasSubstr("t.cmd:4: sleep SECONDS"));
}

TEST(ScriptTest, Durations) {
  absl::Duration d;
  EXPECT_TRUE(ParseScriptDuration("1.5s", false, &d));
  EXPECT_EQ(d, absl::Milliseconds(1500));
  EXPECT_TRUE(ParseScriptDuration("2m", false, &d));
  EXPECT_EQ(d, absl::Minutes(2));
  EXPECT_FALSE(ParseScriptDuration("2", false, &d));
  EXPECT_TRUE(ParseScriptDuration("2", true, &d));
  EXPECT_FALSE(ParseScriptDuration("s", true, &d));
  EXPECT_FALSE(ParseScriptDuration("-2s", true, &d));
  EXPECT_FALSE(ParseScriptDuration("nans", true, &d));
  EXPECT_FALSE(ParseScriptDuration("infs", true, &d));
}

TEST(ScriptTest, PeerNames) {
  EXPECT_TRUE(IsValidPeerName("alice"));
  EXPECT_TRUE(IsValidPeerName("peer-01.a_b"));
  EXPECT_FALSE(IsValidPeerName(""));
  EXPECT_FALSE(IsValidPeerName("kill"));
  EXPECT_FALSE(IsValidPeerName("a b"));
  EXPECT_FALSE(IsValidPeerName(std::string(65, 'a')));
}

// The checks of a whole script (CheckScript): each with a script that must
// be refused and one that must pass.
ScriptContext Local() {
  return {.views = {"messagesView", "outputView", "logView"}, .lab = "local"};
}

std::string CheckError(const std::string& text,
                       const ScriptContext& context = Local()) {
  Script s = MustParse(text);
  absl::Status status = CheckScript(s, context);
  EXPECT_FALSE(status.ok()) << "accepted: " << text;
  return std::string(status.message());
}

void ExpectChecked(const std::string& text,
                   const ScriptContext& context = Local()) {
  Script s = MustParse(text);
  absl::Status status = CheckScript(s, context);
  EXPECT_TRUE(status.ok()) << text << "\n" << status;
}

TEST(CheckScriptTest, APeerThatRunsNoCommandIsRefused) {
  EXPECT_EQ(CheckError("alice init\nbob init\n"
                       "expect bbo messagesView never <alice> hi\n"),
            "t.cmd:3: peer bbo runs no command in this script (did you mean "
            "bob?); a peer that only takes part needs a declaration: `peers "
            "bbo`");
  EXPECT_THAT(CheckError("alice init\nkill ghost\n"),
              HasSubstr("t.cmd:2: peer ghost runs no command"));
  EXPECT_THAT(CheckError("alice init\nwait carol logView 1 x\n"),
              HasSubstr("t.cmd:2: peer carol runs no command"));
  EXPECT_THAT(CheckError("alice init\nbob testfilter messagesView 0 x\n"),
              HasSubstr("t.cmd:2: peer bob runs no command"));
  // Reported once, at its first mention.
  std::string twice = CheckError("alice init\nkill ghost\nstart ghost\n");
  EXPECT_THAT(twice, HasSubstr("t.cmd:2:"));
  EXPECT_THAT(twice, Not(HasSubstr("t.cmd:3:")));
}

TEST(CheckScriptTest, APeerThatRunsACommandOrIsDeclaredPasses) {
  ExpectChecked("alice init\nbob init\nexpect bob messagesView never x\n");
  ExpectChecked("alice init\nstart dave\ndave init\nkill dave\n");
  // Declared: started with the others and watched, with no command.
  Script s = MustParse(
      "peers bob, carol\nalice init\nexpect bob logView never x\n"
      "kill carol\n");
  EXPECT_THAT(s.declared, ElementsAre("bob", "carol"));
  EXPECT_THAT(s.InitialPeers(), ElementsAre("bob", "carol", "alice"));
  EXPECT_TRUE(CheckScript(s, Local()).ok());
  // A declared late joiner is still late.
  EXPECT_THAT(MustParse("peers dave\nalice init\nstart dave\n").InitialPeers(),
              ElementsAre("alice"));
}

TEST(CheckScriptTest, DeclarationsAreParsed) {
  EXPECT_THAT(ParseError("peers\n"), HasSubstr("t.cmd:1: peers NAME...: no "
                                               "peer named"));
  EXPECT_THAT(ParseError("peers al!ce\n"), HasSubstr("is not a peer name"));
  EXPECT_THAT(ParseError("peers kill\n"), HasSubstr("is not a peer name"));
}

TEST(CheckScriptTest, AViewThatDoesNotExistIsRefused) {
  EXPECT_EQ(CheckError("alice init\nbob init\n"
                       "expect alice mesagesView never <bob> hi\n"),
            "t.cmd:3: view mesagesView does not exist (did you mean "
            "messagesView?); a peer's views: messagesView, outputView, "
            "logView");
  EXPECT_THAT(CheckError("alice init\nwait alice outputview 1 x\n"),
              HasSubstr("t.cmd:2: view outputview does not exist (did you "
                        "mean outputView?)"));
  EXPECT_THAT(CheckError("alice init\nalice testfilter chatView 1 x\n"),
              HasSubstr("view chatView does not exist; a peer's views"));
}

TEST(CheckScriptTest, EveryPeerViewPasses) {
  ExpectChecked(
      "alice init\nexpect alice messagesView never x\n"
      "wait alice outputView 1 x\nalice testfilter logView 0 x\n");
  // Without a list of views, views are not checked.
  ScriptContext any = Local();
  any.views.clear();
  ExpectChecked("alice init\nexpect alice otherView never x\n", any);
}

// Network faults run in every lab (the local one by the peers' fault
// layer, without root); only the qdisc's own netem settings need netns.
TEST(CheckScriptTest, NetworkFaultsRunInEveryLabKernelNetemNeedsNetns) {
  const std::string text =
      "alice init\nbob init\npartition alice | bob\nheal\n"
      "netem bob loss 10% delay 20ms 5ms duplicate 1% reorder 2%\n"
      "oneway alice -> bob\nnetem bob clear\n";
  ExpectChecked(text, Local());
  const std::string kernel =
      "alice init\nnetem alice delay 20ms 5ms corrupt 1%\n"
      "netem alice rate 1mbit\n";
  std::string e = CheckError(kernel);
  EXPECT_THAT(e, HasSubstr("t.cmd:2: netem corrupt needs --lab netns"));
  EXPECT_THAT(e, HasSubstr("t.cmd:3: netem rate needs --lab netns"));
  ScriptContext netns = Local();
  netns.lab = "netns";
  ExpectChecked(text, netns);
  ExpectChecked(kernel, netns);
}

TEST(CheckScriptTest, ProcessFaultsNeedAClientThatCanCarryThemOut) {
  ScriptContext remote = Local();
  remote.start_faults = false;  // peerlab-test --coordinator
  EXPECT_THAT(CheckError("alice init\nrestart alice\n", remote),
              HasSubstr("t.cmd:2: restart starts a process"));
  ExpectChecked("alice init\nstop alice\ncont alice\nkill alice\n", remote);
  ScriptContext none = remote;
  none.signal_faults = false;  // StartRun without a client
  EXPECT_THAT(CheckError("alice init\nkill alice\n", none),
              HasSubstr("t.cmd:2: kill signals a peer's process"));
  ExpectChecked("alice init\nalice msg hi\n", none);
  ExpectChecked("alice init\nkill alice\nstart alice\n");
}

TEST(CheckScriptTest, AFaultOnAPeerInTheWrongStateIsRefused) {
  EXPECT_THAT(CheckError("alice init\nstart alice\n"),
              HasSubstr("t.cmd:2: start alice: alice is running already "
                        "(started with the lab)"));
  EXPECT_THAT(CheckError("alice init\nkill alice\nkill alice\n"),
              HasSubstr("t.cmd:3: kill alice: alice is not running here "
                        "(killed at line 2)"));
  EXPECT_THAT(CheckError("alice init\ncont alice\n"),
              HasSubstr("t.cmd:2: cont alice: alice is not stopped"));
  EXPECT_THAT(CheckError("alice init\nstop alice\nstop alice\n"),
              HasSubstr("t.cmd:3: stop alice: alice is stopped already "
                        "(stopped at line 2)"));
  // dave's first step is no `start`: he starts with the lab, so he can be
  // killed and started again.
  ExpectChecked("alice init\nkill dave\nstart dave\ndave init\n");
}

TEST(CheckScriptTest, FaultsInAPossibleOrderPass) {
  ExpectChecked(
      "alice init\nstart dave\ndave init\nstop dave\ncont dave\n"
      "kill dave\nstart dave\nrestart dave\nstop alice\nkill alice\n"
      "start alice\n");
  // A command to a killed peer is the script's business (it fails).
  ExpectChecked("alice init\nkill alice\nalice echo x\n");
}

TEST(CheckScriptTest, AMisspelledKeywordIsRefused) {
  EXPECT_EQ(CheckError("alice init\nwiat alice messagesView 1 x\n"),
            "t.cmd:2: \"wiat\" is no harness keyword (did you mean wait?)");
  EXPECT_THAT(CheckError("alice init\nexpcet alice logView never x\n"),
              HasSubstr("(did you mean expect?)"));
  EXPECT_THAT(CheckError("alice init\nalice tesfilter messagesView 1 x\n"),
              HasSubstr("t.cmd:2: PEER tesfilter VIEW ...: did you mean "
                        "testfilter?"));
}

TEST(CheckScriptTest, NamesCloseToAKeywordPassWhenTheyAreNoTypo) {
  // A peer named like a keyword that does not name another peer next.
  ExpectChecked("alice init\nstar init\nstar msg wait for me\n");
  // A command close to testfilter that is not followed by a view.
  ExpectChecked("alice init\nalice testfiler now\n");
}

TEST(CheckScriptTest, TheSeedScriptsAndOurOwnPass) {
  ExpectChecked(ReadSeed("default.cmd"));
  ExpectChecked(ReadSeed("start.cmd"));
  for (const char* name :
       {"echo.cmd", "crash.cmd", "filter_fails.cmd", "killed_peer.cmd",
        "late_joiner.cmd", "sleeper.cmd", "stop_cont.cmd"}) {
    SCOPED_TRACE(name);
    std::ifstream in(std::string(PEERLAB_SOURCE_DIR) + "/test-harness/tests/" +
                     name);
    std::stringstream ss;
    ss << in.rdbuf();
    ExpectChecked(ss.str());
  }
  std::ifstream in(std::string(PEERLAB_SOURCE_DIR) +
                   "/test-harness/scenarios/partition-3-2.cmd");
  std::stringstream ss;
  ss << in.rdbuf();
  ScriptContext netns = Local();
  netns.lab = "netns";
  ExpectChecked(ss.str(), netns);
  // And in the default lab (the peers' fault layer, no root).
  ExpectChecked(ss.str());
}

TEST(CheckScriptTest, ClosestName) {
  EXPECT_EQ(ClosestName("bbo", {"alice", "bob"}), "bob");
  EXPECT_EQ(ClosestName("mesagesView", {"messagesView", "logView"}),
            "messagesView");
  EXPECT_EQ(ClosestName("zed", {"alice", "bob"}), "");
  EXPECT_EQ(ClosestName("bob", {"bob"}), "");
}

// The fuzz target on mutations of the seed scripts and on random bytes.
TEST(ScriptTest, FuzzTargetOnGeneratedInputs) {
  std::vector<std::string> corpus = {
      ReadSeed("default.cmd"), ReadSeed("start.cmd"),
      "wait a messagesView 1 ~x 5s\nkill a\nstart a\npartition a|b\n"
      "netem a delay 5ms 1ms loss 1%\nexpect a v never x\nsleep 1\n",
      "param n 3\ngroup g a p[1..${n}]\nall init\nparallel\ng msg x\n"
      "wait converged g 5s\nend\nwait members p1 2\noneway a -> p[2..3]\n"
      "nemesis kill,loss every 1s..2s for 5s on g\ncheck chat\n"};
  std::string alphabet = "ab~\\#|, \t\n\r0123456789sm%<>=.-/x[]{}$";
  alphabet.push_back('\0');
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string input = corpus[i % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = input.empty() ? 0 : rng() % input.size();
      switch (rng() % 3) {
        case 0:
          if (!input.empty()) input.erase(pos, 1 + rng() % 4);
          break;
        case 1:
          input.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          if (!input.empty()) input[pos] = static_cast<char>(rng() % 256);
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
}

}  // namespace
}  // namespace peerlab::harness
