// Cluster-wide keyring operations (Memberlist::KeyOperation) and what the
// members answered to them.
#ifndef PEERLAB_PEER_MEMBERSHIP_KEY_OP_H_
#define PEERLAB_PEER_MEMBERSHIP_KEY_OP_H_

#include <map>
#include <string>

namespace peerlab::membership {

// A cluster-wide keyring operation (memberlist's KeyManager, as Serf runs
// it): list, install, use (make primary) or remove a key on every member.
// kRemove keeps the key retired (key_catch_up.h: members away during the
// rotation catch up with it); kPurge stops accepting it and forgets it,
// retired or not (nobody catches up with it: how an operator expels a
// member, docs/security.md).
enum class KeyOp { kList, kInstall, kUse, kRemove, kPurge };

// What the members answered to a KeyOperation.
struct KeyOpResult {
  int members = 0;  // alive or suspect when it started, this node included
  int acks = 0;     // members that answered (applied or refused), this node
                    // included
  std::map<std::string, std::string> errors;  // member -> why it refused
  // KeyOp::kList: raw key -> how many of the answering members hold it, and
  // how many use it as their primary.
  std::map<std::string, int> keys;
  std::map<std::string, int> primary_keys;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_KEY_OP_H_
