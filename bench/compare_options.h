// compare_options: the command-line options membership_compare and
// cluster_compare share (the systems to run, their binaries and profile,
// the members' logs and settings, repetitions, the JSON output), declared
// once so that both tools name, check and document them alike. Each tool
// adds its own (--nodes, phases) beside them.
//
// Header only (the tools link CLI11 themselves). Not thread-safe: used by a
// tool's main thread while it parses its command line.
#ifndef PEERLAB_BENCH_COMPARE_OPTIONS_H_
#define PEERLAB_BENCH_COMPARE_OPTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "base/option_checks.h"
#include "bench/bench_members.h"

namespace peerlab::bench {

struct CompareOptions {
  std::string profile = "lan";
  std::string peer_bin;  // empty: peerlab-peer next to the tool
  std::string serf_bin = "/usr/bin/serf";
  std::string systems = "peerlab,serf";
  std::string json_path;
  std::string log_dir;  // empty: a temporary directory
  std::string peer_log_level = "warn";
  std::vector<std::string> peer_settings;  // "KEY VALUE" lines
  int repeat = 1;
  double timeout_s = 120;

  // `systems` split at commas, in the order given.
  std::vector<std::string> SystemList() const {
    return absl::StrSplit(systems, ',');
  }
};

// Adds the shared options to `app`, writing into `o` (which must outlive
// the parse). `timeout_help` and `repeat_help` say what the tool waits for
// and repeats.
inline void AddCompareOptions(CLI::App& app, CompareOptions* o,
                              const std::string& timeout_help,
                              const std::string& repeat_help) {
  app.add_option("--profile", o->profile, "lan, wan or local (both systems)")
      ->check(CLI::IsMember({"lan", "wan", "local"}))
      ->capture_default_str();
  app.add_option("--peer-bin", o->peer_bin,
                 "peerlab-peer binary (default: next to this one)")
      ->check(peerlab::ReadableFile);
  app.add_option("--serf-bin", o->serf_bin, "serf binary")
      ->check(peerlab::NonEmpty)
      ->capture_default_str();
  app.add_option("--systems", o->systems,
                 "peerlab, serf or both (peerlab,serf)")
      ->check(
          CLI::IsMember({"peerlab", "serf", "peerlab,serf", "serf,peerlab"}))
      ->capture_default_str();
  app.add_option("--repeat", o->repeat, repeat_help + " (1 .. 1000)")
      ->check(peerlab::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--timeout", o->timeout_s, timeout_help + " (0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--json", o->json_path, "also write the figures as JSON")
      ->check(peerlab::WritableFile);
  app.add_option("--log-dir", o->log_dir,
                 "keep the members' output here, made if missing (default: "
                 "a temporary directory, removed at the end)")
      ->check(peerlab::WritableDirectory);
  app.add_option("--peer-log-level", o->peer_log_level,
                 "--log-level of the peerlab-peer processes")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  app.add_option("--peer-set", o->peer_settings,
                 "a peerlab setting \"KEY VALUE\" for memberlistconfigure "
                 "(repeatable; e.g. \"suspicion_mult 3\")")
      ->check(peerlab::NonEmpty);
}

// After the parse: the default peerlab-peer, and the directory of the
// members' files: --log-dir, made when missing, or a temporary one made
// here and kept in *tmp (removed with it). FailedPrecondition naming the
// directory when it cannot be made.
inline absl::StatusOr<std::string> FinishCompareOptions(
    CompareOptions* o, const std::string& tool,
    std::unique_ptr<testing::TempDir>* tmp) {
  if (o->peer_bin.empty()) o->peer_bin = BinaryNextToSelf("peerlab-peer");
  if (!o->log_dir.empty()) {
    if (absl::Status made = MakeDirectories(o->log_dir); !made.ok()) {
      return made;
    }
    return o->log_dir;
  }
  auto made = testing::TempDir::Create(tool);
  if (!made.ok()) return made.status();
  *tmp = *std::move(made);
  return (*tmp)->path();
}

}  // namespace peerlab::bench

#endif  // PEERLAB_BENCH_COMPARE_OPTIONS_H_
