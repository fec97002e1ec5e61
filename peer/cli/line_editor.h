// LineEditor: the interactive prompt's line editing, on libedit. libedit
// runs unbuffered: the owner's poll loop hands it one key at a time, so the
// same loop can print asynchronous output above the prompt (clear the prompt
// and the partial input, print, redraw them) without garbling the line
// being typed.
#ifndef PEERLAB_PEER_CLI_LINE_EDITOR_H_
#define PEERLAB_PEER_CLI_LINE_EDITOR_H_

#include <termios.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/cli/completion.h"

// From <histedit.h>; kept out of this header.
struct editline;
struct history;

namespace peerlab::cli {

// Not thread-safe: one thread (the terminal's display thread) does
// everything with a LineEditor, from Create to destruction.
class LineEditor {
 public:
  struct Options {
    std::string prompt;                // e.g. "alice> "
    std::vector<std::string> history;  // earlier lines, oldest first
    size_t history_size = 1000;        // lines kept in memory
    // Tab: the completions of the text before the cursor. May be empty
    // (then Tab does nothing).
    std::function<CompletionResult(absl::string_view line)> complete;
    // Descriptor that becomes readable when the owner has news (the
    // owner's self-pipe). While libedit waits for the rest of a key
    // sequence (after Esc, say) the editor drains it and asks
    // `should_close`; when that returns true the key is abandoned and
    // ReadKey returns kNone at once, so closing is never held up by a
    // half-typed key.
    int wake_fd = -1;
    std::function<bool()> should_close;
  };

  enum class Event {
    kNone,  // a key was handled; the line is still being edited
    kLine,  // Enter: the line is complete (the prompt is now hidden)
    kEof,   // Ctrl-D on an empty line, or the terminal went away (hidden)
  };

  // Sets up libedit on standard input and output (emacs key bindings,
  // ~/.editrc, history, Tab completion, Ctrl-D). Nothing is shown until
  // Show(). FailedPrecondition when they are not a terminal or libedit
  // cannot start.
  static absl::StatusOr<std::unique_ptr<LineEditor>> Create(Options options);

  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;
  // Removes a visible prompt and restores the terminal settings it found.
  ~LineEditor();

  // Starts a new, empty line: puts the terminal in editing mode and draws
  // the prompt. No-op when visible.
  void Show();
  // Returns the terminal to its normal mode, leaving the screen as it is.
  // No-op when hidden.
  void Hide();
  bool visible() const { return visible_; }

  // Handles one key (reading it from standard input, which should be
  // readable). REQUIRES: visible(). On kLine, `*line` is the line without
  // its newline; non-blank lines are added to the in-memory history.
  Event ReadKey(std::string* line);

  // Writes `text` (whole lines, each ending in '\n'). When the prompt is
  // visible it is cleared first and redrawn after, with the partial input
  // and the cursor where they were.
  void Print(absl::string_view text);

  // Ctrl-C: leaves the typed text on screen followed by "^C" and starts a
  // new, empty line. REQUIRES: visible().
  void CancelLine();

  // The terminal changed size: redraws the prompt and the input.
  void Redraw();

  // The process was continued after a stop (Ctrl-Z, then fg): the shell
  // has changed the terminal's mode meanwhile. Puts it back in editing mode
  // and redraws the prompt and the input on the current line.
  void Resume();

 private:
  explicit LineEditor(Options options) : options_(std::move(options)) {}

  // libedit callbacks; the LineEditor is found through EL_CLIENTDATA.
  static char* PromptText(struct editline* el);
  static unsigned char CompleteKey(struct editline* el, int ch);
  static unsigned char EofKey(struct editline* el, int ch);
  static int ReadChar(struct editline* el, wchar_t* out);

  // Moves to the first row of the prompt and erases to the end of the
  // screen.
  void ClearPrompt();
  int Columns();
  void Write(absl::string_view text);

  const Options options_;
  struct editline* el_ = nullptr;
  struct history* hist_ = nullptr;
  struct termios saved_termios_ {};
  bool saved_termios_ok_ = false;
  bool visible_ = false;
  // Set by the callbacks during ReadKey.
  bool eof_key_ = false;
  bool input_closed_ = false;
  bool aborted_ = false;
  std::string listing_;  // Tab's list of matches, printed after the key
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_LINE_EDITOR_H_
