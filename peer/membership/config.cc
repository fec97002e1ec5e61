#include "peer/membership/config.h"

#include "absl/strings/str_cat.h"

namespace peerlab::membership {

Config Config::Lan() {
  Config c;
  // Lifeguard's tuning (Dadgar et al., "Lifeguard: Local Health Awareness
  // for More Accurate Failure Detection", 2018: a lower minimum suspicion
  // timeout is safe once confirmations decide how far it falls): the
  // minimum halved (memberlist: suspicion_mult 4), the maximum kept at
  // memberlist's 4 * 6 = 24 probe intervals * log10(N), and K = 2 as
  // memberlist's 4 - 2. A crash (every prober confirms) is declared after
  // 2 * log10(N) s instead of 4; an unconfirmed suspicion still waits up to
  // 24 * log10(N) s. Measured in bench/RESULTS.md ("kill -9 detection,
  // issue 17"): peerlab-sim crash at N = 10 -22 % dead-by-all, no more false
  // positives in --scenario slow.
  c.suspicion_mult = 2;
  c.suspicion_max_timeout_mult = 12;
  c.suspicion_confirmations = 2;
  return c;
}

Config Config::Wan() {
  Config c;
  c.reliable_timeout = absl::Seconds(30);
  c.suspicion_mult = 6;
  c.push_pull_interval = absl::Seconds(60);
  c.probe_timeout = absl::Seconds(3);
  c.probe_interval = absl::Seconds(5);
  c.gossip_nodes = 4;
  c.gossip_interval = absl::Milliseconds(500);
  c.gossip_to_the_dead_time = absl::Seconds(60);
  return c;
}

Config Config::Local() {
  Config c;
  c.reliable_timeout = absl::Seconds(1);
  c.indirect_checks = 1;
  c.retransmit_mult = 2;
  c.suspicion_mult = 3;
  c.push_pull_interval = absl::Seconds(15);
  c.probe_timeout = absl::Milliseconds(200);
  c.probe_interval = absl::Seconds(1);
  c.gossip_interval = absl::Milliseconds(100);
  c.gossip_to_the_dead_time = absl::Seconds(15);
  c.evidence_window = absl::Seconds(15);
  c.hold_down = absl::Seconds(30);
  return c;
}

absl::Status Config::FromProfile(const std::string& profile, Config* config) {
  std::string name = config->name;
  runtime::Logger* const logger = config->logger;
  if (profile == "lan") {
    *config = Lan();
  } else if (profile == "wan") {
    *config = Wan();
  } else if (profile == "local") {
    *config = Local();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("profile: \"", profile, "\" is not lan, wan or local"));
  }
  config->name = name;
  config->logger = logger;
  return absl::OkStatus();
}

absl::Status Config::Validate() const {
  auto positive = [](absl::Duration d, const char* field) {
    return d > absl::ZeroDuration() ? absl::OkStatus()
                                    : absl::InvalidArgumentError(
                                          absl::StrCat(field, ": must be > 0"));
  };
  if (name.empty()) return absl::InvalidArgumentError("name: empty");
  if (label.size() > kMaxLabelBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label: ", label.size(), " bytes, at most ", kMaxLabelBytes));
  }
  for (unsigned char ch : label) {
    if (ch < 0x20 || ch == 0x7f) {
      return absl::InvalidArgumentError("label: control characters");
    }
  }
  for (auto [d, f] : {std::pair{probe_interval, "probe_interval"},
                      std::pair{probe_timeout, "probe_timeout"},
                      std::pair{reliable_timeout, "reliable_timeout"},
                      std::pair{gossip_interval, "gossip_interval"},
                      std::pair{leave_timeout, "leave_timeout"}}) {
    if (auto s = positive(d, f); !s.ok()) return s;
  }
  if (probe_timeout > probe_interval) {
    return absl::InvalidArgumentError(
        "probe_timeout: must not exceed probe_interval");
  }
  if (indirect_checks < 0) {
    return absl::InvalidArgumentError("indirect_checks: must be >= 0");
  }
  if (suspicion_mult < 1) {
    return absl::InvalidArgumentError("suspicion_mult: must be >= 1");
  }
  if (suspicion_confirmations < -1 || suspicion_confirmations > 100) {
    return absl::InvalidArgumentError(
        "suspicion_confirmations: must be in -1..100");
  }
  if (suspicion_max_timeout_mult < 1) {
    return absl::InvalidArgumentError(
        "suspicion_max_timeout_mult: must be >= 1");
  }
  if (retransmit_mult < 1) {
    return absl::InvalidArgumentError("retransmit_mult: must be >= 1");
  }
  if (gossip_nodes < 1) {
    return absl::InvalidArgumentError("gossip_nodes: must be >= 1");
  }
  if (packet_size < 512 || packet_size > 65507) {
    return absl::InvalidArgumentError("packet_size: must be in 512..65507");
  }
  if (awareness_max_multiplier < 1) {
    return absl::InvalidArgumentError("awareness_max_multiplier: must be >= 1");
  }
  if (reconnect_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect_timeout: must be >= 0");
  }
  if (corroboration < 0 || quarantine_observers < 0 || max_accusations < 0) {
    return absl::InvalidArgumentError(
        "corroboration, quarantine_observers, max_accusations: must be >= 0");
  }
  if (evidence_window <= absl::ZeroDuration() &&
      (quarantine_observers > 0 || max_accusations > 0)) {
    return absl::InvalidArgumentError("evidence_window: must be > 0");
  }
  if (hold_down < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("hold_down: must be >= 0");
  }
  if (push_pull_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("push_pull_interval: must be >= 0");
  }
  if (incarnation_window < 1) {
    return absl::InvalidArgumentError("incarnation_window: must be >= 1");
  }
  if (max_queued_alives < 0) {
    return absl::InvalidArgumentError("max_queued_alives: must be >= 0");
  }
  if (max_members < 2 || max_members > 10'000'000) {
    return absl::InvalidArgumentError("max_members: must be in 2..10000000");
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: ", name.size(), " bytes, at most ", kMaxNameBytes));
  }
  if (retired_key_time < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retired_key_time: must be >= 0");
  }
  if (max_user_message_bytes < 1 || max_user_message_bytes > (16 << 20)) {
    return absl::InvalidArgumentError(
        "max_user_message_bytes: must be in 1..16777216");
  }
  if (max_user_messages_in_flight < 1) {
    return absl::InvalidArgumentError(
        "max_user_messages_in_flight: must be >= 1");
  }
  if (max_retired_keys < 0 || max_retired_keys > 64) {
    return absl::InvalidArgumentError("max_retired_keys: must be in 0..64");
  }
  if (max_meta_bytes < 0 || max_meta_bytes > kMaxMetaBytesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_meta_bytes: must be in 0..", kMaxMetaBytesLimit));
  }
  if (coordinates) {
    if (auto s = coordinate.Validate(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::membership
