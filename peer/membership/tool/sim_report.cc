// The CSV and text report of a peerlab-sim run (see sim_runner.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "peer/membership/tool/sim_runner.h"

namespace peerlab::membership::tool {
namespace {

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

std::string Cell(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.3f", Seconds(*d)) : "";
}

std::string Text(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.3f s", Seconds(*d)) : "not reached";
}

}  // namespace

std::string CsvHeader() {
  return "nodes,profile,scenario,seed,loss,lifeguard,duration_s,join_window_s,"
         "converge_s,fault_at_s,faulty,first_detect_s,last_detect_s,"
         "partition_detect_s,healed_after_s,heal_converge_s,false_positives,"
         "stale_partition_deaths,"
         "msgs_per_member_s,bytes_per_member_s,steady_msgs_per_member_s,"
         "steady_bytes_per_member_s,events,real_s,speedup,peak_rss_mib,"
         "healthy_declared_dead,false_removal_pairs,removal_windows,"
         "removal_missed,removed_after_s,readmissions,readmissions_per_cycle,"
         "agreement_samples,agreement_pct,sent_mean_Bps,sent_p99_Bps,"
         "sent_max_Bps,recv_mean_Bps,recv_p99_Bps,recv_max_Bps,"
         "last_restart_s,restart_converge_s,ingress_dropped,egress_dropped,"
         "protocol,restart_seen_dead_until_s,restart_seen_dead_after_grace,"
         "start,alive_notices_dropped,drop_catch_ups";
}

std::string CsvRow(const SimRunResult& r) {
  const SimRunOptions& o = r.options;
  return absl::StrFormat(
             "%d,%s,%s,%d,%g,%d,%.3f,%.3f,%s,%s,%d,%s,%s,%s,%s,%s,%d,%d,%.3f,%."
             "1f,"
             "%.3f,%.1f,%d,%.3f,%.2f,%.1f",
             o.nodes, o.profile, ScenarioName(o.scenario), o.seed, o.loss,
             o.lifeguard ? 1 : 0, Seconds(o.duration), Seconds(o.join_window),
             Cell(r.converge), Cell(r.fault_at), r.faulty.size(),
             Cell(r.first_detect), Cell(r.last_detect),
             Cell(r.partition_detect), Cell(r.healed_after),
             Cell(r.heal_converge), r.false_positives, r.stale_partition_deaths,
             r.msgs_per_member_s, r.bytes_per_member_s,
             r.steady_msgs_per_member_s, r.steady_bytes_per_member_s, r.events,
             r.real_seconds,
             r.real_seconds > 0 ? Seconds(r.sim_time) / r.real_seconds : 0.0,
             r.peak_rss_mib) +
         absl::StrFormat(
             ",%d,%d,%d,%d,%s,%d,%.3f,%d,%s,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%s,%"
             "s,"
             "%d,%d",
             r.healthy_declared_dead, r.false_removal_pairs, r.removal_windows,
             r.removal_missed, Cell(r.removed_after), r.readmissions,
             r.readmissions_per_cycle, r.agreement_samples,
             r.agreement_pct ? absl::StrFormat("%.3f", *r.agreement_pct) : "",
             r.sent.mean, r.sent.p99, r.sent.max, r.received.mean,
             r.received.p99, r.received.max, Cell(r.last_restart),
             Cell(r.restart_converge), r.ingress_dropped, r.egress_dropped) +
         (o.memberlist_compat ? ",memberlist" : ",peerlab") +
         absl::StrFormat(",%s,%d,%s,%d,%d", Cell(r.restart_seen_dead_until),
                         r.restart_seen_dead_after_grace,
                         StartModeName(o.start), r.alive_notices_dropped,
                         r.drop_catch_ups);
}

std::string FormatReport(const SimRunResult& r) {
  const SimRunOptions& o = r.options;
  std::string out = absl::StrFormat(
      "members: %d  profile: %s  scenario: %s  seed: %d  loss: %g  "
      "lifeguard: %s%s%s\n",
      o.nodes, o.profile, ScenarioName(o.scenario), o.seed, o.loss,
      o.lifeguard ? "on" : "off",
      o.memberlist_compat ? "  protocol: memberlist (baseline)" : "",
      o.start == StartMode::kConverged ? "  start: converged" : "");
  absl::StrAppend(
      &out, "all know all after: ", Text(r.converge),
      o.start == StartMode::kConverged
          ? " (converged start: every member knew every other at 0; not a "
            "convergence figure)"
      : o.join_window > absl::ZeroDuration()
          ? " (since the last member started)"
          : "",
      "\n");
  if (r.fault_at) {
    absl::StrAppend(&out, "fault at: ", Text(r.fault_at), " (", r.faulty.size(),
                    " members)\n");
  }
  switch (o.scenario) {
    case Scenario::kJoin:
    case Scenario::kSlow:
      break;
    case Scenario::kFlipFlop:
      absl::StrAppend(
          &out,
          absl::StrFormat("flip-flop: %d members drop all ingress for %.0f s, "
                          "then none for %.0f s; %d datagrams and calls "
                          "dropped\n",
                          r.faulty.size(), Seconds(o.flip_on),
                          Seconds(o.flip_off), r.ingress_dropped));
      break;
    case Scenario::kEgressLoss:
      absl::StrAppend(&out,
                      absl::StrFormat("egress loss: %d members lose %.0f %% "
                                      "of their datagrams; %d dropped\n",
                                      r.faulty.size(), 100 * o.egress_loss,
                                      r.egress_dropped));
      break;
    case Scenario::kOneway:
      if (!r.faulty.empty()) {
        absl::StrAppend(&out, "oneway: node", r.faulty[0],
                        " is reachable only from node", r.oneway_via, "; ",
                        r.ingress_dropped, " datagrams and calls dropped\n");
      }
      break;
    case Scenario::kMassRestart:
      absl::StrAppend(
          &out, "last restart at: ", Text(r.last_restart), "\n",
          "all know all after the last restart: ", Text(r.restart_converge),
          "\n",
          absl::StrFormat("restarted members seen dead %.0f s after their "
                          "restart: %d\n",
                          Seconds(o.restart_grace),
                          r.restart_seen_dead_after_grace),
          "restarted members seen dead until (slowest, after their restart): ",
          r.restarts.empty()          ? "n/a"
          : r.restart_seen_dead_until ? Text(r.restart_seen_dead_until)
                                      : "never (held dead at the end)",
          "\n");
      break;
    case Scenario::kCrash:
      absl::StrAppend(&out, "crash seen dead, first: ", Text(r.first_detect),
                      "\n", "crash seen dead by all: ", Text(r.last_detect),
                      "\n");
      break;
    case Scenario::kPartition:
      absl::StrAppend(
          &out, "other side seen dead by all: ", Text(r.partition_detect), "\n",
          "healed after: ", Text(r.healed_after), "\n",
          "all know all after heal: ", Text(r.heal_converge), "\n",
          "deaths from stale partition news: ", r.stale_partition_deaths, "\n");
      break;
  }
  // The four lines scripts read (issue 17), exactly so.
  absl::StrAppend(
      &out, "healthy members declared dead: ", r.healthy_declared_dead, "\n");
  absl::StrAppend(&out, "faulty members removed after: ",
                  r.removal_windows == 0 ? "n/a"
                  : r.removed_after
                      ? absl::StrFormat("%.3f s", Seconds(*r.removed_after))
                      : "never",
                  "\n");
  absl::StrAppend(&out, "re-admissions per cycle: ",
                  r.removal_windows == 0
                      ? "n/a"
                      : absl::StrFormat("%.2f", r.readmissions_per_cycle),
                  "\n");
  absl::StrAppend(
      &out, "agreement: ",
      r.agreement_pct ? absl::StrFormat("%.2f %%", *r.agreement_pct) : "n/a",
      "\n");
  absl::StrAppend(
      &out,
      absl::StrFormat("traffic per member sent: mean %.0f, p99 %.0f, max %.0f "
                      "B/s\n",
                      r.sent.mean, r.sent.p99, r.sent.max),
      absl::StrFormat("traffic per member received: mean %.0f, p99 %.0f, max "
                      "%.0f B/s\n",
                      r.received.mean, r.received.p99, r.received.max));
  absl::StrAppend(
      &out, "false positive deaths: ", r.false_positives, "\n",
      // The gossip queue's bound (Config::max_queued_alives) acted when
      // these are not 0.
      "alive notices dropped: ", r.alive_notices_dropped,
      " (drop catch-ups: ", r.drop_catch_ups, ")\n",
      absl::StrFormat("messages per member per second: %.2f (steady %.2f)\n",
                      r.msgs_per_member_s, r.steady_msgs_per_member_s),
      absl::StrFormat("bytes per member per second: %.0f (steady %.0f)\n",
                      r.bytes_per_member_s, r.steady_bytes_per_member_s),
      absl::StrFormat(
          "simulated %.1f s in %.2f s real (%.1fx), %d events\n",
          Seconds(r.sim_time), r.real_seconds,
          r.real_seconds > 0 ? Seconds(r.sim_time) / r.real_seconds : 0.0,
          r.events),
      absl::StrFormat("peak memory: %.0f MiB\n", r.peak_rss_mib),
      absl::StrFormat("trace hash: %016x\n", r.trace_hash));
  return out;
}

}  // namespace peerlab::membership::tool
