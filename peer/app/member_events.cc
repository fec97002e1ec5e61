#include "peer/app/member_events.h"

#include "absl/strings/str_cat.h"

namespace peerlab::peer {

using ::peer::v1::MemberEvent;

MemberEvent MemberEventOf(MemberEvent::Kind kind,
                          const membership::Member& member) {
  MemberEvent event;
  event.set_kind(kind);
  event.set_name(member.name);
  event.set_incarnation(member.incarnation);
  event.set_generation(member.generation);
  event.set_address(member.addr);
  return event;
}

void WriteMemberEvent(cli::ViewHub* hub, MemberEvent::Kind kind,
                      const membership::Member& member) {
  if (hub == nullptr) return;
  MemberEvent event = MemberEventOf(kind, member);
  ::peer::v1::ViewRecord record;
  *record.mutable_member() = event;
  hub->WriteRecord(cli::kEventsView, MemberEventText(event),
                   record.SerializeAsString());
}

void MemberEventRecorder::OnJoin(const membership::Member& m) {
  WriteMemberEvent(hub_, MemberEvent::JOINED, m);
}
void MemberEventRecorder::OnLeave(const membership::Member& m) {
  WriteMemberEvent(hub_,
                   m.state == membership::MemberState::kLeft
                       ? MemberEvent::LEFT
                       : MemberEvent::FAILED,
                   m);
}
void MemberEventRecorder::OnUpdate(const membership::Member& m) {
  WriteMemberEvent(hub_, MemberEvent::UPDATED, m);
}
void MemberEventRecorder::OnSuspect(const membership::Member& m) {
  WriteMemberEvent(hub_, MemberEvent::SUSPECT, m);
}
void MemberEventRecorder::OnAlive(const membership::Member& m) {
  WriteMemberEvent(hub_, MemberEvent::ALIVE, m);
}

}  // namespace peerlab::peer
