// PeerRegistry: the peers registered with the coordinator, by name.
//
// A peer registers once per process start (a "generation" of its name) and
// stays registered while its Register stream is open; the stream's end is
// the peer's death. Runs claim the peers they drive, so that two runs never
// drive the same peer, and listen for registrations and deaths.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/harness/v1/coordinator.pb.h"

namespace peerlab::harness {

// Told about registrations and deaths, in the order they happened, one call
// at a time. Calls must be quick and must not call back into the registry's
// AddListener/RemoveListener.
class PeerListener {
 public:
  virtual ~PeerListener() = default;
  virtual void OnPeerRegistered(const ::harness::v1::PeerInfo& peer) = 0;
  virtual void OnPeerGone(const ::harness::v1::PeerInfo& peer) = 0;
};

// Thread-safe.
class PeerRegistry {
 public:
  PeerRegistry() = default;
  PeerRegistry(const PeerRegistry&) = delete;
  PeerRegistry& operator=(const PeerRegistry&) = delete;

  // Records a live peer (name, control_address, version, pid, host of
  // `info`; the rest is filled in) and returns its generation: one more than
  // the name's previous one. A live older generation is replaced (its later
  // Unregister is ignored). Listeners are told.
  uint64_t Register(::harness::v1::PeerInfo info);

  // The registration `generation` of `name` has ended. Ignored unless it is
  // the current one and still alive. Listeners are told.
  void Unregister(const std::string& name, uint64_t generation);

  // The current registration of `name` (alive or not), if any.
  std::optional<::harness::v1::PeerInfo> Get(const std::string& name) const;
  // Every name's current registration, sorted by name.
  std::vector<::harness::v1::PeerInfo> List() const;

  // Marks `names` as used by `run_id`. FailedPrecondition, claiming
  // nothing, when one of them is used by another run.
  absl::Status Claim(const std::vector<std::string>& names,
                     const std::string& run_id);
  // Releases every name `run_id` holds.
  void Release(const std::string& run_id);

  // `listener` must stay valid until RemoveListener returns; once it has
  // returned, the listener is not being called and will not be called.
  void AddListener(PeerListener* listener);
  void RemoveListener(PeerListener* listener);

 private:
  mutable std::mutex mu_;
  std::map<std::string, ::harness::v1::PeerInfo> peers_;
  std::map<std::string, uint64_t> generations_;  // last one per name
  std::map<std::string, std::string> claims_;    // name -> run id

  // Held while listeners are called, so that they are called one event at
  // a time and RemoveListener can wait for a call in progress.
  std::mutex listeners_mu_;
  std::set<PeerListener*> listeners_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_
