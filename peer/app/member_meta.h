// The membership metadata a peer announces: a few "key=value" fields
// separated by ';', e.g. "chat=127.0.0.1:40123;id=UUID;started=1700000000".
//   chat     the chat address (present while the chat runs)
//   id       the peer's id in the bootstrap list
//   started  when the peer started, Unix seconds (for refill: the
//            longest-lived peers take vacant bootstrap places)
// Keys and values must not contain ';' or '='; unknown keys are kept, so
// later versions can add fields. Pure functions.
#ifndef PEERLAB_PEER_APP_MEMBER_META_H_
#define PEERLAB_PEER_APP_MEMBER_META_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace peerlab::peer {

inline constexpr char kMetaChat[] = "chat";
inline constexpr char kMetaId[] = "id";
inline constexpr char kMetaStarted[] = "started";

using MetaFields = std::map<std::string, std::string>;

// Fields in key order; empty values are left out.
std::string EncodeMeta(const MetaFields& fields);
// The fields of `meta`; malformed parts (no '=') are skipped.
MetaFields DecodeMeta(absl::string_view meta);
// One field of `meta`, or "".
std::string MetaField(absl::string_view meta, const std::string& key);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBER_META_H_
