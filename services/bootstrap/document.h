// The bootstrap document's semantics as pure functions: each takes the
// document and the current time, changes the document in place, and says
// whether it changed anything. Stores call them inside their atomic
// mutation; they never do I/O and never read the clock.
//
// Inputs are assumed valid (see validation.h).
#ifndef PEERLAB_SERVICES_BOOTSTRAP_DOCUMENT_H_
#define PEERLAB_SERVICES_BOOTSTRAP_DOCUMENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"

namespace peerlab::bootstrap {

using ::bootstrap::v1::Config;
using ::bootstrap::v1::Document;
using ::bootstrap::v1::Peer;

// A fresh document: no peers, `config`, revision 0.
Document NewDocument(const Config& config);

// "Older" = started earlier; ties broken by id so that every replica and
// every language agrees on one order.
bool StartedBefore(const Peer& a, const Peer& b);

// Restores the documented order of peers (oldest first).
void SortPeers(Document& doc);

// Clears every peer's owner_secret_sha256: what clients may see.
void StripSecrets(Document& doc);

// Returns the index of the peer with `id`, or -1.
int FindPeer(const Document& doc, const std::string& id);

// Drops every peer whose lease has expired at `now`. Returns the ids dropped.
std::vector<std::string> ExpireLeases(Document& doc, absl::Time now);

// The earliest lease expiry in `doc`, if any peer holds a lease.
std::optional<absl::Time> NextLeaseExpiry(const Document& doc);

struct JoinOutcome {
  bool changed = false;
  bool joined = false;
};
// Adds `peer` if there is room; updates it in place if its id is stored
// (so a retried Join is harmless); otherwise changes nothing. A lease, when
// given, expires at now + ttl.
JoinOutcome ApplyJoin(Document& doc, const Peer& peer,
                      std::optional<absl::Duration> ttl, absl::Time now);

struct LeaveOutcome {
  bool changed = false;
};
LeaveOutcome ApplyLeave(Document& doc, const std::string& id);

struct RefillOutcome {
  bool changed = false;
  bool accepted = false;
  std::string replaced_id;
};
// The original's rule: a stored candidate changes nothing; with room it is
// added; with a full list the newest of (stored peers + candidate) is found
// and, if that is a stored peer, the candidate takes its place. So the
// peers that have been up longest win.
RefillOutcome ApplyRefill(Document& doc, const Peer& candidate,
                          std::optional<absl::Duration> ttl, absl::Time now);

struct ResetOutcome {
  bool changed = false;
};
// Removes every peer; the config stays.
ResetOutcome ApplyReset(Document& doc);

struct ConfigOutcome {
  bool changed = false;
  std::vector<std::string> trimmed_ids;
};
// Sets the given fields; when max_peers drops below the number of peers,
// the newest peers are removed until it fits.
ConfigOutcome ApplyConfig(Document& doc, std::optional<uint32_t> max_peers,
                          std::optional<uint32_t> min_refill_candidates);

// Sets the lease of peer `id` to now + ttl. NotFound if it is not stored.
absl::Status ApplyRenew(Document& doc, const std::string& id,
                        absl::Duration ttl, absl::Time now);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_DOCUMENT_H_
