// RunHistory: what a run records for the checkers of `check chat` and
// `check kv` (chat_check.h, kv_check.h): the commands the peers ran (chat
// sends, key/value writes), the messagesView lines of each peer's latest
// process, the membership changes each peer's node reported (typed
// records, never log text), and when each peer was healthy (from the run's
// fault record: its own steps and the nemesis).
//
// Health: a peer is healthy when it runs and no fault is on it. Faults are
// named causes on a peer ("stop", "netem", "partition", "oneway"); a
// process that is not running (not started yet, killed, died) is the cause
// "down". heal clears every network cause ("partition", "oneway",
// "netem") of every peer. healthy_since is when the last cause went.
//
// Bounded: at most kMaxLines view lines and kMaxCommands commands are kept
// (beyond them, counted: overflow() says so and the checks then fail rather
// than judge a partial history). Thread-safe; every call takes its time
// from the caller (the run's clock), so tests need no clock.
#ifndef PEERLAB_TEST_HARNESS_CHECK_RUN_HISTORY_H_
#define PEERLAB_TEST_HARNESS_CHECK_RUN_HISTORY_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "test-harness/check/chat_check.h"
#include "test-harness/check/kv_check.h"
#include "test-harness/check/membership_check.h"

namespace peerlab::harness::check {

class RunHistory {
 public:
  static constexpr size_t kMaxLines = 1000000;
  static constexpr size_t kMaxCommands = 200000;

  explicit RunHistory(absl::Time start) : start_(start) {}

  // A command step of `peer` that began at `at`: `msg TEXT` (a send, when
  // ok) and `broadcastadd`/`broadcastdel` (writes) are kept.
  void OnCommand(const std::string& peer, const std::string& command, bool ok,
                 const std::vector<std::string>& output, absl::Time at);
  // A view line of `peer`'s process `generation` (a newer generation
  // replaces the older one's lines). messagesView lines are kept; no other
  // view is read (a log line that reads like a membership event is none).
  void OnViewLine(const std::string& peer, uint64_t generation,
                  const std::string& view, const std::string& text,
                  absl::Time at);
  // A membership event of `observer`'s node about `member`, from the typed
  // record the peer sends (peer.v1.MemberEvent on its eventsView; run.cc
  // maps its kind): `in` false for left and failed. The groups of `check
  // chat`.
  void OnMembershipChange(const std::string& observer,
                          const std::string& member, bool in, absl::Time at);
  // `observer`'s node began to suspect `member` (a suspect event), or
  // declared it dead (a failed event): the death declarations of `check
  // membership` (Removals()).
  void OnSuspect(const std::string& observer, const std::string& member,
                 absl::Time at);
  void OnFailed(const std::string& observer, const std::string& member,
                absl::Time at);

  // The fault record.
  // Process `generation` of `peer` runs (registered): clears "down"; a
  // newer generation's view starts empty.
  void Running(const std::string& peer, uint64_t generation, absl::Time at);
  void Down(const std::string& peer, absl::Time at);  // killed, died
  void AddFault(const std::string& peer, const std::string& cause,
                absl::Time at);
  void ClearFault(const std::string& peer, const std::string& cause,
                  absl::Time at);
  void Heal(absl::Time at);  // every network cause of every peer

  // Whether `peer` has a fault now, and which ("" when healthy).
  std::string FaultOf(const std::string& peer) const;

  // The histories of the checkers as of now.
  ChatHistory Chat() const;
  KvHistory Kv(
      std::map<std::string, std::map<std::string, KvEntry>> final_maps) const;
  // Peers healthy now.
  std::vector<std::string> Healthy() const;
  // For `check membership`: the run's start, every death declaration and
  // every peer's healthy stretches (the tables are the step's to read).
  MembershipHistory Membership() const;
  // "" or what was not kept ("120 view lines and 3 commands beyond the
  // history's bounds were not kept").
  std::string overflow() const;

 private:
  struct Peer {
    std::set<std::string> causes = {"down"};
    absl::Time healthy_since = absl::InfiniteFuture();
    uint64_t generation = 0;
    std::vector<ChatHistory::Line> lines;
    // [from, to) stretches it was healthy, in order (to = InfiniteFuture
    // while it lasts).
    std::vector<std::pair<absl::Time, absl::Time>> stretches;
  };
  Peer& PeerLocked(const std::string& name);
  void UpdateLocked(Peer& p, absl::Time at);

  const absl::Time start_;
  mutable std::mutex mu_;
  std::map<std::string, Peer> peers_;
  std::vector<ChatHistory::Send> sends_;
  std::vector<KvHistory::Write> writes_;
  std::map<std::string, std::vector<ChatHistory::GroupChange>> groups_;
  // (observer, member) -> when the observer last began to suspect it.
  std::map<std::pair<std::string, std::string>, absl::Time> suspected_;
  std::vector<Removal> removals_;
  size_t lines_ = 0;
  size_t commands_ = 0;
  uint64_t lines_dropped_ = 0;
  uint64_t commands_dropped_ = 0;
};

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_RUN_HISTORY_H_
