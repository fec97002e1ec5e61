#include "peer/membership/kv_store.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/protocol_math.h"

namespace peerlab::membership {

bool NewerStamp(uint64_t a_lamport, const std::string& a_node,
                uint64_t b_lamport, const std::string& b_node) {
  if (a_lamport != b_lamport) return a_lamport > b_lamport;
  return a_node > b_node;
}

bool KvStore::Merge(const ::peer::v1::KvEntry& entry) {
  auto refuse = [&](const char* why) {
    if (refused_++ % 1000 == 0) {
      log_.Warn(node_, ": refused a key/value entry from ",
                absl::CHexEscape(entry.node().substr(0, 64)), ": ", why, " (",
                refused_, " refused)");
    }
    return false;
  };
  if (entry.lamport() > kMaxLamport) return refuse("lamport time too high");
  if (entry.key().size() > kMaxKvKeyBytes) return refuse("key too long");
  if (entry.value().size() > kMaxKvValueBytes) return refuse("value too long");
  if (entry.node().size() > 256) return refuse("node name too long");
  if (!WithinLamportWindow(lamport_, entry.lamport(), window_)) {
    if (lamport_jumps_ignored_++ % 1000 == 0) {
      log_.Warn(node_, ": ignored a key/value entry from ",
                absl::CHexEscape(entry.node().substr(0, 64)), ": Lamport time ",
                entry.lamport(), " is more than ", window_,
                " above this node's clock ", lamport_, " (",
                lamport_jumps_ignored_, " ignored)");
    }
    return false;
  }
  auto it = entries_.find(entry.key());
  if (it == entries_.end() && entries_.size() >= kMaxKvEntries) {
    return refuse("the map is full");
  }
  lamport_ = std::max(lamport_, entry.lamport());
  if (it != entries_.end() &&
      !NewerStamp(entry.lamport(), entry.node(), it->second.lamport(),
                  it->second.node())) {
    return false;
  }
  entries_[entry.key()] = entry;
  return true;
}

void KvStore::Spread(const ::peer::v1::KvEntry& entry) {
  ::peer::v1::KvState state;
  *state.add_entries() = entry;
  // Keyed, so a newer change to the same key replaces a queued older one.
  broadcast_(state.SerializeAsString(), "kv:" + entry.key());
}

absl::Status KvStore::Tick() {
  if (lamport_ >= kMaxLamport) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the key/value store's Lamport clock is at its cap (", kMaxLamport,
        "): writes are refused until the store is reset"));
  }
  ++lamport_;
  return absl::OkStatus();
}

absl::Status KvStore::Set(const std::string& key, const std::string& value) {
  if (absl::Status s = Tick(); !s.ok()) return s;
  ::peer::v1::KvEntry e;
  e.set_key(key);
  e.set_value(value);
  e.set_lamport(lamport_);
  e.set_node(node_);
  entries_[key] = e;
  Spread(e);
  return absl::OkStatus();
}

absl::Status KvStore::Delete(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.deleted()) {
    return absl::NotFoundError(absl::StrCat("no such key: ", key));
  }
  if (absl::Status s = Tick(); !s.ok()) return s;
  ::peer::v1::KvEntry e;
  e.set_key(key);
  e.set_lamport(lamport_);
  e.set_node(node_);
  e.set_deleted(true);
  it->second = e;
  Spread(e);
  return absl::OkStatus();
}

std::map<std::string, std::string> KvStore::Items() const {
  std::map<std::string, std::string> out;
  for (const auto& [key, e] : entries_) {
    if (!e.deleted()) out[key] = e.value();
  }
  return out;
}

void KvStore::OnUserMessage(const std::string& payload) {
  ::peer::v1::KvState state;
  if (!state.ParseFromString(payload)) return;  // not ours: ignore
  for (const auto& e : state.entries()) {
    // Epidemic: what is news to us is re-gossiped, so it reaches everyone
    // even when the first sender's retransmissions were lost.
    if (Merge(e)) Spread(e);
  }
}

std::string KvStore::LocalState(bool) {
  ::peer::v1::KvState state;
  for (const auto& [key, e] : entries_) *state.add_entries() = e;
  return state.SerializeAsString();
}

void KvStore::MergeRemoteState(const std::string& data, bool) {
  ::peer::v1::KvState state;
  if (!state.ParseFromString(data)) return;
  for (const auto& e : state.entries()) Merge(e);
}

}  // namespace peerlab::membership
