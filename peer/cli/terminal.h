// Terminal: what the person (or the pipe) at a peer's standard input and
// output sees. Shows the views and reads command lines.
//
// Non-interactive (standard input is not a terminal): outputView and
// messagesView lines go to stdout and logView lines to stderr as they are
// written, without colours; Run() reads command lines from stdin with
// cli::RunLines.
//
// Interactive (stdin and stdout are terminals): a display thread owns the
// terminal. View lines are queued by the hub watcher (which never blocks)
// and printed by that thread; while Run() is active it also runs the libedit
// prompt "NAME> " (history file, Tab completion, Ctrl-C cancels the line,
// Ctrl-D on an empty line ends Run), printing queued lines above the prompt
// without garbling the line being typed. Entered lines are executed by the
// thread that called Run(). Lines are coloured by LineStyle when stdout is a
// colour terminal.
#ifndef PEERLAB_PEER_CLI_TERMINAL_H_
#define PEERLAB_PEER_CLI_TERMINAL_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "peerlab/cli/registry.h"
#include "peerlab/cli/view.h"

namespace peerlab::cli {

class Terminal {
 public:
  // `hub` must outlive the terminal. Starts showing every view at once.
  // `interactive` REQUIRES stdin and stdout to be terminals; it sets the
  // process's LC_CTYPE from the environment (for UTF-8 input).
  Terminal(cli::ViewHub* hub, bool interactive);
  // Stop(), then waits for the display thread.
  ~Terminal();

  // Reads and runs command lines until the end of input (Ctrl-D on the
  // prompt) or until `stop()` returns true; returns how many lines failed
  // (a failing line also prints "error: MESSAGE" to outputView). `name`
  // makes the prompt; `history_file` is --history-file ("" for
  // ~/.peerlab_history; only used interactively). `stop` is called often,
  // from this thread with an internal lock held: it must be quick and must
  // not call the Terminal. Run() returns within about 100 ms of stop()
  // becoming true (at once after Wake()), unless a command is running — it
  // returns when that command does — and the terminal's settings are
  // restored by then. Call from one thread at a time.
  int Run(const cli::Registry& registry, const std::string& name,
          const std::string& history_file, const std::function<bool()>& stop);

  // Makes a blocked Run() look at `stop()` again. Thread-safe; does not
  // block. Not async-signal-safe (call it from a signal-handling thread).
  void Wake();

  // Stops showing views (the lines already queued are printed first) and,
  // interactively, ends the display thread. Call after Run() has returned.
  // Idempotent.
  void Stop();

 private:
  struct Session {
    const cli::Registry* registry = nullptr;
    std::string prompt;
    std::string history_path;
  };

  // Non-interactive: prints `line` at once (on the writer's thread).
  void ShowPlain(const cli::ViewLine& line);
  // Non-interactive Run(): cli::RunLines over stdin, woken by the pipe.
  int RunPlain(const cli::Registry& registry,
               const std::function<bool()>& stop);

  // Interactive: the hub watcher. Queues `line` and wakes the display
  // thread; never blocks on the terminal.
  void Enqueue(const cli::ViewLine& line);
  // Interactive: the display thread's body.
  void DisplayLoop();
  // Writes one byte to the self-pipe (non-blocking).
  void Poke();

  cli::ViewHub* const hub_;
  const bool interactive_;
  int watch_ = 0;
  int wake_read_ = -1;  // self-pipe: any byte wakes the poll loops
  int wake_write_ = -1;
  std::mutex plain_mu_;  // orders non-interactive writes
  std::thread display_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<cli::ViewLine> pending_;
  uint64_t dropped_ = 0;  // lines dropped from pending_ since last shown
  bool quit_ = false;     // Stop(): the display thread ends
  bool stopped_ = false;  // Stop() has run
  std::optional<Session> session_;   // set while Run() is active
  std::optional<std::string> line_;  // entered, not yet taken by Run()
  bool busy_ = false;                // a line is being executed: no prompt
  bool eof_ = false;                 // Ctrl-D or the terminal went away
  bool editor_open_ = false;         // the display thread has a LineEditor
  bool editor_failed_ = false;       // libedit could not start
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_TERMINAL_H_
