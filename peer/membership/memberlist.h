// Memberlist: one node of a SWIM group membership with the Lifeguard
// refinements — what HashiCorp memberlist is for Go.
//
// The node talks to time and the network only through its Scheduler and
// Transport, and makes random choices only from its seeded Random, so the
// same code runs on real sockets (EventLoop + UdpGrpcTransport) and in the
// deterministic simulator.
//
// The protocol, file by file:
//   memberlist.cc   life cycle, join, leave, metadata, queries
//   state.cc        alive/suspect/dead merging, refutation, events
//   probe.cc        failure detection: ping, ping-req, fallback, nacks
//   gossip.cc       piggybacked broadcasts, gossip rounds, push/pull
//   encryption.cc   gossip encryption (keyring.h) and keyring operations
//   key_catch_up.cc a member away during a key rotation catches up
//   direct.cc       direct user messages (reliable path), force-leave
//   suspicion.h, awareness.h, broadcast_queue.h, protocol_math.h, wire.h
//
// Declared beside it: memberlist_stats.h (Stats, the counters stats()
// returns), key_op.h (KeyOp, KeyOpResult of KeyOperation), node_state.h
// (the private record of one member), member.h (Member, EventListener,
// Delegate).
//
// Thread safety: none. Every method must be called from a task of the
// node's scheduler (use Scheduler::Post from other threads).
#ifndef PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_H_
#define PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/identity/node_key.h"
#include "peer/membership/awareness.h"
#include "peer/membership/broadcast_queue.h"
#include "peer/membership/claim_pool.h"
#include "peer/membership/config.h"
#include "peer/membership/coordinate.h"
#include "peer/membership/key_catch_up.h"
#include "peer/membership/key_op.h"
#include "peer/membership/keyring.h"
#include "peer/membership/member.h"
#include "peer/membership/memberlist_stats.h"
#include "peer/membership/node_state.h"
#include "peer/membership/probe_order.h"
#include "peer/membership/random.h"
#include "peer/membership/replay_window.h"
#include "peer/membership/sealing.h"
#include "peer/membership/string_pool.h"
#include "peer/membership/suspicion.h"
#include "peer/membership/transport.h"
#include "peer/membership/wire.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::membership {

class Memberlist {
 public:
  // `scheduler`, `transport` and the optional `events`/`delegate` must
  // outlive the node. `claims` (optional) stores the node's records'
  // claims and, in its StringPool, its strings: members simulated in one
  // process share one to store each member's claim, name, address and
  // update once (see claim_pool.h, string_pool.h); it must outlive the node
  // and be used on its scheduler's thread only. nullptr: the node keeps its
  // own.
  // Does not start anything: call Start().
  Memberlist(Config config, runtime::Scheduler* scheduler, Transport* transport,
             uint64_t seed, EventListener* events = nullptr,
             Delegate* delegate = nullptr, ClaimPool* claims = nullptr);
  ~Memberlist();
  Memberlist(const Memberlist&) = delete;
  Memberlist& operator=(const Memberlist&) = delete;

  // Validates the config, registers the local node (alive, incarnation 1,
  // generation config.generation or the time in ms, `meta`), installs the
  // transport handlers and starts probing, gossip and push/pull.
  // FailedPrecondition if already started.
  absl::Status Start(std::string meta = "");

  // Contacts each address with a push/pull state exchange; `done` gets how
  // many answered, or Unavailable naming the failures when none did.
  // AlreadyExists ("name N is held by live member at ADDR") when a member
  // refused because another live process holds this node's name: each
  // member asked probes the current holder (at most probe_timeout) and
  // accepts only when it does not answer, so a restarted process takes its
  // old name over at once while a duplicate is refused.
  // FailedPrecondition after Leave(): a node that left cannot join again
  // (make a new one).
  void Join(const std::vector<std::string>& addrs,
            std::function<void(absl::StatusOr<int>)> done);
  // What a join reached: how many addresses answered, and why each other
  // one did not ("ADDR: reason"), so a partial failure can say which part
  // failed.
  struct JoinReport {
    int answered = 0;
    std::vector<std::string> failures;
  };
  // As Join, with the report.
  void JoinWithReport(const std::vector<std::string>& addrs,
                      std::function<void(absl::StatusOr<JoinReport>)> done);

  // Broadcasts that this node leaves and calls `done` once the broadcast has
  // gone out (or `timeout` passed: DeadlineExceeded, the leave still
  // spreads). The node stops probing but still answers, as memberlist does.
  void Leave(absl::Duration timeout, std::function<void(absl::Status)> done);

  // Replaces the local metadata and spreads it (a new incarnation).
  // InvalidArgument past config.max_meta_bytes; FailedPrecondition when
  // not running, taken over by a newer process, or leaving.
  absl::Status UpdateMeta(std::string meta);
  // As UpdateMeta, and calls `done` once the update has been sent its last
  // time, or with DeadlineExceeded after `timeout` (it still spreads).
  void UpdateMeta(std::string meta, absl::Duration timeout,
                  std::function<void(absl::Status)> done);

  // Queues an application broadcast, piggybacked like membership updates,
  // sent at least UserBroadcastFloor(alive members) times (protocol_math.h).
  // A non-empty `key` replaces an earlier queued broadcast with that key.
  void Broadcast(std::string payload, const std::string& key = "");
  // The largest `payload` that fits one datagram beside this node's packet
  // header, envelope and seal (a larger one would never be sent). Depends
  // on the keyring: ask after SetKeyring.
  int MaxBroadcastBytes() const;

  // Stops every timer and the transport. Idempotent. No events after it.
  // Pending key operations complete with what was answered so far.
  void Shutdown();

  // --- Direct user messages and force-leave (direct.cc) ---

  // Sends `payload` to member `to` on the reliable path, sealed and tagged
  // like every request; its Delegate::OnDirectMessage gets it on `channel`
  // with this node's proven name, and what it returns comes back in
  // `done`. `to` may be this node (delivered here, as a task). `timeout`:
  // zero for Config::reliable_timeout. `done` runs once, as a task of the
  // scheduler, never inside this call. Errors: NotFound (no live member of
  // that name), InvalidArgument (payload over
  // Config::max_user_message_bytes), ResourceExhausted
  // (max_user_messages_in_flight calls under way), FailedPrecondition (not
  // running); the call's or the receiver's status otherwise.
  void SendUserMessage(const std::string& to, uint32_t channel,
                       std::string payload,
                       std::function<void(absl::Status)> done,
                       absl::Duration timeout = absl::ZeroDuration());

  // Serf's force-leave: member `name`, which this node holds failed (dead)
  // or suspect, is taken as left here and on every member that holds it
  // failed too (a suspect one once its own suspicion declares it dead);
  // `prune` forgets it instead (its name free at once). It is gossiped as a
  // ForceLeave naming the member's generation and incarnation: members
  // that hold it alive ignore it, and the member itself, if it lives,
  // refutes it. Errors: NotFound (unknown name), FailedPrecondition (the
  // member is alive here, or is this node, or the node is not running).
  // A left member is only pruned. docs/security.md: who may force a leave.
  absl::Status ForceLeave(const std::string& name, bool prune);

  // --- Gossip encryption (encryption.cc) ---

  // --- Identity (signed claims about oneself; docs/security.md) ---

  // The node's own Ed25519 key, which signs its alive messages and its
  // leave; its public key travels in its alive and is pinned to its name by
  // every member. Unset at Start(): a fresh key (lasting this node only).
  // FailedPrecondition after Start().
  absl::Status SetNodeKey(identity::NodeKey key);
  // The key (set at Start() at the latest). Thread-safe to use from any
  // thread once Start() returned (NodeKey is immutable).
  const identity::NodeKey& node_key() const { return *node_key_; }
  // Signature checks through `cache` instead of the node's own: the
  // simulator gives all its nodes one, so a claim N members hear is
  // verified once, not N times (an honest shortcut: every node would reach
  // the same verdict on the same bytes). nullptr: the node's own.
  // `cache` must outlive the node and be used on its scheduler's thread.
  // REQUIRES: before Start().
  void SetSignatureCache(SignatureCache* cache) {
    signatures_ = cache ? cache : &own_signatures_;
  }
  // The public key pinned to `name` (this node's own for its own name), or
  // nullopt when no member of that name is known. The chat and others use
  // it to authenticate a sender as the member it claims to be.
  std::optional<identity::PublicKey> PinnedKeyOf(absl::string_view name) const;

  // Turns gossip encryption on (memberlist: Config.Keyring): from Start()
  // on, every datagram and every reliable request and answer is sealed with
  // the primary key, and whatever no key opens, or comes unencrypted, is
  // dropped and counted (stats().decrypt_failures). A member with another
  // key is thus never admitted: its join fails with "cannot decrypt: wrong
  // key?". REQUIRES: before Start().
  absl::Status SetKeyring(Keyring keyring);
  // The group label (Config::label) every exchange of this node carries
  // and requires; empty for none.
  const std::string& label() const { return config_.label; }
  // The keyring, or nullptr when gossip is not encrypted.
  const Keyring* keyring() const { return keyring_ ? &*keyring_ : nullptr; }
  // Called after each change of the local keyring by a key operation (to
  // persist the key file). Runs as a task of the scheduler.
  void SetKeyringListener(std::function<void(const Keyring&)> listener) {
    keyring_listener_ = std::move(listener);
  }
  // Applies `op` here, then gossips it (encrypted) to every member, which
  // applies it and answers on the reliable path. `done` gets the answers
  // once every member alive at the start answered, or when `timeout`
  // passed (then result.acks < result.members). `key` is raw (kKeySize
  // bytes), ignored for kList. Fails without gossiping anything:
  // FailedPrecondition when encryption is off or the node is not running,
  // or when this node refuses (removing its primary key, using a key it
  // does not hold); InvalidArgument for a key of the wrong size.
  void KeyOperation(KeyOp op, std::string key, absl::Duration timeout,
                    std::function<void(absl::StatusOr<KeyOpResult>)> done);

  // --- Key catch-up (key_catch_up.h, key_catch_up.cc) ---

  // Asks the members at `addrs` (the first kMaxCatchUpTargets) for the
  // current keyring, with a request sealed with this node's primary key and
  // signed with its node key. The first valid answer replaces the keyring
  // (the old keys retired here, the keyring listener called, a warning
  // logged) and `done` gets OK. One round at a time and one every
  // kCatchUpRetry: a call meanwhile gets the running round's outcome, or
  // the last one's. Unavailable naming each member's refusal when none
  // answered; FailedPrecondition without a keyring or when not running.
  // Join() runs it by itself when every member refused this node's keys,
  // and so does a running node whose traffic nobody opens any more.
  void CatchUpKeys(const std::vector<std::string>& addrs,
                   std::function<void(absl::Status)> done);
  // The keys this node holds as retired, newest first.
  std::vector<std::string> RetiredKeyList() const;

  // Members known alive or suspect, local node included, sorted by name.
  std::vector<Member> Members() const;
  // Every member ever known (dead and left ones too), sorted by name.
  std::vector<Member> AllMembers() const;
  Member LocalNode() const;
  // How many members are known in each state (indexed by MemberState),
  // this node included. No allocation.
  std::array<int, 4> CountByState() const;
  int NumAlive() const;  // alive + suspect, local node included
  int HealthScore() const { return awareness_.score(); }
  // Updates queued for gossip (memberlist.queue.broadcasts).
  size_t NumQueuedBroadcasts() const { return broadcasts_.size(); }
  // This node's restart generation (fixed at Start; 0 before).
  uint64_t generation() const { return generation_; }
  const Stats& stats() const { return stats_; }
  const Config& config() const { return config_; }
  bool started() const { return started_; }
  bool left() const { return leaving_; }
  // A newer process with this node's name (a higher generation) took the
  // name over: this node no longer claims it (no refutation, no probes).
  bool replaced() const { return replaced_; }

  // --- A group that starts converged (the simulator's --start converged) ---

  // Appends this node's own entry, signed, to `pp`, as its push/pull
  // carries it. REQUIRES: started.
  void AppendOwnEntry(::peer::v1::PushPull& pp) const {
    AddNodeState(*local_, pp);
  }
  // Starts this node as a member of a group whose join is long over: learns
  // the members of `pp` (entries AppendOwnEntry made) alive at their
  // incarnations through a push/pull merge (MergeState: each claim verified,
  // or taken verified from the claim pool; each new member reported to the
  // listener and put at a random place in the probe order), but queues
  // nothing for gossip, neither their alives (everybody knows them already)
  // nor this node's own that Start() queued. For simulations: a real group
  // reaches this state only by its join's gossip.
  // REQUIRES: started, and knows no other member yet (FailedPrecondition);
  // every entry alive (InvalidArgument, nothing learned).
  absl::Status LearnConverged(const ::peer::v1::PushPull& pp);

  // --- Network coordinates (coordinate.h; Config::coordinates) ---

  // This node's Vivaldi client, holding its coordinate and those of the
  // members it probed; nullptr when coordinates are off or before Start().
  const CoordinateClient* coordinates() const { return coords_.get(); }
  // The estimated round-trip time between members `a` and `b`, each this
  // node's name or a member whose coordinate this node holds (Serf's `rtt`).
  // FailedPrecondition when coordinates are off or the node not started;
  // NotFound naming a member with no coordinate here.
  absl::StatusOr<absl::Duration> EstimateRtt(absl::string_view a,
                                             absl::string_view b) const;
  // This node's coordinate first, then every one it holds, by name (what
  // the agent's Coordinate RPC returns). Empty when coordinates are off.
  std::vector<std::pair<std::string, Coordinate>> Coordinates() const;

 private:
  using NodeState = internal::NodeState;
  struct AckHandler {
    std::function<void(bool ack)> on_result;  // ack true, nack false
    runtime::Scheduler::TimerId timer = 0;
    // A direct probe of member `probed` (at `generation`), pinged at
    // `sent`: its ack's coordinate and round trip update ours.
    std::string probed;
    uint64_t generation = 0;
    absl::Time sent;
  };

  // --- state.cc ---
  // Field checks on what the wire brings (kMax* in config.h); false counts
  // a bad message.
  bool ValidAlive(const ::peer::v1::Alive& alive);
  bool ValidAccusation(const std::string& node, const std::string& from,
                       uint64_t incarnation);
  // An alive about this node's own name.
  void HandleOwnAlive(const ::peer::v1::Alive& alive);
  // Whether `alive` is signed by the key it carries; counts a failure.
  bool VerifyAlive(const ::peer::v1::Alive& alive);
  // The pooled claim `alive` makes when a member of the process verified
  // it already (ClaimPool::FindVerifiedAlive; its notice in `*notice`):
  // then VerifyAlive would answer from the signature cache, and the
  // claim's strings need no interning. Else empty.
  ClaimPool::Ref VerifiedClaim(const ::peer::v1::Alive& alive,
                               StringPool::Ref* notice) const;
  // Whether pooled claim `c` is what these fields claim.
  static bool ClaimIs(const ClaimPool::Claim& c, absl::string_view name,
                      absl::string_view addr, absl::string_view id,
                      absl::string_view meta, absl::string_view public_key,
                      uint64_t incarnation, uint64_t generation);
  // The claim of `alive` (REQUIRES: VerifyAlive passed) pooled, the strings
  // it shares with `old` kept as they are (no pool lookup), and marked
  // verified in the pool with its notice, which `*notice` then holds.
  ClaimPool::Ref PoolVerifiedClaim(const ClaimPool::Ref& old,
                                   const ::peer::v1::Alive& alive,
                                   StringPool::Ref* notice);
  // Gives `node` the claim of `alive`, verified: `verified` when
  // VerifiedClaim found it, else PoolVerifiedClaim's.
  void TakeVerifiedClaim(NodeState& node, const ::peer::v1::Alive& alive,
                         ClaimPool::Ref verified, StringPool::Ref* notice);
  // HandleAlive's end for a member we did not know, now at `added` with
  // its verified claim: counted, its notice queued, the join reported.
  void Joined(NodeState& added, StringPool::Ref notice);
  // Whether a leave (`dead`, from == node) is signed with `public_key`.
  bool VerifyLeave(const ::peer::v1::Dead& dead, absl::string_view public_key);
  // Whether `node`'s pinned key may be replaced by another one: its member
  // left (a signed leave), or has been dead for gossip_to_the_dead_time,
  // the time a live member has to hear of it and refute.
  bool KeyReplaceable(const NodeState& node) const;
  // Counts (and logs, at most once per name every 10 probe periods) an
  // alive refused for carrying another key than the one pinned to `name`.
  void CountKeyConflict(const std::string& name, const std::string& addr);
  // Signs LocalAlive's fields anew (after a change of incarnation, address
  // or metadata) into local_->signature.
  void SignLocal();
  // Whether a warning about `key` may be logged now: at most once per key
  // every 10 probe periods (conflicts_logged_, bounded). Records it if so.
  bool ConflictLogDue(const std::string& key);
  // Logs "conflicting address for NAME: mine X, theirs Y" (as memberlist),
  // at most once per name every kConflictLogPeriod; counts it.
  void LogConflict(const std::string& name, const std::string& mine,
                   const std::string& theirs);
  // Logs a refusal of a new member (table full), rate-limited.
  void LogRefusedMember(const std::string& name);
  // Records in use (the local node included).
  size_t NumRecords() const { return nodes_.size() - free_nodes_.size(); }
  // A push/pull whose sender claims a name held by another live process:
  // refused at once (AlreadyExists, when the holder is this node), or the
  // holder to probe before answering (probe true), or nothing to decide.
  struct NameClaimCheck {
    enum Action { kAccept, kRefuse, kProbe } action = kAccept;
    std::string name, addr, id;  // the holder (kRefuse, kProbe)
    std::string claim_addr;      // the claimant's address
  };
  NameClaimCheck CheckNameClaim(const ::peer::v1::PushPull& pp);
  // Answers a push/pull that claimed a live holder's name with
  // AlreadyExists naming the holder's address; counts and logs it.
  void RefuseNameClaim(const std::string& name, const std::string& holder_addr,
                       const std::string& claim_addr,
                       Transport::ReliableDone respond);
  // Probes the process `id` holding `name` at `addr` (a datagram ping and a
  // reliable one, naming the id so a successor at that address stays
  // silent); `done(true)` on an ack within probe_timeout, else false.
  void ProbeHolder(const std::string& name, const std::string& addr,
                   const std::string& id, std::function<void(bool live)> done);
  // `from_member`: the alive came from the member itself (a datagram from
  // its address, its own entry of its push/pull), so it may raise the
  // member's incarnation beyond Config::incarnation_window.
  void HandleAlive(const ::peer::v1::Alive& alive, bool from_member = false);
  // A relayed alive's notice: when it announces something this node does
  // not know, the signed claim is added to wants_ (fetched from the
  // notice's sender once the datagram is handled). Changes no state.
  void HandleNotice(const ::peer::v1::AliveNotice& notice);
  // Fetches the claims in wants_ from the member at `addr` (one
  // PushPull.want request), and clears wants_.
  // `to`: that member's name (its sender tag, sealing.h), if known.
  void FetchWanted(const std::string& addr, const std::string& to);
  // Answers a PushPull.want request with our entries of those names.
  void AnswerWant(const ::peer::v1::PushPull& pp,
                  Transport::ReliableDone respond);
  // Whether `claimed` is within the window above `known`; counts it if not.
  bool IncarnationInWindow(uint64_t known, uint64_t claimed);
  // A suspicion of a member: starts one, or confirms a running one (once
  // per accuser), and spreads it. `declared`: the dead it came from (see
  // HandleDead), spread as such; its sender counts as a confirmation even
  // when it starts the suspicion.
  void HandleSuspect(const ::peer::v1::Suspect& suspect,
                     const ::peer::v1::Dead* declared = nullptr);
  // A dead message. Only a member's own signed leave (from == node) is
  // final; a dead from anyone else is an accusation, handled as a suspicion
  // of the member at that incarnation with the sender as its accuser (or
  // as one more independent confirmation of a running suspicion), never as
  // a death: a member is declared dead only by this node's own suspicion
  // timeout (LastCheckBeforeDeath, then DeclareDead).
  void HandleDead(const ::peer::v1::Dead& dead);
  // Marks `m` dead (our own suspicion of it timed out, and it did not
  // answer the last check) or left (its signed leave, `dead.from` ==
  // `dead.node`), and spreads `dead` unless `spread` is false (a timed
  // death this node queued says it already). REQUIRES: `m` is live and not
  // this node, and `dead` names it at its current generation.
  void DeclareDown(NodeState& m, const ::peer::v1::Dead& dead,
                   bool spread = true);
  void Refute(uint64_t accused_incarnation);
  void BroadcastAlive(std::function<void()> on_done = nullptr);
  ::peer::v1::Message LocalAlive() const;
  // What spreads our alive: LocalAlive(), or, when it does not fit one
  // datagram (metadata above about 1 KB, Config::max_meta_bytes), a notice
  // whose signed claim members fetch from us on the reliable path
  // (PushPull.want), as relayed alives travel.
  ::peer::v1::Message LocalAliveToSpread() const;
  // Sends our alive message straight to every live member (after a join).
  void AnnounceSelfToAll();
  // After a join: one push/pull with a random member once the join's
  // epidemic has run its course (see gossip.cc).
  void ScheduleCatchUp();
  // A join that no member answered, by a node that other members reached
  // meanwhile: one full push/pull with one of them (then as after a join).
  // Not in memberlist's behaviour.
  void CatchUpAfterFailedJoin();
  // A random member held alive (not this node), nullptr if none.
  const NodeState* RandomAliveMember();
  // Why UpdateMeta(meta) cannot run now, or OK.
  absl::Status CheckMetaUpdate(const std::string& meta) const;
  // Runs `done` once with OK when `sent` is called, or DeadlineExceeded
  // (`what`) after `timeout`, whichever comes first. Returns `sent`.
  std::function<void()> DoneWhenSent(absl::Duration timeout,
                                     std::function<void(absl::Status)> done,
                                     const std::string& what);
  void SetState(NodeState& node, MemberState state);
  // `from_confirms`: see Suspicion's constructor.
  void StartSuspicion(NodeState& node, const std::string& from,
                      bool from_confirms = false);
  // A suspicion of (name, incarnation, generation) timed out: before
  // declaring the member dead, tell it directly (suspect, then a ping) and
  // wait one probe timeout. Its refutation rides on its ack; an ack without
  // one (it refuted before, and the gossip did not bring that here) starts
  // the suspicion again instead of a death. Only silence is a death. So a
  // refutation that missed this member (few retransmissions, and push/pull
  // comes after the longest suspicion in a large group) still wins (found
  // by the simulator's adversary: forged suspicions at the current
  // incarnation, 100 members, the Local profile).
  // `early` (corroboration): an ack leaves the suspicion running as it is.
  void LastCheckBeforeDeath(const std::string& name, uint64_t incarnation,
                            uint64_t generation, bool early = false);
  // The member `name` if it is still suspect at `incarnation` and
  // `generation` under the suspicion that started at `started` (not one
  // started over since); else nullptr. For a check's result.
  NodeState* SuspectOf(const std::string& name, uint64_t incarnation,
                       uint64_t generation, absl::Time started);
  NodeState* Find(absl::string_view name);
  // A record of a member we did not know, with its (verified) claim.
  NodeState& AddNode(ClaimPool::Ref claim);
  // Forgets the member at nodes_[index] (its queued update dropped).
  void RemoveNode(uint32_t index);
  // The public view of a record.
  Member ToMember(const NodeState& node) const;
  // Gives `node` the claim `edit(copy of its claim)` (interned): a claim
  // is shared and immutable.
  template <typename Edit>
  void EditClaim(NodeState& node, Edit edit) {
    ClaimPool::Claim claim = *node.claim;
    edit(claim);
    node.claim = claims_->Intern(std::move(claim));
  }
  // Appends every known member's state to `pp` (a push/pull's body).
  void AddLocalState(::peer::v1::PushPull& pp) const;
  static void AddNodeState(const NodeState& node, ::peer::v1::PushPull& pp);
  void MergeState(const ::peer::v1::PushPull& remote);
  // True when HandleAlive would ignore entry `s` without any effect (a
  // valid claim of a known member's process at an incarnation we already
  // have): MergeState skips it without copying it into an Alive.
  // `*unknown`: false, or the entry is valid and names a member other
  // than us that we have no record of (HandleAlive would verify it and
  // add it).
  bool AliveIsOldNews(const ::peer::v1::PushNodeState& s, bool* unknown);
  // For an entry AliveIsOldNews found `unknown`: when a member of the
  // process verified its claim already (ClaimPool::FindVerifiedAlive),
  // does what HandleAlive would do with it, without the copy into an
  // Alive, and returns true; else does nothing and returns false.
  bool LearnVerifiedEntry(const ::peer::v1::PushNodeState& s);

  // --- stability.cc (docs/membership.md: sick networks) ---
  // Whether the departures of issue 17 (and the earlier ones Config::
  // memberlist_compat lists) are on.
  bool Compat() const { return config_.memberlist_compat; }
  // What this node knows of the accusations against one member (by name),
  // across its incarnations, and of its removals. At most max_members
  // entries (expired ones dropped first, then new ones not recorded).
  struct Evidence {
    uint64_t generation = 0;
    // Distinct credible accusers and when each last accused, at most
    // kMaxEvidence (the oldest replaced).
    std::vector<std::pair<std::string, absl::Time>> accusers;
    absl::Time last_removed = absl::InfinitePast();
    absl::Time hold_until = absl::InfinitePast();
    absl::Time last_check = absl::InfinitePast();
    // When it last refuted a suspicion: only a member that keeps refuting
    // (it talks, yet others cannot reach it) is quarantined; one that is
    // silent is left to its suspicion (and the early check).
    absl::Time refuted = absl::InfinitePast();
    // When our last quarantine check had every ping answered: no further
    // check until an accusation newer than that (a refutation alone, which
    // the check itself provokes, would check it again and again).
    absl::Time cleared = absl::InfinitePast();
    bool checking = false;
    // The timed quarantine (docs/membership.md): the earliest removal time
    // a credible declaration named (InfiniteFuture: none since the last
    // removal), the distinct declarers (at most kMaxEvidence), whether our
    // follow check runs and how it last ended, and our own pending removal.
    absl::Time declared_at = absl::InfiniteFuture();
    std::vector<std::string> declarers;
    bool following = false;
    absl::Time last_follow = absl::InfinitePast();
    bool doubtful = false;  // the last follow check had some acks missing
    bool pending = false;
    absl::Time remove_at = absl::InfiniteFuture();
    // Quarantines in a row (flap damping: each doubles the hold-down).
    int quarantines = 0;
    absl::Time last_quarantine = absl::InfinitePast();
  };
  static constexpr size_t kMaxEvidence = 16;
  // A quarantine check is silent with fewer than kQuarantineAcks of its
  // kQuarantinePings answered. 1 (was 2): with 2, a healthy member at 5 %
  // loss failed a check 2.7 % of the time, checks repeat every probe
  // interval while the evidence stands, and 2 quarantine observers removed
  // an overloaded host's live member
  // (QueriesSimTest.OnAnOverloadedHostEveryLiveMembersAnswerArrivesAtLoss);
  // with 1: 0.09 %, and a member losing 80 % of its egress still fails
  // half its checks.
  static constexpr int kQuarantinePings = 3;
  static constexpr int kQuarantineAcks = 1;
  // The quarantine check waits this many probe intervals for its acks, and
  // the early check starts this many after the suspicion (docs/membership.md:
  // a slow member answers and refutes late, a lossy or dead one never).
  static constexpr int kQuarantineWaitPeriods = 5;
  static constexpr int kEarlyCheckPeriods = 3;
  // A quarantine takes effect this many probe intervals after the first
  // member decided it: time for its declaration to reach every member
  // (an epidemic, ~log N gossip rounds) and for each to check the member
  // itself (kFollowPings pings, one probe interval), so that the group
  // removes it at one moment. Later declarations may not name a time
  // further ahead than that.
  static constexpr int kQuarantineDelayPeriods = 4;
  // The follow check: kFollowPings pings, each its own datagram. At most
  // kFollowFailAcks acks: this member removes it too; all of them: it
  // stays; in between (doubtful): it follows once quarantine_observers
  // distinct declarers named it.
  static constexpr int kFollowPings = 6;
  static constexpr int kFollowFailAcks = 3;
  // A quarantine this many hold-downs after the last starts the doubling
  // of the hold-down over.
  static constexpr int kHoldDownMemory = 4;
  absl::flat_hash_map<std::string, Evidence> evidence_;
  // Accusers' refuted accusations (credibility), by accuser: how many
  // since `since` (a window of Config::evidence_window). Bounded as
  // evidence_.
  struct AccuserRecord {
    absl::Time since;
    int refuted = 0;
  };
  absl::flat_hash_map<std::string, AccuserRecord> accusers_;
  // Whether an accusation by `from` may start or confirm a suspicion of
  // `accused` (Config::max_accusations): an unnamed one (push/pull) and our
  // own always; a member unknown here, not alive here, or with more than
  // max_accusations refuted accusations in the window, never. A refused one
  // is counted in stats (accusations_discounted) if `count`.
  bool CredibleAccuser(const std::string& from, const NodeState& accused,
                       bool count = true);
  // `accused` refuted a suspicion (its alive at a higher incarnation while
  // suspect here): its lone accuser's accusation counts as refuted, unless
  // others corroborated it (two or more accusers in its evidence).
  void NoteRefutation(const NodeState& accused);
  // Records `from`'s accusation of `m` (any incarnation of its generation)
  // and, with Config::quarantine_observers distinct accusers in the
  // window, checks the member (QuarantineCheck).
  void RecordEvidence(NodeState& m, const std::string& from);
  // Checks `m` (QuarantineCheck) when its evidence and a refutation within
  // the window call for it and no check of it runs.
  void MaybeQuarantineCheck(NodeState& m);
  // Distinct accusers of `m` within the window (expired ones dropped).
  int EvidenceCount(const NodeState& m);
  // The evidence entry of `name` for generation `generation` (reset on
  // another one); nullptr when the table is full.
  Evidence* EvidenceFor(const std::string& name, uint64_t generation);
  // Pings member `name` kQuarantinePings times (a suspect message first,
  // so it refutes); fewer than kQuarantineAcks acks within the scaled
  // probe timeout declare it dead and hold it down for Config::hold_down;
  // otherwise it is checked again a probe interval later while the
  // evidence stands.
  void QuarantineCheck(const std::string& name, uint64_t generation);
  // A quarantine declaration (a dead with quarantine_at_ms) about `m`:
  // notes its declarer and time, relays the earliest, and checks the member
  // itself (FollowCheck) unless it has decided already. Only one signed by
  // its declarer (VerifyQuarantine) counts or is relayed; any other is
  // only a reason for the check.
  void HandleQuarantineDeclaration(NodeState& m, const ::peer::v1::Dead& dead);
  // Whether `dead` carries its declarer's (dead.from's pinned key)
  // signature of wire.h QuarantineClaim; counts a failure.
  bool VerifyQuarantine(const ::peer::v1::Dead& dead);
  // Signs this node's own declaration (dead.from == this node).
  void SignQuarantineDeclaration(::peer::v1::Dead& dead);
  // Pings `name` kFollowPings times; decides as kFollowFailAcks says.
  void FollowCheck(const std::string& name, uint64_t generation);
  // Sends `count` pings to `name` at `addr`, each its own datagram (`lead`,
  // if any, rides with the first), and calls `done` with the number of acks
  // once every ping is acked or has waited `wait`.
  void PingBurst(const std::string& name, const std::string& addr, int count,
                 absl::Duration wait, std::optional<std::string> lead,
                 std::function<void(int acks)> done);
  // This node removes `m` at `at` (now if past): declares it at once (a
  // dead with quarantine_at_ms) and applies it then (ApplyQuarantine).
  void ScheduleQuarantine(NodeState& m, absl::Time at);
  void ApplyQuarantine(const std::string& name, uint64_t generation);
  // Called by DeclareDown for a death (when, for the evidence table).
  void NoteRemoval(const NodeState& m);
  // Whether `m`'s refutations are refused now (hold-down).
  bool HeldDown(const NodeState& m);
  // Corroboration (Config::corroboration): the early last check of a
  // suspicion held by that many accusers.
  void MaybeCheckEarly(NodeState& m);
  // Timed death (docs/membership.md): the first member whose last check of
  // a suspect goes unanswered removes it DeathDelay() later and says when (a
  // dead with remove_at_ms); every member whose own check of it has ended
  // unanswered by then removes it at that same moment (one still waiting, when
  // it ends), so the group removes a member that stopped hearing (flipflop) at
  // one moment, not over the second or two its own checks end in. A member
  // that hears the time before its own check ran pings it at once, waiting
  // until the moment, and passes the time on as its own accusation. Time for
  // the declaration's epidemic (a gossip round per doubling of the group) and
  // at least a probe timeout: 2 s at 1,000 members (LAN), 1.6 s at 200, 0.8 s
  // at 10. Half of it (1 s at 1,000) cut flipflop agreement to 96.47 %.
  // StartSuspicion takes it off the suspicion timeout, so the moment falls
  // when the first member's own check ended before the timed death.
  absl::Duration DeathDelay();
  // Our last check of suspect `m` went unanswered: removes it at `at`
  // (now if past), the earliest time known, after saying so.
  void ScheduleDeath(NodeState& m, absl::Time at);
  // A credible timed death of `m` (a dead with remove_at_ms).
  void HandleTimedDeath(NodeState& m, const ::peer::v1::Dead& dead);
  // At the removal time: removes the member if it is still suspect at that
  // incarnation and our own check of it ended unanswered.
  void ApplyDeath(const std::string& name, uint64_t incarnation,
                  uint64_t generation);

  // Accusations of another member at an incarnation above the one known
  // here (its alive, a refutation, missed us), kept until that alive comes
  // (fetched, HandleSuspect) and then applied, for evidence_window at most:
  // otherwise every accusation of the member's last refutation passes us by
  // and we alone keep it live (flipflop at N = 200, seed 1). At most
  // kMaxAheadAccusations per member and kMaxAheadMembers members.
  struct AheadAccusation {
    ::peer::v1::Suspect suspect;
    std::optional<::peer::v1::Dead> dead;  // when it came as a dead
    absl::Time at;
  };
  static constexpr size_t kMaxAheadAccusations = 8;
  static constexpr size_t kMaxAheadMembers = 64;
  absl::flat_hash_map<std::string, std::vector<AheadAccusation>> ahead_;
  void ReplayAheadAccusations(const std::string& name);

  // --- probe.cc ---
  void ScheduleProbe();
  void ProbeRound();
  NodeState* NextProbeTarget();
  void Probe(const std::string& name);
  void ProbeFailed(const std::string& name, uint32_t seq, int expected_nacks,
                   int nacks, bool fallback_ok);
  uint32_t NextSeq() { return ++seq_no_; }
  void ExpectAck(uint32_t seq, absl::Duration timeout,
                 std::function<void(bool ack)> on_result,
                 std::function<void()> on_timeout);
  // What one received datagram (or packet over the reliable path) may still
  // make this node send on its sender's behalf. A ping or a ping-req names
  // the addresses its answers go to (source_addr, target_addr), which nobody
  // vouches for: so one datagram gets at most one of them served (one ack,
  // or one ping and one ack/nack), and what goes to an address other than
  // the datagram's sender carries no piggybacked broadcasts. No datagram
  // then makes this node send more than one datagram, or many more bytes,
  // to a third party (no reflection, no amplification).
  struct RequestBudget {
    bool probe_served = false;
  };
  // Whether `budget` allows one more ping/ping-req; counts the refusal.
  bool TakeProbeBudget(RequestBudget& budget);
  void HandlePing(const ::peer::v1::Ping& ping, const std::string& from_addr);
  void HandleIndirectPing(const ::peer::v1::IndirectPing& req,
                          const std::string& from_addr);
  void HandleAck(const ::peer::v1::Ack& ack);
  // The coordinate an ack to our direct probe of `handler.probed` carried:
  // checked, then our coordinate moves (coordinate.h). Counts a refusal.
  void ObserveCoordinate(const AckHandler& handler,
                         const ::peer::v1::Coordinate& coordinate);
  void HandleNack(const ::peer::v1::Nack& nack);

  // --- gossip.cc ---
  void QueueBroadcast(const std::string& key,
                      const ::peer::v1::Message& message,
                      std::function<void()> on_done = nullptr);
  // An update about `about` (replacing the one queued about it).
  void QueueBroadcast(NodeState& about, const ::peer::v1::Message& message,
                      std::function<void()> on_done = nullptr);
  // Queues the notice of `about`'s claim (TakeVerifiedClaim's `notice`:
  // EncodeNoticeMessage of the alive).
  void QueueAlive(NodeState& about, StringPool::Ref notice);
  // `to` (here and below): the receiver's name when known, for the sender
  // tag that proves to it who sealed the datagram (empty: none).
  void SendWithPiggyback(const std::string& addr,
                         const ::peer::v1::Message& first,
                         const std::string& to = std::string());
  void SendMessages(const std::string& addr, std::vector<std::string> encoded,
                    const std::string& to = std::string());
  void ScheduleGossip();
  void GossipRound();
  void SchedulePushPull();
  void PushPullRound();
  // What a push/pull request carries and asks for.
  enum class Exchange {
    kFull,       // our whole state, theirs back
    kIntroduce,  // only ourselves, only them back (PushPull.self_only)
  };
  void PushPullWith(const std::string& addr, bool join,
                    std::function<void(absl::Status)> done,
                    Exchange exchange = Exchange::kFull,
                    const std::string& to = std::string());
  // Built in a spent message when there is one (PushPullPool).
  std::unique_ptr<::peer::v1::PushPull> MakePushPull(
      bool join, Exchange exchange = Exchange::kFull);
  void OnPacket(const std::string& from, const std::string& bytes);
  void LearnFromUnknown(const std::string& name, const std::string& addr);
  // A datagram after kSilencePeriods probe intervals of hearing nothing
  // (our ingress was down, the host slept): the group may have declared us
  // dead meanwhile, and nobody gossips that any more. One push/pull with a
  // member alive here (not the sender: it may have stopped hearing with
  // us) tells us at once, and we refute, instead of some member's
  // reconnect round seconds later (docs/membership.md, flipflop).
  void CatchUpAfterSilence(const std::string& sender, const std::string& addr);
  // While silent (see above), a ping to a member alive here twice per probe
  // interval: its ack tells us as soon as we hear again.
  void MaybeSilencePing();
  // `proven`: the sender the request's sender tag proved (nullptr: none).
  void OnReliable(const std::string& from,
                  const ::peer::v1::ReliableRequest& req,
                  Transport::ReliableDone respond,
                  const std::string* proven = nullptr);
  // Answers a push/pull with our state (as it was before merging) and
  // merges theirs.
  void AnswerPushPull(const ::peer::v1::PushPull& pp,
                      Transport::ReliableDone respond);
  // One message of a datagram from `from_addr`; `budget` is the
  // datagram's (see RequestBudget).
  void HandleMessage(const ::peer::v1::Message& message,
                     const std::string& from_addr, RequestBudget& budget);

  // --- direct.cc ---
  // A ReliableRequest.user_message: `proven`, the sender the request's tag
  // proved (nullptr: not proven; refused with a keyring).
  void HandleDirectMessage(const ::peer::v1::ReliableRequest& request,
                           const std::string* proven,
                           Transport::ReliableDone respond);
  // A gossiped ForceLeave.
  void HandleForceLeave(const ::peer::v1::ForceLeave& force);
  // Marks `m` left by force (or forgets it: `prune`); counts and tells.
  void ApplyForceLeave(NodeState& m, bool prune);
  // Called when this node declares `m` dead: a pending force-leave of it
  // (asked while it was suspect here) is applied now.
  void ApplyPendingForceLeave(NodeState& m);
  // Forgets `m` at once (record, probe order).
  void ForgetNode(NodeState& m);
  int user_messages_in_flight_ = 0;
  // Force-leaves of members suspect here, applied when this node declares
  // them dead: name -> (generation, incarnation, prune, until when). At most
  // kMaxPendingForceLeaves (the oldest dropped); kept reconnect-free:
  // an entry lasts Config::gossip_to_the_dead_time.
  struct PendingForceLeave {
    uint64_t generation = 0;
    uint64_t incarnation = 0;  // a refutation since cancels it
    bool prune = false;
    absl::Time until;
  };
  static constexpr size_t kMaxPendingForceLeaves = 256;
  std::map<std::string, PendingForceLeave> pending_force_leaves_;

  // --- key_catch_up.cc ---
  // Join without the catch-up (memberlist.cc): what JoinWithReport runs,
  // again after a catch-up when the first try was refused for its keys.
  void JoinOnce(const std::vector<std::string>& addrs,
                std::function<void(absl::StatusOr<JoinReport>)> done);
  // Answers a ReliableRequest.key_catch_up (see CatchUpKeys).
  void HandleCatchUpRequest(const std::string& from,
                            const ::peer::v1::ReliableRequest& request,
                            Transport::ReliableDone respond);
  struct CatchUpRound;
  // Checks one member's answer to `round`; installs its keyring when
  // valid. Errors say what was wrong with it.
  absl::Status TakeCatchUpAnswer(
      const CatchUpRound& round, const std::string& addr,
      const absl::StatusOr<::peer::v1::ReliableResponse>& response);
  void FinishCatchUp(absl::Status status);
  // Replaces the keyring with `ring` received from `responder`.
  void InstallCaughtUpKeys(Keyring ring, const std::string& responder,
                           const std::string& addr);
  // A refusal of this node's keys (a datagram or answer no key opened, or
  // a member saying it cannot decrypt our request) from `addr`: when
  // nothing opened here for a while, this node is the one behind: catch up.
  void NoteKeyRefusal(const std::string& addr);
  // Something sealed opened with this node's keys: they still work.
  void NoteOpened() { last_opened_ = scheduler_->Now(); }
  // Remembers a member leaving the table (dead long enough, or left) for
  // Config::retired_key_time, so it may still catch up.
  void RememberDeparted(const NodeState& node);
  // Retires `key` (removed from use) now; counts evictions.
  void RetireKey(const std::string& key);

  // Answers for the whole node: kCatchUpRate a second, bursts of
  // kCatchUpBurst (each costs an Ed25519 verification and an X25519
  // exchange, ~0.2 ms); one per name every kCatchUpPerName, at most
  // kMaxCatchUpNames names tracked. The asker: at most kMaxCatchUpTargets
  // members asked a round, rounds kCatchUpRetry apart, at most
  // kMaxCatchUpWaiters callers waiting on a round.
  static constexpr double kCatchUpRate = 10;
  static constexpr double kCatchUpBurst = 20;
  static constexpr absl::Duration kCatchUpPerName = absl::Seconds(2);
  static constexpr size_t kMaxCatchUpNames = 1024;
  static constexpr size_t kMaxCatchUpTargets = 3;
  static constexpr absl::Duration kCatchUpRetry = absl::Seconds(5);
  static constexpr size_t kMaxCatchUpWaiters = 16;
  std::optional<RetiredKeys> retired_;  // set with the keyring
  TokenBucket catch_up_bucket_{kCatchUpRate, kCatchUpBurst};
  std::unordered_map<std::string, absl::Time> catch_up_answered_;
  // Nonces of the last kMaxCatchUpNonces verified requests: a replayed
  // request (anyone can capture one) is refused before it takes its
  // name's answer, so replays cannot lock the real member out.
  static constexpr size_t kMaxCatchUpNonces = 1024;
  absl::flat_hash_set<std::string> catch_up_nonces_;
  std::deque<std::string> catch_up_nonce_order_;
  // Members no longer in the table, by name: their pinned key, generation
  // and when they left it; at most max_members (oldest forgotten first).
  struct Departed {
    std::string public_key;
    uint64_t generation = 0;
    absl::Time when;
  };
  std::unordered_map<std::string, Departed> departed_;
  std::deque<std::pair<std::string, absl::Time>> departed_order_;
  // The asker's side.
  std::shared_ptr<CatchUpRound> catch_up_round_;  // the round under way
  std::vector<std::function<void(absl::Status)>> catch_up_waiters_;
  absl::Time last_catch_up_ = absl::InfinitePast();
  absl::Status last_catch_up_status_;
  absl::Time last_opened_ = absl::InfinitePast();

  // --- encryption.cc ---
  struct PendingKeyOp {
    ::peer::v1::KeyOperation op;
    KeyOpResult result;
    std::set<std::string> answered;
    std::function<void(absl::StatusOr<KeyOpResult>)> done;
    runtime::Scheduler::TimerId timer = 0;        // the timeout
    runtime::Scheduler::TimerId retry_timer = 0;  // direct sends to the silent
  };
  // Largest datagram payload before sealing (packet_size less the sealing
  // overhead when encrypted).
  int PacketSize() const;
  // Adds the envelope to an encoded Packet (label; when encrypted, the
  // replay fields), and seals it when encrypted.
  // `to`: the receiver's name, if known (the sender tag).
  std::string SealPacket(std::string packet, const std::string& to);
  // The sealing fields for a datagram or request to member `to` (empty:
  // unknown): our name, generation, `seq`, and the pair key shared with
  // `to` when its node key is pinned.
  Sealer MakeSealer(uint64_t seq, const std::string& to);
  // The key this node shares with member `name` (PairKey), from a cache
  // keyed by its pinned public key; nullptr when no key is pinned to the
  // name, or none can be derived.
  const std::string* PairKeyWith(absl::string_view name);
  // Whether `plain` (an opened datagram or request claiming `name` as its
  // sealer) carries a sender tag that `name`'s pair key made for this node
  // (kProven), carries none or we know no key of `name` (kUnproven: a first
  // contact), or carries one that does not verify (kFailed: refused).
  // Counts the last two.
  enum class SenderProof { kProven, kUnproven, kFailed };
  SenderProof SenderProven(SealKind kind, const std::string& name, bool has_tag,
                           absl::string_view plain);
  // Whether a datagram's or request's envelope fits this node: a protocol
  // version it speaks and its group label. Counts and logs (once per
  // sender) what does not; `why` gets the refusal.
  bool AcceptEnvelope(const std::string& from, uint32_t version,
                      const std::string& label, std::string* why = nullptr);
  // AcceptEnvelope for a decoded datagram (OnPacket), and with a keyring the
  // replay window of its sender (from, sender_generation, sender_seq).
  // `bytes`: the opened datagram (its sender tag).
  bool AcceptPacket(const std::string& from, const std::string& bytes,
                    const ::peer::v1::Packet& packet);
  // With a keyring: whether (name, generation, seq) of a sealed datagram or
  // request from `addr` is new; counts and logs a refusal. Proven: checked
  // and recorded in replay_; unproven: checked against replay_ too, but
  // recorded only in unproven_replay_; failed: refused.
  bool AcceptReplay(ReplayGuard::Kind kind, const std::string& addr,
                    const std::string& name, uint64_t generation, uint64_t seq,
                    SenderProof proof);
  // Logs `text` unless it was logged for `key` already (at most
  // kMaxEnvelopeLogKeys keys, then forgotten all at once).
  void LogOnce(const std::string& key, const std::string& text);
  // The transport's entry points: open what arrives, then OnPacket /
  // OnReliable (whose answer is sealed on its way back).
  void ReceivePacket(const std::string& from, const std::string& bytes);
  void ReceiveReliable(const std::string& from,
                       const ::peer::v1::ReliableRequest& request,
                       Transport::ReliableDone respond);
  // transport_->SendReliable, sealing the request and opening the answer.
  void SendReliable(const std::string& addr,
                    ::peer::v1::ReliableRequest request, absl::Duration timeout,
                    Transport::ReliableDone done,
                    const std::string& to = std::string());
  // Applies a key operation to the local keyring; the error text if
  // refused.
  std::string ApplyKeyOp(const ::peer::v1::KeyOperation& op);
  // A gossiped key operation: applied once, re-gossiped, answered.
  void HandleKeyOp(const ::peer::v1::KeyOperation& op);
  // A key operation sent directly: applied once, answered in `respond`.
  void HandleDirectKeyOp(const ::peer::v1::KeyOperation& op,
                         Transport::ReliableDone respond);
  // Applies another member's operation the first time it is seen (and
  // re-gossips it); sets `*first`. The answer, for any time it is seen.
  ::peer::v1::KeyOperationAck ApplyRemoteKeyOp(
      const ::peer::v1::KeyOperation& op, bool* first);
  // Sends the operation directly to members that have not answered.
  void SendKeyOpDirectly(uint64_t id);
  void HandleKeyOpAck(const ::peer::v1::KeyOperationAck& ack);
  void RecordKeyOpAck(uint64_t id, const ::peer::v1::KeyOperationAck& ack);
  void FinishKeyOp(uint64_t id);

  // At most this many verified signatures a node remembers on its own.
  static constexpr size_t kSignatureCacheSize = 4096;
  // At most this many Ed25519 verifications (~50-100 us each) for one
  // datagram: a 1,400-byte datagram holds at most 7 signed alives, so 32
  // leaves room for packet sizes up to ~6 KB, while a 64 KiB datagram of
  // forged signatures costs 32 verifications, not ~400.
  static constexpr int kMaxVerificationsPerDatagram = 32;

  Config config_;
  runtime::Scheduler* const scheduler_;
  // The scheduler's time at construction: records keep the time of their
  // last change as nanoseconds since it, in 59 bits (NodeState).
  const absl::Time epoch_;
  absl::Time StateChange(const NodeState& node) const {
    return epoch_ + absl::Nanoseconds(node.state_change_ns);
  }
  void SetStateChange(NodeState& node, absl::Time t) const {
    // Beyond ±9.1 years of the start (a clock set far off): the nearest.
    constexpr int64_t kMax = (int64_t{1} << 58) - 1;
    node.state_change_ns =
        std::clamp<int64_t>(absl::ToInt64Nanoseconds(t - epoch_), -kMax, kMax);
  }
  // config_.logger (or the default), as component "membership", dated by
  // scheduler_.
  const runtime::ComponentLog log_;
  Transport* const transport_;
  EventListener* const events_;
  Delegate* const delegate_;
  Random rng_;
  Awareness awareness_;
  // Declared before everything holding its references.
  std::unique_ptr<StringPool> own_pool_;
  std::unique_ptr<ClaimPool> own_claims_;
  ClaimPool* const claims_;
  StringPool* const pool_;  // claims_->strings()
  BroadcastQueue broadcasts_;
  Stats stats_;
  std::unique_ptr<CoordinateClient> coords_;  // Config::coordinates, at Start

  // Every member record (a deque: records never move), free ones reused.
  std::deque<NodeState> nodes_;
  // The suspicions of suspect members (few), by record; kept in step by
  // StartSuspicion, SetState and RemoveNode.
  absl::flat_hash_map<const NodeState*, std::unique_ptr<Suspicion>> suspicions_;
  Suspicion* SuspicionOf(const NodeState& node) const {
    auto it = suspicions_.find(&node);
    return it == suspicions_.end() ? nullptr : it->second.get();
  }
  std::vector<uint32_t> free_nodes_;
  // Indices of the used records, by their name's number in claims_
  // (ClaimPool::NameNumber; kNoRecord: none), for Find(), which runs for
  // every message: 4 bytes a name the process knows, instead of a hash
  // set's 8 a record (a simulation of N members holds N² records). Kept in
  // step with nodes_ by IndexName and RemoveNode.
  static constexpr uint32_t kNoRecord = ~uint32_t{0};
  std::vector<uint32_t> by_name_;
  void IndexName(uint32_t index);
  // The index of the used record with the name numbered `number`, or
  // kNoRecord.
  uint32_t IndexByName(uint32_t number) const {
    return number < by_name_.size() ? by_name_[number] : kNoRecord;
  }
  // The index of `node` in nodes_ (REQUIRES: a used record).
  uint32_t IndexOf(const NodeState& node) const {
    return by_name_[node.name_number()];
  }
  NodeState* local_ = nullptr;
  int num_alive_ = 0;       // alive + suspect, kept by SetState and AddNode
  ProbeOrder probe_order_;  // indices into nodes_
  size_t probe_index_ = 0;
  uint32_t seq_no_ = 0;
  std::unordered_map<uint32_t, AckHandler> acks_;
  // Senders not in our table we introduced ourselves to, and when; at most
  // kMaxUnknownSenders (expired entries are dropped first; when all are
  // recent, further introductions are skipped and counted).
  static constexpr size_t kMaxUnknownSenders = 1024;
  std::unordered_map<std::string, absl::Time> unknown_senders_;
  // When the last datagram arrived (CatchUpAfterSilence); InfinitePast:
  // none yet.
  static constexpr int kSilencePeriods = 4;
  absl::Time last_heard_ = absl::InfinitePast();
  absl::Time last_silence_ping_ = absl::InfinitePast();
  // Rate limits of warnings a remote party can trigger: per name for
  // conflicts (at most kMaxUnknownSenders names, then cleared), one clock
  // for refused members.
  std::unordered_map<std::string, absl::Time> conflicts_logged_;
  absl::Time refusal_logged_ = absl::InfinitePast();
  uint64_t refusals_unlogged_ = 0;
  uint64_t generation_ = 0;                    // this node's, fixed at Start
  std::optional<identity::NodeKey> node_key_;  // set at Start at the latest
  SignatureCache own_signatures_{kSignatureCacheSize};
  SignatureCache* signatures_ = &own_signatures_;
  // While LearnConverged merges: a new member's alive is not queued.
  bool converged_start_ = false;
  // Verifications the datagram being handled may still use; -1: no limit
  // (push/pull, bounded by max_members).
  int verifications_left_ = -1;
  // One signature check (the cache first) under verifications_left_;
  // counts it. `*refused`: not checked, the datagram's budget is spent.
  bool CheckSignature(absl::string_view public_key, absl::string_view claim,
                      absl::string_view signature, bool* refused);
  bool replaced_ = false;  // see replaced()
  // Claims to fetch after the datagram being handled (HandleNotice), at
  // most kMaxWantPerRequest; and names whose fetch is under way, with when
  // it started (at most kMaxWanted; one older than reliable_timeout is
  // over), so a notice heard from many members costs one fetch.
  static constexpr int kMaxWantPerRequest = 64;
  static constexpr size_t kMaxWanted = 4096;
  std::vector<std::string> wants_;
  absl::flat_hash_map<std::string, absl::Time> wanted_;

  // Envelope refusals already logged, by "kind/sender" (LogOnce).
  static constexpr size_t kMaxEnvelopeLogKeys = 1024;
  absl::flat_hash_set<std::string> envelope_logged_;
  // Sequence numbers of this node's sealed datagrams and sealed reliable
  // requests (the receivers' replay windows); set at Start from the time.
  uint64_t send_seq_ = 0;
  uint64_t reliable_seq_ = 0;
  // Replay windows of the senders of sealed traffic (set with the keyring):
  // at most 2 * max_members senders, the least recently heard forgotten.
  // Only traffic whose sender tag verifies (proved to come from the node
  // it names) moves these windows, so no other key holder can make a
  // member's own traffic look old. Traffic without a verifiable tag (a
  // first contact: the sender does not know our key, or we not its) is
  // checked against unproven_replay_, bounded alike.
  std::unique_ptr<ReplayGuard> replay_;
  std::unique_ptr<ReplayGuard> unproven_replay_;
  // Pair keys by the peer's pinned public key (a failed derivation: empty);
  // at most kMaxPairKeys, then forgotten all at once (counted).
  static constexpr size_t kMaxPairKeys = 4096;
  absl::flat_hash_map<std::string, std::string> pair_keys_;

  std::optional<Keyring> keyring_;
  std::function<void(const Keyring&)> keyring_listener_;
  std::map<uint64_t, PendingKeyOp> key_ops_;  // originated here, by id
  // Key operations already applied ("origin/id" -> the refusal, empty if
  // applied), and their order, oldest first, to bound them.
  std::map<std::string, std::string> seen_key_ops_;
  std::deque<std::string> seen_key_ops_order_;

  bool started_ = false;
  bool shut_down_ = false;
  bool leaving_ = false;
  runtime::Scheduler::TimerId probe_timer_ = 0;
  runtime::Scheduler::TimerId gossip_timer_ = 0;
  runtime::Scheduler::TimerId push_pull_timer_ = 0;
  // Guards callbacks scheduled before destruction (timers, transport).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // --- A mass join: the gossip queue's bound (gossip.cc) ---
  // Config::max_queued_alives: after a drop, push/pulls with random
  // members, one an epidemic time apart, until one teaches nothing new and
  // nothing was dropped meanwhile. True while one is scheduled or under way.
  void NoteAliveDrops();
  void ScheduleDropCatchUp();
  // When a catch-up push/pull runs (ScheduleCatchUp): draws from rng_.
  absl::Duration CatchUpDelay();
  bool drop_catch_up_pending_ = false;
  // Drop catch-ups that failed in a row, and how many may before they end.
  int failed_drop_catch_ups_ = 0;
  static constexpr int kMaxFailedDropCatchUps = 8;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_H_
