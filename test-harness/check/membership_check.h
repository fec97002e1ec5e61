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
#ifndef PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_
#define PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "peer/app/member_digest.h"
#include "test-harness/check/check.h"

namespace peerlab::harness::check {

struct MembershipHistory {
  // The peers the rules hold to: healthy by the run's fault record.
  std::set<std::string> healthy;
  // Each healthy peer's final table (every member it knows, any state).
  std::map<std::string, std::vector<peer::MemberRow>> tables;
  // Healthy peers whose table could not be read, and why.
  std::map<std::string, std::string> unread;
};

CheckResult CheckMembership(const MembershipHistory& history);

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_MEMBERSHIP_CHECK_H_
