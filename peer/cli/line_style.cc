#include "peer/cli/line_style.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "peer/cli/view.h"

namespace peerlab::cli {

LineStyle StyleOf(absl::string_view view, absl::string_view text) {
  if (view == cli::kLogView) return LineStyle::kQuiet;
  auto starts = [text](absl::string_view prefix) {
    return absl::StartsWith(text, prefix);
  };
  if (starts("<joined>") || starts("<info>")) return LineStyle::kGood;
  if (starts("<left>") || starts("<warn>")) return LineStyle::kNotice;
  if (starts("<failed>") || starts("<error>") || starts("error:")) {
    return LineStyle::kBad;
  }
  return LineStyle::kPlain;
}

std::string Sanitize(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t') {
      out += '^';
      out += static_cast<char>(c + 0x40);
    } else if (c == 0x7f) {
      out += "^?";
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += '?';  // a C1 control in UTF-8, e.g. U+009B (CSI)
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Render(LineStyle style, absl::string_view text) {
  const char* sgr = nullptr;
  switch (style) {
    case LineStyle::kPlain:
      return Sanitize(text);
    case LineStyle::kGood:
      sgr = "\x1b[1;32m";
      break;
    case LineStyle::kNotice:
      sgr = "\x1b[1;33m";
      break;
    case LineStyle::kBad:
      sgr = "\x1b[1;31m";
      break;
    case LineStyle::kQuiet:
      sgr = "\x1b[2m";
      break;
  }
  return absl::StrCat(sgr, Sanitize(text), "\x1b[0m");
}

}  // namespace peerlab::cli
