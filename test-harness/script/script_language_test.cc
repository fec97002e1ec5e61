// Table tests of the script language beyond one step a line: groups,
// ranges, `all`, parameters, parallel blocks, and the step forms other
// parts of the harness carry out (wait converged/members, oneway, nemesis,
// check).
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test-harness/script/script.h"

namespace peerlab::harness {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Params = std::map<std::string, std::string>;

Script MustParse(const std::string& text, const Params& params = {}) {
  auto s = ParseScript("t.cmd", text, params);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Script{};
}

std::string ParseError(const std::string& text, const Params& params = {}) {
  auto s = ParseScript("t.cmd", text, params);
  EXPECT_FALSE(s.ok()) << "parsed: " << text;
  return s.ok() ? "" : std::string(s.status().message());
}

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

std::vector<std::string> PeersOf(const Script& s) {
  std::vector<std::string> out;
  for (const Step& st : s.steps) out.push_back(st.peer);
  return out;
}

// Each bad line and the message it must get.
struct BadLine {
  std::string text;
  std::string want;
};

void ExpectErrors(const std::vector<BadLine>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseError(c.text), HasSubstr(c.want));
  }
}

TEST(ScriptLanguageTest, AStepOnAGroupRunsOnEachMember) {
  Script s = MustParse(
      "group servers alice bob\n"
      "servers init\n"
      "charly init\n"
      "expect servers messagesView never <error>\n");
  ASSERT_EQ(s.steps.size(), 5u);
  EXPECT_THAT(PeersOf(s),
              ElementsAre("alice", "bob", "charly", "alice", "bob"));
  EXPECT_EQ(s.steps[0].command, "init");
  EXPECT_EQ(s.steps[0].target, "servers");
  EXPECT_EQ(s.steps[0].line, 2);
  EXPECT_EQ(s.steps[1].text, "servers init");
  EXPECT_NE(s.steps[0].fanout, 0);
  EXPECT_EQ(s.steps[0].fanout, s.steps[1].fanout);
  // A single peer's step is what it always was.
  EXPECT_EQ(s.steps[2].fanout, 0);
  EXPECT_EQ(s.steps[2].target, "charly");
  EXPECT_NE(s.steps[3].fanout, s.steps[0].fanout);
  EXPECT_EQ(s.steps[4].filter.peer, "bob");
  EXPECT_EQ(s.Filters().size(), 2u);
  EXPECT_THAT(s.groups.at("servers"), ElementsAre("alice", "bob"));
  EXPECT_THAT(s.peers, ElementsAre("alice", "bob", "charly"));
  EXPECT_EQ(StepLabel(s.steps[1]), "servers init (on bob)");
  EXPECT_EQ(StepLabel(s.steps[2]), "charly init");
  // Members of one line run together; the others alone.
  EXPECT_EQ(ConcurrentEnd(s.steps, 0), 2u);
  EXPECT_EQ(ConcurrentEnd(s.steps, 2), 3u);
  EXPECT_EQ(ConcurrentEnd(s.steps, 3), 5u);
  EXPECT_TRUE(CheckScript(s, Local()).ok());
}

TEST(ScriptLanguageTest, GroupsOfGroupsAndRangesWithoutDuplicates) {
  Script s = MustParse(
      "group a p[1..2]\n"
      "group b a, p2 p3\n"
      "b init\n");
  EXPECT_THAT(s.groups.at("b"), ElementsAre("p1", "p2", "p3"));
  EXPECT_THAT(PeersOf(s), ElementsAre("p1", "p2", "p3"));
}

TEST(ScriptLanguageTest, Ranges) {
  EXPECT_THAT(PeersOf(MustParse("p[1..3] init\n")),
              ElementsAre("p1", "p2", "p3"));
  EXPECT_THAT(PeersOf(MustParse("p[08..10] init\n")),
              ElementsAre("p08", "p09", "p10"));
  EXPECT_THAT(PeersOf(MustParse("node[2..3].lab init\n")),
              ElementsAre("node2.lab", "node3.lab"));
  EXPECT_THAT(PeersOf(MustParse("p[4..4] init\n")), ElementsAre("p4"));
  Script filters =
      MustParse("p[1..3] init\np[2..3] testfilter messagesView 1 <p1> hi\n");
  ASSERT_EQ(filters.Filters().size(), 2u);
  EXPECT_EQ(filters.Filters()[1].peer, "p3");
  EXPECT_EQ(filters.Filters()[1].match.text, "<p1> hi");
  // A thousand peers is the limit.
  EXPECT_EQ(MustParse("p[1..1000] init\n").steps.size(), 1000u);
  ExpectErrors({
      {"p[1..1001] init\n",
       "t.cmd:1: range p[1..1001] names 1001 peers, more than the limit of "
       "1000"},
      {"p[3..1] init\n", "t.cmd:1: range p[3..1]: expected NAME[FIRST..LAST]"},
      {"p[1..x] init\n", "range p[1..x]: expected"},
      {"p[1..2 init\n", "range p[1..2: expected"},
      {"p[1..2]] init\n", "range p[1..2]]: expected"},
      {"p[1-2] init\n", "range p[1-2]: expected"},
      {"p[..2] init\n", "range p[..2]: expected"},
      {"p[1..2][1..2] init\n", "expected"},
      {"p[1..9999999999] init\n", "expected"},
      {"kill p[1..x]\n", "t.cmd:1: kill PEER: range p[1..x]"},
      {"p!![1..2] init\n", "\"p!!1\" is not a peer name"},
      {std::string(64, 'x') + "[1..10] init\n", "is not a peer name"},
  });
}

TEST(ScriptLanguageTest, AllIsEveryPeerOfTheScript) {
  Script s = MustParse(
      "group servers p[1..2]\n"
      "all init\n"
      "carol msg hi\n"
      "expect all messagesView never <error>\n"
      "peers dave\n");
  // Every peer named anywhere, also after the `all` line.
  EXPECT_THAT(s.peers, ElementsAre("p1", "p2", "carol", "dave"));
  ASSERT_EQ(s.steps.size(), 9u);
  EXPECT_EQ(s.steps[3].peer, "dave");
  EXPECT_EQ(s.steps[3].target, "all");
  EXPECT_EQ(s.Filters().size(), 4u);
  ExpectErrors({
      {"all init\n", "t.cmd:1: `all`: the script names no peer"},
      {"alice init\npartition all | alice\n",
       "t.cmd:2: partition A,B | C: `all` cannot be used here"},
      {"alice init\ngroup g all\n", "group NAME PEER...: `all` cannot"},
      {"peers all\n", "peers NAME...: `all` cannot"},
  });
}

// `all` is the peers present at its step: started (with the run, or by a
// `start`/`restart` on an earlier line, not one in the same parallel
// block) and not killed since by the script. Before: every peer the script
// names, late joiners that had not started yet included.
TEST(ScriptLanguageTest, AllIsThePeersPresentAtTheStep) {
  Script s = MustParse(
      "alice init\n"                             // 1
      "bob init\n"                               // 2
      "all msg one\n"                            // 3
      "start dave\n"                             // 4
      "all msg two\n"                            // 5
      "kill bob\n"                               // 6
      "expect all messagesView never <error>\n"  // 7
      "parallel\n"                               // 8
      "  start erin\n"                           // 9
      "  all msg three\n"                        // 10
      "end\n"                                    // 11
      "restart bob\n"                            // 12
      "stop alice\n"                             // 13
      "all testfilter messagesView 0 <error>\n"  // 14
      "wait converged all\n");                   // 15
  auto at = [&](int line) {
    std::vector<std::string> peers;
    for (const Step& step : s.steps) {
      if (step.line == line) peers.push_back(step.peer);
    }
    return peers;
  };
  EXPECT_THAT(at(3), ElementsAre("alice", "bob"));
  EXPECT_THAT(at(5), ElementsAre("alice", "bob", "dave"));
  EXPECT_THAT(at(7), ElementsAre("alice", "dave"));
  EXPECT_THAT(at(10), ElementsAre("alice", "dave"));
  // A stopped peer is present (frozen, not gone).
  EXPECT_THAT(at(14), ElementsAre("alice", "bob", "dave", "erin"));
  ASSERT_EQ(at(15).size(), 1u);
  EXPECT_THAT(s.steps.back().members,
              ElementsAre("alice", "bob", "dave", "erin"));
  EXPECT_THAT(s.InitialPeers(), ElementsAre("alice", "bob"));
  ExpectErrors({
      {"all msg x\nstart a\n",
       "t.cmd:1: `all`: no peer of the script is running at this line"},
      {"a init\nkill all\nall msg x\n",
       "t.cmd:3: `all`: no peer of the script is running at this line"},
  });
}

TEST(ScriptLanguageTest, GroupLines) {
  ExpectErrors({
      {"group servers\n",
       "t.cmd:1: group NAME PEER...: group servers has no members"},
      {"group\n", "t.cmd:1: group NAME PEER...: \"\" is not a group name"},
      {"group wait a\n", "\"wait\" is not a group name"},
      {"group g a\ngroup g b\n",
       "t.cmd:2: group NAME PEER...: group g is defined twice (line 1)"},
      {"alice init\ngroup alice bob\n",
       "t.cmd:2: group NAME PEER...: alice is a peer already (named at line "
       "1)"},
      {"group g a g\n", "t.cmd:1: group NAME PEER...: group g names itself"},
      {"group g a\ngroup a b\n",
       "t.cmd:2: group NAME PEER...: a is a peer already (named at line 1)"},
      {"group g a!b\n", "\"a!b\" is not a peer name"},
  });
}

TEST(ScriptLanguageTest, AStepOnSeveralPeersIsOneFaultEach) {
  Script s = MustParse(
      "p[1..3] init\n"
      "start p[4..5]\n"
      "p[4..5] init\n"
      "kill p[1..2]\n"
      "netem p[1..2] loss 10%\n");
  EXPECT_THAT(s.InitialPeers(), ElementsAre("p1", "p2", "p3"));
  ASSERT_EQ(s.steps.size(), 11u);
  EXPECT_EQ(s.steps[3].kind, StepKind::kStart);
  EXPECT_EQ(s.steps[4].peer, "p5");
  EXPECT_EQ(s.steps[9].kind, StepKind::kNetem);
  EXPECT_EQ(s.steps[10].peer, "p2");
  EXPECT_EQ(s.steps[10].netem, (std::vector<std::string>{"loss", "10%"}));
}

TEST(ScriptLanguageTest, Parameters) {
  const std::string text =
      "param n 3\n"
      "param greeting hello world\n"
      "p[1..${n}] init\n"
      "p1 msg ${greeting} from ${n}\n";
  Script defaults = MustParse(text);
  EXPECT_EQ(defaults.steps.size(), 4u);
  EXPECT_EQ(defaults.steps[3].command, "msg hello world from 3");
  EXPECT_EQ(defaults.steps[3].text, "p1 msg hello world from 3");
  EXPECT_EQ(defaults.params, (Params{{"n", "3"}, {"greeting", "hello world"}}));
  // An override wins over the default.
  Script twenty = MustParse(text, {{"n", "20"}});
  EXPECT_EQ(twenty.steps.size(), 21u);
  EXPECT_EQ(twenty.steps[20].command, "msg hello world from 20");
  EXPECT_EQ(twenty.params.at("n"), "20");
  // A parameter with no `param` line, given from the command line.
  EXPECT_EQ(MustParse("p[1..${n}] init\n", {{"n", "2"}}).steps.size(), 2u);
  // Anywhere in a line, also in the keyword; `\${` is a literal `${`.
  Script any = MustParse(
      "param k kill\nalice init\n${k} alice\n"
      "alice msg \\${n} costs $5\n");
  EXPECT_EQ(any.steps[1].kind, StepKind::kKill);
  EXPECT_EQ(any.steps[2].command, "msg ${n} costs $5");
  // A comment is not substituted.
  MustParse("# ${nothing}\nalice init\n");
  ExpectErrors({
      {"alice msg ${nn}\n",
       "t.cmd:1: unknown parameter ${nn}: declare it with `param nn VALUE` "
       "before this line or give --param nn=VALUE"},
      {"param n 1\nalice msg ${m}\n",
       "t.cmd:2: unknown parameter ${m} (did you mean n?)"},
      {"alice msg ${n}\nparam n 1\n", "t.cmd:1: unknown parameter ${n}"},
      {"alice msg ${n\n", "t.cmd:1: \"${\" without a closing \"}\""},
      {"alice msg ${1n}\n", "t.cmd:1: ${1n}: a parameter name has"},
      {"param n\n", "t.cmd:1: param NAME VALUE: no value for n"},
      {"param 1n 2\n", "t.cmd:1: param NAME VALUE: \"1n\" is not a parameter"},
      {"param n 1\nparam n 2\n",
       "t.cmd:2: param NAME VALUE: n is declared twice (line 1)"},
  });
  EXPECT_THAT(ParseError("param n 1\nalice msg ${n}\n", {{"nn", "2"}}),
              HasSubstr("t.cmd: --param nn=2: the script neither declares "
                        "nor uses parameter nn (did you mean n?)"));
  // A parameter that makes a line too long.
  std::string long_line = "param x " + std::string(4000, 'x') + "\nalice msg";
  for (int i = 0; i < 20; ++i) long_line += " ${x}";
  EXPECT_THAT(ParseError(long_line + "\n"),
              HasSubstr("t.cmd:2: the line is longer than 65536 bytes"));
}

TEST(ScriptLanguageTest, ParamAssignments) {
  Params p;
  EXPECT_EQ(ParseParamAssignment("n=20", &p), "");
  EXPECT_EQ(ParseParamAssignment("text=a b=c", &p), "");
  EXPECT_EQ(ParseParamAssignment("empty=", &p), "");
  EXPECT_EQ(p, (Params{{"n", "20"}, {"text", "a b=c"}, {"empty", ""}}));
  EXPECT_THAT(ParseParamAssignment("n", &p), HasSubstr("is not NAME=VALUE"));
  EXPECT_THAT(ParseParamAssignment("=1", &p),
              HasSubstr("is not a parameter name"));
  EXPECT_THAT(ParseParamAssignment("a-b=1", &p),
              HasSubstr("is not a parameter name"));
  EXPECT_THAT(ParseParamAssignment("a=x\ny", &p),
              HasSubstr("control character"));
}

TEST(ScriptLanguageTest, ParallelBlocks) {
  Script s = MustParse(
      "group g a b\n"
      "g init\n"
      "parallel\n"
      "  a msg one\n"
      "  g msg two\n"
      "  sleep 1\n"
      "end\n"
      "a msg three\n"
      "parallel\n"
      "b msg four\n"
      "end\n");
  ASSERT_EQ(s.steps.size(), 8u);
  EXPECT_EQ(s.steps[1].block, 0);
  for (int i = 2; i <= 5; ++i) EXPECT_EQ(s.steps[i].block, 1) << i;
  EXPECT_EQ(s.steps[3].fanout, s.steps[4].fanout);
  EXPECT_EQ(s.steps[6].block, 0);
  EXPECT_EQ(s.steps[7].block, 2);
  EXPECT_EQ(ConcurrentEnd(s.steps, 0), 2u);
  EXPECT_EQ(ConcurrentEnd(s.steps, 2), 6u);
  EXPECT_EQ(ConcurrentEnd(s.steps, 6), 7u);
  EXPECT_EQ(ConcurrentEnd(s.steps, 7), 8u);
  ExpectErrors({
      {"a init\nend\n", "t.cmd:2: end without a `parallel` before it"},
      {"a init\nparallel\na msg hi\n",
       "t.cmd:2: parallel: no `end` closes this block"},
      {"a init\nparallel\nparallel\nend\n",
       "t.cmd:3: parallel inside the parallel block of line 2 (blocks do "
       "not nest)"},
      {"a init\nparallel\nend\n",
       "t.cmd:3: the parallel block of line 2 has no steps"},
      {"a init\nparallel now\n", "t.cmd:2: parallel takes no arguments"},
      {"a init\nparallel\na msg x\nend now\n",
       "t.cmd:4: end takes no arguments"},
  });
}

TEST(ScriptLanguageTest, WaitConvergedAndWaitMembers) {
  Script s = MustParse(
      "group g b c\n"
      "a init\nb init\nc init\n"
      "wait converged\n"
      "wait converged g\n"
      "wait converged 20s\n"
      "wait converged p[1..2] 1.5s\n"
      "wait members a 3\n"
      "wait members g 2 5s\n");
  ASSERT_EQ(s.steps.size(), 10u);
  const Step& all = s.steps[3];
  EXPECT_EQ(all.kind, StepKind::kWaitConverged);
  EXPECT_EQ(all.peer, "");
  // Every peer of the script, also those named later.
  EXPECT_THAT(all.members, ElementsAre("b", "c", "a", "p1", "p2"));
  EXPECT_EQ(all.duration, absl::ZeroDuration());
  EXPECT_THAT(s.steps[4].members, ElementsAre("b", "c"));
  EXPECT_EQ(s.steps[5].members.size(), 5u);
  EXPECT_EQ(s.steps[5].duration, absl::Seconds(20));
  EXPECT_THAT(s.steps[6].members, ElementsAre("p1", "p2"));
  EXPECT_EQ(s.steps[6].duration, absl::Milliseconds(1500));
  EXPECT_EQ(s.steps[7].kind, StepKind::kWaitMembers);
  EXPECT_EQ(s.steps[7].peer, "a");
  EXPECT_EQ(s.steps[7].count, 3);
  EXPECT_EQ(s.steps[8].peer, "b");
  EXPECT_EQ(s.steps[9].peer, "c");
  EXPECT_EQ(s.steps[9].duration, absl::Seconds(5));
  EXPECT_EQ(s.steps[9].fanout, s.steps[8].fanout);
  EXPECT_STREQ(StepKindName(StepKind::kWaitConverged), "wait converged");
  ExpectErrors({
      {"a init\nwait converged a b\n",
       "t.cmd:2: wait converged [GROUP] [TIMEOUT]: unexpected \"b\""},
      {"a init\nwait converged 5s g\n", "unexpected \"g\""},
      {"a init\nwait converged a!\n", "\"a!\" is not a peer name"},
      {"a init\nwait members a\n",
       "t.cmd:2: wait members PEER N [TIMEOUT]: expected a peer and a count"},
      {"a init\nwait members a x\n", "N \"x\" is not a count"},
      {"a init\nwait members a 1 2 3s\n", "expected a peer and a count"},
  });
  // A peer that only converges takes part: it must run a command.
  EXPECT_THAT(CheckError("a init\nwait converged p[1..2]\n"),
              HasSubstr("t.cmd:2: peer p1 runs no command"));
}

TEST(ScriptLanguageTest, Oneway) {
  Script s = MustParse(
      "group g b c\n"
      "a init\ng init\nd init\n"
      "oneway a -> b\n"
      "oneway a,d->g\n");
  const Step& o = s.steps[4];
  EXPECT_EQ(o.kind, StepKind::kOneway);
  EXPECT_EQ(o.groups, (std::vector<std::vector<std::string>>{{"a"}, {"b"}}));
  EXPECT_EQ(s.steps[5].groups,
            (std::vector<std::vector<std::string>>{{"a", "d"}, {"b", "c"}}));
  EXPECT_TRUE(IsNetworkFault(StepKind::kOneway));
  ExpectErrors({
      {"oneway a b\n", "t.cmd:1: oneway A -> B: expected the senders, ->"},
      {"oneway a -> b -> c\n", "expected the senders"},
      {"oneway a -> \n", "t.cmd:1: oneway A -> B: empty group"},
      {"oneway a -> a\n", "t.cmd:1: oneway A -> B: peer a is in two groups"},
      {"oneway a -> all\n", "`all` cannot be used here"},
  });
  // Partition sides take groups and ranges too.
  Script p = MustParse("p[1..4] init\npartition p[1..2] | p3, p4\n");
  EXPECT_EQ(p.steps[4].groups, (std::vector<std::vector<std::string>>{
                                   {"p1", "p2"}, {"p3", "p4"}}));
  ExpectChecked("a init\nb init\noneway a -> b\n", Local());
}

TEST(ScriptLanguageTest, Nemesis) {
  Script s = MustParse(
      "group g b c\n"
      "a init\ng init\n"
      "nemesis kill,stop,partition,loss every 2s..5s for 30s\n"
      "nemesis delay, oneway every 500ms for 1m on g\n");
  const Step& n = s.steps[3];
  EXPECT_EQ(n.kind, StepKind::kNemesis);
  EXPECT_THAT(n.nemesis.faults,
              ElementsAre(NemesisFault::kKill, NemesisFault::kStop,
                          NemesisFault::kPartition, NemesisFault::kLoss));
  EXPECT_EQ(n.nemesis.every_min, absl::Seconds(2));
  EXPECT_EQ(n.nemesis.every_max, absl::Seconds(5));
  EXPECT_EQ(n.nemesis.duration, absl::Seconds(30));
  EXPECT_THAT(n.members, ElementsAre("b", "c", "a"));
  EXPECT_EQ(n.peer, "");
  const Step& on = s.steps[4];
  EXPECT_THAT(on.nemesis.faults,
              ElementsAre(NemesisFault::kDelay, NemesisFault::kOneway));
  EXPECT_EQ(on.nemesis.every_min, absl::Milliseconds(500));
  EXPECT_EQ(on.nemesis.every_max, absl::Milliseconds(500));
  EXPECT_EQ(on.nemesis.duration, absl::Minutes(1));
  EXPECT_THAT(on.members, ElementsAre("b", "c"));
  EXPECT_STREQ(NemesisFaultName(NemesisFault::kOneway), "oneway");
  EXPECT_FALSE(IsNetworkFault(NemesisFault::kStop));
  EXPECT_TRUE(IsNetworkFault(NemesisFault::kLoss));
  const std::string usage =
      "t.cmd:1: nemesis FAULTS every MIN..MAX for DURATION [on GROUP]: ";
  ExpectErrors({
      {"nemesis\n", usage + "expected the faults, then `every`"},
      {"nemesis every 1s for 2s\n", usage + "expected the faults"},
      {"nemesis kil every 1s for 2s\n",
       usage + "unknown fault \"kil\" (did you mean kill?); the faults: "
               "kill, stop, partition, loss, delay, oneway"},
      {"nemesis kill,kill every 1s for 2s\n",
       usage + "fault kill is named twice"},
      {"nemesis kill every 1s\n", usage + "expected `every MIN..MAX for"},
      {"nemesis kill every 1s during 2s\n", usage + "expected `every"},
      {"nemesis kill every 5s..2s for 30s\n",
       usage + "every \"5s..2s\" is not MIN..MAX"},
      {"nemesis kill every 0s for 30s\n", usage + "every \"0s\""},
      {"nemesis kill every 2..5 for 30s\n", usage + "every \"2..5\""},
      {"nemesis kill every 1s for soon\n", usage + "for \"soon\""},
      {"nemesis kill every 1s for 2h\n", usage + "for \"2h\""},
      {"nemesis kill every 1m for 30s\n",
       usage + "no fault fits: MIN 1m is longer than DURATION 30s"},
      {"nemesis kill every 1s for 30s at g\n", usage + "unexpected \"at g\""},
      {"nemesis kill every 1s for 30s on a!\n", usage + "\"a!\""},
  });
}

TEST(ScriptLanguageTest, NemesisFaultsMustBePossible) {
  const std::string text =
      "a init\nb init\nnemesis kill,stop,oneway every 1s for 5s\n";
  // Network faults are possible in every lab (before: refused outside
  // --lab netns when the nemesis named nothing else).
  ExpectChecked(text, Local());
  ExpectChecked("a init\nb init\nnemesis oneway,loss every 1s for 5s\n",
                Local());
  ScriptContext netns = Local();
  netns.lab = "netns";
  ExpectChecked(text, netns);
  ScriptContext remote = netns;
  remote.start_faults = false;  // --coordinator
  EXPECT_THAT(CheckError(text, remote),
              HasSubstr("t.cmd:3: nemesis kill starts the killed peers again "
                        "at the end"));
  ScriptContext none = remote;
  none.signal_faults = false;
  EXPECT_THAT(CheckError(text, none),
              HasSubstr("t.cmd:3: nemesis stop signals the peers' processes"));
}

TEST(ScriptLanguageTest, Checks) {
  Script s = MustParse("a init\ncheck chat\ncheck kv\ncheck membership\n");
  EXPECT_EQ(s.steps[1].kind, StepKind::kCheck);
  EXPECT_EQ(s.steps[1].check, CheckKind::kChat);
  EXPECT_EQ(s.steps[2].check, CheckKind::kKv);
  EXPECT_EQ(s.steps[3].check, CheckKind::kMembership);
  EXPECT_STREQ(CheckKindName(CheckKind::kMembership), "membership");
  EXPECT_TRUE(CheckScript(s, Local()).ok());
  ExpectErrors({
      {"check chta\n",
       "t.cmd:1: check chat|kv|membership: \"chta\" is no checker (did you "
       "mean chat?)"},
      {"check\n", "t.cmd:1: check chat|kv|membership: \"\" is no checker"},
      {"check chat kv\n", "\"chat kv\" is no checker"},
  });
  EXPECT_EQ(CheckError("a init\ncheck chat\ncheck chat\n"),
            "t.cmd:3: check chat is asked for twice (line 2)");
}

TEST(ScriptLanguageTest, WholeScriptChecksOfTheNewForms) {
  // A misspelled group reads as a new peer.
  EXPECT_EQ(CheckError("group servers a b\nservers init\nsevrers msg hi\n"),
            "t.cmd:3: peer sevrers is no group (did you mean servers?); "
            "declare it with `peers sevrers` if it is a peer");
  // A peer with such a name that is declared, or named more than once,
  // passes.
  ExpectChecked(
      "group servers a b\nservers init\npeers server\n"
      "server init\n");
  ExpectChecked(
      "group servers a b\nservers init\nserver init\n"
      "server msg hi\n");
  // A group member that nothing runs a command on.
  EXPECT_THAT(CheckError("group g a b\na init\n"),
              HasSubstr("t.cmd:1: peer b (of a group) runs no command"));
  // Two process faults on one peer in one parallel block.
  EXPECT_THAT(CheckError("p[1..2] init\nparallel\nkill p[1..2]\nstart p1\n"
                         "end\n"),
              HasSubstr("t.cmd:4: start p1: a second process fault on p1 in "
                        "one parallel block (line 3)"));
  ExpectChecked(
      "p[1..2] init\nparallel\nkill p1\nstop p2\np1 msg x\nend\n"
      "start p1\n");
  // A misspelled testfilter on a group is said once.
  std::string e = CheckError(
      "p[1..3] init\np[1..3] tesfilter messagesView 1 "
      "x\n");
  EXPECT_EQ(e, "t.cmd:2: PEER tesfilter VIEW ...: did you mean testfilter?");
}

TEST(ScriptLanguageTest, TwentyPeers) {
  const std::string text =
      "param n 20\n"
      "group servers p[1..10]\n"
      "group clients p[11..${n}]\n"
      "all init\n"
      "wait converged 20s\n"
      "parallel\n"
      "  servers msg from a server\n"
      "  p11 msg from a client\n"
      "end\n"
      "clients testfilter messagesView 10 ~from a server\n"
      "expect all messagesView never <error>\n"
      "check chat\n";
  Script s = MustParse(text);
  EXPECT_EQ(s.peers.size(), 20u);
  EXPECT_EQ(s.Filters().size(), 30u);
  ExpectChecked(text);
  EXPECT_EQ(MustParse(text, {{"n", "15"}}).peers.size(), 15u);
}

TEST(ScriptLanguageTest, TheScriptIsBounded) {
  std::string text = "group g p[1..1000]\n";
  for (int i = 0; i < 101; ++i) text += "g msg hi\n";
  EXPECT_THAT(ParseError(text),
              HasSubstr("the script makes more than 100000 steps once its "
                        "groups are expanded"));
  EXPECT_THAT(ParseError("a[1..1000] init\nb init\n"),
              HasSubstr("t.cmd:2: the script names more than 1000 peers"));
}

// The bounds hold while parsing, before anything is expanded: a few kB of
// script must not take gigabytes (nor minutes) to be refused.
TEST(ScriptLanguageTest, TheBoundsHoldWhileParsing) {
  // Step count: reached at line 102, before the bad line 103 is seen.
  std::string text = "group g p[1..1000]\n";
  for (int i = 0; i < 101; ++i) text += "g msg hi\n";
  text += "bad[ x\n";
  EXPECT_THAT(ParseError(text),
              HasSubstr("t.cmd:102: the script makes more than 100000 steps"));
  // Names: 4,000 partitions of two 500-peer groups (130 MB of names).
  text = "group g p[1..500]\ngroup h q[1..500]\n";
  for (int i = 0; i < 4000; ++i) text += "partition g | h\n";
  EXPECT_THAT(ParseError(text), HasSubstr("more than 64 MiB once"));
  // Text: 2,000 lines that parameters make 64 kB each (400 MB).
  text = absl::StrCat("param a ", std::string(4000, 'y'), "\n");
  for (int i = 0; i < 2000; ++i) {
    text +=
        "p1 msg ${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}\n";
  }
  EXPECT_THAT(ParseError(text), HasSubstr("more than 64 MiB once"));
}

// The local lab names its files after the peers (logs/NAME.log, NAME.out,
// a later start NAME.N.log) next to its servers' (logs/bootstrap.log,
// logs/coordinator.log): a peer must not take one of their names.
TEST(ScriptLanguageTest, PeerNamesDoNotCollideWithTheLabsFiles) {
  EXPECT_THAT(CheckError("bootstrap init\n"),
              HasSubstr("t.cmd:1: peer bootstrap: the lab's bootstrap server"));
  EXPECT_THAT(CheckError("a init\ncoordinator init\n"),
              HasSubstr("t.cmd:2: peer coordinator: the lab's coordinator"));
  EXPECT_THAT(CheckError("alice init\nalice.2 init\n"),
              HasSubstr("t.cmd:2: peer alice.2: the lab names the files of "
                        "alice's second start so"));
  ExpectChecked("alice init\nalice.x init\nb.2 init\n");
}

// Parameters given to the library (RunOptions.params over RPC) are checked
// like --param: a newline in a value must not make a second command line.
TEST(ScriptLanguageTest, OverridesAreCheckedLikeParamOptions) {
  EXPECT_THAT(ParseError("p1 msg ${a}\n", {{"a", "x\nkill p2"}}),
              HasSubstr("t.cmd: --param a: the value of a holds a control "
                        "character"));
  EXPECT_THAT(ParseError("p1 msg x\n", {{"a-b", "1"}}),
              HasSubstr("t.cmd: --param a-b"));
}

}  // namespace
}  // namespace peerlab::harness
