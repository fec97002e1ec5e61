// bench_members: what the side-by-side benchmarks (membership_compare,
// cluster_compare) share to run real peerlab-peer processes and Debian serf
// agents on loopback: free ports, a process's CPU and memory from /proc,
// serf's msgpack RPC, one class per member kind that starts the process and
// says whom it counts alive, and the polling loop that waits for a
// condition on many members.
//
// Not thread-safe unless said: each object is used by one thread at a time.
// Members own their processes (killed when the member is destroyed, by
// Subprocess).
#ifndef PEERLAB_BENCH_BENCH_MEMBERS_H_
#define PEERLAB_BENCH_BENCH_MEMBERS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/testing/subprocess.h"
#include "bench/control_poller.h"
#include "nlohmann/json.hpp"

namespace peerlab::bench {

using Json = nlohmann::json;

// A port free for both TCP and UDP on 127.0.0.1 right now, for a member
// process to bind later (0: none found). It is taken below the kernel's
// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), from which
// every port-0 bind and outgoing connection of the machine gets its port,
// so no other process is handed it meanwhile; and never twice by one
// process. Thread-safe.
int FreePort();

// Whether `stderr_text` (a member's standard error) says it could not bind
// a port ("address already in use": another process took it between
// FreePort and the member's bind).
bool PortWasTaken(const std::string& stderr_text);

// utime + stime of `pid` in seconds (0 if it is gone).
double CpuSeconds(pid_t pid);

// The "KEY: N kB" value of /proc/PID/FILE in MiB (0 if it is gone).
double ProcKbMiB(pid_t pid, const std::string& file, const std::string& key);

// Size of the msgpack value at data[0..len), or 0 if incomplete.
size_t MsgpackSize(const uint8_t* d, size_t len);

// One RPC connection to a serf agent (its msgpack RPC on -rpc-addr;
// handshake done on Connect). Requests carry a header {Command, Seq} and
// an optional body; each reply (and each record of a stream or query) is a
// header {Seq, Error} followed, for most commands, by a body.
class SerfRpc {
 public:
  SerfRpc() = default;
  ~SerfRpc() { Close(); }
  SerfRpc(const SerfRpc&) = delete;
  SerfRpc& operator=(const SerfRpc&) = delete;

  // Connects to 127.0.0.1:`port`; reads time out after `read_timeout`.
  bool Connect(int port, std::chrono::milliseconds read_timeout =
                             std::chrono::milliseconds(2000));
  // The "members" list, or nullopt on error (the connection is closed).
  std::optional<Json> Members();
  // Sends `command` with `body` (null: none) and reads the reply header;
  // with `want_body`, the body too (into *reply when given). False on any
  // error (the reply's Error set, the connection lost).
  bool Call(const std::string& command, const Json& body, bool want_body,
            Json* reply = nullptr);
  // Sends `command` without reading anything; returns its Seq (nullopt on
  // error). For stream and query, whose records Read() then returns.
  std::optional<uint64_t> Send(const std::string& command, const Json& body);
  // The next msgpack value on the connection (nullopt: closed, timed out
  // or malformed).
  std::optional<Json> Read();
  // Reads time out after `timeout` from now on.
  void SetReadTimeout(std::chrono::milliseconds timeout);
  // Unblocks a Read() in another thread (shutdown of the socket); the
  // only method that may be called concurrently with the others.
  void Shutdown();
  bool connected() const { return fd_ >= 0; }

 private:
  void Close();

  int fd_ = -1;
  uint64_t seq_ = 0;
  std::vector<uint8_t> buf_;
};

// One member process and how to ask it who it sees.
// How members of either system are started.
struct MemberOptions {
  std::string bin;      // the peerlab-peer or serf binary
  std::string dir;      // where their output (and peerlab's token) goes
  std::string profile;  // lan, wan or local
  std::string peer_log_level = "warn";  // peerlab's --log-level
  // Serf-style event handlers "FILTER=PROGRAM ARGS" (peerlab:
  // --event-handler, run without a shell; serf: -event-handler, run by
  // /bin/sh -c).
  std::vector<std::string> event_handlers;
  // peerlab only: "KEY VALUE" settings given to memberlistconfigure after
  // the profile (e.g. "event.order_delay 0s", "suspicion_mult 3").
  std::vector<std::string> peer_settings;
};

class Member {
 public:
  virtual ~Member() = default;
  // Names this member counts alive (alive or suspect), or nullopt when it
  // cannot be asked (not up yet).
  virtual std::optional<std::vector<std::string>> Alive() = 0;
  // Why the last Alive() returned nullopt (for progress reports).
  const std::string& last_error() const { return last_error_; }
  testing::Subprocess* process() { return process_.get(); }
  const std::string& name() const { return name_; }
  // Where others join it (127.0.0.1:PORT of its gossip).
  virtual std::string gossip_address() const = 0;

 protected:
  // A member of kind T (PeerlabMember, SerfMember) named `name`, launched
  // (joining `join`, empty: nobody); nullptr when it cannot be started.
  template <typename T>
  static std::unique_ptr<T> Launched(const MemberOptions& options,
                                     const std::string& name,
                                     const std::string& join) {
    auto m = std::make_unique<T>();
    m->name_ = name;
    m->options_ = options;
    m->join_ = join;
    if (!m->Launch()) return nullptr;
    return m;
  }
  // Starts the process on fresh ports (FreePort); false (and a line on
  // stderr) when it cannot be started.
  virtual bool Launch() = 0;
  // When the process ended because a port it was given was taken before
  // it bound it (at most kMaxRelaunches times, said on stderr): launches
  // it again on other ports.
  void RelaunchIfAPortWasTaken();
  static constexpr int kMaxRelaunches = 3;

  std::string name_;
  MemberOptions options_;
  std::string join_;
  std::string last_error_;
  std::unique_ptr<testing::Subprocess> process_;
  int relaunches_ = 0;
};

class PeerlabMember : public Member {
 public:
  // Starts `options.bin` as member `name` with a node of its own
  // (memberlistcreate/start); joins `join` (empty: nobody). nullptr (and a
  // line on stderr) when it cannot be started.
  static std::unique_ptr<PeerlabMember> Start(const MemberOptions& options,
                                              const std::string& name,
                                              const std::string& join);
  std::string gossip_address() const override;
  // Its gRPC port (PeerControl, peer.v1.Agent) as 127.0.0.1:PORT, and the
  // control token every call must carry.
  std::string grpc_address() const;
  const std::string& token() const { return token_; }
  std::optional<std::vector<std::string>> Alive() override;

 private:
  friend class Member;
  bool Launch() override;

  int gossip_port_ = 0, grpc_port_ = 0;
  std::string token_;
  std::unique_ptr<ControlPoller> poller_;
  bool answered_ = false;
};

class SerfMember : public Member {
 public:
  static std::unique_ptr<SerfMember> Start(const MemberOptions& options,
                                           const std::string& name,
                                           const std::string& join);
  std::string gossip_address() const override;
  int rpc_port() const { return rpc_port_; }
  std::optional<std::vector<std::string>> Alive() override;

 private:
  friend class Member;
  bool Launch() override;

  int bind_port_ = 0, rpc_port_ = 0;
  SerfRpc rpc_;
};

// Polls members `which` (indices) every `poll_ms` until `done(names)` holds
// for each; the first and last times (seconds since `since`), or nullopt
// for `last` on timeout. With `report_late`, once after 3 s, who is still
// waiting and what it sees goes to stderr.
struct Waited {
  std::optional<double> first, last;
};
Waited WaitAll(std::vector<std::unique_ptr<Member>>& members,
               const std::vector<int>& which,
               const std::function<bool(const std::vector<std::string>&)>& done,
               std::chrono::steady_clock::time_point since, double timeout_s,
               int poll_ms, bool report_late = false);

// Starts n members named PREFIX0..PREFIX{n-1}: member 0 alone, then (once
// it answers) the others joining it. Returns the members (fewer than n on
// failure) and, in *t0, when the first joiner was launched.
using StartMember = std::function<std::unique_ptr<Member>(
    const std::string& name, const std::string& join)>;
std::vector<std::unique_ptr<Member>> StartGroup(
    const std::string& prefix, int n, const StartMember& start,
    double timeout_s, int poll_ms, std::chrono::steady_clock::time_point* t0);

// Makes directory `path` and its missing parents (--log-dir); OK when it
// exists already. FailedPrecondition naming the path and the reason when it
// cannot (a file in the way, no permission).
absl::Status MakeDirectories(const std::string& path);

// peerlab-peer next to the running binary (/proc/self/exe's directory).
std::string BinaryNextToSelf(const std::string& name);

}  // namespace peerlab::bench

#endif  // PEERLAB_BENCH_BENCH_MEMBERS_H_
