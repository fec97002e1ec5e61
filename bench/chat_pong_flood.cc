// chat_pong_flood: asks a peer's chat for pongs on a peer.v1.Chat/Connect
// stream that never reads them, and samples the peer's resident memory.
// Before the bound on a stream's queued answers, the peer grew by GiBs;
// now it ends the stream at 4 MiB queued.
//
//   chat_pong_flood --target 127.0.0.1:PORT --pid PID [--seconds 20]
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/peer/v1/chat.grpc.pb.h"
#include "base/command_line.h"
#include "base/option_checks.h"

namespace {

// VmRSS of `pid` in MiB, or -1.
double RssMiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chat_pong_flood: pings a peer's chat and never reads"};
  std::string target;
  int pid = 0;
  double seconds = 20;
  app.add_option("--target", target, "the peer's gRPC address (HOST:PORT)")
      ->required()
      ->check(peerlab::ConnectHostPort);
  app.add_option("--pid", pid, "the peer's process id (for VmRSS)")
      ->required()
      ->check(peerlab::Range(1, 4194304));
  app.add_option("--seconds", seconds, "how long to flood (0.1 to 3600)")
      ->check(peerlab::Range(0.1, 3600.0));
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;

  auto stub = ::peer::v1::Chat::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  ::peer::v1::ChatEnvelope pings;
  for (int i = 0; i < 1000; ++i) pings.add_pings()->set_nonce(i + 1);
  const double start_rss = RssMiB(pid);
  double max_rss = start_rss;
  const absl::Time start = absl::Now();
  absl::Time next_sample = start;
  uint64_t written = 0;
  bool ended = false;
  while (absl::Now() - start < absl::Seconds(seconds)) {
    if (!stream->Write(pings)) {
      ended = true;
      break;
    }
    ++written;
    if (absl::Now() >= next_sample) {
      double rss = RssMiB(pid);
      if (rss > max_rss) max_rss = rss;
      next_sample += absl::Seconds(1);
    }
  }
  const absl::Duration took = absl::Now() - start;
  context.TryCancel();
  const double end_rss = RssMiB(pid);
  if (end_rss > max_rss) max_rss = end_rss;
  std::cout << absl::StrFormat(
                   "%d envelopes of 1000 pings in %.1f s; stream %s; peer "
                   "VmRSS %.0f MiB at start, max %.0f MiB",
                   written, absl::ToDoubleSeconds(took),
                   ended ? "ended by the peer" : "still open", start_rss,
                   max_rss)
            << std::endl;
  return 0;
}
