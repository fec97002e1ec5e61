// membership_compare: N real peerlab-peer processes against N Debian serf
// agents (HashiCorp memberlist underneath) with the same profile, on
// loopback, side by side in one run.
//
// For each N and each system:
//   1. member 0 starts alone; once it serves, members 1..N-1 start, each
//      joining member 0 (peerlab: memberlistjoin, serf: -join);
//   2. "converge": from the first joiner's launch until every member counts
//      N alive members (process start-up included, for both);
//   3. a steady window (--steady): CPU used in it and resident memory
//      (VmRSS) at its end, per member;
//   4. member N/2 is killed with SIGKILL; "detect first/last": until the
//      first and until every other member no longer counts it alive
//      (peerlab: gone from `memberlist`; serf: status "failed");
//   5. everyone gets SIGTERM (then SIGKILL).
// CPU over the run is utime+stime from /proc/PID/stat, from launch to the end
// of detection.
//
// Members are polled in a loop (peerlab through PeerControl.Execute
// "memberlist", serf through its msgpack RPC "members"), every member about
// every --poll-ms; the times are when the loop first saw each member meet the
// condition. Loopback only (127.0.0.1). Peerlab calls wait for the channel to
// connect (bench/control_poller.h): fail-fast calls to a peer polled before it
// listened were refused until gRPC's 5 s backup poller reconnected, which
// showed as convergence times of 5, 10 … 45 s that were the tool's, not the
// peers'. A member still waiting after 3 s is reported on stderr with what it
// sees; --log-dir and --peer-log-level keep the members' logs.
//
// Output: a table on stdout, progress on stderr, and with --json FILE the
// figures as JSON. Exit code 1 when a system failed to converge or detect.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/control_poller.h"
#include "nlohmann/json.hpp"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/option_checks.h"
#include "base/testing/subprocess.h"

namespace peerlab::bench {
namespace {

using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using Json = nlohmann::json;

// --- Ports, /proc ----------------------------------------------------------

// A port free for both TCP and UDP on 127.0.0.1 right now.
int FreePort() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(tcp);
      continue;
    }
    socklen_t len = sizeof a;
    getsockname(tcp, reinterpret_cast<sockaddr*>(&a), &len);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(udp);
    close(tcp);
    if (ok) return ntohs(a.sin_port);
  }
  return 0;
}

// utime + stime of `pid` in seconds (0 if it is gone).
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> f =
      absl::StrSplit(text.substr(paren + 2), ' ', absl::SkipEmpty());
  // After the command: state is field 3, utime 14, stime 15 (1-based).
  if (f.size() < 13) return 0;
  double u = 0, s = 0;
  (void)absl::SimpleAtod(f[11], &u);
  (void)absl::SimpleAtod(f[12], &s);
  return (u + s) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The "KEY: N kB" value of /proc/PID/FILE in MiB (0 if it is gone).
double ProcKbMiB(pid_t pid, const std::string& file, const std::string& key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      double kb = 0;
      std::vector<std::string> f =
          absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (f.size() >= 2) (void)absl::SimpleAtod(f[1], &kb);
      return kb / 1024.0;
    }
  }
  return 0;
}

// --- Serf's msgpack RPC ----------------------------------------------------

// Size of the msgpack value at data[0..len), or 0 if incomplete.
size_t MsgpackSize(const uint8_t* d, size_t len) {
  if (len == 0) return 0;
  const uint8_t t = d[0];
  auto be = [&](size_t off, int bytes) -> uint64_t {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | d[off + i];
    return v;
  };
  auto need = [&](size_t n) { return len >= n; };
  auto seq = [&](size_t header, uint64_t items) -> size_t {
    size_t off = header;
    for (uint64_t i = 0; i < items; ++i) {
      size_t s = MsgpackSize(d + off, len - off);
      if (s == 0) return 0;
      off += s;
    }
    return off;
  };
  if (t <= 0x7f || t >= 0xe0) return 1;                   // fixint
  if ((t & 0xf0) == 0x80) return seq(1, 2 * (t & 0x0f));  // fixmap
  if ((t & 0xf0) == 0x90) return seq(1, t & 0x0f);        // fixarray
  if ((t & 0xe0) == 0xa0) return need(1 + (t & 0x1f)) ? 1 + (t & 0x1f) : 0;
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return 1;
    case 0xcc:
    case 0xd0:
      return need(2) ? 2 : 0;
    case 0xcd:
    case 0xd1:
      return need(3) ? 3 : 0;
    case 0xca:
    case 0xce:
    case 0xd2:
      return need(5) ? 5 : 0;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return need(9) ? 9 : 0;
    case 0xc4:
    case 0xd9:  // bin8, str8
      return need(2) && need(2 + be(1, 1)) ? 2 + be(1, 1) : 0;
    case 0xc5:
    case 0xda:
      return need(3) && need(3 + be(1, 2)) ? 3 + be(1, 2) : 0;
    case 0xc6:
    case 0xdb:
      return need(5) && need(5 + be(1, 4)) ? 5 + be(1, 4) : 0;
    case 0xdc:
      return need(3) ? seq(3, be(1, 2)) : 0;
    case 0xdd:
      return need(5) ? seq(5, be(1, 4)) : 0;
    case 0xde:
      return need(3) ? seq(3, 2 * be(1, 2)) : 0;
    case 0xdf:
      return need(5) ? seq(5, 2 * be(1, 4)) : 0;
    case 0xd4:
      return need(3) ? 3 : 0;  // fixext
    case 0xd5:
      return need(4) ? 4 : 0;
    case 0xd6:
      return need(6) ? 6 : 0;
    case 0xd7:
      return need(10) ? 10 : 0;
    case 0xd8:
      return need(18) ? 18 : 0;
    default:
      return 0;  // ext8/16/32: serf does not send them here
  }
}

// One RPC connection to a serf agent (handshake done on Connect).
class SerfRpc {
 public:
  ~SerfRpc() { Close(); }
  bool Connect(int port) {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    timeval tv{.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Close();
      return false;
    }
    if (!Call("handshake", Json{{"Version", 1}}, false)) {
      Close();
      return false;
    }
    return true;
  }
  // The "members" list, or nullopt on error.
  std::optional<Json> Members() {
    if (fd_ < 0) return std::nullopt;
    if (!Call("members", nullptr, true)) {
      Close();
      return std::nullopt;
    }
    return body_;
  }

 private:
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool Call(const std::string& command, const Json& body, bool want_body) {
    Json header = {{"Command", command}, {"Seq", seq_++}};
    std::vector<uint8_t> out = Json::to_msgpack(header);
    if (!body.is_null()) {
      std::vector<uint8_t> b = Json::to_msgpack(body);
      out.insert(out.end(), b.begin(), b.end());
    }
    if (send(fd_, out.data(), out.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(out.size())) {
      return false;
    }
    auto header_reply = Read();
    if (!header_reply || !header_reply->value("Error", "").empty()) {
      return false;
    }
    if (!want_body) return true;
    auto b = Read();
    if (!b) return false;
    body_ = *b;
    return true;
  }
  // The next msgpack value from the stream.
  std::optional<Json> Read() {
    while (true) {
      size_t n = MsgpackSize(buf_.data(), buf_.size());
      if (n > 0) {
        std::vector<uint8_t> one(buf_.begin(), buf_.begin() + n);
        buf_.erase(buf_.begin(), buf_.begin() + n);
        Json j = Json::from_msgpack(one, true, false);
        if (j.is_discarded()) return std::nullopt;
        return j;
      }
      uint8_t tmp[65536];
      ssize_t r = recv(fd_, tmp, sizeof tmp, 0);
      if (r <= 0) return std::nullopt;
      buf_.insert(buf_.end(), tmp, tmp + r);
    }
  }

  int fd_ = -1;
  uint64_t seq_ = 0;
  std::vector<uint8_t> buf_;
  Json body_;
};

// --- Members of either system ---------------------------------------------

// One member process and how to ask it who it sees.
class Member {
 public:
  virtual ~Member() = default;
  // Names this member counts alive (alive or suspect), or nullopt when it
  // cannot be asked (not up yet).
  virtual std::optional<std::vector<std::string>> Alive() = 0;
  // Why the last Alive() returned nullopt (for progress reports).
  const std::string& last_error() const { return last_error_; }
  Subprocess* process() { return process_.get(); }
  const std::string& name() const { return name_; }

 protected:
  std::string name_;
  std::string last_error_;
  std::unique_ptr<Subprocess> process_;
};

class PeerlabMember : public Member {
 public:
  // Starts `bin` as member `name`; joins `join` (empty: nobody).
  static std::unique_ptr<PeerlabMember> Start(const std::string& bin,
                                              const std::string& dir,
                                              const std::string& name,
                                              const std::string& profile,
                                              const std::string& join,
                                              const std::string& log_level) {
    auto m = std::make_unique<PeerlabMember>();
    m->name_ = name;
    m->gossip_port_ = FreePort();
    m->grpc_port_ = FreePort();
    // One control token for the run's peers and their pollers.
    const std::string token_file = dir + "/control.token";
    auto token = ReadOrCreateControlTokenFile(token_file);
    if (!token.ok()) {
      std::cerr << token.status() << "\n";
      return nullptr;
    }
    std::vector<std::string> argv = {bin,
                                     name,
                                     "--serve",
                                     "--no-init",
                                     "--bind",
                                     "127.0.0.1",
                                     "--gossip-port",
                                     absl::StrCat(m->gossip_port_),
                                     "--grpc-port",
                                     absl::StrCat(m->grpc_port_),
                                     "--log-level",
                                     log_level,
                                     "--history-file",
                                     dir + "/" + name + ".history",
                                     "--control-token-file",
                                     token_file,
                                     "--exec",
                                     "memberlistconfigure profile " + profile,
                                     "--exec",
                                     "memberlistcreate",
                                     "--exec",
                                     "memberliststart"};
    if (!join.empty()) {
      argv.push_back("--exec");
      argv.push_back("memberlistjoin " + join);
    }
    auto p = Subprocess::Start({.argv = argv,
                                .stdout_path = dir + "/" + name + ".out",
                                .stderr_path = dir + "/" + name + ".err"});
    if (!p.ok()) {
      std::cerr << "cannot start " << bin << ": " << p.status() << "\n";
      return nullptr;
    }
    m->process_ = *std::move(p);
    m->poller_ = std::make_unique<ControlPoller>(
        absl::StrCat("127.0.0.1:", m->grpc_port_), *token);
    return m;
  }
  std::string gossip_address() const {
    return absl::StrCat("127.0.0.1:", gossip_port_);
  }
  std::optional<std::vector<std::string>> Alive() override {
    // Until the peer has answered once, a short wait: a peer not serving
    // yet must not hold up the polling of the others for long.
    auto output = poller_->Execute(
        "memberlist", answered_ ? absl::Seconds(2) : absl::Milliseconds(100));
    if (!output.ok()) {
      last_error_ = output.status().ToString();
      return std::nullopt;
    }
    answered_ = true;
    // One line per member, its name first; then "N member(s)".
    std::vector<std::string> names;
    bool counted = false;
    for (const std::string& l : *output) {
      std::vector<std::string> words =
          absl::StrSplit(l, ' ', absl::SkipWhitespace());
      if (words.empty()) continue;
      if (words.size() == 2 && words[1] == "member(s)") {
        counted = true;
        continue;
      }
      names.push_back(words[0]);
    }
    if (!counted) return std::nullopt;
    return names;
  }

 private:
  int gossip_port_ = 0, grpc_port_ = 0;
  std::unique_ptr<ControlPoller> poller_;
  bool answered_ = false;
};

class SerfMember : public Member {
 public:
  static std::unique_ptr<SerfMember> Start(const std::string& bin,
                                           const std::string& dir,
                                           const std::string& name,
                                           const std::string& profile,
                                           const std::string& join) {
    auto m = std::make_unique<SerfMember>();
    m->name_ = name;
    m->bind_port_ = FreePort();
    m->rpc_port_ = FreePort();
    std::vector<std::string> argv = {
        bin,          "agent",
        "-node",      name,
        "-bind",      absl::StrCat("127.0.0.1:", m->bind_port_),
        "-rpc-addr",  absl::StrCat("127.0.0.1:", m->rpc_port_),
        "-profile",   profile,
        "-log-level", "warn"};
    if (!join.empty()) {
      argv.push_back("-join");
      argv.push_back(join);
    }
    auto p = Subprocess::Start({.argv = argv,
                                .stdout_path = dir + "/" + name + ".out",
                                .stderr_path = dir + "/" + name + ".err"});
    if (!p.ok()) {
      std::cerr << "cannot start " << bin << ": " << p.status() << "\n";
      return nullptr;
    }
    m->process_ = *std::move(p);
    return m;
  }
  std::string gossip_address() const {
    return absl::StrCat("127.0.0.1:", bind_port_);
  }
  std::optional<std::vector<std::string>> Alive() override {
    std::optional<Json> members = rpc_.Members();
    if (!members) {
      if (!rpc_.Connect(rpc_port_)) return std::nullopt;
      members = rpc_.Members();
      if (!members) return std::nullopt;
    }
    std::vector<std::string> names;
    for (const Json& m : members->value("Members", Json::array())) {
      if (m.value("Status", "") == "alive") {
        names.push_back(m.value("Name", ""));
      }
    }
    return names;
  }

 private:
  int bind_port_ = 0, rpc_port_ = 0;
  SerfRpc rpc_;
};

// --- The experiment --------------------------------------------------------

struct Figures {
  std::string system;
  int n = 0;
  std::optional<double> converge_s, detect_first_s, detect_last_s;
  double rss_mean_mib = 0, rss_max_mib = 0;
  // Of VmRSS: private anonymous memory (heap, stacks), and the proportional
  // set size (shared library pages split among the processes sharing them).
  double anon_mean_mib = 0, pss_mean_mib = 0;
  double cpu_run_s_per_member = 0;       // launch .. end of detection
  double cpu_steady_pct_per_member = 0;  // % of one core in the window
  double run_s = 0;
};

struct Settings {
  std::string profile = "lan";
  double timeout_s = 120;
  double steady_s = 10;
  int poll_ms = 20;
  std::string peer_log_level = "warn";
};

// Polls members `alive` (indices) until `done(i, names)` holds for each;
// returns the first and last times (since `since`) or nullopt on timeout.
struct Waited {
  std::optional<double> first, last;
};
template <typename Done>
Waited WaitAll(std::vector<std::unique_ptr<Member>>& members,
               const std::vector<int>& which, Done done,
               std::chrono::steady_clock::time_point since, const Settings& s,
               bool report_late = false) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::optional<double>> at(which.size());
  const auto end = Clock::now() + std::chrono::duration<double>(s.timeout_s);
  size_t remaining = which.size();
  Waited w;
  // Once, after a few seconds: who is still waiting, and what it sees (on
  // stderr, to diagnose slow runs).
  const auto report_at = Clock::now() + std::chrono::seconds(3);
  bool reported = false;
  while (remaining > 0 && Clock::now() < end) {
    const bool report = report_late && !reported && Clock::now() >= report_at;
    reported = reported || report;
    for (size_t k = 0; k < which.size(); ++k) {
      if (at[k]) continue;
      auto names = members[which[k]]->Alive();
      if (report) {
        std::cerr << "  still waiting for " << members[which[k]]->name()
                  << ", which sees "
                  << (names ? absl::StrJoin(*names, " ")
                            : "(no answer: " + members[which[k]]->last_error() +
                                  ")")
                  << "\n";
      }
      if (!names || !done(*names)) continue;
      at[k] = std::chrono::duration<double>(Clock::now() - since).count();
      if (!w.first || *at[k] < *w.first) w.first = at[k];
      --remaining;
    }
    if (remaining > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(s.poll_ms));
    }
  }
  if (remaining == 0) {
    w.last = 0;
    for (auto& t : at) w.last = std::max(*w.last, *t);
  }
  return w;
}

template <typename StartFn>
Figures Run(const std::string& system, int n, const Settings& s,
            const std::string& dir, StartFn start) {
  using Clock = std::chrono::steady_clock;
  Figures f;
  f.system = system;
  f.n = n;
  std::cerr << system << " x " << n << ": starting\n";
  std::vector<std::unique_ptr<Member>> members;
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat(system, i));
  std::string seed_address;
  auto first = start(names[0], "", &seed_address);
  if (!first) return f;
  members.push_back(std::move(first));
  const auto launch = Clock::now();
  // Member 0 serves before anyone joins it.
  if (!WaitAll(
           members, {0}, [](const auto&) { return true; }, launch, s,
           /*report_late=*/true)
           .last) {
    std::cerr << system << ": member 0 never came up\n";
    return f;
  }
  const auto t0 = Clock::now();
  for (int i = 1; i < n; ++i) {
    auto m = start(names[i], seed_address, nullptr);
    if (!m) return f;
    members.push_back(std::move(m));
  }
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  Waited converged = WaitAll(
      members, all,
      [&](const std::vector<std::string>& seen) {
        return static_cast<int>(seen.size()) == n;
      },
      t0, s, /*report_late=*/true);
  f.converge_s = converged.last;
  std::cerr << system << " x " << n << ": all know all after "
            << (f.converge_s ? absl::StrFormat("%.3f s", *f.converge_s)
                             : std::string("(timeout)"))
            << "\n";

  // Steady window: CPU and memory.
  std::vector<double> cpu0(n);
  for (int i = 0; i < n; ++i)
    cpu0[i] = CpuSeconds(members[i]->process()->pid());
  const auto w0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.steady_s));
  const double window =
      std::chrono::duration<double>(Clock::now() - w0).count();
  double cpu_steady = 0;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = members[i]->process()->pid();
    cpu_steady += CpuSeconds(pid) - cpu0[i];
    const double rss = ProcKbMiB(pid, "status", "VmRSS:");
    f.rss_mean_mib += rss / n;
    f.anon_mean_mib += ProcKbMiB(pid, "status", "RssAnon:") / n;
    f.pss_mean_mib += ProcKbMiB(pid, "smaps_rollup", "Pss:") / n;
    f.rss_max_mib = std::max(f.rss_max_mib, rss);
  }
  f.cpu_steady_pct_per_member = 100.0 * cpu_steady / n / window;

  // kill -9 one member.
  const int victim = n / 2;
  const std::string victim_name = members[victim]->name();
  std::vector<int> others;
  for (int i = 0; i < n; ++i) {
    if (i != victim) others.push_back(i);
  }
  double victim_cpu = CpuSeconds(members[victim]->process()->pid());
  (void)members[victim]->process()->Kill();
  const auto killed = Clock::now();
  Waited detected = WaitAll(
      members, others,
      [&](const std::vector<std::string>& seen) {
        return std::find(seen.begin(), seen.end(), victim_name) == seen.end();
      },
      killed, s);
  f.detect_first_s = detected.first;
  f.detect_last_s = detected.last;
  std::cerr << system << " x " << n << ": kill -9 seen by all after "
            << (f.detect_last_s ? absl::StrFormat("%.3f s", *f.detect_last_s)
                                : std::string("(timeout)"))
            << "\n";
  double cpu_run = victim_cpu;
  for (int i : others) cpu_run += CpuSeconds(members[i]->process()->pid());
  f.cpu_run_s_per_member = cpu_run / n;
  f.run_s = std::chrono::duration<double>(Clock::now() - launch).count();
  for (int i : others) (void)members[i]->process()->Signal(SIGTERM);
  for (int i : others) {
    if (!members[i]->process()->Wait(absl::Seconds(5)).ok()) {
      (void)members[i]->process()->Kill();
    }
  }
  return f;
}

std::string Opt(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.3f", *v) : "-";
}

int Main(int argc, char** argv) {
  CLI::App app{
      "membership_compare: N peerlab-peer processes against N serf agents "
      "on loopback (convergence, kill -9 detection, memory, CPU)."};
  std::vector<int> sizes = {10, 30};
  Settings s;
  int repeat = 1;
  std::string peer_bin, serf_bin = "/usr/bin/serf", json_path,
                        systems_flag = "peerlab,serf";
  app.add_option("--nodes", sizes, "member counts (2 .. 10000)")
      ->delimiter(',')
      ->check(peerlab::Range(2, 10000))
      ->capture_default_str();
  app.add_option("--profile", s.profile, "lan, wan or local (both systems)")
      ->check(CLI::IsMember({"lan", "wan", "local"}))
      ->capture_default_str();
  app.add_option("--peer-bin", peer_bin,
                 "peerlab-peer binary (default: next to this one)")
      ->check(peerlab::ReadableFile);
  app.add_option("--serf-bin", serf_bin, "serf binary")
      ->check(peerlab::NonEmpty)
      ->capture_default_str();
  app.add_option("--systems", systems_flag,
                 "peerlab, serf or both (peerlab,serf)")
      ->check(
          CLI::IsMember({"peerlab", "serf", "peerlab,serf", "serf,peerlab"}))
      ->capture_default_str();
  app.add_option("--timeout", s.timeout_s,
                 "seconds to wait for each phase (0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--steady", s.steady_s,
                 "seconds of the steady window (CPU, memory; 0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--poll-ms", s.poll_ms,
                 "pause between polling rounds (1 .. 60000)")
      ->check(peerlab::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the figures as JSON")
      ->check(peerlab::WritableFile);
  std::string log_dir;
  app.add_option("--log-dir", log_dir,
                 "keep the members' output here (default: a temporary "
                 "directory, removed at the end)")
      ->check(peerlab::WritableDirectory);
  app.add_option("--peer-log-level", s.peer_log_level,
                 "--log-level of the peerlab-peer processes")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  app.add_option("--repeat", repeat,
                 "run everything this many times (1 .. 1000)")
      ->check(peerlab::Range(1, 1000))
      ->capture_default_str();
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  if (peer_bin.empty()) {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = len > 0 ? std::string(self, len) : std::string(".");
    peer_bin = dir.substr(0, dir.rfind('/')) + "/peerlab-peer";
  }
  auto tmp = TempDir::Create("membership-compare");
  if (!tmp.ok()) {
    std::cerr << tmp.status() << "\n";
    return 1;
  }
  const std::string dir = log_dir.empty() ? (*tmp)->path() : log_dir;
  std::vector<std::string> systems = absl::StrSplit(systems_flag, ',');

  std::vector<Figures> results;
  for (int r = 0; r < repeat; ++r) {
    for (int n : sizes) {
      for (const std::string& system : systems) {
        if (system == "peerlab") {
          results.push_back(
              Run(system, n, s, dir,
                  [&](const std::string& name, const std::string& join,
                      std::string* address) -> std::unique_ptr<Member> {
                    auto m = PeerlabMember::Start(
                        peer_bin, dir, name, s.profile, join, s.peer_log_level);
                    if (m && address) *address = m->gossip_address();
                    return m;
                  }));
        } else if (system == "serf") {
          results.push_back(
              Run(system, n, s, dir,
                  [&](const std::string& name, const std::string& join,
                      std::string* address) -> std::unique_ptr<Member> {
                    auto m =
                        SerfMember::Start(serf_bin, dir, name, s.profile, join);
                    if (m && address) *address = m->gossip_address();
                    return m;
                  }));
        } else {
          std::cerr << "unknown system " << system << "\n";
          return 2;
        }
      }
    }
  }

  std::cout << absl::StrFormat(
      "profile %s, steady window %.0f s, poll every %d ms\n", s.profile,
      s.steady_s, s.poll_ms);
  std::cout << absl::StrFormat(
      "%-8s %4s %11s %15s %13s %8s %8s %8s %8s %10s %12s\n", "system", "N",
      "converge_s", "detect_first_s", "detect_all_s", "rss_MiB", "rss_max",
      "anon_MiB", "pss_MiB", "cpu_run_s", "cpu_steady%");
  bool ok = true;
  Json out = Json::array();
  for (const Figures& f : results) {
    std::cout << absl::StrFormat(
        "%-8s %4d %11s %15s %13s %8.1f %8.1f %8.1f %8.1f %10.2f %12.2f\n",
        f.system, f.n, Opt(f.converge_s), Opt(f.detect_first_s),
        Opt(f.detect_last_s), f.rss_mean_mib, f.rss_max_mib, f.anon_mean_mib,
        f.pss_mean_mib, f.cpu_run_s_per_member, f.cpu_steady_pct_per_member);
    ok = ok && f.converge_s && f.detect_last_s;
    auto num = [](const std::optional<double>& v) {
      return v ? Json(*v) : Json(nullptr);
    };
    out.push_back({{"system", f.system},
                   {"n", f.n},
                   {"profile", s.profile},
                   {"converge_s", num(f.converge_s)},
                   {"detect_first_s", num(f.detect_first_s)},
                   {"detect_last_s", num(f.detect_last_s)},
                   {"rss_mean_mib", f.rss_mean_mib},
                   {"rss_max_mib", f.rss_max_mib},
                   {"anon_mean_mib", f.anon_mean_mib},
                   {"pss_mean_mib", f.pss_mean_mib},
                   {"cpu_run_s_per_member", f.cpu_run_s_per_member},
                   {"cpu_steady_pct_per_member", f.cpu_steady_pct_per_member},
                   {"run_s", f.run_s}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace peerlab::bench

int main(int argc, char** argv) { return peerlab::bench::Main(argc, argv); }
