// bench_adversary: the simulator's adversary (peer/membership/sim_adversary.h)
// against N simulated members, each attack in each mode on a fresh cluster,
// and a table per mode of what the defences refused and what got through.
//
//   bench_adversary [--members 100] [--seed 1] [--periods 30]
//       [--per-period 20] [--mode open,outsider,insider] [--attack all]
//
// Modes: "open" (no group key; the adversary can send anything), "outsider"
// (the group has a key the adversary lacks), "insider" (the adversary holds
// the group key, but no member's node key). Deterministic: the same options
// print the same figures (but the wall time). The table goes to stdout,
// progress to stderr. Exit code 0 on a finished run (whatever the figures),
// 2 on bad options.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "peer/membership/sim_adversary.h"
#include "base/command_line.h"
#include "base/logging.h"
#include "base/option_checks.h"

namespace {

using peerlab::membership::AllAttacks;
using peerlab::membership::Attack;
using peerlab::membership::AttackName;
using peerlab::membership::CampaignOptions;
using peerlab::membership::CampaignReport;
using peerlab::membership::ParseAttack;
using peerlab::membership::RunCampaign;
using peerlab::membership::SimAdversary;

// "decrypt_failures=600, bad_packets=3" with short names.
std::string Refused(const CampaignReport& r) {
  std::vector<std::string> parts;
  for (const auto& [name, n] : r.refused) {
    parts.push_back(absl::StrFormat("%s %d", name, n));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f", absl::ToDoubleSeconds(d));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bench_adversary: forgeries, replays and floods against simulated "
      "members; what each defence refused and what got through"};
  int members = 100;
  uint64_t seed = 1;
  int periods = 30;
  int per_period = 20;
  std::string modes = "open,outsider,insider";
  std::string attacks = "all";
  std::string log_level = "off";
  std::string profile = "local";
  app.add_option("--members", members, "simulated members (3 to 2000)")
      ->check(peerlab::Range(3, 2000));
  app.add_option("--seed", seed, "the simulation's seed")
      ->check(peerlab::Unsigned64);
  app.add_option("--periods", periods,
                 "protocol periods under attack (1 to 3600)")
      ->check(peerlab::Range(1, 3600));
  app.add_option("--per-period", per_period,
                 "forgeries per protocol period (1 to 10000)")
      ->check(peerlab::Range(1, 10000));
  app.add_option("--mode", modes,
                 "comma-separated modes: open, outsider, insider")
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            if (v.empty()) return "empty";
            for (absl::string_view m : absl::StrSplit(v, ',')) {
              if (m != "open" && m != "outsider" && m != "insider") {
                return "unknown mode '" + std::string(m) +
                       "' (open, outsider, insider)";
              }
            }
            return "";
          },
          "MODES"));
  app.add_option(
         "--attack", attacks,
         "comma-separated attacks, or all (" +
             [] {
               std::vector<std::string> names;
               for (Attack a : AllAttacks()) {
                 names.push_back(AttackName(a));
               }
               return absl::StrJoin(names, ", ");
             }() +
             ")")
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            if (v == "all") return "";
            if (v.empty()) return "empty";
            for (absl::string_view a : absl::StrSplit(v, ',')) {
              if (!ParseAttack(std::string(a))) {
                return "unknown attack '" + std::string(a) + "'";
              }
            }
            return "";
          },
          "ATTACKS"));
  app.add_option("--profile", profile,
                 "the members' configuration: local (the peer's), lan, wan")
      ->check(CLI::IsMember({"local", "lan", "wan"}));
  app.add_option("--log-level", log_level,
                 "the members' log level (default off: refusals are counted)")
      ->check(peerlab::LogLevel);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  if (auto s = peerlab::SetUpLogging("bench_adversary", log_level, "");
      !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }

  peerlab::membership::Config config;
  if (auto s = peerlab::membership::Config::FromProfile(profile, &config);
      !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  config.logger = peerlab::DefaultSpdlogLogger();  // --log-level applies
  std::vector<Attack> chosen;
  if (attacks == "all") {
    chosen = AllAttacks();
  } else {
    for (absl::string_view a : absl::StrSplit(attacks, ',')) {
      chosen.push_back(*ParseAttack(std::string(a)));
    }
  }
  std::cout << absl::StrFormat(
      "bench_adversary --members %d --seed %d --periods %d --per-period %d "
      "--profile %s\n",
      members, seed, periods, per_period, profile);
  for (absl::string_view mode : absl::StrSplit(modes, ',')) {
    std::cout << "\n### mode: " << mode << "\n\n"
              << "| attack | tried | refused by (member counters) | "
                 "declared dead (pairs) | declared left (pairs) | members "
                 "removed | hijacked records (peak / end) | refutations | "
                 "longest suspicion s | incarnation rise | Lamport rise | "
                 "reflection | lists served | table | reconverged after s |\n"
              << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
                 "---|\n";
    for (Attack a : chosen) {
      CampaignOptions o;
      o.attack = a;
      o.members = members;
      o.seed = seed;
      o.periods = periods;
      o.per_period = per_period;
      o.config = config;
      o.group_key = mode != "open";
      o.kind = mode == "insider" ? SimAdversary::Kind::kInsider
                                 : SimAdversary::Kind::kOutsider;
      std::cerr << "bench_adversary: " << mode << " " << AttackName(a)
                << "...\n";
      const CampaignReport r = RunCampaign(o);
      std::cout << absl::StrFormat(
                       "| %s | %d | %s | %d | %d | %d | %d / %d | %d | %s | "
                       "%d | %d | %.3f | %d | %d | %s |",
                       r.attack, r.tried, Refused(r), r.wrongly_dead,
                       r.wrongly_left, r.members_wrongly_removed,
                       r.hijacked_peak, r.hijacked_final, r.refutations,
                       Seconds(r.longest_suspicion), r.max_incarnation_rise,
                       r.max_lamport_rise, r.reflection, r.lists_served,
                       r.max_table,
                       r.reconverged ? Seconds(r.reconverge_time) : "no")
                << std::endl;
    }
  }
  return 0;
}
