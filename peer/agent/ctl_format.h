// What peerlab-ctl prints: each peer.v1.Agent answer as a readable table
// (the default) or as JSON (--json). Pure functions, tested in
// ctl_format_test.cc; ctl_main.cc only calls the RPCs.
//
// JSON shapes (one object per answer; `monitor` and `query` print one
// object per line as they come):
//   members  {"members": [{"name", "address", "status", "tags": {},
//             "incarnation", "generation"}]}
//   info     {"self": MEMBER, "stats": {"NAME": VALUE, ...}} (NAME with
//             its labels when it has some: name{k="v"})
//   tags     {"tags": {"KEY": "VALUE"}}
//   event    {"name", "ltime"}
//   keys     {"members", "acks", "errors": {}, "keys": {}, "primary_keys": {}}
//   rtt      {"a", "b", "rtt_ms"}
// Statuses are lower case ("alive", "suspect", "failed", "left"); payloads
// are strings (bytes that are not UTF-8 are replaced by U+FFFD).
#ifndef PEERLAB_PEER_AGENT_CTL_FORMAT_H_
#define PEERLAB_PEER_AGENT_CTL_FORMAT_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "proto/peer/v1/agent.pb.h"

namespace peerlab::agent {

// "alive", "suspect", "failed", "left" ("unknown" otherwise).
std::string StatusName(int status);
// The status named (as StatusName, or upper case); 0 when unknown.
int StatusFromName(const std::string& name);

// Rows aligned in columns two spaces apart; lines end with '\n'.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);
// `text` with control characters and non-ASCII bytes as \xHH, so a payload
// can neither forge a line nor drive the terminal.
std::string Printable(const std::string& text);
// The one way JSON is printed: compact, invalid UTF-8 replaced, newline.
std::string Dump(const nlohmann::json& json);

nlohmann::json MemberJson(const ::peer::v1::AgentMember& member);
std::string MembersTable(const ::peer::v1::AgentMembersResponse& response);
nlohmann::json MembersJson(const ::peer::v1::AgentMembersResponse& response);

// A statistic's name with its labels, sorted: name{k="v",k2="v2"}.
std::string StatKey(const ::peer::v1::AgentStat& stat);
std::string InfoText(const ::peer::v1::AgentStatsResponse& response);
nlohmann::json InfoJson(const ::peer::v1::AgentStatsResponse& response);

std::string TagsText(const ::peer::v1::AgentTagsResponse& response);
nlohmann::json TagsJson(const ::peer::v1::AgentTagsResponse& response);

// One stream event as a line (no newline) or a JSON object.
std::string StreamLine(const ::peer::v1::AgentStreamResponse& event);
nlohmann::json StreamJson(const ::peer::v1::AgentStreamResponse& event);

// One query item as a line (no newline) or a JSON object
// ({"ack": FROM} | {"from", "payload"} | {"summary": {...}}).
std::string QueryLine(const ::peer::v1::AgentQueryResponse& item);
nlohmann::json QueryJson(const ::peer::v1::AgentQueryResponse& item);

// The key report, and whether the operation counts as a success: every
// member answered and none refused (as the peer's `keys` command).
std::string KeysText(const ::peer::v1::AgentKeysRequest::Op op,
                     const ::peer::v1::AgentKeysResponse& response);
nlohmann::json KeysJson(const ::peer::v1::AgentKeysResponse& response);
bool KeysSucceeded(const ::peer::v1::AgentKeysResponse& response);

// The round trip of a Coordinate answer; names from its coordinates.
std::string RttText(const ::peer::v1::AgentCoordinateResponse& response);
nlohmann::json RttJson(const ::peer::v1::AgentCoordinateResponse& response);

}  // namespace peerlab::agent

#endif  // PEERLAB_PEER_AGENT_CTL_FORMAT_H_
