#include "peer/membership/member.h"

#include "peer/membership/wire.h"

namespace peerlab::membership {

const char* StateName(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

::peer::v1::MemberState ToProto(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return ::peer::v1::MEMBER_STATE_ALIVE;
    case MemberState::kSuspect:
      return ::peer::v1::MEMBER_STATE_SUSPECT;
    case MemberState::kDead:
      return ::peer::v1::MEMBER_STATE_DEAD;
    case MemberState::kLeft:
      return ::peer::v1::MEMBER_STATE_LEFT;
  }
  return ::peer::v1::MEMBER_STATE_ALIVE;
}

MemberState FromProto(::peer::v1::MemberState state) {
  switch (state) {
    case ::peer::v1::MEMBER_STATE_SUSPECT:
      return MemberState::kSuspect;
    case ::peer::v1::MEMBER_STATE_DEAD:
      return MemberState::kDead;
    case ::peer::v1::MEMBER_STATE_LEFT:
      return MemberState::kLeft;
    default:
      return MemberState::kAlive;
  }
}

}  // namespace peerlab::membership
