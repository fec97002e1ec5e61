// SimAdversary: a hostile node on the simulated network, and campaigns that
// run one attack (or a mix) against a SimCluster and report what the
// protocol's defences refused and what got through.
//
// The adversary is a SimNetwork node that runs no member. It can
//   - capture: every datagram sent to it, and, with Tap(), every datagram
//     delivered anywhere on the network (a wire tap); at most kMaxCaptured
//     are kept (a reservoir sample: older ones are replaced at random);
//   - inject: datagrams of forged messages (suspect, dead, leave, alive,
//     user/key-value, ping, ping-req) claiming to come from any member, from
//     its own UDP source or a forged one (SimNetwork::SendSpoofedPacket);
//     replays of captured datagrams, unchanged (sealed ones stay sealed);
//     push/pull requests on the reliable path; random garbage.
// Two kinds: an outsider has no group key (what it sends is plaintext, and
// it cannot read sealed traffic), an insider holds the group's keys (it
// seals what it sends as members do) but no member's own node key.
//
// Everything it does is drawn from its own generator, seeded from the
// cluster's seed, so a campaign is a pure function of its options: the
// reports print the seed, and PEERLAB_SIM_SEED replays it in the tests.
//
// The adversary knows every honest member's current incarnation,
// generation, id and address (it reads them from the cluster): the
// strongest outsider, which a real one approaches by capturing unencrypted
// traffic. So the figures are upper bounds of what an attacker achieves.
//
// Thread safety: none; used from the simulation's one thread. Sending
// methods must run inside a task of the simulation (they are called from
// RunCampaign's scheduled attack rounds).
#ifndef PEERLAB_PEER_MEMBERSHIP_SIM_ADVERSARY_H_
#define PEERLAB_PEER_MEMBERSHIP_SIM_ADVERSARY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "peer/membership/keyring.h"
#include "peer/membership/random.h"
#include "peer/membership/sealing.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {

class SimAdversary {
 public:
  enum class Kind {
    kOutsider,  // no group key
    kInsider,   // the group's keys, no member's node key
  };
  struct Options {
    Kind kind = Kind::kOutsider;
    // kInsider: the group's raw keys, the first the primary (empty: the
    // cluster is open, and an insider is an outsider).
    std::vector<std::string> keys;
    std::string name = "mallory";
    uint64_t seed = 1;
  };
  // A captured datagram.
  struct Captured {
    absl::Time time;
    std::string from_address;  // the source its receiver saw
    std::string to_address;
    std::string bytes;
  };
  static constexpr size_t kMaxCaptured = 4096;

  // Adds the adversary's node to `cluster`'s network. `cluster` must
  // outlive it.
  SimAdversary(SimCluster& cluster, Options options);
  ~SimAdversary();
  SimAdversary(const SimAdversary&) = delete;
  SimAdversary& operator=(const SimAdversary&) = delete;

  Kind kind() const { return options_.kind; }
  sim::NodeId node() const { return node_; }
  const std::string& address() const { return address_; }
  const std::string& name() const { return options_.name; }
  Random& rng() { return rng_; }

  // --- Capture ---
  // Starts (true) or stops capturing every datagram delivered on the
  // network. Replaces the network's packet tap.
  void Tap(bool on);
  const std::vector<Captured>& captured() const { return captured_; }
  // Datagrams seen (captured or not) since the start.
  uint64_t seen() const { return seen_; }

  // --- Injection (from a task of the simulation) ---
  // One datagram holding `messages`, Packet.from = `claimed_from`, sealed
  // for an insider, to `to`, from UDP source `source` (empty: its own
  // address). Returns its size.
  size_t SendMessages(const std::string& to,
                      const std::vector<::peer::v1::Message>& messages,
                      const std::string& claimed_from,
                      const std::string& source = "");
  // `bytes` as they are, to `to`, from `source` (empty: its own).
  void SendRaw(const std::string& to, std::string bytes,
               const std::string& source = "");
  // A push/pull request to `to`, sealed for an insider. `on_answer` gets
  // the answer's push/pull (opened for an insider), or an error.
  void SendPushPull(
      const std::string& to, const ::peer::v1::PushPull& push_pull,
      std::function<void(absl::StatusOr<::peer::v1::PushPull>)> on_answer);
  // One datagram holding `messages`, sealed (insider) under `sealer`'s
  // name, generation and sequence number, Packet.from = sealer.name, from
  // UDP source `source`. Without the key, as SendMessages.
  void SendSealedAs(const std::string& to,
                    const std::vector<::peer::v1::Message>& messages,
                    const Sealer& sealer, const std::string& source);
  // Replays one captured datagram chosen at random among those captured at
  // least `min_age` ago, to its original receiver from its original source.
  // False when there is none.
  bool ReplayOne(absl::Duration min_age);

  // --- Forged messages about member `victim` of the cluster, as it is
  // now (incarnation, generation, id, address, meta) ---
  ::peer::v1::Message Suspect(int victim, uint64_t incarnation,
                              const std::string& accuser) const;
  ::peer::v1::Message Dead(int victim, uint64_t incarnation,
                           const std::string& accuser) const;
  // Dead with from == node: a voluntary leave.
  ::peer::v1::Message Leave(int victim, uint64_t incarnation) const;
  // The victim's alive at `incarnation` with address `addr`.
  ::peer::v1::Message Alive(int victim, uint64_t incarnation,
                            const std::string& addr) const;
  // The metadata forged alives carry (kAliveSpoofedSource).
  static constexpr const char* kForgedMeta = "forged";

 private:
  void Capture(const std::string& from_address, const std::string& to_address,
               const std::string& bytes);
  // Seals for an insider; unchanged otherwise.
  std::string SealPacket(std::string packet);

  SimCluster& cluster_;
  Options options_;
  sim::NodeId node_;
  std::string address_;
  std::optional<Keyring> keyring_;
  uint64_t sealed_seq_ = 0;  // of what it seals (members' replay windows)
  Random rng_;
  std::vector<Captured> captured_;
  uint64_t seen_ = 0;
  bool tapping_ = false;
};

// --- Campaigns ---------------------------------------------------------------

enum class Attack {
  // suspect / dead / leave about an honest member, naming its current
  // incarnation, +incarnation_window, +window+1, and 2^64-1.
  kSuspectCurrent,
  kSuspectWindow,
  kSuspectBeyondWindow,
  kSuspectMax,
  kDeadCurrent,
  kDeadWindow,
  kDeadMax,
  kLeaveCurrent,
  kLeaveMax,
  // alive about an honest member with the adversary's address (a redirect),
  // relayed (UDP source: the adversary) at +1, +window+1 and 2^64-1.
  kAliveRedirect,
  kAliveRedirectBeyondWindow,
  kAliveMax,
  // alive at +10^6 with forged metadata, from the victim's own address
  // (a forged UDP source).
  kAliveSpoofedSource,
  // alive of a newer generation of the victim's name (a forged restart),
  // with the adversary's address.
  kAliveNewerGeneration,
  // user messages of key/value entries at Lamport 2^62, 2^64-1 and the
  // clock + window + 1.
  kLamportExtremes,
  // datagrams full of pings naming a third party's source_addr, and of
  // ping-reqs naming third parties as target and reply address.
  kPingReflection,
  kPingReqReflection,
  // captured datagrams replayed to their receivers after >= 1 s.
  kReplay,
  // (insider) a harmless datagram sealed as a member's own (sealer: its
  // name and generation), from its address, numbered 2^62 (the member's
  // replay window at the receiver jumps past everything it sends), or of a
  // newer generation (its windows there are replaced).
  kReplayWindowJump,
  kReplayWindowGeneration,
  // push/pull requests carrying forged states (redirect, suspect, dead,
  // left, made-up members), claiming an honest member's name.
  kPushPull,
  // random bytes, sealed-looking bytes, and captured datagrams with bits
  // flipped.
  kGarbage,
  // each forgery one of the above at random.
  kMixed,
};
// "suspect-current", ... (the bench's and the tests' names).
const char* AttackName(Attack attack);
std::optional<Attack> ParseAttack(const std::string& name);
// Every attack, in declaration order.
std::vector<Attack> AllAttacks();

struct CampaignOptions {
  Attack attack = Attack::kMixed;
  int members = 100;
  uint64_t seed = 1;
  // The cluster uses a group key (one, generated from the seed).
  bool group_key = true;
  SimAdversary::Kind kind = SimAdversary::Kind::kOutsider;
  // Protocol periods (Config::probe_interval) under attack, and forgeries
  // (datagrams, or push/pull requests) per period.
  int periods = 30;
  int per_period = 20;
  Config config = Config::Local();
};

// What a campaign did and what the defences did about it. Counters are
// summed over the honest members (deltas over the campaign).
struct CampaignReport {
  std::string attack;
  std::string mode;  // "open", "outsider", "insider"
  uint64_t seed = 0;
  uint64_t tried = 0;  // forgeries sent (messages, requests)
  // kMixed: tried, by attack name.
  std::map<std::string, uint64_t> tried_by_attack;
  uint64_t datagrams_sent = 0;  // by the adversary
  uint64_t bytes_sent = 0;
  // Member counters that grew: name -> delta (only non-zero ones).
  std::map<std::string, uint64_t> refused;
  // Harm: (observer, honest target) pairs where the observer declared the
  // target dead / left / suspect; distinct honest members declared dead or
  // left by anyone; pairs whose record of a target held another address
  // (peak over samples each probe period, and at the end).
  // "Hijacked": an observer's record of an honest member that is not what
  // the member says of itself: another address, another process
  // (generation, id), or forged metadata.
  int wrongly_dead = 0;
  int wrongly_left = 0;
  int members_wrongly_removed = 0;
  int suspicions = 0;
  int hijacked_peak = 0;
  int hijacked_final = 0;
  uint64_t refutations = 0;
  // Longest time an observer held an honest member suspect before the
  // member's refutation reached it (or until the end of the campaign).
  absl::Duration longest_suspicion;
  // Largest rise of an honest member's own incarnation, and of any key/value
  // store's Lamport clock, over the campaign.
  uint64_t max_incarnation_rise = 0;
  uint64_t max_lamport_rise = 0;
  // Reflection: datagrams (bytes) the third parties received per datagram
  // (byte) the adversary sent; the larger of the two third parties.
  double reflection = 0;
  double reflection_bytes = 0;
  // Push/pull answers that carried the member list to the adversary.
  uint64_t lists_served = 0;
  size_t max_table = 0;  // largest member table of an honest member
  bool reconverged = false;
  absl::Duration reconverge_time;  // after the last attack round
  absl::Duration wall;             // real time the campaign took
};

// Builds a cluster of `members`, converges it, runs the attack for
// `periods`, lets it recover (until converged, at most the detection plus
// anti-entropy bound), and reports.
CampaignReport RunCampaign(const CampaignOptions& options);

// One line per report field, for logs and failure messages.
std::string FormatReport(const CampaignReport& report);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_SIM_ADVERSARY_H_
