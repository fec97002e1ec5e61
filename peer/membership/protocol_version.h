// The membership wire protocol's version: one number for every peer.v1
// membership exchange (Packet, ReliableRequest, ReliableResponse: their
// `version` field). Bump kProtocolVersion with every wire change that an
// older node would misread; raise kMinProtocolVersion when this node no
// longer understands an older one. A node drops (datagrams) or refuses
// (reliable calls, with "peer X speaks protocol V, this node W") any version
// outside [kMinProtocolVersion, kProtocolVersion], and logs it once per
// sender (encryption.cc).
//
// A message without the field (version 0) is version 1, what nodes sent
// before the field existed; this node still understands it in the open
// mode. (A sealed one of version 1 does not open any more: the seal's
// additional data now holds the group label, and the replay window wants
// its fields. So encrypted groups need every member on version 2.)
//
// History: 1 (implicit, no field): before the envelope. 2: group label,
// protocol version, and the replay window's fields. 3: relayed alives
// travel as notices (AliveNotice), their signed claims fetched with
// PushPull.want; sealed datagrams and requests end with a sender tag. 4:
// user broadcasts and push/pull user state are per channel (DelegateMux,
// delegate_mux.h: a channel byte before each payload, channel slices in
// the state), so a version-3 node would misread them; version-3 user data
// reaching this node is dropped as an unknown channel and counted. 5: user
// events and query payloads larger than a datagram are gossiped as
// announcements (size and SHA-256, no payload) whose bodies are fetched on
// the reliable path (peer/cluster/user_events.h, queries.h); a version-4
// node would take an announcement for an event with an empty payload.
#ifndef PEERLAB_PEER_MEMBERSHIP_PROTOCOL_VERSION_H_
#define PEERLAB_PEER_MEMBERSHIP_PROTOCOL_VERSION_H_

#include <cstdint>

namespace peerlab::membership {

inline constexpr uint32_t kProtocolVersion = 5;
inline constexpr uint32_t kMinProtocolVersion = 1;

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_PROTOCOL_VERSION_H_
