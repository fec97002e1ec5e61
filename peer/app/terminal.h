// Terminal: what the person (or the pipe) at a peer's standard input and
// output sees. Shows the views (outputView and messagesView on stdout; in
// non-interactive mode logView on stderr) and reads command lines.
#ifndef PEERLAB_PEER_APP_TERMINAL_H_
#define PEERLAB_PEER_APP_TERMINAL_H_

#include <functional>
#include <mutex>
#include <string>

#include "peer/cli/registry.h"
#include "peer/cli/view.h"

namespace peerlab::peer {

class Terminal {
 public:
  // `hub` must outlive the terminal. Starts showing the views at once.
  Terminal(cli::ViewHub* hub, bool interactive);
  ~Terminal();

  // Reads and runs command lines until end of input or until `stop()`.
  // Returns how many failed.
  int Run(const cli::Registry& registry, const std::string& name,
          const std::string& history_file, const std::function<bool()>& stop);

  // Makes a blocked Run() look at `stop()` again. Thread-safe.
  void Wake();
  // Stops showing views.
  void Stop();

 private:
  void Show(const cli::ViewLine& line);

  cli::ViewHub* const hub_;
  const bool interactive_;
  int watch_ = 0;
  std::mutex mu_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_TERMINAL_H_
