// PeerRegistry: the peers registered with the coordinator, by name.
//
// A peer registers once per process start (a "generation" of its name) and
// stays registered while its Register stream is open; the stream's end is
// the peer's death. A live name is never taken over: a second registration
// is refused until the first has ended; registrations are keyed by name and
// the peer's own generation, never by address, so a restarted or replaced
// peer registers again once its predecessor's stream has ended. Runs claim the
// peers they drive, so that two runs never drive the same peer, and listen for
// registrations and deaths.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  // Ended registrations kept (names come from remote parties): beyond it
  // the oldest ended ones are forgotten, with a log line.
  static constexpr size_t kMaxEndedPeers = 1024;

  PeerRegistry() = default;
  PeerRegistry(const PeerRegistry&) = delete;
  PeerRegistry& operator=(const PeerRegistry&) = delete;

  // Records a live peer (name, control_address, version, pid, host,
  // peer_generation of `info`; the rest is filled in) and returns its
  // generation: above every earlier one of the name (one more, unless the
  // name was forgotten). `session_token` is what runs send to its
  // PeerControl (SessionToken). Listeners are told.
  // AlreadyExists, naming the holder, while the name's current
  // registration is alive; FailedPrecondition when the name's last
  // registration had a newer peer_generation (a stale process).
  absl::StatusOr<uint64_t> Register(::harness::v1::PeerInfo info,
                                    std::string session_token = "");

  // The session token of registration `generation` of `name` ("" when it
  // is not the current one, or has none).
  std::string SessionToken(const std::string& name, uint64_t generation) const;

  // The registration `generation` of `name` has ended. Ignored unless it is
  // the current one and still alive. Listeners are told. Beyond
  // kMaxEndedPeers ended registrations, the oldest ended ones are forgotten
  // (Get and List no longer show them).
  void Unregister(const std::string& name, uint64_t generation);

  // The current registration of `name` (alive or not), if any.
  std::optional<::harness::v1::PeerInfo> Get(const std::string& name) const;
  // Every name's current registration, sorted by name.
  std::vector<::harness::v1::PeerInfo> List() const;
  // How many ended registrations were forgotten so far.
  uint64_t forgotten() const;

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
  // REQUIRES mu_: forgets the oldest ended registrations beyond
  // kMaxEndedPeers.
  void ForgetEndedLocked();

  mutable std::mutex mu_;
  std::map<std::string, ::harness::v1::PeerInfo> peers_;
  std::map<std::string, uint64_t> generations_;  // last one per name
  // The current registration's session token, per name (secret: never in
  // PeerInfo, so never in ListPeers or a summary).
  std::map<std::string, std::string> sessions_;
  std::map<std::string, std::string> claims_;  // name -> run id
  // Ended registrations, oldest first: (name, generation); entries whose
  // name registered again since are skipped when forgetting.
  std::deque<std::pair<std::string, uint64_t>> ended_;
  size_t ended_count_ = 0;  // entries of peers_ that are not alive
  // Above every generation of a forgotten name, so that a forgotten name
  // that comes back is never taken for an older start.
  uint64_t generation_floor_ = 0;
  uint64_t forgotten_ = 0;

  // Held while listeners are called, so that they are called one event at
  // a time and RemoveListener can wait for a call in progress.
  std::mutex listeners_mu_;
  std::set<PeerListener*> listeners_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_PEER_REGISTRY_H_
