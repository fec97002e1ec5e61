#include "peer/membership/sim_adversary.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/kv_store.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sealing.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

// The insider seals as members do, through sealing.h (the members' own
// functions), under its own name, generation 1 and a sequence number of
// its own (the receivers' replay windows); if it did not, its forgeries
// would be refused as decrypt failures or replays, which the insider tests
// check never happens (so the insider cannot silently become an outsider).

constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();

}  // namespace

SimAdversary::SimAdversary(SimCluster& cluster, Options options)
    : cluster_(cluster),
      options_(std::move(options)),
      node_(cluster.net().AddNode()),
      address_(cluster.net().address(node_)),
      rng_(options_.seed) {
  if (options_.kind == Kind::kInsider && !options_.keys.empty()) {
    auto keyring = Keyring::Create(options_.keys);
    if (keyring.ok()) keyring_ = std::move(*keyring);
  }
  Transport::Handlers handlers;
  handlers.on_packet = [this](const std::string& from,
                              const std::string& bytes) {
    // What the tap sees already (it sees every delivery).
    if (!tapping_) Capture(from, address_, bytes);
  };
  handlers.on_reliable = [](const std::string&,
                            const ::peer::v1::ReliableRequest&,
                            Transport::ReliableDone respond) {
    respond(absl::UnavailableError("no"));
  };
  cluster_.net().transport(node_)->SetHandlers(std::move(handlers));
}

SimAdversary::~SimAdversary() {
  if (tapping_) cluster_.net().SetPacketTap(nullptr);
}

void SimAdversary::Tap(bool on) {
  tapping_ = on;
  if (!on) {
    cluster_.net().SetPacketTap(nullptr);
    return;
  }
  cluster_.net().SetPacketTap([this](sim::NodeId, sim::NodeId to,
                                     const std::string& from_address,
                                     const std::string& bytes) {
    Capture(from_address, cluster_.net().address(to), bytes);
  });
}

void SimAdversary::Capture(const std::string& from_address,
                           const std::string& to_address,
                           const std::string& bytes) {
  ++seen_;
  Captured c{cluster_.Now(), from_address, to_address, bytes};
  if (captured_.size() < kMaxCaptured) {
    captured_.push_back(std::move(c));
    return;
  }
  const uint64_t j = rng_.Uniform(seen_);
  if (j < kMaxCaptured) captured_[j] = std::move(c);
}

std::string SimAdversary::SealPacket(std::string packet) {
  if (!keyring_) return packet;
  return SealDatagram(*keyring_, "", std::move(packet),
                      {options_.name, 1, ++sealed_seq_});
}

void SimAdversary::SendRaw(const std::string& to, std::string bytes,
                           const std::string& source) {
  if (source.empty() || source == address_) {
    cluster_.net().transport(node_)->SendPacket(to, std::move(bytes));
  } else {
    cluster_.net().SendSpoofedPacket(node_, source, to, std::move(bytes));
  }
}

size_t SimAdversary::SendMessages(
    const std::string& to, const std::vector<::peer::v1::Message>& messages,
    const std::string& claimed_from, const std::string& source) {
  std::vector<std::string> encoded;
  encoded.reserve(messages.size());
  for (const auto& m : messages) encoded.push_back(EncodeMessage(m));
  std::string bytes = SealPacket(EncodePacket(claimed_from, encoded));
  const size_t size = bytes.size();
  SendRaw(to, std::move(bytes), source);
  return size;
}

void SimAdversary::SendPushPull(
    const std::string& to, const ::peer::v1::PushPull& push_pull,
    std::function<void(absl::StatusOr<::peer::v1::PushPull>)> on_answer) {
  ::peer::v1::ReliableRequest request;
  *request.mutable_push_pull() = push_pull;
  if (keyring_) {
    request = SealRequest(*keyring_, "", std::move(request),
                          {options_.name, 1, ++sealed_seq_});
  }
  cluster_.net().transport(node_)->SendReliable(
      to, std::move(request), absl::Seconds(1),
      [this, on_answer = std::move(on_answer)](
          absl::StatusOr<::peer::v1::ReliableResponse> r) {
        if (!r.ok()) {
          on_answer(r.status());
          return;
        }
        ::peer::v1::ReliableResponse response = *std::move(r);
        if (response.has_encrypted()) {
          if (!keyring_) {
            on_answer(absl::PermissionDeniedError("a sealed answer"));
            return;
          }
          auto plain = OpenResponse(*keyring_, "", response);
          if (!plain.ok()) {
            on_answer(absl::PermissionDeniedError("cannot open the answer"));
            return;
          }
          response = *std::move(plain);
        }
        if (!response.has_push_pull()) {
          on_answer(absl::NotFoundError("no push/pull in the answer"));
          return;
        }
        on_answer(response.push_pull());
      });
}

void SimAdversary::SendSealedAs(
    const std::string& to, const std::vector<::peer::v1::Message>& messages,
    const Sealer& sealer, const std::string& source) {
  std::vector<std::string> encoded;
  for (const auto& m : messages) encoded.push_back(EncodeMessage(m));
  std::string packet = EncodePacket(sealer.name, encoded);
  if (keyring_) packet = SealDatagram(*keyring_, "", std::move(packet), sealer);
  SendRaw(to, std::move(packet), source);
}

bool SimAdversary::ReplayOne(absl::Duration min_age) {
  if (captured_.empty()) return false;
  const absl::Time latest = cluster_.Now() - min_age;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const Captured& c = captured_[rng_.Uniform(captured_.size())];
    if (c.time > latest || c.to_address == address_) continue;
    SendRaw(c.to_address, c.bytes, c.from_address);
    return true;
  }
  return false;
}

::peer::v1::Message SimAdversary::Suspect(int victim, uint64_t incarnation,
                                          const std::string& accuser) const {
  const Member v = cluster_.node(victim).LocalNode();
  ::peer::v1::Message m;
  auto* s = m.mutable_suspect();
  s->set_node(v.name);
  s->set_from(accuser);
  s->set_incarnation(incarnation);
  s->set_generation(v.generation);
  return m;
}

::peer::v1::Message SimAdversary::Dead(int victim, uint64_t incarnation,
                                       const std::string& accuser) const {
  const Member v = cluster_.node(victim).LocalNode();
  ::peer::v1::Message m;
  auto* d = m.mutable_dead();
  d->set_node(v.name);
  d->set_from(accuser);
  d->set_incarnation(incarnation);
  d->set_generation(v.generation);
  return m;
}

::peer::v1::Message SimAdversary::Leave(int victim,
                                        uint64_t incarnation) const {
  return Dead(victim, incarnation, cluster_.name(victim));
}

::peer::v1::Message SimAdversary::Alive(int victim, uint64_t incarnation,
                                        const std::string& addr) const {
  const Member v = cluster_.node(victim).LocalNode();
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_node(v.name);
  a->set_addr(addr);
  a->set_meta(v.meta);
  a->set_id(v.id);
  a->set_generation(v.generation);
  a->set_incarnation(incarnation);
  return m;
}

// --- Campaigns ---------------------------------------------------------------

namespace {

struct AttackInfo {
  Attack attack;
  const char* name;
};
constexpr AttackInfo kAttacks[] = {
    {Attack::kSuspectCurrent, "suspect-current"},
    {Attack::kSuspectWindow, "suspect-window"},
    {Attack::kSuspectBeyondWindow, "suspect-beyond-window"},
    {Attack::kSuspectMax, "suspect-max"},
    {Attack::kDeadCurrent, "dead-current"},
    {Attack::kDeadWindow, "dead-window"},
    {Attack::kDeadMax, "dead-max"},
    {Attack::kLeaveCurrent, "leave-current"},
    {Attack::kLeaveMax, "leave-max"},
    {Attack::kAliveRedirect, "alive-redirect"},
    {Attack::kAliveRedirectBeyondWindow, "alive-redirect-beyond-window"},
    {Attack::kAliveMax, "alive-max"},
    {Attack::kAliveSpoofedSource, "alive-spoofed-source"},
    {Attack::kAliveNewerGeneration, "alive-newer-generation"},
    {Attack::kLamportExtremes, "lamport-extremes"},
    {Attack::kPingReflection, "ping-reflection"},
    {Attack::kPingReqReflection, "ping-req-reflection"},
    {Attack::kReplay, "replay"},
    {Attack::kReplayWindowJump, "replay-window-jump"},
    {Attack::kReplayWindowGeneration, "replay-window-generation"},
    {Attack::kPushPull, "push-pull"},
    {Attack::kGarbage, "garbage"},
    {Attack::kMixed, "mixed"},
};

// The member counters a campaign reports (what refused the forgeries).
struct CounterInfo {
  const char* name;
  uint64_t Stats::*field;
};
constexpr CounterInfo kCounters[] = {
    {"bad_packets", &Stats::bad_packets},
    {"bad_messages", &Stats::bad_messages},
    {"decrypt_failures", &Stats::decrypt_failures},
    {"incarnation_jumps_ignored", &Stats::incarnation_jumps_ignored},
    {"probe_requests_refused", &Stats::probe_requests_refused},
    {"members_refused", &Stats::members_refused},
    {"push_pulls_refused", &Stats::push_pulls_refused},
    {"unknown_senders_refused", &Stats::unknown_senders_refused},
    {"joins_refused", &Stats::joins_refused},
    {"name_conflicts", &Stats::name_conflicts},
    {"signature_failures", &Stats::signature_failures},
    {"key_conflicts", &Stats::key_conflicts},
    {"verifications_refused", &Stats::verifications_refused},
    {"label_mismatches", &Stats::label_mismatches},
    {"versions_refused", &Stats::versions_refused},
    {"replays_refused", &Stats::replays_refused},
    {"sender_tag_failures", &Stats::sender_tag_failures},
};

// A group key drawn from the seed (the simulation stays a function of it).
std::string KeyFromSeed(uint64_t seed) {
  std::mt19937_64 g(seed ^ 0x6b65792d66726f6dULL);
  std::string key(kKeySize, '\0');
  for (char& c : key) c = static_cast<char>(g() & 0xff);
  return key;
}

// A datagram of as many `make(k)` messages as fit in the largest datagram.
std::vector<::peer::v1::Message> FullDatagram(
    const std::string& from, bool sealed,
    const std::function<::peer::v1::Message(int)>& make) {
  std::vector<::peer::v1::Message> messages;
  int size =
      PacketHeaderSize(from) + (sealed ? SealedDatagramOverhead(0, 64) : 0);
  for (int k = 0;; ++k) {
    ::peer::v1::Message m = make(k);
    const int framed = FramedSize(static_cast<int>(m.ByteSizeLong()));
    if (size + framed > kMaxDatagram) break;
    size += framed;
    messages.push_back(std::move(m));
  }
  return messages;
}

class Campaign {
 public:
  explicit Campaign(const CampaignOptions& o) : o_(o), cluster_(Options(o)) {}

  CampaignReport Run();

 private:
  static SimCluster::Options Options(const CampaignOptions& o) {
    SimCluster::Options co;
    co.nodes = o.members;
    co.seed = o.seed;
    co.config = o.config;
    co.with_kv = true;
    if (o.group_key) co.keys = {KeyFromSeed(o.seed)};
    return co;
  }
  int RandomMember() {
    return static_cast<int>(adv_->rng().Uniform(o_.members));
  }
  int OtherMember(int not_this) {
    int i = RandomMember();
    while (i == not_this) i = RandomMember();
    return i;
  }
  const std::string& Addr(int i) {
    return cluster_.net().address(static_cast<sim::NodeId>(i));
  }
  uint64_t Incarnation(int i) {
    return cluster_.node(i).LocalNode().incarnation;
  }
  // One forgery of `attack` (kMixed: of a random other attack).
  void Forge(Attack attack);
  // Records of honest targets that differ from what the target says of
  // itself (see CampaignReport: hijacked).
  int Hijacked();
  absl::Duration RecoveryBound() const;

  CampaignOptions o_;
  SimCluster cluster_;
  std::unique_ptr<SimAdversary> adv_;
  sim::NodeId third_[2] = {0, 0};
  uint64_t third_packets_[2] = {0, 0};
  uint64_t third_bytes_[2] = {0, 0};
  uint64_t tried_ = 0;
  std::map<std::string, uint64_t> tried_by_attack_;
  uint64_t lists_served_ = 0;
};

void Campaign::Forge(Attack attack) {
  SimAdversary& a = *adv_;
  const uint64_t window = o_.config.incarnation_window;
  const int victim = RandomMember();
  // One forgery in ten goes to the victim itself.
  const int to = a.rng().Uniform(10) == 0 ? victim : OtherMember(victim);
  const std::string accuser = cluster_.name(OtherMember(victim));
  const uint64_t cur = Incarnation(victim);
  auto send = [&](const ::peer::v1::Message& m,
                  const std::string& source = "") {
    a.SendMessages(Addr(to), {m}, accuser, source);
    ++tried_;
  };
  switch (attack) {
    case Attack::kSuspectCurrent:
      return send(a.Suspect(victim, cur, accuser));
    case Attack::kSuspectWindow:
      return send(a.Suspect(victim, cur + window, accuser));
    case Attack::kSuspectBeyondWindow:
      return send(a.Suspect(victim, cur + window + 1, accuser));
    case Attack::kSuspectMax:
      return send(a.Suspect(victim, kTop, accuser));
    case Attack::kDeadCurrent:
      return send(a.Dead(victim, cur, accuser));
    case Attack::kDeadWindow:
      return send(a.Dead(victim, cur + window, accuser));
    case Attack::kDeadMax:
      return send(a.Dead(victim, kTop, accuser));
    case Attack::kLeaveCurrent:
      return send(a.Leave(victim, cur));
    case Attack::kLeaveMax:
      return send(a.Leave(victim, kTop));
    case Attack::kAliveRedirect:
      return send(a.Alive(victim, cur + 1, a.address()));
    case Attack::kAliveRedirectBeyondWindow:
      return send(a.Alive(victim, cur + window + 1, a.address()));
    case Attack::kAliveMax:
      return send(a.Alive(victim, kTop, a.address()));
    case Attack::kAliveSpoofedSource: {
      // The victim's own address, as if it sent it: pinned far above its
      // incarnation with forged metadata.
      ::peer::v1::Message m = a.Alive(victim, cur + 1'000'000, Addr(victim));
      m.mutable_alive()->set_meta(SimAdversary::kForgedMeta);
      return send(m, Addr(victim));
    }
    case Attack::kAliveNewerGeneration: {
      ::peer::v1::Message m = a.Alive(victim, 1, a.address());
      m.mutable_alive()->set_generation(m.alive().generation() + 1);
      m.mutable_alive()->set_id("forged-process");
      return send(m);
    }
    case Attack::kLamportExtremes: {
      ::peer::v1::KvState forged;
      const uint64_t clock = cluster_.kv(to)->lamport();
      for (uint64_t t : {kMaxLamport, kTop, clock + kLamportWindow + 1}) {
        auto* e = forged.add_entries();
        e->set_key("k" + std::to_string(a.rng().Uniform(4)));
        e->set_value("forged");
        e->set_node(a.name());
        e->set_lamport(t);
      }
      ::peer::v1::Message m;
      m.mutable_user()->set_payload(DelegateMux::EncodePayload(
          kKvChannel, forged.SerializeAsString()));
      a.SendMessages(Addr(to), {m}, accuser);
      tried_ += forged.entries_size();
      return;
    }
    case Attack::kPingReflection: {
      const std::string& third = cluster_.net().address(third_[0]);
      const std::string target = cluster_.name(to);
      auto pings = FullDatagram(accuser, o_.group_key, [&](int k) {
        ::peer::v1::Message m;
        auto* p = m.mutable_ping();
        p->set_seq_no(static_cast<uint32_t>(a.rng().Next()) + k);
        p->set_target(target);
        p->set_source_name(accuser);
        p->set_source_addr(third);
        return m;
      });
      // Every other one from the third party's own (forged) UDP source.
      a.SendMessages(Addr(to), pings, accuser, a.rng().Uniform(2) ? third : "");
      ++tried_;
      return;
    }
    case Attack::kPingReqReflection: {
      const std::string& third = cluster_.net().address(third_[0]);
      const std::string& third2 = cluster_.net().address(third_[1]);
      auto reqs = FullDatagram(accuser, o_.group_key, [&](int k) {
        ::peer::v1::Message m;
        auto* r = m.mutable_indirect_ping();
        r->set_seq_no(static_cast<uint32_t>(a.rng().Next()) + k);
        r->set_target("ghost");
        r->set_target_addr(third);
        r->set_want_nack(true);
        r->set_source_name(accuser);
        r->set_source_addr(k % 2 ? third : third2);
        return m;
      });
      a.SendMessages(Addr(to), reqs, accuser);
      ++tried_;
      return;
    }
    case Attack::kReplayWindowJump:
    case Attack::kReplayWindowGeneration: {
      const Member v = cluster_.node(victim).LocalNode();
      ::peer::v1::Message ack;
      ack.mutable_ack()->set_seq_no(static_cast<uint32_t>(a.rng().Next()));
      Sealer sealer{v.name, v.generation, uint64_t{1} << 62};
      if (attack == Attack::kReplayWindowGeneration) {
        sealer.generation = v.generation + 1;
        sealer.seq = 1 + a.rng().Uniform(1'000'000);
      }
      a.SendSealedAs(Addr(to), {ack}, sealer, Addr(victim));
      ++tried_;
      return;
    }
    case Attack::kReplay:
      if (a.ReplayOne(absl::Seconds(1))) ++tried_;
      return;
    case Attack::kPushPull: {
      ::peer::v1::PushPull pp;
      // Claims an honest member's name, or its own.
      pp.set_from(a.rng().Uniform(2) ? accuser : a.name());
      auto add = [&](int v, MemberState state, uint64_t inc,
                     const std::string& addr) {
        const Member m = cluster_.node(v).LocalNode();
        auto* s = pp.add_nodes();
        s->set_name(m.name);
        s->set_addr(addr);
        s->set_meta(m.meta);
        s->set_id(m.id);
        s->set_generation(m.generation);
        s->set_incarnation(inc);
        s->set_state(ToProto(state));
      };
      add(victim, MemberState::kAlive, cur + 1, a.address());
      const int v2 = OtherMember(to), v3 = OtherMember(to),
                v4 = OtherMember(to);
      add(v2, MemberState::kSuspect, Incarnation(v2), Addr(v2));
      add(v3, MemberState::kDead, Incarnation(v3), Addr(v3));
      add(v4, MemberState::kLeft, Incarnation(v4), Addr(v4));
      for (int k = 0; k < 4; ++k) {
        auto* s = pp.add_nodes();
        s->set_name(absl::StrCat("fake", a.rng().Uniform(1'000'000)));
        s->set_addr(absl::StrCat("10.66.0.", k, ":7946"));
        s->set_incarnation(1);
      }
      a.SendPushPull(Addr(to), pp,
                     [this](absl::StatusOr<::peer::v1::PushPull> r) {
                       if (r.ok() && r->nodes_size() > 0) ++lists_served_;
                     });
      ++tried_;
      return;
    }
    case Attack::kGarbage: {
      std::string bytes;
      const uint64_t kind = a.rng().Uniform(3);
      if (kind == 2 && !a.captured().empty()) {
        bytes = a.captured()[a.rng().Uniform(a.captured().size())].bytes;
        const int flips = 1 + static_cast<int>(a.rng().Uniform(8));
        for (int f = 0; f < flips && !bytes.empty(); ++f) {
          bytes[a.rng().Uniform(bytes.size())] ^=
              static_cast<char>(1 << a.rng().Uniform(8));
        }
      } else {
        const size_t n = 1 + a.rng().Uniform(1400);
        for (size_t i = 0; i < n; ++i) {
          bytes.push_back(static_cast<char>(a.rng().Uniform(256)));
        }
        if (kind == 1) bytes[0] = 0x1A;  // looks sealed
      }
      a.SendRaw(Addr(to), std::move(bytes));
      ++tried_;
      return;
    }
    case Attack::kMixed: {
      const auto all = AllAttacks();
      const Attack pick = all[a.rng().Uniform(all.size() - 1)];  // not kMixed
      const uint64_t before = tried_;
      Forge(pick);
      tried_by_attack_[AttackName(pick)] += tried_ - before;
      return;
    }
  }
}

int Campaign::Hijacked() {
  std::vector<Member> self(o_.members);
  for (int i = 0; i < o_.members; ++i) self[i] = cluster_.node(i).LocalNode();
  int n = 0;
  for (int i = 0; i < o_.members; ++i) {
    for (const Member& m : cluster_.node(i).AllMembers()) {
      int t = -1;
      if (m.name.rfind("node", 0) == 0) {
        t = std::atoi(m.name.c_str() + 4);
      }
      if (t < 0 || t >= o_.members || t == i) continue;
      if (m.addr != self[t].addr || m.generation != self[t].generation ||
          m.id != self[t].id || m.meta == SimAdversary::kForgedMeta) {
        ++n;
      }
    }
  }
  return n;
}

absl::Duration Campaign::RecoveryBound() const {
  const Config& c = o_.config;
  const int n = o_.members;
  const absl::Duration suspicion =
      SuspicionTimeout(c.suspicion_mult, n, c.probe_interval) *
      c.suspicion_max_timeout_mult;
  return suspicion + PushPullScale(c.push_pull_interval, n) * 2 +
         c.probe_interval * 2 * (n - 1);
}

CampaignReport Campaign::Run() {
  const auto wall_start = std::chrono::steady_clock::now();
  CampaignReport report;
  report.attack = AttackName(o_.attack);
  report.mode = !o_.group_key                             ? "open"
                : o_.kind == SimAdversary::Kind::kInsider ? "insider"
                                                          : "outsider";
  report.seed = o_.seed;

  cluster_.StartAll();
  report.reconverged = cluster_.RunUntil(
      [&] { return cluster_.AllKnowAllFast() && cluster_.Converged(); },
      RecoveryBound());
  if (!report.reconverged) return report;  // never converged: say so

  // Third parties: addresses that run no member.
  for (int k = 0; k < 2; ++k) {
    third_[k] = cluster_.net().AddNode();
    Transport::Handlers h;
    h.on_packet = [this, k](const std::string&, const std::string& bytes) {
      ++third_packets_[k];
      third_bytes_[k] += bytes.size();
    };
    h.on_reliable = [](const std::string&, const ::peer::v1::ReliableRequest&,
                       Transport::ReliableDone respond) {
      respond(absl::UnavailableError("no"));
    };
    cluster_.net().transport(third_[k])->SetHandlers(std::move(h));
  }
  SimAdversary::Options ao;
  ao.kind = o_.kind;
  if (o_.group_key && o_.kind == SimAdversary::Kind::kInsider) {
    ao.keys = {KeyFromSeed(o_.seed)};
  }
  ao.seed = o_.seed ^ 0x6d616c6c6f7279ULL;
  adv_ = std::make_unique<SimAdversary>(cluster_, ao);
  adv_->Tap(true);

  // Traffic worth capturing: metadata updates and key/value writes.
  for (int k = 0; k < 5; ++k) {
    const int i = RandomMember();
    cluster_.net().scheduler(static_cast<sim::NodeId>(i))->Post([this, i, k] {
      (void)cluster_.node(i).UpdateMeta(absl::StrCat("v", k));
      (void)cluster_.kv(i)->Set(absl::StrCat("k", k % 4), "honest");
    });
  }
  cluster_.RunFor(o_.config.probe_interval * 5);

  // Baselines.
  std::vector<Stats> stats0;
  std::vector<uint64_t> inc0, lamport0, kv_ignored0, kv_refused0;
  for (int i = 0; i < o_.members; ++i) {
    stats0.push_back(cluster_.node(i).stats());
    inc0.push_back(Incarnation(i));
    lamport0.push_back(cluster_.kv(i)->lamport());
    kv_ignored0.push_back(cluster_.kv(i)->lamport_jumps_ignored());
    kv_refused0.push_back(cluster_.kv(i)->refused());
  }
  const sim::NodeStats adv0 = cluster_.net().stats(adv_->node());
  third_packets_[0] = third_packets_[1] = 0;
  third_bytes_[0] = third_bytes_[1] = 0;
  std::set<int> removed;
  // (observer, target) -> when the observer began to suspect the target.
  std::map<std::pair<int, int>, absl::Time> suspected;
  auto suspicion_over = [&](std::pair<int, int> pair) {
    auto it = suspected.find(pair);
    if (it == suspected.end()) return;
    report.longest_suspicion =
        std::max(report.longest_suspicion, cluster_.Now() - it->second);
    suspected.erase(it);
  };
  cluster_.SetChangeHook([&](int observer, int target, MemberState state) {
    if (target < 0 || target >= o_.members || observer == target) return;
    const std::pair<int, int> pair{observer, target};
    switch (state) {
      case MemberState::kSuspect:
        ++report.suspicions;
        suspected.emplace(pair, cluster_.Now());
        break;
      case MemberState::kDead:
        ++report.wrongly_dead;
        removed.insert(target);
        suspicion_over(pair);
        break;
      case MemberState::kLeft:
        if (!cluster_.node(target).left()) {
          ++report.wrongly_left;
          removed.insert(target);
        }
        suspicion_over(pair);
        break;
      case MemberState::kAlive:
        suspicion_over(pair);
        break;
    }
  });

  // The attack: a round of forgeries each protocol period.
  for (int p = 0; p < o_.periods; ++p) {
    cluster_.net().scheduler(adv_->node())->Post([this] {
      for (int k = 0; k < o_.per_period; ++k) Forge(o_.attack);
    });
    cluster_.RunFor(o_.config.probe_interval);
    report.hijacked_peak = std::max(report.hijacked_peak, Hijacked());
  }
  adv_->Tap(false);
  const absl::Time attack_end = cluster_.Now();
  report.reconverged = cluster_.RunUntil(
      [&] { return cluster_.AllKnowAllFast() && cluster_.Converged(); },
      RecoveryBound(), o_.config.probe_interval / 10);
  report.reconverge_time = cluster_.Now() - attack_end;
  cluster_.SetChangeHook(nullptr);
  for (const auto& [pair, since] : suspected) {
    report.longest_suspicion =
        std::max(report.longest_suspicion, cluster_.Now() - since);
  }

  report.tried = tried_;
  report.tried_by_attack = tried_by_attack_;
  const sim::NodeStats& adv1 = cluster_.net().stats(adv_->node());
  report.datagrams_sent = adv1.packets_sent - adv0.packets_sent;
  report.bytes_sent = adv1.bytes_sent - adv0.bytes_sent;
  for (const CounterInfo& c : kCounters) {
    uint64_t delta = 0;
    for (int i = 0; i < o_.members; ++i) {
      delta += cluster_.node(i).stats().*c.field - stats0[i].*c.field;
    }
    if (delta > 0) report.refused[c.name] = delta;
  }
  uint64_t kv_ignored = 0, kv_refused = 0;
  for (int i = 0; i < o_.members; ++i) {
    kv_ignored += cluster_.kv(i)->lamport_jumps_ignored() - kv_ignored0[i];
    kv_refused += cluster_.kv(i)->refused() - kv_refused0[i];
    report.refutations +=
        cluster_.node(i).stats().refutations - stats0[i].refutations;
    report.max_incarnation_rise =
        std::max(report.max_incarnation_rise, Incarnation(i) - inc0[i]);
    report.max_lamport_rise = std::max(report.max_lamport_rise,
                                       cluster_.kv(i)->lamport() - lamport0[i]);
    report.max_table =
        std::max(report.max_table, cluster_.node(i).AllMembers().size());
  }
  if (kv_ignored > 0) report.refused["lamport_jumps_ignored"] = kv_ignored;
  if (kv_refused > 0) report.refused["kv_entries_refused"] = kv_refused;
  report.members_wrongly_removed = static_cast<int>(removed.size());
  report.hijacked_final = Hijacked();
  report.lists_served = lists_served_;
  if (report.datagrams_sent > 0) {
    for (int k = 0; k < 2; ++k) {
      report.reflection =
          std::max(report.reflection, static_cast<double>(third_packets_[k]) /
                                          report.datagrams_sent);
      report.reflection_bytes =
          std::max(report.reflection_bytes,
                   static_cast<double>(third_bytes_[k]) /
                       std::max<uint64_t>(1, report.bytes_sent));
    }
  }
  report.wall = absl::FromChrono(std::chrono::steady_clock::now() - wall_start);
  return report;
}

}  // namespace

const char* AttackName(Attack attack) {
  for (const AttackInfo& a : kAttacks) {
    if (a.attack == attack) return a.name;
  }
  return "unknown";
}

std::optional<Attack> ParseAttack(const std::string& name) {
  for (const AttackInfo& a : kAttacks) {
    if (name == a.name) return a.attack;
  }
  return std::nullopt;
}

std::vector<Attack> AllAttacks() {
  std::vector<Attack> all;
  for (const AttackInfo& a : kAttacks) all.push_back(a.attack);
  return all;
}

CampaignReport RunCampaign(const CampaignOptions& options) {
  return Campaign(options).Run();
}

std::string FormatReport(const CampaignReport& r) {
  std::vector<std::string> refused;
  for (const auto& [name, n] : r.refused) {
    refused.push_back(absl::StrCat(name, "=", n));
  }
  return absl::StrFormat(
      "attack=%s mode=%s seed=%d tried=%d datagrams=%d refused{%s} "
      "wrongly_dead=%d wrongly_left=%d members_removed=%d suspicions=%d "
      "hijacked_peak=%d hijacked_final=%d refutations=%d "
      "longest_suspicion=%s "
      "max_incarnation_rise=%d max_lamport_rise=%d reflection=%.3f "
      "reflection_bytes=%.3f lists_served=%d max_table=%d reconverged=%d "
      "reconverge=%s wall=%s",
      r.attack, r.mode, r.seed, r.tried, r.datagrams_sent,
      absl::StrJoin(refused, ","), r.wrongly_dead, r.wrongly_left,
      r.members_wrongly_removed, r.suspicions, r.hijacked_peak,
      r.hijacked_final, r.refutations,
      absl::FormatDuration(r.longest_suspicion), r.max_incarnation_rise,
      r.max_lamport_rise, r.reflection, r.reflection_bytes, r.lists_served,
      r.max_table, r.reconverged, absl::FormatDuration(r.reconverge_time),
      absl::FormatDuration(r.wall));
}

}  // namespace peerlab::membership
