#include "bench/bench_members.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/control_token.h"

namespace peerlab::bench {

using ::peerlab::testing::Subprocess;

namespace {

// The kernel's ephemeral ports, [low, high] (Linux's defaults when the file
// cannot be read).
std::pair<int, int> EphemeralPorts() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(in >> low >> high) || low < 1 || high < low || high > 65535) {
    return {32768, 60999};
  }
  return {low, high};
}

bool Bindable(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  static std::mutex mu;
  static std::set<int>* given = new std::set<int>;
  static std::mt19937 rng(static_cast<uint32_t>(getpid()) * 2654435761u ^
                          static_cast<uint32_t>(time(nullptr)));
  // Below the ephemeral range (above the well-known and most registered
  // servers' ports); above it when the range starts too low to leave room.
  auto [low, high] = EphemeralPorts();
  int from = 10000, to = low - 1;
  if (to - from < 4096) from = high + 1, to = 65535;
  if (to < from) return 0;
  std::lock_guard<std::mutex> lock(mu);
  std::uniform_int_distribution<int> pick(from, to);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(rng);
    if (given->contains(port)) continue;
    if (Bindable(SOCK_STREAM, port) && Bindable(SOCK_DGRAM, port)) {
      given->insert(port);
      return port;
    }
  }
  return 0;
}

bool PortWasTaken(const std::string& stderr_text) {
  return absl::StrContains(absl::AsciiStrToLower(stderr_text),
                           "address already in use");
}

void Member::RelaunchIfAPortWasTaken() {
  if (process_ == nullptr || process_->Running()) return;
  if (relaunches_ >= kMaxRelaunches || !PortWasTaken(process_->ReadStderr())) {
    return;
  }
  ++relaunches_;
  std::cerr << name_
            << ": a port it was given was taken before it bound it; starting "
               "it again on other ports\n";
  Launch();
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

// --- SerfRpc ----------------------------------------------------------------

bool SerfRpc::Connect(int port, std::chrono::milliseconds read_timeout) {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  SetReadTimeout(read_timeout);
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

std::optional<Json> SerfRpc::Members() {
  if (fd_ < 0) return std::nullopt;
  Json body;
  if (!Call("members", nullptr, true, &body)) {
    Close();
    return std::nullopt;
  }
  return body;
}

void SerfRpc::SetReadTimeout(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return;
  timeval tv{
      .tv_sec = static_cast<time_t>(timeout.count() / 1000),
      .tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void SerfRpc::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buf_.clear();
}

void SerfRpc::Shutdown() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

std::optional<uint64_t> SerfRpc::Send(const std::string& command,
                                      const Json& body) {
  if (fd_ < 0) return std::nullopt;
  const uint64_t seq = seq_++;
  Json header = {{"Command", command}, {"Seq", seq}};
  std::vector<uint8_t> out = Json::to_msgpack(header);
  if (!body.is_null()) {
    std::vector<uint8_t> b = Json::to_msgpack(body);
    out.insert(out.end(), b.begin(), b.end());
  }
  if (send(fd_, out.data(), out.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(out.size())) {
    return std::nullopt;
  }
  return seq;
}

bool SerfRpc::Call(const std::string& command, const Json& body, bool want_body,
                   Json* reply) {
  if (!Send(command, body)) return false;
  auto header_reply = Read();
  if (!header_reply || !header_reply->value("Error", "").empty()) {
    return false;
  }
  if (!want_body) return true;
  auto b = Read();
  if (!b) return false;
  if (reply != nullptr) *reply = *std::move(b);
  return true;
}

std::optional<Json> SerfRpc::Read() {
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

// --- Members
// -------------------------------------------------------------------

std::unique_ptr<PeerlabMember> PeerlabMember::Start(
    const MemberOptions& options, const std::string& name,
    const std::string& join) {
  return Launched<PeerlabMember>(options, name, join);
}

bool PeerlabMember::Launch() {
  const MemberOptions& options = options_;
  gossip_port_ = FreePort();
  grpc_port_ = FreePort();
  const std::string& dir = options.dir;
  // One control token for the run's peers and their pollers.
  const std::string token_file = dir + "/control.token";
  auto token = ReadOrCreateControlTokenFile(token_file);
  if (!token.ok()) {
    std::cerr << token.status() << "\n";
    return false;
  }
  token_ = *token;
  std::vector<std::string> argv = {options.bin,
                                   name_,
                                   "--serve",
                                   "--no-init",
                                   "--bind",
                                   "127.0.0.1",
                                   "--gossip-port",
                                   absl::StrCat(gossip_port_),
                                   "--grpc-port",
                                   absl::StrCat(grpc_port_),
                                   "--log-level",
                                   options.peer_log_level,
                                   "--history-file",
                                   dir + "/" + name_ + ".history",
                                   "--control-token-file",
                                   token_file};
  // Dated lines (standard error has none), to read beside the tool's.
  argv.insert(argv.end(), {"--log-file", dir + "/" + name_ + ".log"});
  for (const std::string& h : options.event_handlers) {
    argv.push_back("--event-handler");
    argv.push_back(h);
  }
  std::vector<std::string> lines = {"memberlistconfigure profile " +
                                    options.profile};
  for (const std::string& setting : options.peer_settings) {
    lines.push_back("memberlistconfigure " + setting);
  }
  lines.push_back("memberlistcreate");
  lines.push_back("memberliststart");
  for (const std::string& line : lines) {
    argv.push_back("--exec");
    argv.push_back(line);
  }
  if (!join_.empty()) {
    argv.push_back("--exec");
    argv.push_back("memberlistjoin " + join_);
  }
  auto p = Subprocess::Start({.argv = argv,
                              .stdout_path = dir + "/" + name_ + ".out",
                              .stderr_path = dir + "/" + name_ + ".err"});
  if (!p.ok()) {
    std::cerr << "cannot start " << options.bin << ": " << p.status() << "\n";
    return false;
  }
  process_ = *std::move(p);
  poller_ = std::make_unique<ControlPoller>(grpc_address(), *token);
  answered_ = false;
  return true;
}

std::string PeerlabMember::gossip_address() const {
  return absl::StrCat("127.0.0.1:", gossip_port_);
}

std::string PeerlabMember::grpc_address() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

std::optional<std::vector<std::string>> PeerlabMember::Alive() {
  // Until the peer has answered once, a short wait: a peer not serving
  // yet must not hold up the polling of the others for long.
  auto output = poller_->Execute(
      "memberlist", answered_ ? absl::Seconds(2) : absl::Milliseconds(100));
  if (!output.ok()) {
    last_error_ = output.status().ToString();
    RelaunchIfAPortWasTaken();
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

std::unique_ptr<SerfMember> SerfMember::Start(const MemberOptions& options,
                                              const std::string& name,
                                              const std::string& join) {
  return Launched<SerfMember>(options, name, join);
}

bool SerfMember::Launch() {
  const MemberOptions& options = options_;
  bind_port_ = FreePort();
  rpc_port_ = FreePort();
  std::vector<std::string> argv = {
      options.bin,  "agent",
      "-node",      name_,
      "-bind",      absl::StrCat("127.0.0.1:", bind_port_),
      "-rpc-addr",  absl::StrCat("127.0.0.1:", rpc_port_),
      "-profile",   options.profile,
      "-log-level", "warn"};
  for (const std::string& h : options.event_handlers) {
    argv.push_back("-event-handler");
    argv.push_back(h);
  }
  if (!join_.empty()) {
    argv.push_back("-join");
    argv.push_back(join_);
  }
  const std::string& dir = options.dir;
  auto p = Subprocess::Start({.argv = argv,
                              .stdout_path = dir + "/" + name_ + ".out",
                              .stderr_path = dir + "/" + name_ + ".err"});
  if (!p.ok()) {
    std::cerr << "cannot start " << options.bin << ": " << p.status() << "\n";
    return false;
  }
  process_ = *std::move(p);
  return true;
}

std::string SerfMember::gossip_address() const {
  return absl::StrCat("127.0.0.1:", bind_port_);
}

std::optional<std::vector<std::string>> SerfMember::Alive() {
  std::optional<Json> members = rpc_.Members();
  if (!members) {
    if (!rpc_.Connect(rpc_port_)) {
      RelaunchIfAPortWasTaken();
      return std::nullopt;
    }
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

// --- Waiting -----------------------------------------------------------------

Waited WaitAll(std::vector<std::unique_ptr<Member>>& members,
               const std::vector<int>& which,
               const std::function<bool(const std::vector<std::string>&)>& done,
               std::chrono::steady_clock::time_point since, double timeout_s,
               int poll_ms, bool report_late) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::optional<double>> at(which.size());
  const auto end = Clock::now() + std::chrono::duration<double>(timeout_s);
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
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  }
  if (remaining == 0) {
    w.last = 0;
    for (auto& t : at) w.last = std::max(*w.last, *t);
  }
  return w;
}

std::vector<std::unique_ptr<Member>> StartGroup(
    const std::string& prefix, int n, const StartMember& start,
    double timeout_s, int poll_ms, std::chrono::steady_clock::time_point* t0) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<Member>> members;
  auto first = start(absl::StrCat(prefix, 0), "");
  if (!first) return members;
  const std::string seed_address = first->gossip_address();
  members.push_back(std::move(first));
  // Member 0 serves before anyone joins it.
  if (!WaitAll(
           members, {0}, [](const auto&) { return true; }, Clock::now(),
           timeout_s, poll_ms, /*report_late=*/true)
           .last) {
    std::cerr << prefix << ": member 0 never came up\n";
    members.clear();
    return members;
  }
  *t0 = Clock::now();
  for (int i = 1; i < n; ++i) {
    auto m = start(absl::StrCat(prefix, i), seed_address);
    if (!m) break;
    members.push_back(std::move(m));
  }
  return members;
}

absl::Status MakeDirectories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make the directory ", path, ": ",
                     ec ? ec.message() : std::string("not a directory")));
  }
  return absl::OkStatus();
}

std::string BinaryNextToSelf(const std::string& name) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = len > 0 ? std::string(self, len) : std::string(".");
  return dir.substr(0, dir.rfind('/')) + "/" + name;
}

}  // namespace peerlab::bench
