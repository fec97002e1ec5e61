// Embedding peerlab: two membership Nodes in one process join each other,
// print the members, and a command on peerlab's command line lists them
// again. With a terminal on standard input, the command line stays open on
// peerlab's prompt (history, Tab completion) until Ctrl-D.
//
// No set-up: the nodes seal their gossip with the per-user group key, made
// on first use in the per-user state directory ($PEERLAB_STATE_DIR, else
// ~/.local/state/peerlab). Exit status 0 when both nodes saw each other.
#include <peerlab/cli/registry.h>
#include <peerlab/cli/session.h>
#include <peerlab/cli/view.h>
#include <peerlab/membership/node.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#ifdef EXAMPLE_HAS_PROMPT  // CMakeLists.txt: peerlab::cli_prompt is there
#include <peerlab/cli/terminal.h>
#endif

namespace {

using peerlab::membership::Member;
using peerlab::membership::Node;
using peerlab::membership::NodeOptions;

// Counts the join events a node's callback reports (on the node's thread).
struct Joins {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void Add() {
    std::lock_guard<std::mutex> lock(mu);
    ++count;
    cv.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10),
                       [&] { return count >= n; });
  }
};

std::string Describe(const Member& m) {
  return m.name + "  " + m.addr + "  " +
         peerlab::membership::StateName(m.state) + "  meta \"" + m.meta + "\"";
}

}  // namespace

int main() {
  Joins joins;
  NodeOptions first;
  first.name = "example-a";
  first.profile = "local";
  first.metadata = "role=first";
  first.on_join = [&joins](const Member& m) {
    std::cout << "example-a sees " << m.name << " join\n";
    joins.Add();
  };
  auto a = Node::Start(first);
  if (!a.ok()) {
    std::cerr << "example-a: " << a.status() << "\n";
    return 1;
  }

  NodeOptions second;
  second.name = "example-b";
  second.profile = "local";
  second.metadata = "role=second";
  auto b = Node::Start(second);
  if (!b.ok()) {
    std::cerr << "example-b: " << b.status() << "\n";
    return 1;
  }
  auto joined = (*b)->Join({(*a)->Address()});
  if (!joined.ok()) {
    std::cerr << "join: " << joined.status() << "\n";
    return 1;
  }
  if (!joins.WaitFor(1)) {
    std::cerr << "example-a never saw example-b join\n";
    return 1;
  }
  std::cout << "members seen by example-b:\n";
  for (const Member& m : (*b)->Members())
    std::cout << "  " << Describe(m) << "\n";

  // One command on peerlab's command line.
  peerlab::cli::Registry registry;
  Node* node = a->get();
  absl::Status registered = registry.Register(
      {.name = "members",
       .group = "example",
       .usage = "members",
       .summary = "lists the members example-a sees",
       .max_args = 0,
       .handler = [node](const peerlab::cli::Call&,
                         peerlab::cli::Output& out) -> absl::Status {
         for (const Member& m : node->Members()) out.Print(Describe(m));
         return absl::OkStatus();
       }});
  if (!registered.ok()) {
    std::cerr << registered << "\n";
    return 1;
  }
  peerlab::cli::ViewHub views;
  peerlab::cli::ViewOutput out(&views);
  bool ok = true;
#ifdef EXAMPLE_HAS_PROMPT
  if (::isatty(0) && ::isatty(1)) {
    peerlab::cli::Terminal terminal(&views, /*interactive=*/true);
    ok = peerlab::cli::RunLine(registry, "members", out).ok();
    std::cout << "type members; Ctrl-D ends\n";
    terminal.Run(registry, "example", "", [] { return false; });
    terminal.Stop();
  } else
#endif
  {
    const int watch = views.Watch({}, [](const peerlab::cli::ViewLine& line) {
      std::cout << "[" << line.view << "] " << line.text << "\n";
    });
    ok = peerlab::cli::RunLine(registry, "members", out).ok();
    views.Unwatch(watch);
  }

  // A clean exit: each node tells the other it leaves.
  (void)(*b)->Leave(absl::Seconds(2));
  (void)(*a)->Leave(absl::Seconds(2));
  return ok ? 0 : 1;
}
