#include "test-harness/report/message_diagram.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "test-harness/report/report.h"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;

// alice sends "hi" twice (bob and carol show both), carol writes a key,
// bob sends a message nobody shows.
::harness::v1::RunSummary Chat() {
  ::harness::v1::RunSummary s;
  *s.mutable_started() = TimeUtil::MillisecondsToTimestamp(1000000);
  *s.mutable_finished() = TimeUtil::MillisecondsToTimestamp(1005000);
  for (const char* p : {"alice", "bob", "carol"}) s.add_peers()->set_name(p);
  auto step = [&](const char* peer, const char* text, int64_t ms, bool ok) {
    auto* st = s.add_steps();
    st->set_peer(peer);
    st->set_kind("command");
    st->set_text(text);
    st->set_outcome(ok ? ::harness::v1::OUTCOME_OK
                       : ::harness::v1::OUTCOME_FAILED);
    *st->mutable_started() = TimeUtil::MillisecondsToTimestamp(ms);
  };
  step("alice", "alice msg hi", 1001000, true);
  step("alice", "all msg  hi", 1002000, true);  // a group line
  step("carol", "carol broadcastadd color blue", 1003000, true);
  step("bob", "bob msg lost", 1003500, true);
  step("bob", "bob msg failed", 1003600, false);
  auto show = [&](const char* peer, const char* text, int64_t ms) {
    auto* e = s.add_timeline();
    e->set_peer(peer);
    e->set_kind("message");
    e->set_text(text);
    *e->mutable_time() = TimeUtil::MillisecondsToTimestamp(ms);
  };
  for (const char* r : {"bob", "carol"}) {
    show(r, "<alice> hi", 1001050);
    show(r, "<alice> hi", 1002050);
  }
  show("alice", "<joined> bob has joined", 1000500);
  return s;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(MessageDiagramTest, AnArrowPerShownMessageAndAMarkPerWrite) {
  std::string svg = MessageDiagramSvg(Chat());
  EXPECT_EQ(Count(svg, "<line class=\"msg\""), 4);
  // The second "hi" is matched to the second send (shown after it).
  EXPECT_THAT(svg, HasSubstr("alice -&gt; bob: hi (sent +2.000 s, shown "
                             "+2.050 s)"));
  EXPECT_THAT(svg, HasSubstr("alice -&gt; carol: hi (sent +1.000 s, shown "
                             "+1.050 s)"));
  EXPECT_EQ(Count(svg, "<path class=\"kv\""), 1);
  EXPECT_THAT(svg, HasSubstr("carol broadcastadd color blue (+3.000 s)"));
  EXPECT_EQ(Count(svg, "text-anchor=\"middle\">"), 3);  // a column a peer
}

TEST(MessageDiagramTest, NothingWithoutMessages) {
  ::harness::v1::RunSummary s;
  s.add_peers()->set_name("alice");
  EXPECT_EQ(MessageDiagramSvg(s), "");
}

TEST(MessageDiagramTest, TimelinePageZoomsAndShowsTheDiagram) {
  std::string h = TimelineHtml(Chat());
  EXPECT_THAT(h, HasSubstr("<svg id=\"messages\""));
  EXPECT_THAT(h, HasSubstr("data-label-w=\"130\" data-plot-w=\"1000\""));
  EXPECT_THAT(h, HasSubstr("addEventListener('wheel'"));
  EXPECT_THAT(h, HasSubstr("<button id=\"zoomin\">"));
  EXPECT_THAT(h, Not(HasSubstr("http://")));
  EXPECT_THAT(h, Not(HasSubstr("https://")));
  EXPECT_THAT(h, Not(HasSubstr("<script src")));
}

TEST(MessageDiagramTest, TheSummaryListsTheNemesisSchedule) {
  ::harness::v1::RunSummary s = Chat();
  s.set_seed(7);
  s.add_nemesis_schedule("line 12: +1.792 s kill p3");
  s.add_nemesis_schedule("line 12: +3.703 s start p3");
  EXPECT_THAT(SummaryTable(s),
              HasSubstr("Nemesis schedule (seed 7):\n  line 12: +1.792 s kill "
                        "p3\n  line 12: +3.703 s start p3\n"));
  ::harness::v1::RunEvent e;
  auto* st = e.mutable_step_finished();
  st->set_kind("check");
  st->set_text("check chat");
  st->set_outcome(::harness::v1::OUTCOME_OK);
  st->set_message("check chat: OK: 3 messages sent");
  EXPECT_THAT(FormatEvent(e), HasSubstr("OK      check chat  (0.0 ms)  -- "
                                        "check chat: OK: 3 messages sent"));
  st->set_kind("kill");
  st->set_text("kill p3");
  EXPECT_THAT(FormatEvent(e), HasSubstr("OK      fault kill p3"));
}

}  // namespace
}  // namespace peerlab::harness
