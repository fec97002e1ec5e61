// chat_bench: how fast one peer's chat reaches the others, with real
// peerlab-peer processes on loopback.
//
// For each group size (--peers, default 3,10) it starts a peerlab-bootstrap
// (memory store) and that many peers with `--serve` (each runs init), waits
// until every peer's chat lists all the others, and then drives the first
// peer through peer.v1.PeerControl:
//   throughput  `chatflood COUNT BYTES WINDOW`: COUNT messages to all
//               others, at most WINDOW unacked at a time; a message counts
//               once every other peer has acked it (acked = shown in its
//               messagesView). Reported: messages/s sent and deliveries/s
//               (messages x receivers), and the receivers' delivery latency
//               during the flood (receive time minus the sender's
//               timestamp, one host, one clock).
//   latency     `chatflood COUNT BYTES 1`: one message at a time (each waits
//               for every ack), so the latency has no queueing in it.
// Latency percentiles come from each receiver's `chatstats` (reset before
// each phase); the table shows the median of the receivers' p50 and the
// largest of their p99. Results go to stdout (and --json FILE).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/peer/v1/control.grpc.pb.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/option_checks.h"
#include "base/testing/subprocess.h"

namespace {

namespace pb = ::peer::v1;
using peerlab::kControlTokenFileEnv;
using peerlab::NewChannelWithToken;
using peerlab::ReadOrCreateControlTokenFile;
using peerlab::testing::BootstrapServer;
using peerlab::testing::StartBootstrapServer;
using peerlab::testing::Subprocess;
using peerlab::testing::TempDir;
using peerlab::testing::WaitForFileLine;

struct Peer {
  std::unique_ptr<Subprocess> process;
  std::unique_ptr<pb::PeerControl::Stub> stub;

  absl::StatusOr<std::string> Run(const std::string& line,
                                  absl::Duration timeout = absl::Seconds(120)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoNanoseconds(timeout));
    pb::ExecuteRequest request;
    request.set_line(line);
    pb::ExecuteResponse response;
    grpc::Status s = stub->Execute(&context, request, &response);
    if (!s.ok()) {
      return absl::UnavailableError(
          absl::StrCat(line, ": RPC ", s.error_message()));
    }
    std::vector<std::string> out;
    for (const auto& l : response.output()) out.push_back(l.text());
    if (response.code() != 0) {
      return absl::InternalError(absl::StrCat(line, ": ", response.message()));
    }
    return absl::StrJoin(out, "\n");
  }
};

// "… latency p50 0.412 ms, p99 1.300 ms, max …" -> (p50, p99) in ms.
bool ParseLatency(const std::string& text, double* p50, double* p99) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "latency p50 ")) continue;
    std::vector<std::string> w = absl::StrSplit(line, ' ');
    // latency p50 X ms, p99 Y ms, ...
    return w.size() > 5 && absl::SimpleAtod(w[2], p50) &&
           absl::SimpleAtod(w[5], p99);
  }
  return false;
}

// "sent …, received R, duplicates …" -> R.
bool ParseReceived(const std::string& text, int64_t* received) {
  size_t at = text.find("received ");
  if (at == std::string::npos) return false;
  std::string rest = text.substr(at + 9);
  return absl::SimpleAtoi(rest.substr(0, rest.find(',')), received);
}

// "sent N messages in S s: M messages/s, D deliveries (R/s), U undelivered"
bool ParseFlood(const std::string& text, double* msgs_per_s,
                double* deliveries_per_s, int64_t* undelivered) {
  std::vector<std::string> w = absl::StrSplit(text, ' ');
  if (w.size() < 13) return false;
  std::string rate = w[10];
  rate = rate.substr(1, rate.find('/') - 1);  // "(123/s)," -> 123
  return absl::SimpleAtod(w[6], msgs_per_s) &&
         absl::SimpleAtod(rate, deliveries_per_s) &&
         absl::SimpleAtoi(w[11], undelivered);
}

struct Row {
  int peers = 0;
  std::string phase;
  int64_t count = 0;
  int window = 0;
  double msgs_per_s = 0, deliveries_per_s = 0;
  int64_t undelivered = 0;
  double p50_ms = 0, p99_ms = 0;
};

absl::StatusOr<std::vector<Row>> RunGroup(const std::string& bin,
                                          const std::string& dir, int n,
                                          int64_t count, int64_t latency_count,
                                          int bytes, int window) {
  auto server = StartBootstrapServer(
      dir, {"--store", "memory:", "--log-level", "warn", "--max-peers", "3"});
  if (!server.ok()) return server.status();
  // One control token for the run's peers and this client.
  const std::string token_file = dir + "/control.token";
  auto token = ReadOrCreateControlTokenFile(token_file);
  if (!token.ok()) return token.status();
  std::vector<Peer> peers(n);
  for (int i = 0; i < n; ++i) {
    const std::string name = absl::StrCat("p", n, "-", i);
    const std::string ready = absl::StrCat(dir, "/", name, ".ready");
    Subprocess::Options o;
    o.argv = {bin + "/peerlab-peer",
              name,
              "--serve",
              "--bootstrap",
              server->address,
              "--ready-file",
              ready,
              "--log-level",
              "warn",
              "--log-file",
              absl::StrCat(dir, "/", name, ".log")};
    o.env["HOME"] = dir;
    o.env[kControlTokenFileEnv] = token_file;
    auto p = Subprocess::Start(o);
    if (!p.ok()) return p.status();
    peers[i].process = *std::move(p);
    auto address =
        WaitForFileLine(ready, absl::Seconds(30), peers[i].process.get());
    if (!address.ok()) return address.status();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    peers[i].stub = pb::PeerControl::NewStub(
        NewChannelWithToken(std::string(absl::StripAsciiWhitespace(*address)),
                            grpc::InsecureChannelCredentials(), *token, args));
    // init runs first; a command waits behind it only if it is slow, so
    // poll until this peer sees everyone started before it.
    const std::string want = absl::StrCat(i, " chat member(s)");
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      auto r = peers[i].Run("chatmembers");
      if (r.ok() && absl::StrContains(*r, want)) break;
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(name, " never saw ", i, " chat members"));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  // Everyone sees everyone.
  for (int i = 0; i < n; ++i) {
    const std::string want = absl::StrCat(n - 1, " chat member(s)");
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      auto r = peers[i].Run("chatmembers");
      if (r.ok() && absl::StrContains(*r, want)) break;
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError("the chat never converged");
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  std::vector<Row> rows;
  auto phase = [&](const std::string& name, int64_t c, int w) -> absl::Status {
    for (auto& p : peers) {
      if (auto r = p.Run("chatstats reset"); !r.ok()) return r.status();
    }
    auto flood =
        peers[0].Run(absl::StrCat("chatflood ", c, " ", bytes, " ", w));
    if (!flood.ok()) return flood.status();
    Row row{.peers = n, .phase = name, .count = c, .window = w};
    if (!ParseFlood(*flood, &row.msgs_per_s, &row.deliveries_per_s,
                    &row.undelivered)) {
      return absl::InternalError("cannot parse: " + *flood);
    }
    std::vector<double> p50s, p99s;
    for (int i = 1; i < n; ++i) {
      auto stats = peers[i].Run("chatstats");
      if (!stats.ok()) return stats.status();
      double p50, p99;
      int64_t received = 0;
      if (!ParseLatency(*stats, &p50, &p99) ||
          !ParseReceived(*stats, &received)) {
        return absl::InternalError("cannot parse: " + *stats);
      }
      // Every message shown once at every receiver, or the numbers lie.
      if (received != c) {
        return absl::InternalError(absl::StrCat(
            "peer ", i, " showed ", received, " of ", c, " messages"));
      }
      p50s.push_back(p50);
      p99s.push_back(p99);
    }
    std::sort(p50s.begin(), p50s.end());
    row.p50_ms = p50s[p50s.size() / 2];
    row.p99_ms = *std::max_element(p99s.begin(), p99s.end());
    rows.push_back(row);
    std::cerr << absl::StrFormat(
        "%d peers %-10s %8.0f msg/s %9.0f deliveries/s p50 %.3f ms p99 %.3f "
        "ms\n",
        n, name, row.msgs_per_s, row.deliveries_per_s, row.p50_ms, row.p99_ms);
    return absl::OkStatus();
  };
  if (auto s = phase("warmup", std::min<int64_t>(count, 5000), window);
      !s.ok()) {
    return s;
  }
  rows.clear();
  if (auto s = phase("throughput", count, window); !s.ok()) return s;
  if (auto s = phase("latency", latency_count, 1); !s.ok()) return s;

  for (auto& p : peers) p.Run("quit", absl::Seconds(10)).IgnoreError();
  for (auto& p : peers) p.process->Wait(absl::Seconds(10)).IgnoreError();
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chat_bench: chat throughput and latency between real peers"};
  std::vector<int> groups = {3, 10};
  int64_t count = 100000;
  int64_t latency_count = 2000;
  int bytes = 32;
  int window = 512;
  std::string json_file;
  app.add_option("--peers", groups, "group sizes (2 .. 50)")
      ->delimiter(',')
      ->check(peerlab::Range(2, 50));
  app.add_option("--count", count,
                 "messages in the throughput phase (1 .. 100000000)")
      ->check(peerlab::Range(int64_t{1}, int64_t{100000000}));
  app.add_option("--latency-count", latency_count,
                 "messages in the latency phase, one at a time (1 .. "
                 "10000000)")
      ->check(peerlab::Range(int64_t{1}, int64_t{10000000}));
  app.add_option("--bytes", bytes, "message size (1 .. 65536)")
      ->check(peerlab::Range(1, 65536));
  app.add_option("--window", window,
                 "unacked messages in the throughput phase (1 .. 100000)")
      ->check(peerlab::Range(1, 100000));
  app.add_option("--json", json_file, "also write the rows here")
      ->check(peerlab::WritableFile);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;

  if (!getenv("PEERLAB_BIN_DIR")) {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) {
      std::string path(self, static_cast<size_t>(len));
      setenv("PEERLAB_BIN_DIR", path.substr(0, path.rfind('/')).c_str(), 1);
    }
  }
  auto bin = peerlab::testing::BinDir();
  if (!bin.ok()) {
    std::cerr << bin.status() << "\n";
    return 2;
  }
  std::vector<Row> all;
  for (int n : groups) {
    auto dir = TempDir::Create("chat-bench");
    if (!dir.ok()) {
      std::cerr << dir.status() << "\n";
      return 2;
    }
    auto rows =
        RunGroup(*bin, (*dir)->path(), n, count, latency_count, bytes, window);
    if (!rows.ok()) {
      std::cerr << "peers " << n << ": " << rows.status() << "\n";
      return 1;
    }
    all.insert(all.end(), rows->begin(), rows->end());
  }
  std::cout << absl::StrFormat("%-6s %-11s %8s %6s %10s %13s %11s %8s %8s\n",
                               "peers", "phase", "messages", "window", "msgs/s",
                               "deliveries/s", "undelivered", "p50_ms",
                               "p99_ms");
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : all) {
    std::cout << absl::StrFormat(
        "%-6d %-11s %8d %6d %10.0f %13.0f %11d %8.3f %8.3f\n", r.peers, r.phase,
        r.count, r.window, r.msgs_per_s, r.deliveries_per_s, r.undelivered,
        r.p50_ms, r.p99_ms);
    out.push_back({{"peers", r.peers},
                   {"phase", r.phase},
                   {"messages", r.count},
                   {"window", r.window},
                   {"messages_per_s", r.msgs_per_s},
                   {"deliveries_per_s", r.deliveries_per_s},
                   {"undelivered", r.undelivered},
                   {"p50_ms", r.p50_ms},
                   {"p99_ms", r.p99_ms}});
  }
  if (!json_file.empty()) std::ofstream(json_file) << out.dump(2) << "\n";
  return 0;
}
