// check kv: the replicated key/value map (peer/membership/kv_store.h) is
// identical on every healthy peer at the end and equal to the last writes
// by (lamport, node).
//
// The rule, precisely. Every peer healthy at the end has its map read
// (`broadcastlist stamps`: live entries and tombstones with their stamps).
//   - Identical: every such peer holds the same live keys with the same
//     values and stamps.
//   - Last writes: for each key, the newest stamp (NewerStamp: lamport,
//     then node name) among the acknowledged writes (`broadcastadd`,
//     `broadcastdel` steps that succeeded, with the stamp they printed)
//     whose writer stayed healthy from the write to the end is required:
//     the final entry's stamp is that one or newer, and a newer one (or any
//     final entry) is a write someone made: an acknowledged write with that
//     stamp and value, or a write whose outcome is unknown (a step that
//     failed, e.g. its peer was stopped under it) by that node of that key
//     and value. A required delete leaves no live entry unless a newer
//     write does.
// The counterexample: the first key by name that breaks a rule.
// Pure; O(writes + entries) time.
#ifndef PEERLAB_TEST_HARNESS_CHECK_KV_CHECK_H_
#define PEERLAB_TEST_HARNESS_CHECK_KV_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "test-harness/check/check.h"

namespace peerlab::harness::check {

struct KvEntry {
  std::string value;  // "" for a tombstone
  uint64_t lamport = 0;
  std::string node;
  bool deleted = false;

  bool operator==(const KvEntry& o) const {
    return value == o.value && lamport == o.lamport && node == o.node &&
           deleted == o.deleted;
  }
};

struct KvHistory {
  struct Write {
    std::string peer;  // the writer (its node name)
    std::string key;
    std::string value;  // "" for a delete
    bool deleted = false;
    uint64_t lamport = 0;
    bool acknowledged = true;  // false: the step failed, outcome unknown
    absl::Time at;             // when the step began
  };
  absl::Time start;
  std::vector<Write> writes;
  // The maps read at the end, by peer (tombstones included).
  std::map<std::string, std::map<std::string, KvEntry>> final_maps;
  // Peers healthy at the end, and since when without a break.
  std::map<std::string, absl::Time> healthy_since;
};

CheckResult CheckKv(const KvHistory& history);

// The writes a `broadcastadd KEY VALUE` or `broadcastdel KEY...` step of
// `peer` made, from its command and output ("KEY = VALUE (lamport N)",
// "deleted KEY (lamport N), KEY (lamport N)"). A step that failed
// (`ok` false) gives writes with acknowledged false. Empty for other
// commands.
std::vector<KvHistory::Write> KvWritesOfStep(
    const std::string& peer, const std::string& command, bool ok,
    const std::vector<std::string>& output, absl::Time at);

// Parses the output of `broadcastlist stamps` ("KEY @LAMPORT NODE = VALUE",
// "KEY @LAMPORT NODE deleted", then "N key(s)").
absl::StatusOr<std::map<std::string, KvEntry>> ParseKvList(
    const std::vector<std::string>& output);

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_KV_CHECK_H_
