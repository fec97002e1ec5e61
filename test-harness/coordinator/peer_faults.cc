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
// Each command and its answer is a fault entry on the peer's timeline lane;
// the membership events that follow show the effect. A peer that is not
// running is skipped (said in the step's message). The peers must allow
// it (lab.allow_faults: the local lab and --test peers do).
#include <cstring>
#include <set>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "test-harness/coordinator/run.h"

namespace peerlab::harness {

absl::StatusOr<std::vector<std::string>> Run::ExecuteFaults(
    const std::string& peer, const std::string& line) {
  PeerLink* link = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[peer];
    std::string why = NotRunningLocked(p);
    if (!why.empty()) return absl::FailedPreconditionError(why);
    link = p.link.get();  // destroyed only by this thread (retired_)
  }
  const absl::Time start = clock_->Now();
  auto response = link->Execute(
      line, start + absl::Milliseconds(options_.step_timeout_ms()));
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

void Run::RunPeerFaults(const Step& step, ::harness::v1::StepResult* r) {
  std::vector<std::string> problems;
  auto fail = [&](const std::string& peer, const absl::Status& s) {
    problems.push_back(absl::StrCat(peer, ": ", s.message()));
  };
  // The addresses traffic to `peer` goes to (gossip, gRPC).
  std::map<std::string, std::vector<std::string>> addresses;
  auto addresses_of = [&](const std::string& peer) {
    auto it = addresses.find(peer);
    if (it != addresses.end()) return it->second;
    std::vector<std::string> found;
    absl::StatusOr<std::vector<std::string>> self =
        ExecuteFaults(peer, "faults self");
    if (!self.ok()) {
      fail(peer, self.status());
    } else {
      for (const std::string& line : *self) {
        for (absl::string_view word : absl::StrSplit(line, ' ')) {
          for (const char* key : {"gossip=", "grpc="}) {
            if (absl::StartsWith(word, key) && word.size() > strlen(key)) {
              found.emplace_back(word.substr(strlen(key)));
            }
          }
        }
      }
      if (found.empty()) {
        fail(peer, absl::InternalError("faults self named no address"));
      }
    }
    addresses[peer] = found;
    return found;
  };
  auto block = [&](const std::string& from, const std::string& to) {
    for (const std::string& address : addresses_of(to)) {
      if (!blocked_[from].insert(address).second) continue;
      absl::StatusOr<std::vector<std::string>> done =
          ExecuteFaults(from, absl::StrCat("faults block ", address));
      if (!done.ok()) {
        blocked_[from].erase(address);
        fail(from, done.status());
      }
    }
  };

  switch (step.kind) {
    case StepKind::kPartition:
    case StepKind::kOneway: {
      const bool oneway = step.kind == StepKind::kOneway;
      for (size_t i = 0; i < step.groups.size(); ++i) {
        for (size_t j = 0; j < step.groups.size(); ++j) {
          if (i == j || (oneway && !(i == 0 && j == 1))) continue;
          for (const std::string& from : step.groups[i]) {
            for (const std::string& to : step.groups[j]) block(from, to);
          }
        }
      }
      break;
    }
    case StepKind::kHeal: {
      std::map<std::string, std::set<std::string>> blocked;
      blocked.swap(blocked_);
      for (const auto& [peer, set] : blocked) {
        for (const std::string& address : set) {
          absl::StatusOr<std::vector<std::string>> done =
              ExecuteFaults(peer, absl::StrCat("faults clear ", address));
          if (!done.ok()) fail(peer, done.status());
        }
      }
      break;
    }
    case StepKind::kNetem: {
      const std::vector<std::string>& a = step.netem;
      std::vector<std::string> lines;
      for (size_t i = 0; i < a.size(); ++i) {
        const std::string& key = a[i];
        if (key == "clear") {
          lines.push_back("faults clear *");
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
                  std::vector<std::string>{"loss", "duplicate", "reorder",
                                           "delay", "corrupt", "rate"},
                  a[i + 1])) {
            absl::StrAppend(&line, " ", a[++i]);
          }
          lines.push_back(std::move(line));
        } else {
          problems.push_back(absl::StrCat(
              "netem ", key,
              " needs --lab netns (the peers' fault layer has no ", key, ")"));
          if (i + 1 < a.size()) ++i;
        }
      }
      for (const std::string& line : lines) {
        absl::StatusOr<std::vector<std::string>> done =
            ExecuteFaults(step.peer, line);
        if (!done.ok()) fail(step.peer, done.status());
      }
      break;
    }
    default:
      break;
  }
  if (!problems.empty()) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(absl::StrJoin(problems, "; "));
  }
}

}  // namespace peerlab::harness
