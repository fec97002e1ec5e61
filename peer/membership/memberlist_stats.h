// Memberlist's counters (Memberlist::stats()): traffic, probes, refusals
// and bounds hit. StatsSnapshot (stats_snapshot.h) turns them into
// memberlist's metric names.
#ifndef PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_STATS_H_
#define PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_STATS_H_

#include <array>
#include <cstdint>

namespace peerlab::membership {

// Counters, for tests, the simulator and `memberlist` commands.
struct Stats {
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t bad_packets = 0;  // malformed, truncated or oversized: dropped
  uint64_t probes = 0;
  uint64_t indirect_probes = 0;
  uint64_t fallback_probes = 0;
  uint64_t suspicions_raised = 0;  // this node suspected someone
  uint64_t refutations = 0;        // this node refuted a suspicion of itself
  uint64_t push_pulls = 0;
  uint64_t nacks_received = 0;
  uint64_t unknown_sender_syncs = 0;  // introductions to unheard-of senders
  // Gossip encryption: datagrams and reliable requests or answers refused
  // because no key opened them (wrong key, tampered), because they came
  // unencrypted to a node with a keyring, or encrypted to one without.
  uint64_t decrypt_failures = 0;
  // Bounds (Config::max_members, kMaxUnknownSenders): new members refused
  // because the table was full, push/pulls refused whole for carrying more
  // entries than max_members, introductions skipped because the table of
  // unknown senders was full, and messages dropped for a field out of
  // range (too long a name, address or id; an incarnation near the top).
  uint64_t members_refused = 0;
  uint64_t push_pulls_refused = 0;
  uint64_t unknown_senders_refused = 0;
  uint64_t bad_messages = 0;
  // Suspect, dead and alive messages ignored for naming an incarnation more
  // than Config::incarnation_window above the one this node knows (an
  // alive only when relayed, not sent by the member itself).
  uint64_t incarnation_jumps_ignored = 0;
  // No amplification: pings and ping-reqs not served because the datagram
  // that carried them had one served already, and ping-reqs whose target
  // address is their reply address.
  uint64_t probe_requests_refused = 0;
  // Names: joins refused because the name is held by a live member, and
  // claims to a known name by another process (conflicts, logged).
  uint64_t joins_refused = 0;
  uint64_t name_conflicts = 0;
  // Signed claims about oneself (docs/security.md): alives and leaves
  // refused for carrying no signature, or one that does not verify against
  // the key they must be signed with; alives refused because they carry
  // another key than the one pinned to a name whose member is not dead
  // (or left) for long enough; Ed25519 verifications run (each claim is
  // verified once, then found in the cache).
  uint64_t signature_failures = 0;
  uint64_t key_conflicts = 0;
  uint64_t signatures_verified = 0;
  // Claims dropped unverified because their datagram had used its
  // verifications (kMaxVerificationsPerDatagram): gossip and push/pull
  // bring them again.
  uint64_t verifications_refused = 0;
  // Envelope (encryption.cc): datagrams dropped and reliable requests or
  // answers refused for another group label (Config::label), or for a
  // protocol version this node does not speak (protocol_version.h).
  uint64_t label_mismatches = 0;
  uint64_t versions_refused = 0;
  // Replay window (encrypted only): sealed datagrams and reliable requests
  // refused as replays (a sequence number already seen, or too old for the
  // window, or an older generation of the sender), and senders' windows
  // evicted because kMaxReplaySenders were held.
  uint64_t replays_refused = 0;
  uint64_t replay_senders_evicted = 0;
  // Key catch-up (key_catch_up.h). As the answering member: requests
  // answered with the current keyring; refused (no retired key opens it,
  // or a key still in use does; no member of that name with that node key
  // known; a newer process of the name known; a bad signature); not
  // answered for a rate limit (per name, or for the whole node). As the
  // asker: keyrings installed from an answer. Retired keys dropped for
  // Config::max_retired_keys, and departed members forgotten for
  // Config::max_members (both bounds).
  uint64_t catch_ups_answered = 0;
  uint64_t catch_ups_refused = 0;
  uint64_t catch_ups_limited = 0;
  uint64_t keyring_catch_ups = 0;
  uint64_t retired_keys_evicted = 0;
  uint64_t departed_evicted = 0;
  // Alive notices (relayed alives, AliveNotice): fetches of the signed
  // claims they announce (PushPull.want requests sent, and names asked
  // for), and names not asked for because kMaxWanted fetches were under
  // way already (the notice comes again, or push/pull brings the claim).
  uint64_t claim_fetches = 0;
  // Sender tags (sealing.h): sealed datagrams and requests accepted
  // without a verified tag (checked against their own replay windows: a
  // first contact, before both sides know each other's node key), tags
  // that did not verify (handled as untagged), and pair keys derived.
  uint64_t unproven_senders = 0;
  uint64_t sender_tag_failures = 0;
  uint64_t pair_keys_derived = 0;
  uint64_t claims_wanted = 0;
  uint64_t wants_refused = 0;
  // Direct user messages (SendUserMessage): sent (calls started), received
  // (delivered to the delegate), refused here as the sender (too large,
  // Config::max_user_messages_in_flight reached) or as the receiver (too
  // large, sender not proven, meant for another node).
  uint64_t user_messages_sent = 0;
  uint64_t user_messages_received = 0;
  uint64_t user_messages_refused = 0;
  // Force-leave (ForceLeave): members this node marked left (or forgot)
  // because another member forced their leave, and requests ignored
  // because this node holds the member live (or another generation).
  uint64_t forced_leaves = 0;
  uint64_t force_leaves_ignored = 0;

  // --- For StatsSnapshot (stats_snapshot.h) ---
  // Traffic by kind. Datagrams: each message, indexed by the field number
  // of its kind in peer.v1.Message's oneof (read from its encoded first
  // tag; 0 for a number >= kMaxKinds), with its encoded size. Reliable
  // path: each request, by the field number of ReliableRequest's oneof,
  // with its serialized size; an answer to one of ours is counted as
  // received under the request's kind.
  static constexpr int kMaxKinds = 32;
  struct Traffic {
    uint64_t messages = 0;
    uint64_t bytes = 0;
  };
  std::array<Traffic, kMaxKinds> sent_by_kind{};
  std::array<Traffic, kMaxKinds> received_by_kind{};
  std::array<Traffic, kMaxKinds> reliable_sent_by_kind{};
  std::array<Traffic, kMaxKinds> reliable_received_by_kind{};
  uint64_t bytes_sent = 0;  // datagrams, sealed, as they left
  uint64_t bytes_received = 0;
  uint64_t reliable_received = 0;  // requests received (served or not)
  // How probes ended (probes = these + the running ones): a direct ack
  // within probe_timeout; an ack after it (through a ping-req, or late);
  // only the reliable fallback answered; nothing answered.
  uint64_t probe_acks = 0;
  uint64_t probe_late_acks = 0;
  uint64_t probe_fallback_acks = 0;
  uint64_t probe_failures = 0;
  uint64_t degraded_probes = 0;  // run at a slowed (Lifeguard) interval
  // Suspicions that ran out with fewer independent confirmations than
  // Lifeguard expected (memberlist.degraded.timeout).
  uint64_t degraded_timeouts = 0;
  uint64_t gossip_rounds = 0;  // that sent something
  // memberlist.msg.*: alives that changed a member, suspicions started,
  // members declared dead or left.
  uint64_t alives_applied = 0;
  uint64_t suspects_applied = 0;
  uint64_t deads_applied = 0;
  // Suspicions held here that the suspected member's alive ended.
  uint64_t suspicions_refuted = 0;
  // Sick networks (docs/membership.md): accusations dropped because their
  // accuser was not credible here; early last checks run because a
  // suspicion had Config::corroboration accusers; members quarantined
  // (declared dead on evidence across refutations); refutations refused
  // during a hold-down; probes that only the reliable fallback answered
  // and that suspected the member (Config::fallback_only_suspects).
  uint64_t accusations_discounted = 0;
  uint64_t early_checks = 0;
  uint64_t quarantines = 0;
  uint64_t follow_checks = 0;  // quarantine declarations checked here
  // Push/pulls after kSilencePeriods probe intervals of hearing nothing
  // (Memberlist::CatchUpAfterSilence).
  uint64_t silence_catch_ups = 0;
  // Alive notices about others dropped from the gossip queue past
  // Config::max_queued_alives, and the push/pulls run because of it (gossip.cc
  // ScheduleDropCatchUp).
  uint64_t alive_notices_dropped = 0;
  uint64_t drop_catch_ups = 0;
  uint64_t held_down_refutations = 0;
  uint64_t fallback_only_suspicions = 0;
  // Coordinates on acks refused (CoordinateFromProto, CoordinateClient::
  // Update: wrong dimension, not finite, out of bounds, RTT out of range).
  uint64_t coordinates_refused = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_MEMBERLIST_STATS_H_
