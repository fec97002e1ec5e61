#include "peer/cli/view.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Texts(const std::vector<ViewLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

TEST(ViewHubTest, SplitsLinesAndKeepsHistoryPerView) {
  FakeClock clock;
  ViewHub hub(&clock, 3);
  hub.Write(kOutputView, "one\ntwo\n");
  hub.Write(kMessagesView, "<bob> hi");
  hub.Write(kOutputView, "three");
  hub.Write(kOutputView, "four");
  EXPECT_THAT(Texts(hub.History(kOutputView)),
              ElementsAre("two", "three", "four"));
  EXPECT_THAT(Texts(hub.History(kMessagesView)), ElementsAre("<bob> hi"));
  EXPECT_THAT(hub.Views(), ElementsAre("messagesView", "outputView"));
  EXPECT_TRUE(hub.History("nothing").empty());
}

TEST(ViewHubTest, WatchersSeeTheirViewsInOrder) {
  FakeClock clock;
  ViewHub hub(&clock);
  std::vector<std::string> all, messages;
  std::vector<uint64_t> seqs;
  int a = hub.Watch({}, [&](const ViewLine& l) {
    all.push_back(l.view + ":" + l.text);
    seqs.push_back(l.seq);
  });
  hub.Watch({kMessagesView},
            [&](const ViewLine& l) { messages.push_back(l.text); });
  hub.Write(kOutputView, "x");
  hub.Write(kMessagesView, "m");
  hub.Unwatch(a);
  hub.Write(kMessagesView, "n");
  EXPECT_THAT(all, ElementsAre("outputView:x", "messagesView:m"));
  EXPECT_THAT(messages, ElementsAre("m", "n"));
  EXPECT_EQ(seqs[1], seqs[0] + 1);
}

TEST(ViewHubTest, OnlyWriteRecordMakesARecord) {
  ViewHub hub;
  std::vector<ViewLine> seen;
  int handle = hub.Watch({}, [&](const ViewLine& l) { seen.push_back(l); });
  hub.Write(kOutputView, "member bob is suspect");
  ViewLine r = hub.WriteRecord(kEventsView, "member bob\nis suspect", "REC");
  hub.Unwatch(handle);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].record, "");
  EXPECT_EQ(seen[1].record, "REC");
  EXPECT_EQ(seen[1].view, kEventsView);
  EXPECT_EQ(seen[1].seq, seen[0].seq + 1);
  EXPECT_EQ(r.seq, seen[1].seq);
  EXPECT_EQ(seen[1].text, "member bob\\nis suspect");  // one line
  EXPECT_EQ(hub.History(kEventsView).at(0).record, "REC");
}

TEST(ViewHubTest, FormatCarriesTimeAndView) {
  ViewLine l{1, absl::FromUnixSeconds(0), "outputView", "hi"};
  std::string f = FormatViewLine(l);
  EXPECT_NE(f.find("[outputView] hi"), std::string::npos) << f;
  EXPECT_NE(f.find("T"), std::string::npos) << f;
}

TEST(ViewQueueTest, BoundedAndCountsDrops) {
  ViewHub hub;
  ViewQueue q(&hub, {kMessagesView}, 2);
  hub.Write(kMessagesView, "1");
  hub.Write(kOutputView, "ignored");
  hub.Write(kMessagesView, "2");
  hub.Write(kMessagesView, "3");
  auto batch = q.Pop(absl::ZeroDuration());
  EXPECT_THAT(Texts(batch.lines), ElementsAre("2", "3"));
  EXPECT_EQ(batch.dropped, 1u);
  auto empty = q.Pop(absl::Milliseconds(1));
  EXPECT_TRUE(empty.lines.empty());
  EXPECT_EQ(empty.dropped, 0u);
  EXPECT_FALSE(empty.closed);
}

TEST(ViewQueueTest, PopWakesOnWriteAndClose) {
  ViewHub hub;
  ViewQueue q(&hub, {}, 100);
  std::thread writer([&] { hub.Write(kOutputView, "late"); });
  auto batch = q.Pop(absl::Seconds(10));
  writer.join();
  EXPECT_THAT(Texts(batch.lines), ElementsAre("late"));
  std::thread closer([&] { q.Close(); });
  auto closed = q.Pop(absl::Seconds(10));
  closer.join();
  EXPECT_TRUE(closed.closed);
}

// issue 12: control characters from the network cannot forge lines or
// drive the terminal: every view line is escaped.
TEST(ViewHubTest, ControlCharactersAreEscaped) {
  ViewHub hub;
  std::vector<std::string> seen;
  hub.Watch({}, [&](const ViewLine& l) { seen.push_back(l.text); });
  hub.Write(kMessagesView,
            "<bob> hi\r<alice> fake\x1b[2J\x07 \xc2\x9b"
            "31m\tok");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "<bob> hi\\r<alice> fake\\x1b[2J\\x07 \\u009b31m\tok");
  EXPECT_EQ(hub.History(kMessagesView)[0].text, seen[0]);
  // Newlines still separate lines; UTF-8 text is kept.
  hub.Write(kOutputView, "caf\xc3\xa9\nline two");
  EXPECT_EQ(seen[1], "caf\xc3\xa9");
  EXPECT_EQ(seen[2], "line two");
}

}  // namespace
}  // namespace peerlab::cli
