// cluster_compare: Serf's cluster features side by side, in one run: N real
// peerlab-peer processes against N Debian serf agents on loopback (issue
// 16's benchmark).
//
// For each repetition and each system, a fresh group of N members (started
// as membership_compare starts them, bench_members.h), each with a query
// handler `query:bench=/bin/echo ok` (peerlab runs it without a shell, serf
// through /bin/sh -c), then:
//   1. every member's event stream is opened (peerlab: peer.v1.Agent.Stream
//      with the filter "user:bench"; serf: the RPC "stream" of type
//      "user:bench"), and a warm-up event is sent until all N streams
//      delivered it;
//   2. events: member 0 sends `--events` user events "bench" (peerlab:
//      Agent.Event; serf: RPC "event", Coalesce false), one at a time; the
//      figure is the wall time from the send until the last of the N
//      streams delivered it (the tool's clock, steady_clock, at each
//      stream's arrival);
//   3. queries: member 0 asks `--queries` queries "bench" (relay 0,
//      default timeout; peerlab: Agent.Query, serf: RPC "query"); the
//      figure is the wall time from the send until the N-th response
//      reached the tool;
//   4. loss (with --loss P > 0): P % of the datagrams are dropped, then
//      member 0 asks `--loss-queries` queries with --relay; the figure is
//      the responses received out of N per query (every member answers,
//      the asker too), counted until the system's own default timeout
//      ended the query (plus 2 s) or all N answered. The loss is made by
//      the kernel for both systems alike: the tool makes a network
//      namespace of its own (ip netns add peerlab-bench-PID; we are root),
//      runs everything in it (loopback up) and adds an nftables rule
//      "numgen random mod 1000 < 10·P drop" on the input hook (silent to
//      the sender, as a lost datagram), for UDP only ("udp": datagram loss)
//      and/or for every packet, TCP too ("all", as netem would). The
//      namespace is deleted at the end. Without a namespace (--no-netns,
//      or when making one fails) the loss phase is skipped and said so.
// CPU: utime+stime of the members, summed, per phase; the tool's own too.
//
// Output: a table of medians and spreads on stdout, progress on stderr,
// --json FILE for everything. Exit code 1 when a system failed a phase.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/option_checks.h"
#include "base/testing/subprocess.h"
#include "bench/bench_members.h"
#include "bench/compare_options.h"
#include "grpcpp/grpcpp.h"
#include "proto/peer/v1/agent.grpc.pb.h"

namespace peerlab::bench {
namespace {

using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// --- The tool's network namespace -----------------------------------------

// Runs argv (no shell); its stdout in *out when given. True on exit 0.
bool Run(const std::vector<std::string>& argv, const std::string& dir,
         std::string* out = nullptr) {
  auto p = Subprocess::Start({.argv = argv,
                              .stdout_path = dir + "/cmd.out",
                              .stderr_path = dir + "/cmd.err"});
  if (!p.ok()) {
    std::cerr << "cannot run " << argv[0] << ": " << p.status() << "\n";
    return false;
  }
  auto exit = (*p)->Wait(absl::Seconds(20));
  if (out != nullptr) *out = (*p)->ReadStdout();
  if (!exit.ok() || !exit->success()) {
    std::cerr << absl::StrJoin(argv, " ") << " failed: " << (*p)->ReadStderr()
              << "\n";
    return false;
  }
  return true;
}

// A network namespace made by this tool, entered by this process (before
// any thread exists: threads made later, and children, inherit it), and
// deleted when this object goes.
class Netns {
 public:
  // Makes and enters it; nullptr (and why on stderr) when it cannot.
  static std::unique_ptr<Netns> Enter(const std::string& dir) {
    auto ns = std::unique_ptr<Netns>(new Netns);
    ns->name_ = absl::StrCat("peerlab-bench-", getpid());
    ns->dir_ = dir;
    if (!Run({"/usr/sbin/ip", "netns", "add", ns->name_}, dir)) return nullptr;
    ns->made_ = true;
    const std::string path = "/run/netns/" + ns->name_;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      std::cerr << "cannot enter " << path << ": " << strerror(errno) << "\n";
      if (fd >= 0) close(fd);
      return nullptr;
    }
    close(fd);
    if (!Run({"/usr/sbin/ip", "link", "set", "lo", "up"}, dir)) return nullptr;
    return ns;
  }
  ~Netns() {
    if (made_) Run({"/usr/sbin/ip", "netns", "del", name_}, dir_);
  }
  const std::string& name() const { return name_; }

  // Drops `permille`/1000 of the packets arriving on lo: UDP only, or every
  // packet ("all"). 0 removes the rule.
  bool SetLoss(int permille, const std::string& what) {
    if (table_) {
      if (!Run({"/usr/sbin/nft", "delete", "table", "inet", kTable}, dir_)) {
        return false;
      }
      table_ = false;
    }
    if (permille == 0) return true;
    if (!Run({"/usr/sbin/nft", "add", "table", "inet", kTable}, dir_)) {
      return false;
    }
    table_ = true;
    std::vector<std::string> rule = {"/usr/sbin/nft", "add",  "rule",
                                     "inet",          kTable, "in"};
    if (what == "udp") {
      rule.insert(rule.end(), {"meta", "l4proto", "udp"});
    }
    rule.insert(rule.end(), {"numgen", "random", "mod", "1000", "<",
                             absl::StrCat(permille), "counter", "drop"});
    return Run({"/usr/sbin/nft", "add", "chain", "inet", kTable, "in",
                "{ type filter hook input priority 0; }"},
               dir_) &&
           Run(rule, dir_);
  }
  // Packets the rule dropped so far (-1: unknown).
  long Dropped() {
    std::string out;
    if (!table_ ||
        !Run({"/usr/sbin/nft", "list", "chain", "inet", kTable, "in"}, dir_,
             &out)) {
      return -1;
    }
    size_t at = out.find("packets ");
    long n = -1;
    if (at != std::string::npos) {
      std::vector<std::string> w =
          absl::StrSplit(out.substr(at + 8), ' ', absl::SkipEmpty());
      if (!w.empty() && !absl::SimpleAtoi(w[0], &n)) n = -1;
    }
    return n;
  }

 private:
  static constexpr char kTable[] = "peerlab_bench";
  Netns() = default;
  std::string name_, dir_;
  bool made_ = false, table_ = false;
};

// --- What the tool asks of either system ----------------------------------

// Arrivals of user events at the members' streams: payload -> members that
// delivered it (index -> time).
class Deliveries {
 public:
  void Record(int member, const std::string& payload) {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    seen_[payload].emplace(member, now);
    cv_.notify_all();
  }
  // Waits until `n` members delivered `payload` (or `timeout`); the time of
  // the last of them, or nullopt.
  std::optional<Clock::time_point> WaitFor(const std::string& payload, int n,
                                           double timeout_s, int* got) {
    std::unique_lock<std::mutex> lock(mu_);
    const bool all = cv_.wait_for(
        lock, std::chrono::duration<double>(timeout_s),
        [&] { return static_cast<int>(seen_[payload].size()) >= n; });
    *got = static_cast<int>(seen_[payload].size());
    if (!all) return std::nullopt;
    Clock::time_point last{};
    for (const auto& [m, t] : seen_[payload]) last = std::max(last, t);
    return last;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<int, Clock::time_point>> seen_;
};

// One query's outcome at the asker's client.
struct QueryOutcome {
  bool ok = false;  // the call itself worked
  std::set<std::string> responders;
  std::optional<double> last_response_s;  // when the N-th arrived
  double ended_s = 0;
  // The asker's own summary (peerlab): members it asked, and those of them
  // that did not answer; -1: none came.
  int matched = -1;
  std::vector<std::string> missing;
};

class System {
 public:
  virtual ~System() = default;
  // Opens member i's event stream, delivering into `d` from a thread of
  // its own; false if it could not be opened.
  virtual bool OpenStream(int i, Deliveries* d) = 0;
  virtual void CloseStreams() = 0;
  virtual bool SendEvent(int i, const std::string& payload) = 0;
  // Asks query "bench" from member i; returns once `n` responses came, the
  // query ended, or `limit_s` passed.
  virtual QueryOutcome Query(int i, int relay, int n, double limit_s) = 0;
};

class PeerlabSystem : public System {
 public:
  explicit PeerlabSystem(std::vector<std::unique_ptr<Member>>* members) {
    for (auto& m : *members) {
      auto* p = static_cast<PeerlabMember*>(m.get());
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
      stubs_.push_back(::peer::v1::Agent::NewStub(NewChannelWithToken(
          p->grpc_address(), grpc::InsecureChannelCredentials(), p->token(),
          args)));
    }
    contexts_.resize(stubs_.size());
  }
  ~PeerlabSystem() override { CloseStreams(); }

  bool OpenStream(int i, Deliveries* d) override {
    contexts_[i] = std::make_unique<grpc::ClientContext>();
    contexts_[i]->set_wait_for_ready(true);
    grpc::ClientContext* ctx = contexts_[i].get();
    ::peer::v1::Agent::Stub* stub = stubs_[i].get();
    threads_.emplace_back([ctx, stub, i, d] {
      ::peer::v1::AgentStreamRequest request;
      request.add_filters("user:bench");
      auto reader = stub->Stream(ctx, request);
      ::peer::v1::AgentStreamResponse response;
      while (reader->Read(&response)) {
        if (response.has_user()) d->Record(i, response.user().payload());
      }
      (void)reader->Finish();
    });
    return true;
  }
  void CloseStreams() override {
    for (auto& c : contexts_) {
      if (c) c->TryCancel();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  bool SendEvent(int i, const std::string& payload) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    ::peer::v1::AgentEventRequest request;
    request.set_name("bench");
    request.set_payload(payload);
    ::peer::v1::AgentEventResponse response;
    grpc::Status s = stubs_[i]->Event(&ctx, request, &response);
    if (!s.ok()) std::cerr << "  Event: " << s.error_message() << "\n";
    return s.ok();
  }
  QueryOutcome Query(int i, int relay, int n, double limit_s) override {
    QueryOutcome out;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(int64_t(limit_s * 1000)));
    ::peer::v1::AgentQueryRequest request;
    request.set_name("bench");
    request.set_relay_factor(relay);
    const auto t = Clock::now();
    auto reader = stubs_[i]->Query(&ctx, request);
    ::peer::v1::AgentQueryResponse response;
    while (reader->Read(&response)) {
      if (response.has_reply()) {
        out.responders.insert(response.reply().from());
        if (static_cast<int>(out.responders.size()) == n) {
          out.last_response_s = Since(t);
        }
      }
      if (response.has_summary()) {
        out.ok = true;
        out.matched = static_cast<int>(response.summary().matched());
        out.missing.assign(response.summary().missing().begin(),
                           response.summary().missing().end());
      }
    }
    grpc::Status s = reader->Finish();
    if (!s.ok() && !out.ok) {
      std::cerr << "  Query: " << s.error_message() << "\n";
    }
    out.ok = out.ok || s.ok();
    out.ended_s = Since(t);
    return out;
  }

 private:
  std::vector<std::unique_ptr<::peer::v1::Agent::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<std::thread> threads_;
};

std::string BytesOf(const Json& v) {
  if (v.is_binary()) {
    const auto& b = v.get_binary();
    return std::string(b.begin(), b.end());
  }
  if (v.is_string()) return v.get<std::string>();
  return "";
}

class SerfSystem : public System {
 public:
  explicit SerfSystem(std::vector<std::unique_ptr<Member>>* members) {
    for (auto& m : *members) {
      ports_.push_back(static_cast<SerfMember*>(m.get())->rpc_port());
    }
    streams_.resize(ports_.size());
  }
  ~SerfSystem() override { CloseStreams(); }

  bool OpenStream(int i, Deliveries* d) override {
    streams_[i] = std::make_unique<SerfRpc>();
    SerfRpc* rpc = streams_[i].get();
    if (!rpc->Connect(ports_[i], std::chrono::hours(1))) return false;
    auto seq = rpc->Send("stream", Json{{"Type", "user:bench"}});
    if (!seq) return false;
    auto ack = rpc->Read();
    if (!ack || !ack->value("Error", "").empty()) return false;
    threads_.emplace_back([rpc, i, d] {
      while (true) {
        auto header = rpc->Read();
        if (!header) return;
        auto body = rpc->Read();
        if (!body) return;
        if (body->contains("Payload"))
          d->Record(i, BytesOf((*body)["Payload"]));
      }
    });
    return true;
  }
  void CloseStreams() override {
    for (auto& s : streams_) {
      if (s) s->Shutdown();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& s : streams_) s.reset();
  }
  bool SendEvent(int i, const std::string& payload) override {
    SerfRpc rpc;
    if (!rpc.Connect(ports_[i])) return false;
    return rpc.Call("event",
                    Json{{"Name", "bench"},
                         {"Payload", Json::binary(std::vector<uint8_t>(
                                         payload.begin(), payload.end()))},
                         {"Coalesce", false}},
                    false);
  }
  QueryOutcome Query(int i, int relay, int n, double limit_s) override {
    QueryOutcome out;
    SerfRpc rpc;
    // The handshake may wait for TCP retransmissions (the "all" loss);
    // then short reads, so the loop sees the clock.
    if (!rpc.Connect(ports_[i], std::chrono::seconds(5))) {
      std::cerr << "  query: cannot connect to serf's RPC\n";
      return out;
    }
    rpc.SetReadTimeout(std::chrono::milliseconds(200));
    const auto t = Clock::now();
    auto seq = rpc.Send("query", Json{{"Name", "bench"},
                                      {"RequestAck", false},
                                      {"RelayFactor", relay},
                                      {"Timeout", 0}});
    if (!seq) return out;
    bool acked = false;
    while (Since(t) < limit_s) {
      auto header = rpc.Read();
      if (!header) continue;  // read timeout: look at the clock again
      if (!header->value("Error", "").empty()) {
        std::cerr << "  query: " << header->value("Error", "") << "\n";
        break;
      }
      if (!acked) {  // the reply to the request itself has no body
        acked = true;
        out.ok = true;
        continue;
      }
      std::optional<Json> body;
      while (!body && Since(t) < limit_s) body = rpc.Read();
      if (!body) break;
      const std::string type = body->value("Type", "");
      if (type == "response") {
        out.responders.insert(body->value("From", ""));
        if (static_cast<int>(out.responders.size()) == n) {
          out.last_response_s = Since(t);
          break;
        }
      } else if (type == "done") {
        break;
      }
    }
    out.ended_s = Since(t);
    return out;
  }

 private:
  std::vector<int> ports_;
  std::vector<std::unique_ptr<SerfRpc>> streams_;
  std::vector<std::thread> threads_;
};

// --- The experiment --------------------------------------------------------

struct Settings {
  int n = 30;
  std::string profile = "lan";
  int events = 5, queries = 5, loss_queries = 40, relay = 2;
  double loss_pct = 5;
  std::vector<std::string> loss_what = {"udp", "all"};
  double timeout_s = 120;
  int poll_ms = 20;
  std::string peer_log_level = "warn";
};

struct LossFigures {
  std::string what;
  long answered = 0, asked = 0;  // responses received / expected
  int queries_complete = 0;      // all N answered
  long dropped_packets = -1;
  double cpu_s = 0;
};

struct Figures {
  std::string system;
  int repetition = 0;
  bool ok = false;
  std::optional<double> converge_s;
  std::vector<double> event_s;  // send -> last delivery, per event
  std::vector<double> query_s;  // send -> N-th response, per query
  int events_incomplete = 0, queries_incomplete = 0;
  std::vector<LossFigures> loss;
  double cpu_events_s = 0, cpu_queries_s = 0, cpu_total_s = 0;
};

double MembersCpu(std::vector<std::unique_ptr<Member>>& members) {
  double c = 0;
  for (auto& m : members) c += CpuSeconds(m->process()->pid());
  return c;
}

Figures RunOne(const std::string& system, int repetition, const Settings& s,
               const MemberOptions& options, Netns* netns) {
  Figures f;
  f.system = system;
  f.repetition = repetition;
  std::cerr << system << " x " << s.n << " (repetition " << repetition
            << "): starting\n";
  const bool peerlab = system == "peerlab";
  Clock::time_point t0;
  auto members = StartGroup(
      system, s.n,
      [&](const std::string& name,
          const std::string& join) -> std::unique_ptr<Member> {
        if (peerlab) return PeerlabMember::Start(options, name, join);
        return SerfMember::Start(options, name, join);
      },
      s.timeout_s, s.poll_ms, &t0);
  auto stop = [&] {
    for (auto& m : members) (void)m->process()->Signal(SIGTERM);
    for (auto& m : members) {
      if (!m->process()->Wait(absl::Seconds(5)).ok()) {
        (void)m->process()->Kill();
      }
    }
  };
  if (static_cast<int>(members.size()) < s.n) {
    stop();
    return f;
  }
  std::vector<int> all(s.n);
  for (int i = 0; i < s.n; ++i) all[i] = i;
  f.converge_s = WaitAll(
                     members, all,
                     [&](const std::vector<std::string>& seen) {
                       return static_cast<int>(seen.size()) == s.n;
                     },
                     t0, s.timeout_s, s.poll_ms, /*report_late=*/true)
                     .last;
  if (!f.converge_s) {
    std::cerr << system << ": not converged\n";
    stop();
    return f;
  }
  std::unique_ptr<System> sys;
  if (peerlab) {
    sys = std::make_unique<PeerlabSystem>(&members);
  } else {
    sys = std::make_unique<SerfSystem>(&members);
  }
  Deliveries deliveries;
  bool ok = true;
  for (int i = 0; i < s.n && ok; ++i) ok = sys->OpenStream(i, &deliveries);
  // Warm-up: every stream must deliver one event before anything counts
  // (peerlab's gRPC streams give no other sign that they are subscribed).
  int got = 0;
  for (int attempt = 0; ok && attempt < 10; ++attempt) {
    const std::string warm = absl::StrCat("warm-", repetition, "-", attempt);
    ok = sys->SendEvent(0, warm);
    if (ok && deliveries.WaitFor(warm, s.n, 10, &got)) break;
    if (attempt == 9) ok = false;
  }
  if (!ok) {
    std::cerr << system << ": the event streams did not all deliver (" << got
              << " of " << s.n << ")\n";
    sys->CloseStreams();
    stop();
    return f;
  }
  const double cpu0 = MembersCpu(members);
  for (int e = 0; e < s.events; ++e) {
    const std::string payload = absl::StrCat("ev-", repetition, "-", e);
    const auto t = Clock::now();
    if (!sys->SendEvent(0, payload)) {
      ++f.events_incomplete;
      continue;
    }
    auto last = deliveries.WaitFor(payload, s.n, 30, &got);
    if (!last) {
      std::cerr << "  event " << e << ": " << got << " of " << s.n << "\n";
      ++f.events_incomplete;
      continue;
    }
    f.event_s.push_back(std::chrono::duration<double>(*last - t).count());
  }
  const double cpu1 = MembersCpu(members);
  f.cpu_events_s = cpu1 - cpu0;
  sys->CloseStreams();
  for (int q = 0; q < s.queries; ++q) {
    QueryOutcome o = sys->Query(0, 0, s.n, 30);
    if (o.last_response_s) {
      f.query_s.push_back(*o.last_response_s);
    } else {
      std::cerr << "  query " << q << ": " << o.responders.size() << " of "
                << s.n << "\n";
      ++f.queries_incomplete;
    }
  }
  const double cpu2 = MembersCpu(members);
  f.cpu_queries_s = cpu2 - cpu1;
  if (netns != nullptr && s.loss_pct > 0 && s.loss_queries > 0) {
    for (const std::string& what : s.loss_what) {
      LossFigures l;
      l.what = what;
      const double cpu_a = MembersCpu(members);
      if (!netns->SetLoss(static_cast<int>(s.loss_pct * 10), what)) {
        std::cerr << "cannot set the loss\n";
        break;
      }
      for (int q = 0; q < s.loss_queries; ++q) {
        // The default timeout of both at N = 30 under lan is 6.4 s.
        QueryOutcome o = sys->Query(0, s.relay, s.n, 12);
        l.answered += o.responders.size();
        l.asked += s.n;
        if (static_cast<int>(o.responders.size()) == s.n) {
          ++l.queries_complete;
        } else {
          // Who is missing (a miss is read against the members' logs).
          std::vector<std::string> absent;
          for (int i = 0; i < s.n; ++i) {
            if (!o.responders.contains(members[i]->name())) {
              absent.push_back(members[i]->name());
            }
          }
          std::cerr << absl::StrFormat(
              "  %s loss query %d: %d of %d, missing %s after %.2f s",
              absl::FormatTime("%H:%M:%E3S",
                               absl::Now() - absl::Seconds(o.ended_s),
                               absl::UTCTimeZone()),
              q, o.responders.size(), s.n, absl::StrJoin(absent, ","),
              o.ended_s);
          if (o.matched >= 0) {
            std::cerr << absl::StrFormat(
                " (the asker's summary: %d matched, missing %s)", o.matched,
                o.missing.empty() ? "none" : absl::StrJoin(o.missing, ","));
          }
          std::cerr << "\n";
        }
      }
      l.dropped_packets = netns->Dropped();
      (void)netns->SetLoss(0, what);
      l.cpu_s = MembersCpu(members) - cpu_a;
      std::cerr << absl::StrFormat(
          "  %s loss (%s): %d of %d responses, %d of %d queries complete\n",
          system, what, l.answered, l.asked, l.queries_complete,
          s.loss_queries);
      f.loss.push_back(l);
      // Let the group settle (suspicions refuted) before the next phase.
      (void)WaitAll(
          members, all,
          [&](const std::vector<std::string>& seen) {
            return static_cast<int>(seen.size()) == s.n;
          },
          Clock::now(), 60, s.poll_ms);
    }
  }
  f.cpu_total_s = MembersCpu(members);
  stop();
  f.ok = f.events_incomplete == 0 && f.queries_incomplete == 0;
  return f;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string Spread(const std::vector<double>& v) {
  if (v.empty()) return "-";
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return absl::StrFormat("%.3f / %.3f / %.3f", *lo, Median(v), *hi);
}

double SelfCpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "cluster_compare: N peerlab-peer processes against N serf agents on "
      "loopback: a user event reaching all, a query answered by all, query "
      "responses at datagram loss with relay."};
  Settings s;
  CompareOptions o;
  o.repeat = 3;
  bool no_netns = false;
  app.add_option("--nodes", s.n, "members per system (2 .. 1000)")
      ->check(peerlab::Range(2, 1000))
      ->capture_default_str();
  AddCompareOptions(app, &o, "seconds to wait for convergence", "repetitions");
  app.add_option("--events", s.events, "user events per repetition (0 .. 1000)")
      ->check(peerlab::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--queries", s.queries,
                 "queries without loss per repetition (0 .. 1000)")
      ->check(peerlab::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--loss-queries", s.loss_queries,
                 "queries at --loss per repetition and loss kind (0 .. 10000)")
      ->check(peerlab::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--loss", s.loss_pct,
                 "percent of packets dropped in the loss phase (0 .. 100)")
      ->check(peerlab::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--loss-packets", s.loss_what,
                 "what the loss drops: udp (datagrams) and/or all (TCP too)")
      ->delimiter(',')
      ->check(CLI::IsMember({"udp", "all"}))
      ->capture_default_str();
  app.add_option("--relay", s.relay, "relay factor in the loss phase (0 .. 5)")
      ->check(peerlab::Range(0, 5))
      ->capture_default_str();
  app.add_flag("--no-netns", no_netns,
               "run on the host's loopback (no loss phase)");
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  std::unique_ptr<TempDir> tmp;
  absl::StatusOr<std::string> files =
      FinishCompareOptions(&o, "cluster-compare", &tmp);
  if (!files.ok()) {
    std::cerr << files.status() << "\n";
    return 1;
  }
  const std::string& dir = *files;
  s.profile = o.profile;
  s.timeout_s = o.timeout_s;
  s.peer_log_level = o.peer_log_level;
  // Before any thread exists (see Netns).
  std::unique_ptr<Netns> netns;
  if (!no_netns) {
    netns = Netns::Enter(dir);
    if (!netns) {
      std::cerr << "no network namespace: running on the host's loopback, "
                   "the loss phase is not measured\n";
    } else {
      std::cerr << "running in the network namespace " << netns->name() << "\n";
    }
  }
  const std::vector<std::string> systems = o.SystemList();
  const std::string handler = "query:bench=/bin/echo ok";
  std::vector<Figures> results;
  for (int r = 0; r < o.repeat; ++r) {
    // Alternate who goes first.
    std::vector<std::string> order = systems;
    if (r % 2 == 1) std::reverse(order.begin(), order.end());
    for (const std::string& system : order) {
      // With --log-dir, one subdirectory per system and repetition, so a
      // repetition's logs do not overwrite the one before.
      std::string member_dir = dir;
      if (!o.log_dir.empty()) {
        member_dir = absl::StrCat(dir, "/", system, "-r", r);
        if (absl::Status made = MakeDirectories(member_dir); !made.ok()) {
          std::cerr << made << "\n";
          return 1;
        }
      }
      MemberOptions options{
          .bin = system == "peerlab" ? o.peer_bin : o.serf_bin,
          .dir = member_dir,
          .profile = s.profile,
          .peer_log_level = s.peer_log_level,
          .event_handlers = {handler},
          .peer_settings = o.peer_settings};
      results.push_back(RunOne(system, r, s, options, netns.get()));
    }
  }

  std::cout << absl::StrFormat(
      "N = %d, profile %s, %d repetitions, %s; times in s as min / median / "
      "max\n",
      s.n, s.profile, o.repeat,
      netns ? "in a network namespace of its own" : "on the host's loopback");
  std::cout << absl::StrFormat("%-8s %-26s %-26s %s\n", "system",
                               "event_to_all_s", "query_all_answered_s",
                               "members_cpu_s (events / queries / run)");
  bool ok = true;
  Json out = Json::array();
  for (const std::string& system : systems) {
    std::vector<double> ev, qu, cpu_e, cpu_q, cpu_t;
    int ev_inc = 0, qu_inc = 0;
    std::map<std::string, LossFigures> loss;
    std::map<std::string, std::vector<double>> loss_rate;
    for (const Figures& f : results) {
      if (f.system != system) continue;
      ok = ok && f.ok;
      ev.insert(ev.end(), f.event_s.begin(), f.event_s.end());
      qu.insert(qu.end(), f.query_s.begin(), f.query_s.end());
      ev_inc += f.events_incomplete;
      qu_inc += f.queries_incomplete;
      cpu_e.push_back(f.cpu_events_s);
      cpu_q.push_back(f.cpu_queries_s);
      cpu_t.push_back(f.cpu_total_s);
      for (const LossFigures& l : f.loss) {
        LossFigures& t = loss[l.what];
        t.what = l.what;
        t.answered += l.answered;
        t.asked += l.asked;
        t.queries_complete += l.queries_complete;
        t.dropped_packets =
            std::max(0L, t.dropped_packets) + std::max(0L, l.dropped_packets);
        t.cpu_s += l.cpu_s;
        loss_rate[l.what].push_back(l.asked ? 100.0 * l.answered / l.asked
                                            : 0.0);
      }
      Json lj = Json::array();
      for (const LossFigures& l : f.loss) {
        lj.push_back({{"what", l.what},
                      {"answered", l.answered},
                      {"asked", l.asked},
                      {"queries_complete", l.queries_complete},
                      {"dropped_packets", l.dropped_packets},
                      {"members_cpu_s", l.cpu_s}});
      }
      out.push_back(
          {{"system", f.system},
           {"repetition", f.repetition},
           {"n", s.n},
           {"converge_s", f.converge_s ? Json(*f.converge_s) : Json(nullptr)},
           {"event_s", f.event_s},
           {"query_s", f.query_s},
           {"events_incomplete", f.events_incomplete},
           {"queries_incomplete", f.queries_incomplete},
           {"members_cpu_events_s", f.cpu_events_s},
           {"members_cpu_queries_s", f.cpu_queries_s},
           {"members_cpu_total_s", f.cpu_total_s},
           {"loss", lj}});
    }
    std::cout << absl::StrFormat(
        "%-8s %-26s %-26s %.2f / %.2f / %.2f (median per repetition)\n", system,
        Spread(ev) + (ev_inc ? absl::StrCat(" (", ev_inc, " lost)") : ""),
        Spread(qu) + (qu_inc ? absl::StrCat(" (", qu_inc, " short)") : ""),
        Median(cpu_e), Median(cpu_q), Median(cpu_t));
    for (const auto& [what, l] : loss) {
      std::cout << absl::StrFormat(
          "%-8s loss %.1f %% (%s), relay %d: %d of %d responses (%.3f %%; per "
          "repetition %s %%), %d queries complete, %d packets dropped, "
          "members' CPU %.2f s\n",
          system, s.loss_pct, what, s.relay, l.answered, l.asked,
          l.asked ? 100.0 * l.answered / l.asked : 0.0, Spread(loss_rate[what]),
          l.queries_complete, l.dropped_packets, l.cpu_s);
    }
  }
  std::cout << absl::StrFormat("the tool's own CPU: %.2f s\n", SelfCpu());
  if (!o.json_path.empty()) std::ofstream(o.json_path) << out.dump(2) << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace peerlab::bench

int main(int argc, char** argv) { return peerlab::bench::Main(argc, argv); }
