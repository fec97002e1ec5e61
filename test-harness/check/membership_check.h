// `check membership`: at the end of a run, every healthy peer (by the run's
// fault record, docs/architecture.md "Healthy, not live") holds the same
// member table, and no healthy peer is listed dead by
// another healthy one. Pure: the runner reads the tables
// (`memberlistdigest members`, peer/app/member_digest.h) and hands them in.
//
// "The same member table" is what the digest covers: the same live members
// (alive or suspect) in the same states at the same incarnations. Dead and
// left members are not compared (a peer that joined late may never have
// heard of a member that died before), except by the second rule.
//
// The counterexample is the smallest found: the first false removal by
// (listing peer, listed peer), else the first member (by name) on which
// the healthy peers disagree, with what each group of peers holds for it.
//
// Over the whole run, not only at its end (the membership events each
// peer's node reported, and the fault record): no healthy peer declared a
// healthy peer dead. A death declaration (a `failed` event at `observer`
// about `member`) is a false removal when both were healthy from the
// moment the observer began to suspect the member (its last `suspect`
// event about it, else the declaration itself) to the declaration: a
// suspicion raised while either was under a fault (the member cut off, the
// observer deaf) may end in a death after the repair and is no failure.
// This rule comes first: a false removal is the worse failure.
#ifndef PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_
#define PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "peer/app/member_digest.h"
#include "test-harness/check/check.h"

namespace peerlab::harness::check {

// A death declaration during the run: `observer`'s node declared `member`
// failed at `at`, having suspected it since `suspected` (== at when it
// reported no suspicion before).
struct Removal {
  std::string observer, member;
  absl::Time suspected, at;
};

struct MembershipHistory {
  // The peers the rules hold to: healthy by the run's fault record.
  std::set<std::string> healthy;
  // Each healthy peer's final table (every member it knows, any state).
  std::map<std::string, std::vector<peer::MemberRow>> tables;
  // Healthy peers whose table could not be read, and why.
  std::map<std::string, std::string> unread;

  // Times are printed from here.
  absl::Time start;
  // Every death declaration of the run, in any order.
  std::vector<Removal> removals;
  // Per peer, the stretches of time it was healthy, [from, to) in order
  // (to is InfiniteFuture while it lasts). A peer not listed never was.
  std::map<std::string, std::vector<std::pair<absl::Time, absl::Time>>>
      healthy_stretches;
};

// Whether `peer` was healthy over all of [from, to] by `stretches`.
bool HealthyThroughout(
    const std::map<std::string, std::vector<std::pair<absl::Time, absl::Time>>>&
        stretches,
    const std::string& peer, absl::Time from, absl::Time to);

CheckResult CheckMembership(const MembershipHistory& history);

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_
