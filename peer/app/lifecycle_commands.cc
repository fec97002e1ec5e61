#include "peer/app/lifecycle_commands.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace peerlab::peer {
namespace {

// The lines of a host operation, to a command's output.
chat::Lines To(cli::Output& out) {
  return [&out](const std::string& line) { out.Print(line); };
}

}  // namespace

absl::Status RegisterLifecycleCommands(LifecycleHost* host,
                                       cli::Registry& registry) {
  std::vector<cli::Command> commands = {
      {.name = "init",
       .group = "development",
       .summary = "the whole start-up: membership node, bootstrap join, chat, "
                  "gossip, join the bootstrap peers, announce",
       .help = "Runs at start unless --no-init. Each step prints its "
               "outcome; a failing step is named with its reason and the "
               "others still run, so the peer stays usable. If the bootstrap "
               "service is unreachable the peer retries in the background.",
       .max_args = 0,
       .handler = [host](const cli::Call&,
                         cli::Output& out) { return host->Init(To(out)); }},
      {.name = "quit",
       .group = "development",
       .summary = "clean leave: bootstrap leave, chat announcement, "
                  "membership leave, exit 0",
       .help = "Every other way out (exit, end of input, Ctrl-D, SIGINT, "
               "SIGTERM, SIGHUP) leaves the same way on its way out; quit "
               "also ends with status 0.",
       .max_args = 0,
       .handler = [host](const cli::Call&,
                         cli::Output& out) { return host->Quit(To(out)); }},
      {.name = "play",
       .group = "development",
       .summary = "scratch: this node, the members, the chat members, the "
                  "last bootstrap document",
       .max_args = 0,
       .handler =
           [&registry](const cli::Call& call, cli::Output& out) {
             for (const char* line : {"localnode", "memberlist", "chatmembers",
                                      "bootstraplistlocal"}) {
               out.Print(absl::StrCat("-- ", line));
               if (auto s = registry.Execute(line, out, call.depth + 1);
                   !s.ok()) {
                 out.Print(absl::StrCat("   ", s.message()));
               }
             }
             return absl::OkStatus();
           }},
  };
  for (auto& command : commands) {
    if (auto s = registry.Register(std::move(command)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::peer
