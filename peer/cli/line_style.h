// How a view line looks on the interactive terminal: its colour, and the
// control characters that must not reach the terminal. Pure functions.
#ifndef PEERLAB_PEER_CLI_LINE_STYLE_H_
#define PEERLAB_PEER_CLI_LINE_STYLE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace peerlab::cli {

enum class LineStyle {
  kPlain,
  kGood,    // bold green: <joined>, <info>
  kNotice,  // bold yellow: <left>, <warn>
  kBad,     // bold red: <failed>, <error>, error:
  kQuiet,   // dim: logView
};

// The style of one line of `view`. logView lines are dim; other lines are
// styled by how their text starts: "<joined>" and "<info>" bold green,
// "<left>" and "<warn>" bold yellow, "<failed>", "<error>" and "error:" bold
// red; anything else plain.
LineStyle StyleOf(absl::string_view view, absl::string_view text);

// `text` made safe to write to a terminal: C0 control characters other than
// tab, DEL, and the C1 controls (U+0080..U+009F) are shown as "^X" / "^?" /
// "?", so a line from a remote peer cannot move the cursor, change colours or
// retitle the window.
std::string Sanitize(absl::string_view text);

// `text` sanitized and wrapped in the ANSI SGR codes of `style` (nothing
// added for kPlain). No newline is added.
std::string Render(LineStyle style, absl::string_view text);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_LINE_STYLE_H_
