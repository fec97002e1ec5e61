// check chat: every message a peer sent is shown exactly once, in the
// sender's order, by every peer that was healthy and in the sender's group
// from the send until the end of the run.
//
// The rule, precisely. A send (a `msg` step that succeeded) of S at time t
// must be shown by receiver R (R != S) when
//   - S and R were both healthy from t to the end (health.h; a peer's
//     healthy_since is when its last unhealthy stretch ended), and
//   - R was in S's group and S in R's from t to the end: the last
//     membership change S recorded about R at or before t put R in, none
//     after t took it out, and the same for R about S (a peer that does
//     not know the sender yet, e.g. a restarted one, refuses its stream).
// R's messagesView (of its latest process) must then show "<S> TEXT" exactly
// once, and every message of S that R shows (required or not) must come in
// the order S sent them; a line "<S> TEXT" that matches no send of S, or
// more lines of one TEXT than S sent, is a duplicate. Texts compare with
// their blank runs collapsed (the chat shows one line). A run with sends
// but no delivery the rule requires fails: the check must not pass
// vacuously.
//
// The counterexample is the smallest failure: the earliest send involved,
// then the receiver first by name. Pure; runs in O(sends + lines) time.
#ifndef PEERLAB_TEST_HARNESS_CHECK_CHAT_CHECK_H_
#define PEERLAB_TEST_HARNESS_CHECK_CHAT_CHECK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "test-harness/check/check.h"

namespace peerlab::harness::check {

struct ChatHistory {
  struct Send {
    std::string sender;
    std::string text;  // as given to `msg`
    absl::Time at;     // when the step began
    // The step failed (e.g. the peer was killed during it): the message
    // may or may not have gone out. Its line may be shown (once, in the
    // sender's order) but is never required.
    bool unknown = false;
  };
  struct Line {
    std::string text;  // "<alice> hi"
    absl::Time at;
  };
  // A change of S's group as S saw it (a membership event about `member`).
  struct GroupChange {
    absl::Time at;
    std::string member;
    bool in = true;  // joined, alive, updated, suspect: in; left, failed: out
  };

  absl::Time start;         // times are printed from here
  std::vector<Send> sends;  // any order; sorted by time per sender
  // Per peer: the messagesView lines of its latest process, as shown.
  std::map<std::string, std::vector<Line>> views;
  // Peers healthy at the end, and since when without a break.
  std::map<std::string, absl::Time> healthy_since;
  // Per observer, in time order.
  std::map<std::string, std::vector<GroupChange>> groups;
};

CheckResult CheckChat(const ChatHistory& history);

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_CHAT_CHECK_H_
