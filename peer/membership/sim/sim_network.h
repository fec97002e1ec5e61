// SimNetwork: a deterministic, in-process network of simulated nodes for the
// membership protocol.
//
// Design
// ------
// One runtime::SimClock (peer/runtime/sim_clock.h) holds the virtual time
// and one event heap for everything: every node's timers, every datagram
// and reliable call in flight, and the test driver's own scheduled actions. The
// clock runs events one at a time in the calling thread, in (time, sequence)
// order, so a run is a pure function of the seed: same seed, same trace, same
// numbers. Nothing touches real time, real sockets or other threads; addresses
// such as "10.0.0.7:7946" are only map keys.
//
// Each node added with AddNode() gets a SimScheduler (runtime::Scheduler)
// and a SimTransport (membership::Transport). The protocol under test
// (Memberlist) takes those two and NodeSeed(id), and runs unchanged.
//
// Randomness. Everything derives from SimNetworkOptions::seed: one generator
// for the network (loss, jitter, duplication), one per node for its lags, and
// NodeSeed() for the protocol's own Random. A random number is drawn only when
// the feature that needs it is on (a lossless link draws no loss), so turning
// on, say, timer lag for one node changes nothing else's draws.
//
// Datagrams. SendPacket() counts the bytes sent, then drops the packet if
// the destination is unknown, it is larger than max_packet_bytes, the link is
// cut or partitioned, or the loss draw says so; otherwise it arrives after the
// link's latency plus a uniform jitter in [0, jitter) plus the receiver's
// inbound lag (see Slowness), possibly duplicated (duplicate_rate). Jitter
// reorders packets, as UDP may. Cuts and partitions are checked again on
// arrival, so cutting a link also loses what is in flight on it. A datagram is
// one message event on the clock: no allocation beyond the payload itself.
//
// Reliable calls. SendReliable()'s request arrives after the link latency
// (plus inbound lag), the handler's respond() sends the response back with
// the reverse link's latency, and `done` runs on the caller's scheduler. The
// link's loss never touches them; a fault plan's `drop` does: when the
// caller's plan drops what it sends to the callee, or the callee's what it
// sends to the caller, the call is a TCP connection over that lossy path
// (tcp_model.h): the handshake and the request's segments delay its arrival,
// the response's segments delay the answer, each drawn from the network's
// own TCP generator (nothing is drawn for a call with no such loss), and a
// phase that cannot end before the caller's deadline never ends (counted in
// NodeStats::reliable_lossy_missed). If the request or the response cannot
// get through (cut, partition, the callee crashed or is frozen past the
// deadline), `done` gets DeadlineExceeded when `timeout` expires, as a gRPC
// call to a host that does not answer. Unavailable comes back after one round
// trip when the address is unknown or the callee's transport is shut down (a
// closed port answers), and at once for a call made on a shut-down transport.
// With crashed_refuses_connections, a crashed node also answers Unavailable (a
// killed process on a live host) instead of staying silent.
//
// Faults.
//   - Each node has a runtime::FaultPlan (peer/runtime/fault_plan.h, the one
//     fault plan of the real transports too) for what it sends: per
//     destination address drop, delay and jitter, one-way block,
//     duplication, reordering, and for reliable calls fail, hang or delay.
//     It applies to the sealed bytes the protocol hands the transport, so a
//     duplicate is a real replay. Datagrams: after the link's loss draw; a
//     held-back copy arrives its plan delay later than the link would
//     bring it. Reliable calls: a request that fails or hangs never
//     leaves; a delayed one leaves later; `drop` makes them a TCP
//     connection on a lossy path (above). The plan draws from its own
//     generator (seeded from the network's seed and the node), so a plan on
//     one node changes nobody else's draws.
//   - Cut(a, b): one way, a block rule in a's plan: a's packets and calls to b
//     are lost (a blocked call is silence here: the deadline answers), b
//     still reaches a. Partition(groups): nodes in different groups cannot
//     reach each other (nodes in no group form one more group); kept as
//     groups, not as N^2 block rules, so that 10,000 nodes partition in
//     O(N). Heal(): no groups, and no block rule in any plan.
//   - Crash(id): the node stops at once. Its pending timers and callbacks never
//     run, it sends nothing, and whatever reaches it is dropped. Restart(id)
//     brings it back with a NEW SimScheduler and SimTransport (a new process:
//     build a new protocol object on them); the old ones stay valid objects
//     but do nothing. Its address, links, partition group and slowness stay.
//   - Freeze(id): nothing of the node runs until Unfreeze(id): its timers and
//     everything that reaches it (datagrams, reliable requests, responses)
//     QUEUE, as a paused process whose socket buffers fill; on Unfreeze they
//     all run at once, in their original order. Nothing is dropped because of
//     a freeze (the queue is unbounded). Callers of a frozen node time out.
//   - DropIngress(id, except): a host firewall's stateless INPUT DROP:
//     nothing sent to the node arrives (datagrams, reliable requests, and
//     the responses to its own calls), except from the nodes in `except`,
//     until OpenIngress(id). Checked on arrival, so what is in flight is
//     lost too; what the node sends still leaves. Counted at the receiver
//     (NodeStats::ingress_dropped). Kept per node, so flip-flopping K nodes
//     costs O(K), not O(N) rules.
//   - SetSlowness(id, {timer_lag, inbound_lag}): an overloaded host or one
//     with GC pauses. Each timer (After() with a positive delay) runs late by
//     a uniform random [0, timer_lag]; each arrival (datagram, reliable
//     request, reliable completion) is handled late by [0, inbound_lag]. Post()
//     and After(0) are not delayed, so a task's continuations keep their order.
//
// Accounting. Per node: datagrams and bytes sent, received and dropped;
// reliable calls made, served and failed, and their bytes (the serialized
// size: ByteSizeLong() of requests and responses). An optional packet
// observer sees every datagram's fate, for traces and plots.
//
// Adversaries (sim_adversary.h). A packet tap sees the bytes of every
// datagram delivered (a wire tap, for capture and replay), and
// SendSpoofedPacket sends a datagram whose receiver sees another source
// address than the sender's (a forged UDP source). Both are deterministic
// like everything else.
//
// Scale: 10,000 nodes and millions of events per run. Heap entries are 24
// bytes, event slots are reused, node lookup by address is a hash map and
// everything else is by index.
//
// Thread safety: none. A SimNetwork, its clock, schedulers and transports are
// used from one thread; the schedulers' Post() is NOT callable from other
// threads (the simulation has none).
#ifndef PEERLAB_PEER_MEMBERSHIP_SIM_SIM_NETWORK_H_
#define PEERLAB_PEER_MEMBERSHIP_SIM_SIM_NETWORK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/membership/transport.h"
#include "peer/runtime/fault_plan.h"
#include "peer/runtime/scheduler.h"
#include "peer/runtime/sim_clock.h"

namespace peerlab::membership::sim {

// Index of a node in its SimNetwork, 0-based, in the order of AddNode().
using NodeId = uint32_t;
inline constexpr NodeId kNoNode = ~NodeId{0};

// One direction of a link.
struct LinkOptions {
  // One-way delay of every datagram and reliable message.
  absl::Duration latency = absl::Milliseconds(1);
  // Plus a uniform random [0, jitter) per datagram (reorders packets).
  absl::Duration jitter = absl::Microseconds(500);
  // Probability that a datagram is lost, in [0, 1]. Reliable calls are never
  // lost (a fault plan's `drop` is what slows them: see the file comment).
  double loss = 0.0;
};

// How late a slow node handles its work (see the file comment).
struct Slowness {
  absl::Duration timer_lag = absl::ZeroDuration();
  absl::Duration inbound_lag = absl::ZeroDuration();
};

struct NodeStats {
  uint64_t packets_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t packets_received = 0;  // delivered to the on_packet handler
  uint64_t bytes_received = 0;
  uint64_t packets_dropped = 0;      // sent by this node, never delivered
  uint64_t reliable_calls = 0;       // SendReliable() on a working transport
  uint64_t reliable_served = 0;      // requests handed to on_reliable
  uint64_t reliable_failed = 0;      // calls whose `done` got an error
  uint64_t reliable_bytes_sent = 0;  // requests made + responses given
  uint64_t reliable_bytes_received = 0;  // requests served + responses got
  // Datagrams, reliable requests and responses to this node that its
  // ingress drop (SimNetwork::DropIngress) stopped.
  uint64_t ingress_dropped = 0;
  // Calls made on a lossy path (a fault plan's `drop` on the caller's or
  // the callee's side: tcp_model.h), and those of them whose request or
  // response the losses kept from arriving before the caller's deadline.
  uint64_t reliable_lossy = 0;
  uint64_t reliable_lossy_missed = 0;

  NodeStats& operator+=(const NodeStats& other);
};

// The fate of one datagram, for SimNetwork::SetPacketObserver.
struct PacketEvent {
  enum class Outcome {
    kDelivered,
    kLost,          // the loss draw
    kUnreachable,   // cut or partitioned (at send or on arrival)
    kNoSuchNode,    // unknown address; `to` is kNoNode
    kOversize,      // larger than max_packet_bytes
    kReceiverDown,  // crashed, transport shut down, or no handler
  };
  absl::Time time;
  NodeId from;
  NodeId to;
  size_t bytes;
  Outcome outcome;
};

struct SimNetworkOptions {
  // The one seed everything derives from.
  uint64_t seed = 1;
  // Virtual time at the start.
  absl::Time start = absl::UnixEpoch();
  // Every link's options unless SetLink() overrides one.
  LinkOptions link;
  // Probability that a delivered datagram arrives twice.
  double duplicate_rate = 0.0;
  // Datagrams larger than this are dropped (0: no limit).
  size_t max_packet_bytes = 0;
  // A crashed node refuses reliable calls (Unavailable after a round trip)
  // instead of never answering (DeadlineExceeded at the timeout).
  bool crashed_refuses_connections = false;
  // Port of the generated addresses.
  int port = 7946;
};

class SimNetwork;

// A node's runtime::Scheduler: its tasks are events of the shared clock,
// owned by the node (so they stop when it crashes and wait while it is
// frozen). TimerIds are the clock's event ids. Owned by the SimNetwork.
// Not thread-safe (see the file comment).
class SimScheduler final : public runtime::Scheduler {
 public:
  SimScheduler(const SimScheduler&) = delete;
  SimScheduler& operator=(const SimScheduler&) = delete;

  absl::Time Now() const override;
  // Delayed by the node's timer lag when `delay` > 0. Returns 0 (and drops
  // the task) if this scheduler's node crashed since it was made.
  TimerId After(absl::Duration delay, Task task) override;
  void Cancel(TimerId id) override;
  // After(0).
  void Post(Task task) override;

  NodeId node() const { return node_; }

 private:
  friend class SimNetwork;
  SimScheduler(SimNetwork* network, NodeId node, uint32_t epoch)
      : network_(network), node_(node), epoch_(epoch) {}

  SimNetwork* const network_;
  const NodeId node_;
  const uint32_t epoch_;
};

// A node's membership::Transport on the SimNetwork. Handlers run as tasks of
// the node's SimScheduler. Owned by the SimNetwork. Not thread-safe.
class SimTransport final : public Transport {
 public:
  SimTransport(const SimTransport&) = delete;
  SimTransport& operator=(const SimTransport&) = delete;

  void SetHandlers(Handlers handlers) override;
  std::string LocalAddress() const override;
  void SendPacket(const std::string& to, std::string bytes) override;
  void SendReliable(const std::string& to, ::peer::v1::ReliableRequest request,
                    absl::Duration timeout, ReliableDone done) override;
  // Later sends are dropped, arrivals are dropped, and pending calls
  // complete with Cancelled (as tasks, in the order they were made).
  void Shutdown() override;

  bool is_shut_down() const { return shut_down_; }
  NodeId node() const { return node_; }

 private:
  friend class SimNetwork;
  struct PendingCall {
    ReliableDone done;
    runtime::SimClock::EventId timeout_event = 0;
  };

  SimTransport(SimNetwork* network, NodeId node, uint32_t epoch)
      : network_(network), node_(node), epoch_(epoch) {}

  // Completes call `call_id` with `result` (of `bytes` serialized, when
  // ok) if it is still pending.
  void Complete(uint64_t call_id,
                absl::StatusOr<::peer::v1::ReliableResponse> result,
                size_t bytes = 0);

  SimNetwork* const network_;
  const NodeId node_;
  const uint32_t epoch_;
  Handlers handlers_;
  bool shut_down_ = false;
  uint64_t next_call_id_ = 1;
  absl::flat_hash_map<uint64_t, PendingCall> pending_;
};

// The network: nodes, links and faults, on one SimClock. Not thread-safe.
class SimNetwork final : private runtime::SimClock::Gate,
                         private runtime::SimClock::MessageSink {
 public:
  explicit SimNetwork(SimNetworkOptions options = {});
  ~SimNetwork() override;
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // The shared clock: run the simulation with its Run*() methods; schedule
  // driver actions (crash node 5 at t = 10 s) with Schedule().
  runtime::SimClock& clock() { return clock_; }
  absl::Time Now() const { return clock_.Now(); }
  uint64_t seed() const { return options_.seed; }
  const SimNetworkOptions& options() const { return options_; }

  // --- Nodes ---------------------------------------------------------------

  // Adds a node with the next generated address: the n-th call gets
  // "10.A.B.C:port" where A.B.C is n in base 256 ("10.0.0.1:7946" first),
  // skipping addresses AddNodeWithAddress() took; with AddNode() alone, node
  // i has address number i + 1.
  NodeId AddNode();
  // Adds a node with the given address. InvalidArgument if it is empty;
  // AlreadyExists if a node has it.
  absl::StatusOr<NodeId> AddNodeWithAddress(std::string address);
  size_t size() const { return nodes_.size(); }
  // The node with `address`, if any.
  std::optional<NodeId> Find(absl::string_view address) const;
  // REQUIRES (for every method taking a NodeId): id < size().
  const std::string& address(NodeId id) const;
  // The node's current scheduler and transport (replaced by Restart()).
  // Owned by the network; valid until it is destroyed.
  SimScheduler* scheduler(NodeId id);
  SimTransport* transport(NodeId id);
  // A seed for the protocol running on the node, derived from the network
  // seed, the node and its incarnation (it changes on Restart()).
  uint64_t NodeSeed(NodeId id) const;

  // --- Links ---------------------------------------------------------------

  // Options of every link without its own.
  void SetDefaultLink(const LinkOptions& link) { options_.link = link; }
  // Sets the global loss rate (the default link's).
  void SetLossRate(double loss) { options_.link.loss = loss; }
  // Gives the link from -> to (one way) its own options.
  void SetLink(NodeId from, NodeId to, const LinkOptions& link);
  // Back to the default options.
  void ClearLink(NodeId from, NodeId to);
  // The options in force on from -> to.
  const LinkOptions& Link(NodeId from, NodeId to) const;

  // The fault plan of what node `id` sends (see the file comment), made on
  // first use. Owned by the network; valid until it is destroyed (kept
  // across Restart, as the node's links are).
  runtime::FaultPlan& faults(NodeId id);

  // One-way cut: `from` cannot reach `to`; `to` still reaches `from`. A
  // block rule for `to`'s address in `from`'s plan (Uncut sets it off).
  void Cut(NodeId from, NodeId to);
  void Uncut(NodeId from, NodeId to);
  // Splits the network: each group reaches only itself; nodes not listed
  // form one more group. Replaces any earlier partition.
  void Partition(const std::vector<std::vector<NodeId>>& groups);
  // Removes the partition and every block rule (cuts included).
  void Heal();
  // Whether the network lets `from` reach `to` now (partitions, block
  // rules and ingress drops only; nodes' states do not matter).
  bool Reachable(NodeId from, NodeId to) const;

  // Drops everything arriving at `id` except from the nodes in `except`
  // (see the file comment), replacing an earlier ingress drop of `id`.
  // Kept across Crash/Restart (a host's firewall); Heal() does not lift it.
  void DropIngress(NodeId id, const std::vector<NodeId>& except = {});
  // Lifts `id`'s ingress drop (no-op without one).
  void OpenIngress(NodeId id);
  // Whether `id` has an ingress drop now.
  bool ingress_dropped(NodeId id) const { return node(id).ingress != nullptr; }

  // --- Node faults ---------------------------------------------------------

  // Stops the node (see the file comment). No-op if it is crashed already.
  void Crash(NodeId id);
  // Brings a crashed node back with a new scheduler and transport. No-op if
  // it is not crashed.
  void Restart(NodeId id);
  bool crashed(NodeId id) const;

  // Stops running the node's events until Unfreeze() (see the file comment).
  void Freeze(NodeId id);
  // Freeze(), and Unfreeze() after `duration` of virtual time.
  void FreezeFor(NodeId id, absl::Duration duration);
  // Runs everything queued while frozen, now, in order.
  void Unfreeze(NodeId id);
  bool frozen(NodeId id) const;

  void SetSlowness(NodeId id, const Slowness& slowness);

  // --- Accounting ----------------------------------------------------------

  const NodeStats& stats(NodeId id) const;
  // The sum over all nodes.
  NodeStats TotalStats() const;
  // A hash of the run's trace: every datagram delivered (arrival time,
  // sender, receiver, size), every reliable request served and every
  // reliable completion (time, caller, callee, size or status code), in the
  // order they happened. Always kept (a few multiplications per message);
  // two runs with the same seed and the same driver give the same hash,
  // and any difference in what was delivered, to whom or when changes it.
  uint64_t trace_hash() const { return trace_hash_; }
  // Calls `observer` with every datagram's fate (nullptr: none). Delivered
  // datagrams are reported just before the handler runs.
  void SetPacketObserver(std::function<void(const PacketEvent&)> observer) {
    packet_observer_ = std::move(observer);
  }

  // --- Adversaries -----------------------------------------------------------

  // Calls `tap` with every datagram delivered, just before the receiver's
  // handler runs (after the packet observer): the real sender, the
  // receiver, the source address the receiver sees, and the bytes. nullptr:
  // none. The tap must not send from inside the call (schedule instead).
  using PacketTap = std::function<void(NodeId from, NodeId to,
                                       const std::string& from_address,
                                       const std::string& bytes)>;
  void SetPacketTap(PacketTap tap) { packet_tap_ = std::move(tap); }

  // As `sender`'s transport SendPacket (its link, cuts, loss and stats), but
  // the receiver's handler is told the datagram came from `apparent_from`,
  // which need not be any node's address: a forged UDP source. Dropped
  // (counted) if `sender` is crashed.
  void SendSpoofedPacket(NodeId sender, std::string apparent_from,
                         const std::string& to, std::string bytes);

 private:
  friend class SimScheduler;
  friend class SimTransport;

  // An ingress drop: the senders still let in.
  struct Ingress {
    absl::flat_hash_set<NodeId> except;
  };
  struct Node {
    std::string address;
    uint32_t epoch = 0;  // incremented by Crash()
    bool crashed = false;
    bool frozen = false;
    uint64_t unfreeze_token = 0;  // invalidates pending FreezeFor timers
    uint32_t partition_group = 0;
    Slowness slowness;
    std::mt19937_64 rng;  // this node's lag draws
    NodeStats stats;
    std::vector<runtime::SimClock::EventId> deferred;  // while frozen, in order
    std::unique_ptr<runtime::FaultPlan> faults;        // made by faults(id)
    std::unique_ptr<Ingress> ingress;                  // see DropIngress()
    std::unique_ptr<SimScheduler> scheduler;
    std::unique_ptr<SimTransport> transport;
    // Schedulers and transports of earlier incarnations, kept so that
    // pointers the old protocol objects hold stay valid.
    std::vector<std::unique_ptr<SimScheduler>> old_schedulers;
    std::vector<std::unique_ptr<SimTransport>> old_transports;
  };

  static uint64_t LinkKey(NodeId from, NodeId to) {
    return (uint64_t{from} << 32) | to;
  }
  Node& node(NodeId id);
  const Node& node(NodeId id) const;
  NodeId AddNodeInternal(std::string address);
  // The node's plan when it has rules; nullptr otherwise.
  runtime::FaultPlan* PlanOf(NodeId id) const;
  // Whether `to`'s ingress drop stops what `from` sends.
  bool IngressBlocks(NodeId from, NodeId to) const;
  // Reachable(), and when only `to`'s ingress drop stops it, counted in
  // `to`'s ingress_dropped. For arrivals and calls, not public queries.
  bool Passes(NodeId from, NodeId to);
  // Whether the scheduler/transport of (id, epoch) is the live one.
  bool IsCurrent(NodeId id, uint32_t epoch) const;

  // Uniform in [0, 1) / [0, max] from the network or a node's generator.
  double NetworkUniform();
  static absl::Duration Lag(std::mt19937_64& rng, absl::Duration max);
  // Latency + jitter draw for one message on from -> to.
  absl::Duration Delay(NodeId from, NodeId to, bool with_jitter);
  void ReportPacket(NodeId from, NodeId to, size_t bytes,
                    PacketEvent::Outcome outcome);
  // Folds one delivered message into trace_hash_ (kind: 1 datagram, 2
  // reliable request, 3 reliable completion).
  void Trace(uint64_t kind, NodeId from, NodeId to, uint64_t size);

  // Scheduling on behalf of SimScheduler.
  runtime::SimClock::EventId ScheduleTask(NodeId id, uint32_t epoch,
                                          absl::Duration delay,
                                          runtime::Scheduler::Task task);
  // On behalf of SimTransport (and SendSpoofedPacket, with the source the
  // receiver sees; nullptr: the sender's own address).
  void SendPacket(NodeId from, const std::string& to, std::string bytes,
                  const std::string* apparent_from = nullptr);
  // A datagram from -> to arrives, seen as coming from `from_address`.
  void Deliver(NodeId from, NodeId to, const std::string& from_address,
               const std::string& payload);
  void SendReliable(NodeId from, uint32_t from_epoch, const std::string& to,
                    ::peer::v1::ReliableRequest request, absl::Duration timeout,
                    Transport::ReliableDone done);
  // The callee side of a reliable call, on arrival; `deadline`: the
  // caller's.
  void ServeRequest(NodeId caller, uint32_t caller_epoch, NodeId callee,
                    uint64_t call_id, absl::Time deadline,
                    const ::peer::v1::ReliableRequest& request,
                    size_t request_bytes);
  // Sends `result` from `callee` back to call `call_id` of `caller`.
  void Respond(NodeId caller, uint32_t caller_epoch, NodeId callee,
               uint32_t callee_epoch, uint64_t call_id, absl::Time deadline,
               absl::StatusOr<::peer::v1::ReliableResponse> result);
  // The share of what `from`'s fault plan drops on its way to `to` (0 when
  // none).
  double EgressDrop(NodeId from, NodeId to) const;
  // What the losses of a lossy path (tcp_model.h) add to one phase of a
  // call between `caller` and `callee` that must end within `limit`:
  // the handshake too when `handshake`; `from_caller`: the caller sends
  // the data. nullopt: it does not end in time (counted as a miss).
  std::optional<absl::Duration> LossyPathDelay(NodeId caller, NodeId callee,
                                               bool handshake, bool from_caller,
                                               size_t bytes,
                                               absl::Duration limit);
  // Completes call `call_id` of (caller, epoch) after `delay`, as a task of
  // the caller (plus its inbound lag); `bytes`: the response's size.
  void CompleteLater(NodeId caller, uint32_t caller_epoch, uint64_t call_id,
                     absl::Duration delay,
                     absl::StatusOr<::peer::v1::ReliableResponse> result,
                     size_t bytes = 0);

  // SimClock::Gate.
  Verdict Admit(uint32_t owner, uint32_t epoch) override;
  void Defer(uint32_t owner, runtime::SimClock::EventId id) override;
  // SimClock::MessageSink: a datagram arrives; tag = LinkKey(from, to).
  void DeliverMessage(uint64_t tag, std::string payload) override;

  SimNetworkOptions options_;
  runtime::SimClock clock_;
  std::mt19937_64 rng_;
  std::mt19937_64 tcp_rng_;  // draws of calls on lossy paths only
  std::vector<std::unique_ptr<Node>> nodes_;
  absl::flat_hash_map<std::string, NodeId> by_address_;
  absl::flat_hash_map<uint64_t, LinkOptions> links_;
  bool partitioned_ = false;
  int ingress_drops_ = 0;  // nodes with an ingress drop (fast path: 0)
  uint64_t generated_addresses_ = 0;
  uint64_t trace_hash_ = 0;
  std::function<void(const PacketEvent&)> packet_observer_;
  PacketTap packet_tap_;
};

}  // namespace peerlab::membership::sim

#endif  // PEERLAB_PEER_MEMBERSHIP_SIM_SIM_NETWORK_H_
