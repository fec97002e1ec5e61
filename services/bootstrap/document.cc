#include "services/bootstrap/document.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace peerlab::bootstrap {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromTimestamp(const Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void SetLease(Peer& peer, std::optional<absl::Duration> ttl, absl::Time now) {
  if (ttl.has_value()) {
    *peer.mutable_lease_expires_at() = ToTimestamp(now + *ttl);
  } else {
    peer.clear_lease_expires_at();
  }
}

// Index of the newest peer (started last).
int NewestIndex(const Document& doc) {
  int newest = -1;
  for (int i = 0; i < doc.peers_size(); ++i) {
    if (newest < 0 || StartedBefore(doc.peers(newest), doc.peers(i))) {
      newest = i;
    }
  }
  return newest;
}

}  // namespace

Document NewDocument(const Config& config) {
  Document doc;
  *doc.mutable_config() = config;
  doc.set_revision(0);
  return doc;
}

bool StartedBefore(const Peer& a, const Peer& b) {
  const auto& ta = a.started_at();
  const auto& tb = b.started_at();
  if (ta.seconds() != tb.seconds()) return ta.seconds() < tb.seconds();
  if (ta.nanos() != tb.nanos()) return ta.nanos() < tb.nanos();
  return a.id() < b.id();
}

void SortPeers(Document& doc) {
  std::sort(doc.mutable_peers()->begin(), doc.mutable_peers()->end(),
            StartedBefore);
}

void StripSecrets(Document& doc) {
  for (Peer& p : *doc.mutable_peers()) p.clear_owner_secret_sha256();
}

int FindPeer(const Document& doc, const std::string& id) {
  for (int i = 0; i < doc.peers_size(); ++i) {
    if (doc.peers(i).id() == id) return i;
  }
  return -1;
}

std::vector<std::string> ExpireLeases(Document& doc, absl::Time now) {
  std::vector<std::string> dropped;
  auto* peers = doc.mutable_peers();
  for (int i = peers->size() - 1; i >= 0; --i) {
    const Peer& p = peers->Get(i);
    if (p.has_lease_expires_at() &&
        FromTimestamp(p.lease_expires_at()) <= now) {
      dropped.push_back(p.id());
      peers->DeleteSubrange(i, 1);
    }
  }
  std::reverse(dropped.begin(), dropped.end());
  return dropped;
}

std::optional<absl::Time> NextLeaseExpiry(const Document& doc) {
  std::optional<absl::Time> next;
  for (const Peer& p : doc.peers()) {
    if (!p.has_lease_expires_at()) continue;
    absl::Time t = FromTimestamp(p.lease_expires_at());
    if (!next.has_value() || t < *next) next = t;
  }
  return next;
}

JoinOutcome ApplyJoin(Document& doc, const Peer& peer,
                      std::optional<absl::Duration> ttl, absl::Time now) {
  JoinOutcome out;
  Peer stored = peer;
  SetLease(stored, ttl, now);
  int index = FindPeer(doc, peer.id());
  if (index >= 0) {
    out.joined = true;
    if (!google::protobuf::util::MessageDifferencer::Equals(doc.peers(index),
                                                            stored)) {
      *doc.mutable_peers(index) = stored;
      SortPeers(doc);
      out.changed = true;
    }
    return out;
  }
  if (doc.peers_size() >= static_cast<int>(doc.config().max_peers())) {
    return out;
  }
  *doc.add_peers() = stored;
  SortPeers(doc);
  out.changed = out.joined = true;
  return out;
}

LeaveOutcome ApplyLeave(Document& doc, const std::string& id) {
  int index = FindPeer(doc, id);
  if (index < 0) return {};
  doc.mutable_peers()->DeleteSubrange(index, 1);
  return {.changed = true};
}

RefillOutcome ApplyRefill(Document& doc, const Peer& candidate,
                          std::optional<absl::Duration> ttl, absl::Time now) {
  RefillOutcome out;
  if (FindPeer(doc, candidate.id()) >= 0) return out;
  Peer stored = candidate;
  SetLease(stored, ttl, now);
  if (doc.peers_size() < static_cast<int>(doc.config().max_peers())) {
    *doc.add_peers() = stored;
    SortPeers(doc);
    out.changed = out.accepted = true;
    return out;
  }
  int newest = NewestIndex(doc);
  if (newest < 0 || !StartedBefore(candidate, doc.peers(newest))) {
    return out;  // the candidate is the newest of all: it does not get in
  }
  out.replaced_id = doc.peers(newest).id();
  *doc.mutable_peers(newest) = stored;
  SortPeers(doc);
  out.changed = out.accepted = true;
  return out;
}

ResetOutcome ApplyReset(Document& doc) {
  if (doc.peers_size() == 0) return {};
  doc.clear_peers();
  return {.changed = true};
}

ConfigOutcome ApplyConfig(Document& doc, std::optional<uint32_t> max_peers,
                          std::optional<uint32_t> min_refill_candidates) {
  ConfigOutcome out;
  Config* config = doc.mutable_config();
  if (max_peers.has_value() && *max_peers != config->max_peers()) {
    config->set_max_peers(*max_peers);
    out.changed = true;
  }
  if (min_refill_candidates.has_value() &&
      *min_refill_candidates != config->min_refill_candidates()) {
    config->set_min_refill_candidates(*min_refill_candidates);
    out.changed = true;
  }
  SortPeers(doc);
  while (doc.peers_size() > static_cast<int>(config->max_peers())) {
    out.trimmed_ids.push_back(doc.peers(doc.peers_size() - 1).id());
    doc.mutable_peers()->RemoveLast();
    out.changed = true;
  }
  return out;
}

absl::Status ApplyRenew(Document& doc, const std::string& id,
                        absl::Duration ttl, absl::Time now) {
  int index = FindPeer(doc, id);
  if (index < 0) {
    return absl::NotFoundError(
        absl::StrCat("id: peer ", id, " is not in the bootstrap list"));
  }
  SetLease(*doc.mutable_peers(index), ttl, now);
  return absl::OkStatus();
}

}  // namespace peerlab::bootstrap
