// Membership events as typed records on the views (cli::kEventsView): the
// test harness reads them from its WatchViews stream (ViewLine.record, a
// peer.v1.MemberEvent) instead of matching log text, which a chat message
// or an `echo` could imitate.
#ifndef PEERLAB_PEER_APP_MEMBER_EVENTS_H_
#define PEERLAB_PEER_APP_MEMBER_EVENTS_H_

#include <string>

#include "peer/app/member_event_text.h"
#include "peer/cli/view.h"
#include "peer/membership/member.h"
#include "proto/peer/v1/control.pb.h"

namespace peerlab::peer {

// The event as a record: kind, name, incarnation, generation, address.
::peer::v1::MemberEvent MemberEventOf(::peer::v1::MemberEvent::Kind kind,
                                      const membership::Member& member);

// Writes the event to `hub`'s kEventsView as one line with its record.
// Thread-safe (as ViewHub::WriteRecord); `hub` may be null (nothing).
void WriteMemberEvent(cli::ViewHub* hub, ::peer::v1::MemberEvent::Kind kind,
                      const membership::Member& member);

// Writes every event of the node it listens to (MembershipCommands::
// AddListener) to `hub` as above. Runs on the membership thread; never
// blocks (a ViewHub write). `hub` must outlive it.
class MemberEventRecorder : public membership::EventListener {
 public:
  explicit MemberEventRecorder(cli::ViewHub* hub) : hub_(hub) {}

  void OnJoin(const membership::Member& m) override;
  void OnLeave(const membership::Member& m) override;
  void OnUpdate(const membership::Member& m) override;
  void OnSuspect(const membership::Member& m) override;
  void OnAlive(const membership::Member& m) override;

 private:
  cli::ViewHub* const hub_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBER_EVENTS_H_
