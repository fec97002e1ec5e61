#include "test-harness/check/membership_check.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace peerlab::harness::check {
namespace {

// What a peer holds for one member: "alive incarnation 2", or "absent"
// (unknown, dead or left: not live).
std::string Entry(const std::vector<peer::MemberRow>& table,
                  const std::string& member) {
  for (const peer::MemberRow& row : table) {
    if (row.name == member && peer::IsLiveState(row.state)) {
      return absl::StrCat(row.state, " incarnation ", row.incarnation);
    }
  }
  for (const peer::MemberRow& row : table) {
    if (row.name == member) {
      return absl::StrCat("not live (", row.state, " incarnation ",
                          row.incarnation, ")");
    }
  }
  return "not listed";
}

std::string At(absl::Time start, absl::Time t) {
  return absl::StrFormat("+%.3f s", absl::ToDoubleSeconds(t - start));
}

}  // namespace

bool HealthyThroughout(
    const std::map<std::string, std::vector<std::pair<absl::Time, absl::Time>>>&
        stretches,
    const std::string& peer, absl::Time from, absl::Time to) {
  auto it = stretches.find(peer);
  if (it == stretches.end()) return false;
  for (const auto& [begin, end] : it->second) {
    if (begin <= from && to < end) return true;
  }
  return false;
}

CheckResult CheckMembership(const MembershipHistory& history) {
  CheckResult result{.checker = "membership"};
  // No healthy peer declared a healthy one dead during the run. The first
  // by time is the counterexample.
  const Removal* first_false = nullptr;
  int false_removals = 0;
  for (const Removal& r : history.removals) {
    if (r.observer == r.member) continue;
    if (!HealthyThroughout(history.healthy_stretches, r.observer, r.suspected,
                           r.at) ||
        !HealthyThroughout(history.healthy_stretches, r.member, r.suspected,
                           r.at)) {
      continue;
    }
    ++false_removals;
    if (first_false == nullptr || r.at < first_false->at) first_false = &r;
  }
  if (first_false != nullptr) {
    const Removal& r = *first_false;
    result.ok = false;
    result.summary = absl::StrCat(
        false_removals, " time(s) a healthy peer declared a healthy one dead");
    result.counterexample = absl::StrCat(
        r.observer, " declared ", r.member, " dead at ",
        At(history.start, r.at), " (suspected since ",
        At(history.start, r.suspected), "); both were healthy throughout");
    return result;
  }
  if (history.healthy.empty()) {
    result.summary = "no healthy peer to check";
    return result;
  }
  // Every healthy peer's table was read.
  for (const std::string& peer : history.healthy) {
    if (history.tables.count(peer)) continue;
    auto why = history.unread.find(peer);
    result.ok = false;
    result.summary = "a healthy peer's member table could not be read";
    result.counterexample = absl::StrCat(
        "peer ", peer, ": ",
        why == history.unread.end() ? "no table recorded" : why->second);
    return result;
  }
  // No healthy peer lists another healthy peer dead (a false removal).
  for (const auto& [peer, table] : history.tables) {
    if (!history.healthy.count(peer)) continue;
    for (const peer::MemberRow& row : table) {
      if (row.state == "dead" && history.healthy.count(row.name) &&
          row.name != peer) {
        result.ok = false;
        result.summary = "a healthy peer is listed dead by another";
        result.counterexample =
            absl::StrCat(peer, " lists ", row.name, " dead (incarnation ",
                         row.incarnation, "); ", row.name, " is healthy");
        return result;
      }
    }
  }
  // Every healthy peer holds the same live members. Members in name order;
  // the first one the peers disagree on is the counterexample.
  std::set<std::string> members;
  for (const auto& [peer, table] : history.tables) {
    if (!history.healthy.count(peer)) continue;
    for (const peer::MemberRow& row : table) members.insert(row.name);
  }
  int disagreements = 0;
  std::string first;
  for (const std::string& member : members) {
    // What each peer holds -> the peers holding it, in name order.
    std::map<std::string, std::vector<std::string>> holders;
    for (const std::string& peer : history.healthy) {
      holders[Entry(history.tables.at(peer), member)].push_back(peer);
    }
    if (holders.size() < 2) continue;
    // Every "not live" variant is one view of the member: out.
    bool all_out = true;
    for (const auto& [entry, peers] : holders) {
      if (entry.rfind("not ", 0) != 0) all_out = false;
    }
    if (all_out) continue;
    ++disagreements;
    if (!first.empty()) continue;
    std::vector<std::string> lines;
    for (const auto& [entry, peers] : holders) {
      lines.push_back(
          absl::StrCat("  ", entry, " at ", absl::StrJoin(peers, ", ")));
    }
    first = absl::StrCat("member ", member, ":\n", absl::StrJoin(lines, "\n"));
  }
  const size_t n = history.healthy.size();
  if (disagreements > 0) {
    result.ok = false;
    result.summary = absl::StrCat(n, " healthy peers disagree on ",
                                  disagreements, " member(s)");
    result.counterexample = first;
    if (disagreements > 1) {
      absl::StrAppend(&result.counterexample, "\n(and ", disagreements - 1,
                      " more member(s))");
    }
    return result;
  }
  const std::vector<peer::MemberRow>& any =
      history.tables.at(*history.healthy.begin());
  result.summary = absl::StrCat(n, " healthy peer(s) agree on ",
                                peer::DigestOf(any).live, " live member(s)");
  if (!history.removals.empty()) {
    absl::StrAppend(&result.summary, "; ", history.removals.size(),
                    " death declaration(s) in the run, none of a healthy "
                    "peer by a healthy one");
  }
  return result;
}

}  // namespace peerlab::harness::check
