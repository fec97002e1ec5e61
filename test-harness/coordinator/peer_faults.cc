// Network faults without root: partition, heal, netem and oneway in every
// lab but netns, carried out by the peers' own fault layer (the `faults`
// peer command, peer/app/faults_commands.h, on runtime::FaultPlan). The
// coordinator asks each peer involved for its addresses (`faults self`:
// gossip and gRPC, the gRPC one also serving the reliable path and the
// chat) and tells each sender what to block or shape:
//
//   partition A,B | C   A and B block C's addresses, C blocks A's and B's
//                       (peers in no group reach everybody, as in netns)
//   oneway A -> B       A blocks B's addresses; B's traffic to A flows
//   heal                every peer clears the blocks the run set
//   netem P loss 10% delay 20ms 5ms | clear
//                       P's traffic to every destination (faults drop *,
//                       delay *, dup *, reorder *); clear: faults clear *
//
// The run keeps what the steps asked for (who blocks whom, whose traffic
// is shaped) apart from what each peer's process was told, and brings the
// second to the first: at each fault step, from the run's thread or a
// nemesis's (net_mu_ keeps them apart), and when a peer that could not
// take its part runs again (FollowPeerFaults after cont, start, restart):
// a stopped peer gets its blocks at `cont`, a new process gets its blocks
// and netem, and the others block its new addresses. A peer that is not
// running is no failure: the step says its part follows.
//
// Each command and its answer is a fault entry on the peer's timeline lane;
// the membership events that follow show the effect. The peers must allow
// it (lab.allow_faults: the local lab and --test peers do).
#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "test-harness/coordinator/run.h"

namespace peerlab::harness {
namespace {

// How long one `faults` command may take (a live peer answers in
// milliseconds).
constexpr absl::Duration kFaultsCallTimeout = absl::Seconds(2);

// The `faults` lines of `netem PEER ARGS...` (empty for clear); a kind the
// peers' fault layer has not is added to `problems`.
std::vector<std::string> NetemLines(const std::vector<std::string>& a,
                                    std::vector<std::string>* problems) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string& key = a[i];
    if (key == "clear") {
      lines.clear();
    } else if (key == "loss" && i + 1 < a.size()) {
      lines.push_back(absl::StrCat("faults drop * ", a[++i]));
    } else if (key == "duplicate" && i + 1 < a.size()) {
      lines.push_back(absl::StrCat("faults dup * ", a[++i]));
    } else if (key == "reorder" && i + 1 < a.size()) {
      lines.push_back(absl::StrCat("faults reorder * ", a[++i]));
    } else if (key == "delay" && i + 1 < a.size()) {
      std::string line = absl::StrCat("faults delay * ", a[++i]);
      // An optional jitter: a value that is not the next key.
      if (i + 1 < a.size() &&
          !absl::c_linear_search(
              std::vector<std::string>{"loss", "duplicate", "reorder", "delay",
                                       "corrupt", "rate"},
              a[i + 1])) {
        absl::StrAppend(&line, " ", a[++i]);
      }
      lines.push_back(std::move(line));
    } else {
      problems->push_back(absl::StrCat(
          "netem ", key, " needs --lab netns (the peers' fault layer has no ",
          key, ")"));
      if (i + 1 < a.size()) ++i;
    }
  }
  return lines;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> Run::ExecuteFaults(
    const std::string& peer, const std::string& line) {
  PeerLink* link = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[peer];
    std::string why = NotRunningLocked(p);
    if (!why.empty()) return absl::FailedPreconditionError(why);
    // Links are destroyed only by the run thread while no nemesis runs
    // (retired_): valid during the call.
    link = p.link.get();
  }
  const absl::Time start = clock_->Now();
  // A short deadline, not the step's: a peer stopped (SIGSTOP) just after
  // the check above never answers, and this call holds net_mu_. Its part
  // then follows at `cont` (SyncPeerNetLocked).
  auto response = link->Execute(
      line, start + std::min(kFaultsCallTimeout,
                             absl::Milliseconds(options_.step_timeout_ms())));
  absl::Status status = response.status();
  if (response.ok() && response->code() != 0) {
    status = absl::Status(static_cast<absl::StatusCode>(response->code()),
                          response->message());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_.AddTimeline(
        start, peer, "fault",
        status.ok() ? line : absl::StrCat(line, ": ", status.message()),
        status.ok(), clock_->Now() - start);
  }
  if (!status.ok()) return status;
  std::vector<std::string> out;
  for (const auto& l : response->output()) out.push_back(l.text());
  return out;
}

absl::StatusOr<std::vector<std::string>> Run::PeerAddressesLocked(
    const std::string& peer) {
  PeerNet& n = net_[peer];
  uint64_t generation;
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[peer];
    generation = p.generation;
    running = NotRunningLocked(p).empty();
  }
  if (!running || n.self_generation == generation) {
    if (n.self.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the addresses of ", peer, " are not known yet"));
    }
    return n.self;  // a stopped or gone process's last known addresses
  }
  absl::StatusOr<std::vector<std::string>> self =
      ExecuteFaults(peer, "faults self");
  if (!self.ok()) return self.status();
  std::vector<std::string> found;
  for (const std::string& line : *self) {
    for (absl::string_view word : absl::StrSplit(line, ' ')) {
      for (const char* key : {"gossip=", "grpc="}) {
        if (absl::StartsWith(word, key) && word.size() > strlen(key)) {
          found.emplace_back(word.substr(strlen(key)));
        }
      }
    }
  }
  if (found.empty()) return absl::InternalError("faults self named no address");
  n.self = found;
  n.self_generation = generation;
  return found;
}

absl::Status Run::SyncPeerNetLocked(const std::string& peer,
                                    std::vector<std::string>* problems,
                                    std::set<std::string>* waiting) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[peer];
    std::string why = NotRunningLocked(p);
    if (!why.empty()) return absl::FailedPreconditionError(why);
    generation = p.generation;
  }
  PeerNet& n = net_[peer];
  if (n.generation != generation) {
    // A new process starts with no fault.
    n.generation = generation;
    n.blocked.clear();
    n.shaping.clear();
  }
  // Blocks: the addresses of every peer it is cut from.
  std::set<std::string> want;
  for (const auto& [from, to] : cuts_) {
    if (from != peer) continue;
    absl::StatusOr<std::vector<std::string>> addresses =
        PeerAddressesLocked(to);
    if (!addresses.ok()) {
      waiting->insert(to);
      continue;
    }
    want.insert(addresses->begin(), addresses->end());
  }
  auto fail = [&](const absl::Status& s) {
    problems->push_back(absl::StrCat(peer, ": ", s.message()));
  };
  // A call that failed because the peer stopped or went away meanwhile is
  // no failure: its part follows when it runs again.
  auto gone = [&]() -> std::string {
    std::lock_guard<std::mutex> lock(mu_);
    return NotRunningLocked(peers_[peer]);
  };
  for (const std::string& address : want) {
    if (n.blocked.count(address)) continue;
    absl::StatusOr<std::vector<std::string>> done =
        ExecuteFaults(peer, absl::StrCat("faults block ", address));
    if (!done.ok()) {
      if (std::string why = gone(); !why.empty()) {
        return absl::FailedPreconditionError(why);
      }
      fail(done.status());
    } else {
      n.blocked.insert(address);
    }
  }
  for (auto it = n.blocked.begin(); it != n.blocked.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    absl::StatusOr<std::vector<std::string>> done =
        ExecuteFaults(peer, absl::StrCat("faults clear ", *it));
    if (!done.ok()) {
      fail(done.status());
      ++it;
    } else {
      it = n.blocked.erase(it);
    }
  }
  // Shaping: what its latest netem asked.
  auto wanted = netem_.find(peer);
  const std::vector<std::string> lines =
      wanted == netem_.end() ? std::vector<std::string>() : wanted->second;
  if (lines != n.shaping) {
    if (!n.shaping.empty()) {
      absl::StatusOr<std::vector<std::string>> done =
          ExecuteFaults(peer, "faults clear *");
      if (!done.ok()) {
        fail(done.status());
        return absl::OkStatus();
      }
      n.shaping.clear();
    }
    for (const std::string& line : lines) {
      absl::StatusOr<std::vector<std::string>> done = ExecuteFaults(peer, line);
      if (!done.ok()) {
        fail(done.status());
        return absl::OkStatus();
      }
      n.shaping.push_back(line);
    }
  }
  return absl::OkStatus();
}

void Run::RunPeerFaults(const Step& step, ::harness::v1::StepResult* r) {
  std::lock_guard<std::mutex> net_lock(net_mu_);
  std::vector<std::string> problems;
  // The peers whose process must change.
  std::set<std::string> senders;
  switch (step.kind) {
    case StepKind::kPartition:
    case StepKind::kOneway: {
      const bool oneway = step.kind == StepKind::kOneway;
      for (size_t i = 0; i < step.groups.size(); ++i) {
        for (size_t j = 0; j < step.groups.size(); ++j) {
          if (i == j || (oneway && !(i == 0 && j == 1))) continue;
          for (const std::string& from : step.groups[i]) {
            for (const std::string& to : step.groups[j]) {
              if (from == to) continue;
              cuts_.insert({from, to});
              senders.insert(from);
            }
          }
        }
      }
      break;
    }
    case StepKind::kHeal:
      cuts_.clear();
      for (const auto& [peer, n] : net_) {
        if (!n.blocked.empty()) senders.insert(peer);
      }
      break;
    case StepKind::kNetem: {
      std::vector<std::string> lines = NetemLines(step.netem, &problems);
      if (lines.empty()) {
        netem_.erase(step.peer);
      } else {
        netem_[step.peer] = std::move(lines);
      }
      senders.insert(step.peer);
      break;
    }
    default:
      break;
  }
  std::vector<std::string> later;
  std::set<std::string> waiting;
  for (const std::string& peer : senders) {
    absl::Status s = SyncPeerNetLocked(peer, &problems, &waiting);
    if (!s.ok()) later.push_back(absl::StrCat(s.message()));
  }
  std::vector<std::string> notes;
  if (!later.empty()) {
    notes.push_back(absl::StrCat(absl::StrJoin(later, "; "),
                                 ": its part follows when it runs again"));
  }
  if (!waiting.empty()) {
    notes.push_back(
        absl::StrCat("the addresses of ", absl::StrJoin(waiting, ", "),
                     " are not known yet: blocked when it runs again"));
  }
  if (!problems.empty()) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    notes.insert(notes.begin(), problems.begin(), problems.end());
  }
  if (!notes.empty()) r->set_message(absl::StrJoin(notes, "; "));
}

void Run::FollowPeerFaults(const std::string& peer,
                           ::harness::v1::StepResult* r) {
  std::lock_guard<std::mutex> net_lock(net_mu_);
  // Its own part, then the part of every peer cut from it (its addresses
  // may be new).
  std::set<std::string> touched;
  auto n = net_.find(peer);
  if (netem_.count(peer) || (n != net_.end() && (!n->second.blocked.empty() ||
                                                 !n->second.shaping.empty()))) {
    touched.insert(peer);
  }
  for (const auto& [from, to] : cuts_) {
    if (from == peer || to == peer) touched.insert(from);
  }
  std::vector<std::string> problems;
  std::set<std::string> waiting;
  for (const std::string& p : touched) {
    // A peer that is not running takes its part when it runs again.
    (void)SyncPeerNetLocked(p, &problems, &waiting);
  }
  if (!problems.empty()) {
    std::string message = r->message();
    if (!message.empty()) absl::StrAppend(&message, "; ");
    absl::StrAppend(&message,
                    "network faults in force: ", absl::StrJoin(problems, "; "));
    r->set_message(message);
  }
}

}  // namespace peerlab::harness
