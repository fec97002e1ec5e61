// Shared set-up for the peer end-to-end tests (peer/app/*_e2e_test.cc):
// a fixture that creates the test's directory and starts a real
// peerlab-bootstrap on a free loopback port, a peer driven through
// PeerControl with a WatchViews stream of every view, short membership
// timings, and polling with a deadline.
//
// Test-only code (library target peer_e2e_testing). Every wait polls or
// blocks on a condition until a deadline; nothing sleeps for a fixed time.
#ifndef PEERLAB_PEER_APP_E2E_TESTING_H_
#define PEERLAB_PEER_APP_E2E_TESTING_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "base/testing/eventually.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"

namespace peerlab::peer::e2e {

// Short membership timings (a --config file): probe every 200 ms, a member
// that vanishes without a leave is declared dead ("<failed>") within about
// two seconds.
inline constexpr char kFastMembership[] = R"({
  "memberlist.probe_interval": "200ms",
  "memberlist.probe_timeout": "100ms",
  "memberlist.gossip_interval": "50ms",
  "memberlist.suspicion_mult": 2,
  "memberlist.reliable_timeout": "500ms",
  "chat.delivery_timeout": "5s"
})";

// `word` quoted for /bin/sh.
std::string ShellQuote(absl::string_view word);

// The one poll loop of the tests (base/testing/eventually.h).
using ::peerlab::testing::Eventually;

// Peers with HOME=`home` use the per-user group key
// `home`/.local/state/peerlab/gossip.keys (membership::UserKeyFilePath).
// Copies the one under `from_home` (made by a peer that created its node
// there) to `to_home`, so a peer started with another HOME is of the same
// group, as the operator would hand the file out. Dirs 0700, file 0600.
::testing::AssertionResult ShareGroupKey(const std::string& from_home,
                                         const std::string& to_home);

// Waits up to `timeout` until `watch` has seen a line (of any view) whose
// text is `text`.
bool WaitForText(testing::ViewWatcher& watch, const std::string& text,
                 absl::Duration timeout);

// A running peer: its process, a PeerControl stub and a WatchViews stream
// that collects every line of every view (history included).
class WatchedPeer {
 public:
  WatchedPeer(std::unique_ptr<testing::Subprocess> process,
              const std::string& address);

  testing::Subprocess& process() { return *process_; }
  ::peer::v1::PeerControl::Stub& stub() { return *stub_; }

  // Runs `line` (30 s deadline); the command's outcome, or the RPC's error,
  // is in the response.
  ::peer::v1::ExecuteResponse Execute(const std::string& line);
  // The response's output lines joined by newlines.
  static std::string Text(const ::peer::v1::ExecuteResponse& r);
  // Text(Execute(line)).
  std::string Output(const std::string& line) { return Text(Execute(line)); }

  // The texts of `view` seen so far (those starting with `prefix`).
  std::vector<std::string> Lines(const std::string& view);
  std::vector<std::string> Lines(const std::string& view,
                                 const std::string& prefix);
  // Waits until `view` has a line equal to `text`.
  bool WaitForLine(const std::string& view, const std::string& text,
                   absl::Duration timeout = absl::Seconds(30));
  // Waits until `view` has `n` lines starting with `prefix`.
  bool WaitForCount(const std::string& view, const std::string& prefix,
                    size_t n, absl::Duration timeout = absl::Seconds(30));

 private:
  std::unique_ptr<testing::Subprocess> process_;
  std::unique_ptr<::peer::v1::PeerControl::Stub> stub_;
  std::unique_ptr<testing::ViewWatcher> watcher_;  // destroyed before stub_
};

// The fixture of a peer end-to-end test: a temporary directory (dir_), the
// directory of the binaries (bin_) and a peerlab-bootstrap (bootstrap_).
// A test's SetUp calls SetUpBootstrap (or CreateDir, then StartBootstrap)
// under ASSERT_NO_FATAL_FAILURE.
class PeerE2eTest : public ::testing::Test {
 protected:
  // Creates dir_ (named after `prefix`) and finds bin_.
  void CreateDir(const std::string& prefix);
  // Starts bootstrap_ on a free loopback port with `args`.
  void StartBootstrap(const std::vector<std::string>& args = {"--store",
                                                              "memory:"});
  // CreateDir, then StartBootstrap.
  void SetUpBootstrap(const std::string& prefix,
                      const std::vector<std::string>& args = {"--store",
                                                              "memory:"});
  // Writes `contents` to dir_/fast.json and sets config_ to its path.
  void WriteConfig(const std::string& contents = kFastMembership);

  // Starts peerlab-peer NAME ARGS (ARGS with --serve) and waits up to
  // `timeout` until it serves; nullptr, with a failure, when it cannot.
  std::unique_ptr<WatchedPeer> StartWatchedPeer(
      const std::string& name, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(30));

  std::unique_ptr<testing::TempDir> dir_;
  std::string bin_;
  testing::BootstrapServer bootstrap_;
  // The bootstrap admin token StartBootstrap made (when `args` had none);
  // also exported as $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE for the peers.
  std::string admin_token_file_;
  std::string config_;  // set by WriteConfig
};

}  // namespace peerlab::peer::e2e

#endif  // PEERLAB_PEER_APP_E2E_TESTING_H_
