// One escaping for every line a person or a program reads back: views,
// the terminal, log files. Text that comes from the network (member names,
// chat messages, addresses) may carry control characters; printed raw they
// could forge a line ("\n2026-… info …"), rewrite the current one ("\r"),
// or drive the terminal (ESC sequences). EscapeControl makes them visible
// instead, and EscapingFormatter applies it to every spdlog record.
//
// Header-only; thread-safe (pure functions, and a formatter per sink as
// spdlog requires).
#ifndef PEERLAB_BASE_ESCAPE_H_
#define PEERLAB_BASE_ESCAPE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "spdlog/formatter.h"
#include "spdlog/pattern_formatter.h"

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

// A spdlog formatter: `pattern` (as spdlog::set_pattern takes it) applied to
// the record whose message has gone through EscapeControl (a tab escaped
// too), so one record is always one line. Give it to a sink
// (sink->set_formatter) or a logger (logger->set_formatter: every sink).
class EscapingFormatter final : public spdlog::formatter {
 public:
  explicit EscapingFormatter(std::string pattern)
      : pattern_(std::move(pattern)),
        inner_(std::make_unique<spdlog::pattern_formatter>(pattern_)) {}

  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    const absl::string_view payload(msg.payload.data(), msg.payload.size());
    std::string escaped = EscapeControl(payload, /*escape_tab=*/true);
    if (escaped.size() == payload.size()) {  // nothing escaped
      inner_->format(msg, dest);
      return;
    }
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<EscapingFormatter>(pattern_);
  }

 private:
  const std::string pattern_;
  std::unique_ptr<spdlog::pattern_formatter> inner_;
};

// The usual way to use it.
inline std::unique_ptr<spdlog::formatter> MakeEscapingFormatter(
    std::string pattern) {
  return std::make_unique<EscapingFormatter>(std::move(pattern));
}

}  // namespace peerlab

#endif  // PEERLAB_BASE_ESCAPE_H_
