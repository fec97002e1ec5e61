// One escaping for every line a person or a program reads back: views,
// the terminal, log files. Text that comes from the network (member names,
// chat messages, addresses) may carry control characters; printed raw they
// could forge a line ("\n2026-… info …"), rewrite the current one ("\r"),
// or drive the terminal (ESC sequences). EscapeControl makes them visible
// instead; base/logging.h's EscapingFormatter applies it to every spdlog
// record, runtime::StderrLogger to its lines.
//
// Header-only, abseil only (the runtime's StderrLogger uses it); thread-safe
// (a pure function).
#ifndef PEERLAB_BASE_ESCAPE_H_
#define PEERLAB_BASE_ESCAPE_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace peerlab {

// `text` with every C0 control character, DEL, and every C1 control (UTF-8
// U+0080..U+009F) written as an escape: \n, \r, \x1b, \u009b… A tab stays
// a tab unless `escape_tab`. Everything else (UTF-8 text, backslashes) is
// kept as is. Returns `text` unchanged (one copy) when there is nothing to
// escape.
inline std::string EscapeControl(absl::string_view text,
                                 bool escape_tab = false) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\t' && !escape_tab) {
      out.push_back('\t');
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out +=
          absl::StrFormat("\\u%04x", static_cast<unsigned char>(text[i + 1]));
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace peerlab

#endif  // PEERLAB_BASE_ESCAPE_H_
