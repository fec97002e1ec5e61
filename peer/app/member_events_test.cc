// Membership events reach the views as typed records (member_events.h).
#include "peer/app/member_events.h"

#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

using ::peer::v1::MemberEvent;

MemberEvent RecordOf(const cli::ViewLine& line) {
  ::peer::v1::ViewRecord record;
  EXPECT_TRUE(record.ParseFromString(line.record));
  EXPECT_TRUE(record.has_member());
  return record.member();
}

TEST(MemberEventsTest, EveryCallbackWritesItsRecord) {
  cli::ViewHub hub;
  MemberEventRecorder recorder(&hub);
  membership::Member bob{.name = "bob",
                         .addr = "127.0.0.1:7000",
                         .incarnation = 3,
                         .generation = 9};
  recorder.OnJoin(bob);
  recorder.OnSuspect(bob);
  recorder.OnAlive(bob);
  recorder.OnUpdate(bob);
  bob.state = membership::MemberState::kDead;
  recorder.OnLeave(bob);
  bob.state = membership::MemberState::kLeft;
  recorder.OnLeave(bob);

  std::vector<cli::ViewLine> lines = hub.History(cli::kEventsView);
  ASSERT_EQ(lines.size(), 6u);
  const MemberEvent::Kind kinds[] = {MemberEvent::JOINED, MemberEvent::SUSPECT,
                                     MemberEvent::ALIVE,  MemberEvent::UPDATED,
                                     MemberEvent::FAILED, MemberEvent::LEFT};
  for (size_t i = 0; i < lines.size(); ++i) {
    MemberEvent e = RecordOf(lines[i]);
    EXPECT_EQ(e.kind(), kinds[i]) << i;
    EXPECT_EQ(e.name(), "bob");
    EXPECT_EQ(e.incarnation(), 3u);
    EXPECT_EQ(e.generation(), 9u);
    EXPECT_EQ(e.address(), "127.0.0.1:7000");
  }
  EXPECT_EQ(lines[1].text, "member bob is suspect (incarnation 3)");
  EXPECT_EQ(lines[4].text, "member bob failed (incarnation 3)");
  // Nothing else is written, and a null hub is fine.
  EXPECT_EQ(hub.Views(), std::vector<std::string>{cli::kEventsView});
  WriteMemberEvent(nullptr, MemberEvent::JOINED, bob);
}

}  // namespace
}  // namespace peerlab::peer
