// The text of a typed membership event ("member bob is suspect
// (incarnation 3)"): the line the peer writes with the record on its
// eventsView, and the line the test harness puts on its timeline. Pure;
// shared with the harness (target peer_member_digest).
#ifndef PEERLAB_PEER_APP_MEMBER_EVENT_TEXT_H_
#define PEERLAB_PEER_APP_MEMBER_EVENT_TEXT_H_

#include <string>

#include "proto/peer/v1/control.pb.h"

namespace peerlab::peer {

// "member bob is suspect (incarnation 3)": the record's line, for people.
std::string MemberEventText(const ::peer::v1::MemberEvent& event);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBER_EVENT_TEXT_H_
