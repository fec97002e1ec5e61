#include "peer/membership/sim_cluster.h"

#include "absl/strings/numbers.h"

namespace peerlab::membership {

struct SimCluster::Listener : public EventListener {
  Listener(SimCluster* c, int i) : cluster(c), self(i) {}
  void OnJoin(const Member& m) override {
    cluster->UpdateKnowsAll(self);
    cluster->Notify(self, m);
  }
  void OnUpdate(const Member& m) override { cluster->Notify(self, m); }
  void OnAlive(const Member& m) override { cluster->Notify(self, m); }
  void OnSuspect(const Member& m) override {
    auto& o = cluster->observations_[{self, cluster->IndexOf(m.name)}];
    if (!o.suspect) o.suspect = cluster->Now();
    cluster->Notify(self, m);
  }
  void OnLeave(const Member& m) override {
    cluster->UpdateKnowsAll(self);
    int target = cluster->IndexOf(m.name);
    auto& o = cluster->observations_[{self, target}];
    if (m.state == MemberState::kLeft) {
      if (!o.left) o.left = cluster->Now();
      cluster->Notify(self, m);
      return;
    }
    if (!o.dead) o.dead = cluster->Now();
    if (target >= 0 && !cluster->nodes_[target]->crashed &&
        !cluster->nodes_[target]->faulty &&
        !cluster->net_.frozen(static_cast<sim::NodeId>(target))) {
      ++cluster->false_positive_deaths_;
    }
    cluster->Notify(self, m);
  }
  SimCluster* cluster;
  int self;
};

SimCluster::SimCluster(Options options)
    : options_(std::move(options)), net_([&] {
        sim::SimNetworkOptions o;
        o.seed = options_.seed;
        o.link.latency = options_.latency;
        o.link.jitter = options_.latency / 2;
        o.link.loss = options_.loss;
        return o;
      }()) {
  for (int i = 0; i < options_.nodes; ++i) AddNode();
}

SimCluster::~SimCluster() {
  for (auto& n : nodes_) n->list.reset();
}

int SimCluster::AddNode(const std::string& name) {
  int i = static_cast<int>(nodes_.size());
  net_.AddNode();
  nodes_.push_back(std::make_unique<SimNode>());
  nodes_.back()->name = name;
  Build(i);
  ++live_count_;
  // One more live node: those that knew all no longer do.
  if (knows_all_count_ > 0) RecountKnowsAll();
  return i;
}

void SimCluster::Build(int i) {
  SimNode& n = *nodes_[i];
  sim::NodeId id = static_cast<sim::NodeId>(i);
  Config config = options_.config;
  config.name = name(i);
  n.list.reset();
  n.listener = std::make_unique<Listener>(this, i);
  n.mux.reset();
  n.kv.reset();
  if (options_.with_kv || options_.channels) {
    const runtime::ComponentLog log(config.logger, "membership",
                                    net_.scheduler(id));
    n.mux = std::make_unique<DelegateMux>(
        [this, i](std::string payload, const std::string& key) {
          nodes_[i]->list->Broadcast(std::move(payload), key);
        });
    n.mux->set_log(log);
    if (options_.with_kv) {
      n.kv =
          std::make_unique<KvStore>(config.name, n.mux->SenderFor(kKvChannel));
      n.kv->set_log(log);
      (void)n.mux->Register(kKvChannel, n.kv.get());
    }
    if (options_.channels) options_.channels(i, *n.mux, net_.scheduler(id));
  }
  const std::vector<std::string>& keys = n.keys ? *n.keys : options_.keys;
  // The simulator chooses explicitly: a node without keys runs open.
  if (keys.empty()) config.insecure_gossip = true;
  n.list = std::make_unique<Memberlist>(
      config, net_.scheduler(id), net_.transport(id), net_.NodeSeed(id),
      n.listener.get(), n.delegate ? n.delegate : n.mux.get(), &claims_);
  (void)n.list->SetNodeKey(n.node_key ? *n.node_key : KeyOf(config.name));
  n.list->SetSignatureCache(&signatures_);
  if (!keys.empty()) (void)n.list->SetKeyring(*Keyring::Create(keys));
}

identity::NodeKey SimCluster::KeyOf(const std::string& name) const {
  // FNV-1a of the name, mixed with the seed, expanded by splitmix64: the
  // same bytes on every run and platform (absl::Hash is seeded per
  // process).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  uint64_t state = h ^ (options_.seed * 0x9E3779B97F4A7C15ull);
  std::string seed;
  for (int k = 0; k < 4; ++k) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int b = 0; b < 8; ++b) seed.push_back(static_cast<char>(z >> (8 * b)));
  }
  return *identity::NodeKey::FromSeed(seed);
}

void SimCluster::SetNodeKey(int i, identity::NodeKey key) {
  nodes_[i]->node_key = std::move(key);
  Build(i);
}

void SimCluster::SetDelegate(int i, Delegate* delegate) {
  nodes_[i]->delegate = delegate;
  Build(i);
}

void SimCluster::SetKeys(int i, std::vector<std::string> keys) {
  nodes_[i]->keys = std::move(keys);
  Build(i);
}

int SimCluster::IndexOf(const std::string& name) const {
  int i = -1;
  if (name.rfind("node", 0) == 0) (void)absl::SimpleAtoi(name.substr(4), &i);
  return i;
}

void SimCluster::StartAll() {
  for (int i = 0; i < size(); ++i) {
    if (i == 0) {
      Start(0);
    } else {
      StartAndJoin(i, 0);
    }
  }
}

void SimCluster::StartConverged() {
  for (int i = 0; i < size(); ++i) (void)nodes_[i]->list->Start();
  ::peer::v1::PushPull everyone;
  for (int i = 0; i < size(); ++i) nodes_[i]->list->AppendOwnEntry(everyone);
  for (int i = 0; i < size(); ++i) {
    (void)nodes_[i]->list->LearnConverged(everyone);
    UpdateKnowsAll(i);
  }
}

void SimCluster::Start(int i) {
  (void)nodes_[i]->list->Start();
  UpdateKnowsAll(i);
}

void SimCluster::StartAndJoin(int i, int seed_node) {
  Memberlist* list = nodes_[i]->list.get();
  std::string seed_addr = net_.address(static_cast<sim::NodeId>(seed_node));
  // Run inside the node's scheduler, as every protocol call must.
  nodes_[i]->join_result.reset();
  net_.scheduler(static_cast<sim::NodeId>(i))->Post([this, i, list, seed_addr] {
    if (!list->started()) (void)list->Start();
    UpdateKnowsAll(i);
    list->Join({seed_addr}, [this, i, list](absl::StatusOr<int> r) {
      // A restart replaced the node meanwhile: not this one's answer.
      if (nodes_[i]->list.get() == list) nodes_[i]->join_result = r;
    });
  });
}

bool SimCluster::RunUntil(const std::function<bool()>& pred,
                          absl::Duration limit, absl::Duration step) {
  return net_.clock().RunUntilCondition(pred, Now() + limit, step);
}

void SimCluster::Crash(int i) {
  if (!nodes_[i]->crashed) --live_count_;
  nodes_[i]->crashed = true;
  net_.Crash(static_cast<sim::NodeId>(i));
  RecountKnowsAll();
}

void SimCluster::Restart(int i, int seed_node) {
  net_.Restart(static_cast<sim::NodeId>(i));
  if (nodes_[i]->crashed) ++live_count_;
  nodes_[i]->crashed = false;
  Build(i);
  RecountKnowsAll();
  StartAndJoin(i, seed_node);
}

void SimCluster::UpdateKnowsAll(int i) {
  SimNode& n = *nodes_[i];
  const bool now = !n.crashed && n.list->started() && !n.list->left() &&
                   n.list->NumAlive() == live_count_;
  if (now != n.knows_all) knows_all_count_ += now ? 1 : -1;
  n.knows_all = now;
}

void SimCluster::RecountKnowsAll() {
  for (int i = 0; i < size(); ++i) UpdateKnowsAll(i);
}

void SimCluster::Notify(int observer, const Member& m) {
  if (hook_) hook_(observer, IndexOf(m.name), m.state);
}

bool SimCluster::Sees(int observer, int target, MemberState state) const {
  for (const Member& m : nodes_[observer]->list->AllMembers()) {
    if (m.name == name(target)) return m.state == state;
  }
  return false;
}

bool SimCluster::AllSee(int target, MemberState state) const {
  for (int i = 0; i < size(); ++i) {
    if (i == target || nodes_[i]->crashed || nodes_[i]->list->left() ||
        !nodes_[i]->list->started()) {
      continue;
    }
    bool known = false;
    for (const Member& m : nodes_[i]->list->AllMembers()) {
      if (m.name != name(target)) continue;
      known = true;
      if (m.state != state) return false;
    }
    if (!known &&
        (state == MemberState::kAlive || state == MemberState::kSuspect)) {
      return false;
    }
  }
  return true;
}

bool SimCluster::Converged() const {
  std::set<std::string> live;
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->crashed || nodes_[i]->list->left()) continue;
    if (!nodes_[i]->list->started()) return false;  // still starting
    live.insert(name(i));
  }
  for (int i = 0; i < size(); ++i) {
    if (!live.count(name(i))) continue;
    std::set<std::string> seen;
    for (const Member& m : nodes_[i]->list->Members()) {
      if (m.state != MemberState::kAlive) return false;
      seen.insert(m.name);
    }
    if (seen != live) return false;
  }
  return true;
}

bool SimCluster::AllKnowAll() const {
  int live = 0;
  for (const auto& n : nodes_) {
    if (n->crashed || n->list->left()) continue;
    if (!n->list->started()) return false;  // still starting
    ++live;
  }
  for (const auto& n : nodes_) {
    if (n->crashed || !n->list->started() || n->list->left()) continue;
    if (n->list->NumAlive() != live) return false;
  }
  return true;
}

const SimCluster::Observation& SimCluster::observed(int observer,
                                                    int target) const {
  static const Observation kNone;
  auto it = observations_.find({observer, target});
  return it == observations_.end() ? kNone : it->second;
}

}  // namespace peerlab::membership
