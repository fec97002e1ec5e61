#include "peer/app/bootstrap_upkeep.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "peer/app/member_meta.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;
using membership::Member;
using membership::MemberState;

bool SplitHostPort(const std::string& addr, std::string* host, uint32_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = addr.substr(0, colon);
  return absl::SimpleAtoi(addr.substr(colon + 1), port) && *port > 0 &&
         *port < 65536;
}

}  // namespace

bool PeerFromMember(const Member& member, pb::Peer* peer) {
  MetaFields meta = DecodeMeta(member.meta);
  int64_t started = 0;
  std::string host;
  uint32_t port = 0;
  if (meta[kMetaId].empty() ||
      !absl::SimpleAtoi(meta[kMetaStarted], &started) ||
      !SplitHostPort(member.addr, &host, &port)) {
    return false;
  }
  peer->set_id(meta[kMetaId]);
  peer->set_name(member.name);
  peer->set_host(host);
  peer->set_port(port);
  peer->set_protocol(pb::PROTOCOL_UDP);
  peer->set_status("alive");
  peer->mutable_started_at()->set_seconds(started);
  return true;
}

UpkeepPlan PlanUpkeep(const Member& departed, const std::string& self,
                      const std::vector<Member>& members,
                      const pb::Document& doc) {
  UpkeepPlan plan;
  std::string first;
  for (const Member& m : members) {
    if (m.name == departed.name || m.state != MemberState::kAlive) continue;
    if (first.empty() || m.name < first) first = m.name;
  }
  plan.chosen = !first.empty() && first == self;
  if (!plan.chosen) return plan;

  std::set<std::string> listed;
  for (const pb::Peer& p : doc.peers()) {
    if (absl::StrCat(p.host(), ":", p.port()) == departed.addr) {
      plan.remove_ids.push_back(p.id());
    } else {
      listed.insert(p.id());
    }
  }
  const int64_t room = static_cast<int64_t>(doc.config().max_peers()) -
                       static_cast<int64_t>(listed.size());
  if (room <= 0) return plan;
  std::vector<pb::Peer> candidates;
  for (const Member& m : members) {
    if (m.name == departed.name || m.state != MemberState::kAlive) continue;
    pb::Peer p;
    if (PeerFromMember(m, &p) && !listed.count(p.id())) {
      candidates.push_back(p);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const pb::Peer& a, const pb::Peer& b) {
              if (a.started_at().seconds() != b.started_at().seconds()) {
                return a.started_at().seconds() < b.started_at().seconds();
              }
              return a.name() < b.name();
            });
  if (static_cast<int64_t>(candidates.size()) > room) {
    candidates.resize(static_cast<size_t>(room));
  }
  plan.candidates = std::move(candidates);
  return plan;
}

}  // namespace peerlab::peer
