// SimCluster: N Memberlist nodes on a simulated network, with the
// observations the tests and peerlab-sim need (who saw whom join, suspect,
// die, and when). Runs in one thread, in virtual time.
#ifndef PEERLAB_PEER_MEMBERSHIP_SIM_CLUSTER_H_
#define PEERLAB_PEER_MEMBERSHIP_SIM_CLUSTER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/kv_store.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/sim/sim_network.h"

namespace peerlab::membership {

class SimCluster {
 public:
  struct Options {
    int nodes = 3;
    // name is set per node; config.logger (nullptr: stderr at warning)
    // gets every node's lines, dated in virtual time.
    Config config = Config::Local();
    uint64_t seed = 1;
    double loss = 0.0;
    absl::Duration latency = absl::Milliseconds(1);
    // Give every node a replicated key/value store on channel kKvChannel
    // of a DelegateMux, its delegate.
    bool with_kv = false;
    // Called each time node i is built (AddNode, SetKeys, SetNodeKey,
    // Restart's new process) with its mux and scheduler, to register more
    // user-data components on the mux (their senders: mux.SenderFor). Set:
    // every node has a mux. The components must outlive the node's
    // Memberlist (rebuilt before the next call for the same i, destroyed
    // with the cluster). Runs inside the constructor for the first nodes.
    std::function<void(int i, DelegateMux& mux, runtime::Scheduler* scheduler)>
        channels;
    // Gossip encryption: raw keys (kKeySize bytes), the first the primary,
    // for every node (see SetKeys for one node). Empty: unencrypted (the
    // simulator sets Config::insecure_gossip for such nodes explicitly).
    std::vector<std::string> keys;
  };

  explicit SimCluster(Options options);
  ~SimCluster();

  sim::SimNetwork& net() { return net_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  Memberlist& node(int i) { return *nodes_[i]->list; }
  KvStore* kv(int i) { return nodes_[i]->kv.get(); }
  // Node i's mux (with_kv or channels), else nullptr.
  DelegateMux* mux(int i) { return nodes_[i]->mux.get(); }
  // "nodeI", unless AddNode gave node i another name.
  std::string name(int i) const {
    return nodes_[i]->name.empty() ? "node" + std::to_string(i)
                                   : nodes_[i]->name;
  }
  bool crashed(int i) const { return nodes_[i]->crashed; }
  // The node key every node named `name` gets (from the cluster's seed and
  // the name, so a restart or a second process under the name keeps it, as
  // a process started again with the same state directory does).
  identity::NodeKey KeyOf(const std::string& name) const;
  // The signature cache the nodes share.
  SignatureCache& signatures() { return signatures_; }

  // Starts every node; each then joins node 0 (node 0 starts alone).
  void StartAll();
  // Starts every node as a member of a group whose join is long over: each
  // knows every other alive at incarnation 1 and has nothing queued for
  // gossip (Memberlist::LearnConverged, fed every node's own entry).
  // REQUIRES: no node started.
  void StartConverged();
  // Starts node i alone (it joins nobody).
  void Start(int i);
  // Starts node i and joins it to `seed_node` (for late joiners).
  void StartAndJoin(int i, int seed_node);
  // Adds one more node (not started). Returns its index. A non-empty
  // `name` replaces "nodeI" (it may repeat another node's name: a
  // duplicate; the observations then count it under the other index).
  int AddNode(const std::string& name = "");
  // How node i's last join (StartAll, StartAndJoin, Restart) ended; nullopt
  // while it runs.
  std::optional<absl::StatusOr<int>> join_result(int i) const {
    return nodes_[i]->join_result;
  }
  // Gives node i its own keys instead of options.keys (empty: no
  // encryption), kept across Restart (a process started again reads its key
  // file). REQUIRES: node i not started.
  void SetKeys(int i, std::vector<std::string> keys);
  // Gives node i `delegate` (not owned; it must outlive the cluster)
  // instead of its key/value store, kept across Restart. REQUIRES: node i
  // not started.
  void SetDelegate(int i, Delegate* delegate);
  // Gives node i this node key instead of KeyOf(its name) (a process whose
  // key file was lost), kept across Restart. REQUIRES: node i not started.
  void SetNodeKey(int i, identity::NodeKey key);

  // Runs the simulation until `pred` holds (checked every `step`) or
  // `limit` of virtual time has passed. Returns whether it holds.
  bool RunUntil(const std::function<bool()>& pred, absl::Duration limit,
                absl::Duration step = absl::Milliseconds(10));
  void RunFor(absl::Duration d) { net_.clock().RunFor(d); }
  absl::Time Now() const { return net_.Now(); }

  // kill -9: the node stops at once.
  void Crash(int i);
  // A new process with the same name and address joins again via
  // `seed_node`.
  void Restart(int i, int seed_node);

  // True when every live (not crashed, not left) node sees exactly the live
  // nodes as alive and nothing else as alive or suspect.
  bool Converged() const;
  // Cheap check for large clusters: every live node counts exactly the
  // live nodes as alive or suspect (NumAlive). O(N).
  bool AllKnowAll() const;
  // The same as AllKnowAll() as long as no node called Memberlist::Leave()
  // itself (the cluster does not see that), but O(1): kept up to date by the
  // nodes' join and leave events and by StartAll/StartAndJoin/Crash/Restart,
  // so it can be checked after every event, even with 10,000 nodes.
  bool AllKnowAllFast() const {
    return live_count_ > 0 && knows_all_count_ == live_count_;
  }
  // Live nodes that count exactly the live nodes as alive or suspect (see
  // AllKnowAllFast), and the number of live (not crashed) nodes.
  int KnowAllCount() const { return knows_all_count_; }
  int LiveCount() const { return live_count_; }

  // Called after every membership event a node reports, with the observer,
  // the target's index (-1 for a name the cluster did not make) and the
  // target's new state as the observer sees it: kAlive for a join, an update
  // or a refutation, kSuspect, kDead or kLeft. Replaces any earlier hook;
  // nullptr removes it. Runs inside the observer's task: it must not call
  // into the protocol.
  using ChangeHook =
      std::function<void(int observer, int target, MemberState state)>;
  void SetChangeHook(ChangeHook hook) { hook_ = std::move(hook); }

  // Node `observer` sees `target` in `state`.
  bool Sees(int observer, int target, MemberState state) const;
  // Every live node other than `target` sees it in `state` (or has already
  // forgotten it, for kDead/kLeft).
  bool AllSee(int target, MemberState state) const;

  // Observations.
  struct Observation {
    std::optional<absl::Time> suspect, dead, left;
  };
  const Observation& observed(int observer, int target) const;
  // (observer, target) pairs where a node that was not crashed, not frozen
  // and not leaving was declared dead.
  int false_positive_deaths() const { return false_positive_deaths_; }
  // Marks node i as deliberately made unhealthy (its deaths do not count as
  // false positives).
  void MarkFaulty(int i) { nodes_[i]->faulty = true; }

 private:
  struct Listener;
  struct SimNode {
    std::unique_ptr<KvStore> kv;
    std::unique_ptr<DelegateMux> mux;
    std::unique_ptr<Listener> listener;
    std::unique_ptr<Memberlist> list;
    bool crashed = false;
    bool faulty = false;
    bool knows_all = false;                        // see AllKnowAllFast()
    std::optional<std::vector<std::string>> keys;  // see SetKeys()
    std::optional<identity::NodeKey> node_key;     // see SetNodeKey()
    std::string name;                              // see AddNode()
    Delegate* delegate = nullptr;                  // see SetDelegate()
    std::optional<absl::StatusOr<int>> join_result;
  };
  void Build(int i);
  // Re-evaluates node i's knows_all flag and the count.
  void UpdateKnowsAll(int i);
  // Re-evaluates every node (after the number of live nodes changed). O(N).
  void RecountKnowsAll();
  void Notify(int observer, const Member& m);
  int IndexOf(const std::string& name) const;

  Options options_;
  sim::SimNetwork net_;
  // Shared by every member (they all run on this thread): each member's
  // claim, each name, address and update is stored once, not once per
  // member (claim_pool.h, string_pool.h). Declared before nodes_, which
  // hold references into them.
  StringPool pool_;
  ClaimPool claims_{&pool_};
  // Verified signatures, shared by every member (they all run on this
  // thread): a claim heard by N members is verified once, not N times.
  // Honest: each member would reach the same verdict on the same bytes
  // (see Memberlist::SetSignatureCache). Before nodes_, which use it.
  SignatureCache signatures_{size_t{1} << 18};
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::map<std::pair<int, int>, Observation> observations_;
  int false_positive_deaths_ = 0;
  int live_count_ = 0;
  int knows_all_count_ = 0;
  ChangeHook hook_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_SIM_CLUSTER_H_
