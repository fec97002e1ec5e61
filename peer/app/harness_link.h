// HarnessLink: a peer's registration with the test harness's coordinator
// (harness.v1.Coordinator/Register), made when peerlab-peer runs with
// `--coordinator ADDR`. The Register stream stays open while the peer
// lives, so the coordinator sees the peer's death at once; when the
// coordinator goes away, the link registers again (with backoff) until the
// peer ends.
//
// Authentication (test-harness/coordinator/lab_auth.h): each registration
// starts with a Challenge; the link checks the coordinator's proof that it
// holds the lab token, then registers with its own proof (the token never
// travels). Both sides derive the registration's session token, which the
// coordinator sends to this peer's PeerControl: HarnessSession holds it
// while the registration lasts, and the peer's ControlService accepts it.
// What the coordinator then runs is checked by the peer's own rules, as
// for any remote caller (shell.allow_remote, execute.allow_remote).
#ifndef PEERLAB_PEER_APP_HARNESS_LINK_H_
#define PEERLAB_PEER_APP_HARNESS_LINK_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace peerlab::peer {

// The session token of the current registration ("" between
// registrations). Thread-safe.
class HarnessSession {
 public:
  void Set(std::string token);
  // True when `presented` is the current token (constant time).
  bool Matches(absl::string_view presented) const;

 private:
  mutable std::mutex mu_;
  std::string token_;
};

class HarnessLink {
 public:
  struct Options {
    std::string coordinator;      // host:port of the coordinator
    std::string name;             // the peer's name in scripts
    std::string control_address;  // host:port of peer.v1.PeerControl
    // The lab token (--token-file). REQUIRES: not empty.
    std::string token;
    // This start of the peer (grows across restarts of the name).
    uint64_t generation = 0;
    // Receives each registration's session token; not null.
    std::shared_ptr<HarnessSession> session;
    // Credentials of the channel to the coordinator (see
    // base/tls.h); nullptr: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };

  // Starts registering on a thread of its own.
  explicit HarnessLink(Options options);
  // Ends the stream (the coordinator sees the peer go) and joins the thread.
  ~HarnessLink();

  HarnessLink(const HarnessLink&) = delete;
  HarnessLink& operator=(const HarnessLink&) = delete;

  // Waits until the coordinator has accepted a registration, at most
  // `timeout`; DeadlineExceeded otherwise. Thread-safe.
  absl::Status WaitRegistered(absl::Duration timeout);

 private:
  void Loop();

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool registered_ = false;
  grpc::ClientContext* context_ = nullptr;  // the call in progress
  std::thread thread_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_HARNESS_LINK_H_
