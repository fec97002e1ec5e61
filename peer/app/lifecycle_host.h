// LifecycleHost: what ties the components of a peer together, on a
// HostLoop of its own (runtime/host_loop.h: the "lifecycle" EventLoop
// thread in the peer, a node of the simulator in tests). The commands that
// drive it (lifecycle_commands.h):
//
//   init   the original's whole start-up, step by step: create the
//          membership node, join the bootstrap list, start the chat (its
//          address goes into the membership metadata), start gossip, join
//          the members the bootstrap list names, announce "<joined>". A
//          failing step says which and why; the others still run when they
//          can, so the peer stays usable. When the bootstrap service cannot
//          be reached the peer runs alone, retries in the background (and
//          then joins the group and announces itself), and memberlistjoin
//          ADDR still joins by hand. So does a peer none of whose listed
//          peers answered (cut off, or gone): it keeps trying them and
//          whoever the list names later while it is alone. A restarted
//          peer takes its previous process's place on the list.
//   quit   the clean leave (Leave below), then the program ends with
//          status 0. Every other normal end (end of input, Ctrl-D, exit,
//          SIGINT, SIGTERM, SIGHUP) takes the same Leave on its way out
//          (PeerApp::Shutdown).
//   play   scratch: shows this node, the members, the chat members and the
//          last bootstrap document.
//
// No command line here: the operations print their lines to a chat::Lines
// sink (a command's output, or Env::notify).
//
// As the membership's event listener it keeps the chat's members current
// and, when a member leaves or is declared dead, carries out the bootstrap
// upkeep (bootstrap_upkeep.h) on a worker thread of its own. The same
// worker renews this peer's bootstrap lease (every entry of a client holds
// one), and joins the list anew when its entry is gone (a restarted server
// on a memory store).
#ifndef PEERLAB_PEER_APP_LIFECYCLE_HOST_H_
#define PEERLAB_PEER_APP_LIFECYCLE_HOST_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peer/app/bootstrap_host.h"
#include "peer/app/membership_host.h"
#include "peer/chat/chat_host.h"
#include "peer/membership/member.h"
#include "peer/runtime/host_loop.h"
#include "services/bootstrap/client/bootstrap_client.h"

namespace peerlab::peer {

class LifecycleHost : public membership::EventListener {
 public:
  struct Env {
    std::string name;
    std::string id;                                // this peer's bootstrap id
    absl::Time started_at = absl::InfinitePast();  // this process's start
    // Lines for the operator when no command runs (background joins, the
    // chat's announcements on the way out): outputView in the peer.
    chat::Lines notify;
    BootstrapHost* bootstrap = nullptr;
    bootstrap::BootstrapApi* client = nullptr;
    MembershipHost* membership = nullptr;
    chat::ChatHost* chat = nullptr;
    // Ends the program with `code` (PeerApp::RequestExit).
    std::function<void(int code)> request_exit;
  };

  // The pointers in `env` must outlive this object; `loop` is owned (the
  // worker of the background tasks).
  LifecycleHost(Env env, std::unique_ptr<runtime::HostLoop> loop);
  // Stop()s.
  ~LifecycleHost() override;

  // The commands' work, lines to `say`. Thread-safe; they block until
  // done.
  absl::Status Init(const chat::Lines& say);
  absl::Status Quit(const chat::Lines& say);

  // The one clean leave, whatever ends the peer: the bootstrap list (when
  // this peer may be on it; a short deadline), "<left> NAME is leaving" to
  // the chat and the chat stopped, the membership leave (waiting up to a
  // few seconds for it to spread). Bounded: about 10 s at worst, with every
  // remote party gone. Runs once: a later or concurrent call waits for the
  // first to finish and returns at once. Lines go to `say`, prefixed
  // "quit: ", or to the log when `say` is empty. Thread-safe.
  void Leave(const chat::Lines& say);

  // Ends background work (bootstrap retries, upkeep). Events still update
  // the chat's members. Idempotent.
  void Stop();

  // membership::EventListener: runs on the membership thread, never blocks.
  void OnJoin(const membership::Member& m) override;
  void OnLeave(const membership::Member& m) override;
  void OnUpdate(const membership::Member& m) override;
  void OnAlive(const membership::Member& m) override;

 private:
  // init met a live member holding this name: stops the chat and the node
  // without a word in that name, leaves the bootstrap list, and returns the
  // AlreadyExists status init fails with. Leave() is then a no-op.
  absl::Status RefuseDuplicate(const absl::Status& refusal,
                               const chat::Lines& say);
  // init found no listed peer answering: removes the entries of peers that
  // started before this one (they are gone) and, when that frees a place
  // this peer did not get, offers it as refill.
  void ReplaceStaleEntries(const ::bootstrap::v1::Document& doc,
                           const chat::Lines& say);
  // init, once the group took this process under its name (a live holder
  // of the name would have refused it; `listed`: this peer got a place on
  // the bootstrap list): removes the entries of this name's previous processes
  // (a restart; another bootstrap id, a dead address, never declared dead since
  // the new generation replaced it) with the admin token, and when the full
  // list had refused this peer, joins it again in their place. Before, such
  // entries stayed until their leases ended, and a list of them left a
  // restarted peer "list full" and alone.
  void TakePredecessorsPlace(bool listed, const chat::Lines& say);
  // A background join of `addrs` (a retry of init's): a live member that
  // holds this name refuses this process (RefuseDuplicate, logged, and
  // the peer exits 1); a join logs how many answered and announces this
  // peer in the chat. Returns the join's result for the caller to handle
  // any other failure.
  absl::StatusOr<int> JoinOrRefuse(const std::vector<std::string>& addrs);
  // Worker tasks.
  // Attempt `attempt` (1: the first) to join `addrs` and the peers the
  // bootstrap list names now, after its backoff, while this peer is alone
  // (init found none of them answering: cut off by a partition, or all
  // gone); again until one answers or another member joined this peer.
  void RetryJoin(std::vector<std::string> addrs, int attempt);
  // Retry number `attempt` (1: the first) of joining the bootstrap list,
  // after its runtime::Backoff delay.
  void RetryBootstrap(int attempt);
  // Keeps this peer's bootstrap entry alive (BootstrapHost::KeepListed)
  // every RenewInterval() until Stop or Leave; started once, by the first
  // successful bootstrap join.
  void StartKeepingListed();
  void KeepListed();
  void Upkeep(const membership::Member& departed);
  // The bootstrap peers' gossip addresses in `doc`, this peer's excluded.
  std::vector<std::string> JoinAddresses(
      const ::bootstrap::v1::Document& doc) const;

  Env env_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> quitting_{false};  // Leave() has begun
  std::mutex leave_mu_;                // held for the whole of Leave()
  bool left_ = false;                  // guarded by leave_mu_
  std::atomic<bool> retrying_{false};
  std::atomic<bool> keeping_{false};  // StartKeepingListed ran
  std::unique_ptr<runtime::HostLoop> worker_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_LIFECYCLE_HOST_H_
