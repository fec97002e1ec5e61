#include "peer/membership/sim/sim_network.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/push_pull_pool.h"
#include "peer/membership/sim/tcp_model.h"

namespace peerlab::membership::sim {
namespace {

// SplitMix64: turns related inputs (seed, node, purpose) into unrelated
// generator seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t DeriveSeed(uint64_t seed, uint64_t purpose, uint64_t node,
                    uint64_t epoch) {
  return Mix(Mix(Mix(Mix(seed) ^ purpose) ^ node) ^ epoch);
}

constexpr uint64_t kNetworkPurpose = 1;
constexpr uint64_t kLagPurpose = 2;
constexpr uint64_t kProtocolPurpose = 3;
constexpr uint64_t kFaultPlanPurpose = 4;
constexpr uint64_t kTcpPurpose = 5;

}  // namespace

NodeStats& NodeStats::operator+=(const NodeStats& o) {
  packets_sent += o.packets_sent;
  bytes_sent += o.bytes_sent;
  packets_received += o.packets_received;
  bytes_received += o.bytes_received;
  packets_dropped += o.packets_dropped;
  reliable_calls += o.reliable_calls;
  reliable_served += o.reliable_served;
  reliable_failed += o.reliable_failed;
  reliable_bytes_sent += o.reliable_bytes_sent;
  reliable_bytes_received += o.reliable_bytes_received;
  ingress_dropped += o.ingress_dropped;
  reliable_lossy += o.reliable_lossy;
  reliable_lossy_missed += o.reliable_lossy_missed;
  return *this;
}

// --- SimScheduler ------------------------------------------------------------

absl::Time SimScheduler::Now() const { return network_->Now(); }

runtime::Scheduler::TimerId SimScheduler::After(absl::Duration delay,
                                                Task task) {
  return network_->ScheduleTask(node_, epoch_, delay, std::move(task));
}

void SimScheduler::Cancel(TimerId id) {
  network_->clock_.CancelOwned(id, node_);
}

void SimScheduler::Post(Task task) {
  network_->ScheduleTask(node_, epoch_, absl::ZeroDuration(), std::move(task));
}

// --- SimTransport ------------------------------------------------------------

void SimTransport::SetHandlers(Handlers handlers) {
  handlers_ = std::move(handlers);
}

std::string SimTransport::LocalAddress() const {
  return network_->address(node_);
}

void SimTransport::SendPacket(const std::string& to, std::string bytes) {
  if (shut_down_ || !network_->IsCurrent(node_, epoch_)) return;
  network_->SendPacket(node_, to, std::move(bytes));
}

void SimTransport::SendReliable(const std::string& to,
                                ::peer::v1::ReliableRequest request,
                                absl::Duration timeout, ReliableDone done) {
  if (!network_->IsCurrent(node_, epoch_)) return;
  network_->SendReliable(node_, epoch_, to, std::move(request), timeout,
                         std::move(done));
}

void SimTransport::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (!network_->IsCurrent(node_, epoch_)) {
    pending_.clear();
    return;
  }
  // Complete pending calls in the order they were made (hash map order is
  // not deterministic across processes).
  std::vector<std::pair<uint64_t, PendingCall>> calls(
      std::make_move_iterator(pending_.begin()),
      std::make_move_iterator(pending_.end()));
  pending_.clear();
  std::sort(calls.begin(), calls.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [id, call] : calls) {
    network_->clock_.Cancel(call.timeout_event);
    ++network_->node(node_).stats.reliable_failed;
    network_->ScheduleTask(node_, epoch_, absl::ZeroDuration(),
                           [done = std::move(call.done)]() mutable {
                             done(absl::CancelledError("transport shut down"));
                           });
  }
}

void SimTransport::Complete(uint64_t call_id,
                            absl::StatusOr<::peer::v1::ReliableResponse> result,
                            size_t bytes) {
  auto it = pending_.find(call_id);
  if (it == pending_.end()) return;  // timed out, or answered already
  PendingCall call = std::move(it->second);
  pending_.erase(it);
  network_->clock_.Cancel(call.timeout_event);
  NodeStats& stats = network_->node(node_).stats;
  if (result.ok()) {
    stats.reliable_bytes_received += bytes;
    network_->Trace(3, node_, static_cast<NodeId>(call_id), bytes);
  } else {
    ++stats.reliable_failed;
    network_->Trace(
        3, node_, static_cast<NodeId>(call_id),
        (uint64_t{1} << 40) | static_cast<uint64_t>(result.status().code()));
  }
  call.done(std::move(result));
}

// --- SimNetwork: nodes -------------------------------------------------------

SimNetwork::SimNetwork(SimNetworkOptions options)
    : options_(std::move(options)),
      clock_(options_.start),
      rng_(DeriveSeed(options_.seed, kNetworkPurpose, 0, 0)),
      tcp_rng_(DeriveSeed(options_.seed, kTcpPurpose, 0, 0)) {
  clock_.SetGate(this);
}

SimNetwork::~SimNetwork() { clock_.SetGate(nullptr); }

SimNetwork::Node& SimNetwork::node(NodeId id) { return *nodes_[id]; }
const SimNetwork::Node& SimNetwork::node(NodeId id) const {
  return *nodes_[id];
}

NodeId SimNetwork::AddNode() {
  for (;;) {
    const uint64_t n = ++generated_addresses_;
    std::string address =
        absl::StrCat("10.", (n >> 16) & 0xff, ".", (n >> 8) & 0xff, ".",
                     n & 0xff, ":", options_.port);
    // Skip an address a node added by AddNodeWithAddress() took.
    if (!by_address_.contains(address)) {
      return AddNodeInternal(std::move(address));
    }
  }
}

absl::StatusOr<NodeId> SimNetwork::AddNodeWithAddress(std::string address) {
  if (address.empty()) return absl::InvalidArgumentError("empty address");
  if (by_address_.contains(address)) {
    return absl::AlreadyExistsError(
        absl::StrCat("a node has address ", address));
  }
  return AddNodeInternal(std::move(address));
}

NodeId SimNetwork::AddNodeInternal(std::string address) {
  const NodeId id = static_cast<NodeId>(nodes_.size());
  auto n = std::make_unique<Node>();
  n->address = address;
  n->rng.seed(DeriveSeed(options_.seed, kLagPurpose, id, 0));
  n->scheduler.reset(new SimScheduler(this, id, 0));
  n->transport.reset(new SimTransport(this, id, 0));
  nodes_.push_back(std::move(n));
  by_address_.emplace(std::move(address), id);
  return id;
}

std::optional<NodeId> SimNetwork::Find(absl::string_view address) const {
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

const std::string& SimNetwork::address(NodeId id) const {
  return node(id).address;
}

SimScheduler* SimNetwork::scheduler(NodeId id) {
  return node(id).scheduler.get();
}

SimTransport* SimNetwork::transport(NodeId id) {
  return node(id).transport.get();
}

uint64_t SimNetwork::NodeSeed(NodeId id) const {
  return DeriveSeed(options_.seed, kProtocolPurpose, id, node(id).epoch);
}

bool SimNetwork::IsCurrent(NodeId id, uint32_t epoch) const {
  const Node& n = node(id);
  return !n.crashed && n.epoch == epoch;
}

// --- SimNetwork: links -------------------------------------------------------

void SimNetwork::SetLink(NodeId from, NodeId to, const LinkOptions& link) {
  links_[LinkKey(from, to)] = link;
}

void SimNetwork::ClearLink(NodeId from, NodeId to) {
  links_.erase(LinkKey(from, to));
}

const LinkOptions& SimNetwork::Link(NodeId from, NodeId to) const {
  if (!links_.empty()) {
    auto it = links_.find(LinkKey(from, to));
    if (it != links_.end()) return it->second;
  }
  return options_.link;
}

runtime::FaultPlan& SimNetwork::faults(NodeId id) {
  Node& n = node(id);
  if (!n.faults) {
    n.faults = std::make_unique<runtime::FaultPlan>(runtime::FaultPlan::Options{
        .seed = DeriveSeed(options_.seed, kFaultPlanPurpose, id, 0)});
  }
  return *n.faults;
}

runtime::FaultPlan* SimNetwork::PlanOf(NodeId id) const {
  runtime::FaultPlan* plan = node(id).faults.get();
  return plan != nullptr && !plan->empty() ? plan : nullptr;
}

void SimNetwork::Cut(NodeId from, NodeId to) {
  runtime::FaultRule block;
  block.block = true;
  faults(from).Set(address(to), block).IgnoreError();  // valid, bounded
}

void SimNetwork::Uncut(NodeId from, NodeId to) {
  if (node(from).faults == nullptr) return;
  runtime::FaultRule open;
  open.block = false;
  faults(from).Set(address(to), open).IgnoreError();
}

void SimNetwork::Partition(const std::vector<std::vector<NodeId>>& groups) {
  for (auto& n : nodes_) n->partition_group = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (NodeId id : groups[g]) {
      node(id).partition_group = static_cast<uint32_t>(g + 1);
    }
  }
  partitioned_ = true;
}

void SimNetwork::Heal() {
  if (partitioned_) {
    for (auto& n : nodes_) n->partition_group = 0;
    partitioned_ = false;
  }
  for (auto& n : nodes_) {
    if (n->faults) n->faults->ClearBlocks();
  }
}

bool SimNetwork::Reachable(NodeId from, NodeId to) const {
  if (partitioned_ && node(from).partition_group != node(to).partition_group) {
    return false;
  }
  if (IngressBlocks(from, to)) return false;
  const runtime::FaultPlan* plan = PlanOf(from);
  return plan == nullptr || !plan->Blocks(address(to));
}

bool SimNetwork::IngressBlocks(NodeId from, NodeId to) const {
  if (ingress_drops_ == 0) return false;
  const Ingress* ingress = node(to).ingress.get();
  return ingress != nullptr && !ingress->except.contains(from);
}

bool SimNetwork::Passes(NodeId from, NodeId to) {
  if (Reachable(from, to)) return true;
  if (IngressBlocks(from, to)) {
    // Only when nothing before the receiver's firewall stopped it.
    const bool elsewhere =
        (partitioned_ &&
         node(from).partition_group != node(to).partition_group) ||
        (PlanOf(from) != nullptr && PlanOf(from)->Blocks(address(to)));
    if (!elsewhere) ++node(to).stats.ingress_dropped;
  }
  return false;
}

void SimNetwork::DropIngress(NodeId id, const std::vector<NodeId>& except) {
  Node& n = node(id);
  if (n.ingress == nullptr) ++ingress_drops_;
  n.ingress = std::make_unique<Ingress>();
  n.ingress->except.insert(except.begin(), except.end());
}

void SimNetwork::OpenIngress(NodeId id) {
  Node& n = node(id);
  if (n.ingress == nullptr) return;
  n.ingress.reset();
  --ingress_drops_;
}

// --- SimNetwork: node faults -------------------------------------------------

void SimNetwork::Crash(NodeId id) {
  Node& n = node(id);
  if (n.crashed) return;
  n.crashed = true;
  ++n.epoch;  // every event of the old incarnation is now stale
  n.frozen = false;
  ++n.unfreeze_token;
  for (runtime::SimClock::EventId e : n.deferred) clock_.Cancel(e);
  n.deferred.clear();
}

void SimNetwork::Restart(NodeId id) {
  Node& n = node(id);
  if (!n.crashed) return;
  n.crashed = false;
  n.old_schedulers.push_back(std::move(n.scheduler));
  n.old_transports.push_back(std::move(n.transport));
  n.scheduler.reset(new SimScheduler(this, id, n.epoch));
  n.transport.reset(new SimTransport(this, id, n.epoch));
}

bool SimNetwork::crashed(NodeId id) const { return node(id).crashed; }

void SimNetwork::Freeze(NodeId id) {
  Node& n = node(id);
  if (n.crashed) return;
  n.frozen = true;
  ++n.unfreeze_token;
}

void SimNetwork::FreezeFor(NodeId id, absl::Duration duration) {
  Freeze(id);
  if (crashed(id)) return;
  const uint64_t token = node(id).unfreeze_token;
  clock_.Schedule(Now() + duration, [this, id, token] {
    // A later Freeze()/Unfreeze()/Crash() supersedes this one.
    if (node(id).unfreeze_token == token) Unfreeze(id);
  });
}

void SimNetwork::Unfreeze(NodeId id) {
  Node& n = node(id);
  ++n.unfreeze_token;
  if (!n.frozen) return;
  n.frozen = false;
  std::vector<runtime::SimClock::EventId> deferred;
  deferred.swap(n.deferred);
  for (runtime::SimClock::EventId e : deferred) clock_.Resume(e, Now());
}

bool SimNetwork::frozen(NodeId id) const { return node(id).frozen; }

void SimNetwork::SetSlowness(NodeId id, const Slowness& slowness) {
  node(id).slowness = slowness;
}

runtime::SimClock::Gate::Verdict SimNetwork::Admit(uint32_t owner,
                                                   uint32_t epoch) {
  const Node& n = node(owner);
  // Arrivals (kAnyEpoch) go to whichever incarnation is there; the delivery
  // code drops them if the node is down, and counts the drop.
  if (epoch != runtime::SimClock::kAnyEpoch &&
      (n.crashed || n.epoch != epoch)) {
    return Verdict::kDrop;
  }
  if (n.frozen) return Verdict::kDefer;
  return Verdict::kRun;
}

void SimNetwork::Defer(uint32_t owner, runtime::SimClock::EventId id) {
  node(owner).deferred.push_back(id);
}

// --- SimNetwork: accounting --------------------------------------------------

const NodeStats& SimNetwork::stats(NodeId id) const { return node(id).stats; }

NodeStats SimNetwork::TotalStats() const {
  NodeStats total;
  for (const auto& n : nodes_) total += n->stats;
  return total;
}

void SimNetwork::ReportPacket(NodeId from, NodeId to, size_t bytes,
                              PacketEvent::Outcome outcome) {
  if (outcome != PacketEvent::Outcome::kDelivered) {
    ++node(from).stats.packets_dropped;
  }
  if (packet_observer_) {
    packet_observer_(PacketEvent{Now(), from, to, bytes, outcome});
  }
}

void SimNetwork::Trace(uint64_t kind, NodeId from, NodeId to, uint64_t size) {
  // Order-dependent: each step mixes the previous hash with the event.
  const uint64_t when = static_cast<uint64_t>(
      absl::ToInt64Nanoseconds(Now() - absl::UnixEpoch()));
  trace_hash_ = Mix(trace_hash_ ^ when);
  trace_hash_ = Mix(trace_hash_ ^ (kind << 56) ^ (uint64_t{from} << 28) ^ to);
  trace_hash_ = Mix(trace_hash_ ^ size);
}

// --- SimNetwork: traffic -----------------------------------------------------

double SimNetwork::NetworkUniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

absl::Duration SimNetwork::Lag(std::mt19937_64& rng, absl::Duration max) {
  if (max <= absl::ZeroDuration()) return absl::ZeroDuration();
  const uint64_t max_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(max));
  return absl::Nanoseconds(static_cast<int64_t>(rng() % (max_ns + 1)));
}

absl::Duration SimNetwork::Delay(NodeId from, NodeId to, bool with_jitter) {
  const LinkOptions& link = Link(from, to);
  absl::Duration d = std::max(link.latency, absl::ZeroDuration());
  if (with_jitter && link.jitter > absl::ZeroDuration()) {
    const uint64_t j =
        static_cast<uint64_t>(absl::ToInt64Nanoseconds(link.jitter));
    d += absl::Nanoseconds(static_cast<int64_t>(rng_() % j));
  }
  return d;
}

runtime::SimClock::EventId SimNetwork::ScheduleTask(
    NodeId id, uint32_t epoch, absl::Duration delay,
    runtime::Scheduler::Task task) {
  if (!IsCurrent(id, epoch)) return 0;
  Node& n = node(id);
  if (delay > absl::ZeroDuration()) delay += Lag(n.rng, n.slowness.timer_lag);
  return clock_.Schedule(Now() + std::max(delay, absl::ZeroDuration()),
                         std::move(task), id, epoch);
}

void SimNetwork::SendPacket(NodeId from, const std::string& to,
                            std::string bytes,
                            const std::string* apparent_from) {
  Node& sender = node(from);
  const size_t size = bytes.size();
  ++sender.stats.packets_sent;
  sender.stats.bytes_sent += size;
  auto it = by_address_.find(to);
  if (it == by_address_.end()) {
    ReportPacket(from, kNoNode, size, PacketEvent::Outcome::kNoSuchNode);
    return;
  }
  const NodeId dest = it->second;
  if (options_.max_packet_bytes > 0 && size > options_.max_packet_bytes) {
    ReportPacket(from, dest, size, PacketEvent::Outcome::kOversize);
    return;
  }
  // A block rule is the plan's to count (below); checked again on arrival.
  if (partitioned_ &&
      node(from).partition_group != node(dest).partition_group) {
    ReportPacket(from, dest, size, PacketEvent::Outcome::kUnreachable);
    return;
  }
  const LinkOptions& link = Link(from, dest);
  if (link.loss > 0 && NetworkUniform() < link.loss) {
    ReportPacket(from, dest, size, PacketEvent::Outcome::kLost);
    return;
  }
  Node& receiver = node(dest);
  const uint64_t tag = LinkKey(from, dest);
  const bool network_duplicate =
      options_.duplicate_rate > 0 && NetworkUniform() < options_.duplicate_rate;
  // The sender's fault plan: each copy it sends is held back by its delay.
  absl::InlinedVector<absl::Duration, 3> holds = {absl::ZeroDuration()};
  if (runtime::FaultPlan* plan = PlanOf(from)) {
    runtime::PacketFate fate = plan->DecidePacket(to, Now());
    switch (fate.outcome) {
      case runtime::PacketFate::Outcome::kSend:
        holds.assign(fate.copies.begin(), fate.copies.end());
        break;
      case runtime::PacketFate::Outcome::kBlocked:
        ReportPacket(from, dest, size, PacketEvent::Outcome::kUnreachable);
        return;
      case runtime::PacketFate::Outcome::kDropped:
      case runtime::PacketFate::Outcome::kQueueFull:
        ReportPacket(from, dest, size, PacketEvent::Outcome::kLost);
        return;
    }
  }
  if (network_duplicate) holds.push_back(holds.front());
  const int copies = static_cast<int>(holds.size());
  for (int copy = 0; copy < copies; ++copy) {
    const absl::Duration delay =
        holds[copy] + Delay(from, dest, true) +
        Lag(receiver.rng, receiver.slowness.inbound_lag);
    std::string payload = copy + 1 < copies ? bytes : std::move(bytes);
    if (apparent_from == nullptr) {
      clock_.ScheduleMessage(Now() + delay, this, tag, std::move(payload), dest,
                             runtime::SimClock::kAnyEpoch);
    } else {
      // Rare (adversaries only): a task carrying the forged source.
      clock_.Schedule(
          Now() + delay,
          [this, from, dest, source = *apparent_from,
           payload = std::move(payload)] {
            if (!Passes(from, dest)) {
              ReportPacket(from, dest, payload.size(),
                           PacketEvent::Outcome::kUnreachable);
              return;
            }
            Deliver(from, dest, source, payload);
          },
          dest, runtime::SimClock::kAnyEpoch);
    }
  }
}

void SimNetwork::SendSpoofedPacket(NodeId sender, std::string apparent_from,
                                   const std::string& to, std::string bytes) {
  if (node(sender).crashed) {
    ReportPacket(sender, kNoNode, bytes.size(),
                 PacketEvent::Outcome::kReceiverDown);
    return;
  }
  SendPacket(sender, to, std::move(bytes), &apparent_from);
}

void SimNetwork::DeliverMessage(uint64_t tag, std::string payload) {
  const NodeId from = static_cast<NodeId>(tag >> 32);
  const NodeId to = static_cast<NodeId>(tag & 0xffffffffu);
  if (!Passes(from, to)) {
    ReportPacket(from, to, payload.size(), PacketEvent::Outcome::kUnreachable);
    return;
  }
  Deliver(from, to, node(from).address, payload);
}

void SimNetwork::Deliver(NodeId from, NodeId to,
                         const std::string& from_address,
                         const std::string& payload) {
  Node& receiver = node(to);
  SimTransport& transport = *receiver.transport;
  if (receiver.crashed || transport.shut_down_ ||
      !transport.handlers_.on_packet) {
    ReportPacket(from, to, payload.size(), PacketEvent::Outcome::kReceiverDown);
    return;
  }
  ++receiver.stats.packets_received;
  receiver.stats.bytes_received += payload.size();
  Trace(1, from, to, payload.size());
  ReportPacket(from, to, payload.size(), PacketEvent::Outcome::kDelivered);
  if (packet_tap_) packet_tap_(from, to, from_address, payload);
  transport.handlers_.on_packet(from_address, payload);
}

void SimNetwork::SendReliable(NodeId from, uint32_t from_epoch,
                              const std::string& to,
                              ::peer::v1::ReliableRequest request,
                              absl::Duration timeout,
                              Transport::ReliableDone done) {
  Node& caller = node(from);
  SimTransport& transport = *caller.transport;
  if (transport.shut_down_) {
    ++caller.stats.reliable_failed;
    ScheduleTask(from, from_epoch, absl::ZeroDuration(),
                 [done = std::move(done)]() mutable {
                   done(absl::UnavailableError("transport shut down"));
                 });
    return;
  }
  ++caller.stats.reliable_calls;
  // Sized once (a push/pull of N entries takes O(N) to size); the request
  // and its response are not changed on the way, so each end counts that.
  const size_t request_bytes = request.ByteSizeLong();
  caller.stats.reliable_bytes_sent += request_bytes;
  const uint64_t call_id = transport.next_call_id_++;
  SimTransport::PendingCall& call = transport.pending_[call_id];
  call.done = std::move(done);
  // The deadline, as a task of the caller. Not subject to lag: a gRPC
  // deadline fires on gRPC's own threads.
  call.timeout_event = clock_.Schedule(
      Now() + std::max(timeout, absl::ZeroDuration()),
      [this, from, from_epoch, call_id] {
        node(from).transport->Complete(
            call_id, absl::DeadlineExceededError("reliable call timed out"));
      },
      from, from_epoch);

  auto it = by_address_.find(to);
  if (it == by_address_.end()) {
    // Nobody there: refused after a round trip on the default link.
    CompleteLater(from, from_epoch, call_id, 2 * options_.link.latency,
                  absl::UnavailableError(absl::StrCat("no node at ", to)));
    return;
  }
  const NodeId dest = it->second;
  if (!Passes(from, dest)) return;  // silence: the deadline answers
  absl::Duration hold = absl::ZeroDuration();
  if (runtime::FaultPlan* plan = PlanOf(from)) {
    runtime::CallFate fate = plan->DecideCall({to});
    if (fate.fault == runtime::CallFault::kFail) {
      CompleteLater(from, from_epoch, call_id, absl::ZeroDuration(),
                    absl::UnavailableError(
                        absl::StrCat("calls to ", to, " fail (fault plan)")));
      return;
    }
    if (fate.fault == runtime::CallFault::kHang) return;  // the deadline
    hold = fate.delay;
  }
  Node& callee = node(dest);
  absl::Duration delay = hold + Delay(from, dest, true) +
                         Lag(callee.rng, callee.slowness.inbound_lag);
  const absl::Time deadline = Now() + timeout;
  if (EgressDrop(from, dest) > 0 || EgressDrop(dest, from) > 0) {
    ++caller.stats.reliable_lossy;
    std::optional<absl::Duration> lossy =
        LossyPathDelay(from, dest, /*handshake=*/true, /*from_caller=*/true,
                       request_bytes, timeout - delay);
    if (!lossy) return;  // the deadline answers; never served
    delay += *lossy;
  }
  clock_.Schedule(
      Now() + delay,
      [this, from, from_epoch, dest, call_id, deadline, request_bytes,
       request = std::move(request)]() mutable {
        ServeRequest(from, from_epoch, dest, call_id, deadline, request,
                     request_bytes);
        // Served (handlers keep no reference to a request): a push/pull's
        // entries and strings serve the next one built (PushPullPool).
        if (request.has_push_pull()) {
          PushPullPool::Give(std::unique_ptr<::peer::v1::PushPull>(
              request.release_push_pull()));
        }
      },
      dest, runtime::SimClock::kAnyEpoch);
}

void SimNetwork::ServeRequest(NodeId caller, uint32_t caller_epoch,
                              NodeId callee, uint64_t call_id,
                              absl::Time deadline,
                              const ::peer::v1::ReliableRequest& request,
                              size_t request_bytes) {
  if (!Passes(caller, callee)) return;
  Node& n = node(callee);
  if (n.crashed) {
    if (options_.crashed_refuses_connections) {
      CompleteLater(caller, caller_epoch, call_id, Delay(callee, caller, true),
                    absl::UnavailableError("connection refused"));
    }
    return;
  }
  SimTransport& transport = *n.transport;
  if (transport.shut_down_ || !transport.handlers_.on_reliable) {
    CompleteLater(caller, caller_epoch, call_id, Delay(callee, caller, true),
                  absl::UnavailableError("connection refused"));
    return;
  }
  ++n.stats.reliable_served;
  n.stats.reliable_bytes_received += request_bytes;
  Trace(2, caller, callee, request_bytes);
  const uint32_t callee_epoch = n.epoch;
  transport.handlers_.on_reliable(
      node(caller).address, request,
      [this, caller, caller_epoch, callee, callee_epoch, call_id,
       deadline](absl::StatusOr<::peer::v1::ReliableResponse> result) {
        Respond(caller, caller_epoch, callee, callee_epoch, call_id, deadline,
                std::move(result));
      });
}

void SimNetwork::Respond(NodeId caller, uint32_t caller_epoch, NodeId callee,
                         uint32_t callee_epoch, uint64_t call_id,
                         absl::Time deadline,
                         absl::StatusOr<::peer::v1::ReliableResponse> result) {
  // A responder that crashed (or a respond() of an earlier incarnation) sends
  // nothing; neither does one whose transport was shut down since.
  if (!IsCurrent(callee, callee_epoch) || node(callee).transport->shut_down_) {
    return;
  }
  const size_t bytes = result.ok() ? result->ByteSizeLong() : 0;
  node(callee).stats.reliable_bytes_sent += bytes;
  if (!Passes(callee, caller)) return;  // the caller's deadline answers
  absl::Duration delay = Delay(callee, caller, true);
  if (EgressDrop(callee, caller) > 0 || EgressDrop(caller, callee) > 0) {
    std::optional<absl::Duration> lossy =
        LossyPathDelay(caller, callee, /*handshake=*/false,
                       /*from_caller=*/false, bytes, deadline - Now() - delay);
    if (!lossy) return;  // the caller's deadline answers
    delay += *lossy;
  }
  CompleteLater(caller, caller_epoch, call_id, delay, std::move(result), bytes);
}

double SimNetwork::EgressDrop(NodeId from, NodeId to) const {
  const runtime::FaultPlan* plan = PlanOf(from);
  if (plan == nullptr) return 0;
  return plan->Effective({address(to)}).drop.value_or(0.0);
}

std::optional<absl::Duration> SimNetwork::LossyPathDelay(
    NodeId caller, NodeId callee, bool handshake, bool from_caller,
    size_t bytes, absl::Duration limit) {
  const double caller_loss = EgressDrop(caller, callee);
  const double callee_loss = EgressDrop(callee, caller);
  const absl::Duration rtt =
      std::max(Link(caller, callee).latency, absl::ZeroDuration()) +
      std::max(Link(callee, caller).latency, absl::ZeroDuration());
  std::optional<absl::Duration> total = absl::ZeroDuration();
  if (limit < absl::ZeroDuration()) total = std::nullopt;
  if (total && handshake) {
    total = TcpHandshakeDelay(caller_loss, callee_loss, limit, tcp_rng_);
  }
  if (total) {
    std::optional<absl::Duration> data = TcpTransferDelay(
        TcpSegments(bytes), from_caller ? caller_loss : callee_loss,
        from_caller ? callee_loss : caller_loss, rtt, limit - *total, tcp_rng_);
    total = data ? std::optional<absl::Duration>(*total + *data) : std::nullopt;
  }
  // Arriving exactly at the deadline is too late: the deadline runs first.
  if (!total || *total >= limit) {
    ++node(caller).stats.reliable_lossy_missed;
    return std::nullopt;
  }
  return total;
}

void SimNetwork::CompleteLater(
    NodeId caller, uint32_t caller_epoch, uint64_t call_id,
    absl::Duration delay, absl::StatusOr<::peer::v1::ReliableResponse> result,
    size_t bytes) {
  Node& n = node(caller);
  delay += Lag(n.rng, n.slowness.inbound_lag);
  clock_.Schedule(
      Now() + delay,
      [this, caller, call_id, bytes, result = std::move(result)]() mutable {
        node(caller).transport->Complete(call_id, std::move(result), bytes);
      },
      caller, caller_epoch);
}

}  // namespace peerlab::membership::sim
