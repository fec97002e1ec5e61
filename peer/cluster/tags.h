// Tags: a member's user key/value pairs, carried in its membership
// metadata beside the peer's own fields (peer/app/member_meta.h: chat, id,
// started). The metadata is "k=v;k=v" fields; a tag K is the field
// "tag.K", so it can never collide with those (none starts with "tag."),
// and its value is escaped (%XX for '%', ';', '=' and bytes outside
// printable ASCII), so any value fits the field syntax. Queries
// (`--tag KEY=REGEX`), event handlers (PEERLAB_TAG_<KEY>) and the agent
// read tags through this codec. Pure functions.
#ifndef PEERLAB_PEER_CLUSTER_TAGS_H_
#define PEERLAB_PEER_CLUSTER_TAGS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::cluster {

using Tags = std::map<std::string, std::string>;

// The metadata field prefix of a tag.
inline constexpr char kTagFieldPrefix[] = "tag.";
// A key: 1..kMaxTagKeyBytes of [A-Za-z0-9_.-] (so it is also a fine
// environment variable suffix once '.' and '-' become '_').
inline constexpr size_t kMaxTagKeyBytes = 64;
// A value: 1..kMaxTagValueBytes bytes, anything (escaped on the wire).
// The whole metadata is bounded by Config::max_meta_bytes as well.
inline constexpr size_t kMaxTagValueBytes = 4096;
// At most this many tags.
inline constexpr size_t kMaxTags = 64;

// InvalidArgument naming the key and what is wrong.
absl::Status ValidateTagKey(absl::string_view key);
absl::Status ValidateTagValue(absl::string_view key, absl::string_view value);
// Every key and value, and the count.
absl::Status ValidateTags(const Tags& tags);

// "KEY=VALUE" (the first '=' splits) into its key and value, validated.
absl::StatusOr<std::pair<std::string, std::string>> ParseTagAssignment(
    absl::string_view text);

// The metadata fields ("tag.K" -> escaped value) of `tags`, to merge into
// the peer's fields before encoding them.
std::map<std::string, std::string> TagFields(const Tags& tags);
// The tags in metadata `meta` ("k=v;..." fields): fields "tag.K" with a
// valid key, values unescaped; others are not tags and are skipped.
Tags DecodeTags(absl::string_view meta);

// The escaping of values (exposed for tests).
std::string EscapeTagValue(absl::string_view value);
// nullopt-like: InvalidArgument on a bad %XX.
absl::StatusOr<std::string> UnescapeTagValue(absl::string_view escaped);

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_TAGS_H_
