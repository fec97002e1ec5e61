// Text for XML and HTML: the one escaping of the SVG plots
// (peer/membership/tool/sim_plot.cc) and the harness reports
// (test-harness/report: junit.xml, timeline.html, diagrams).
//
// Header-only, abseil only; thread-safe (a pure function).
#ifndef PEERLAB_BASE_XML_ESCAPE_H_
#define PEERLAB_BASE_XML_ESCAPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace peerlab {

namespace xml_escape_internal {

// The length (2..4) of the UTF-8 sequence at text[i] when it is one XML
// allows (no overlong form, surrogate, U+FFFE/U+FFFF or code point past
// U+10FFFF), else 0. REQUIRES: text[i] >= 0x80.
inline size_t Utf8Length(absl::string_view text, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(text[i]);
  size_t n;
  uint32_t cp;
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
    cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    cp = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
      cp == 0xfffe || cp == 0xffff) {
    return 0;
  }
  return n;
}

}  // namespace xml_escape_internal

// `text` fit for an XML 1.0 element or attribute value (and HTML): & < > "
// ' as entities; a control character other than a newline or a tab, and
// each byte that does not belong to a UTF-8 sequence XML allows, as '?'
// (a peer's name or chat text may carry any byte: one such byte would
// make the whole document unreadable).
inline std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      const size_t n = xml_escape_internal::Utf8Length(text, i);
      if (n == 0) {
        out += '?';
      } else {
        out.append(text.data() + i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c < 0x20 && c != '\n' && c != '\t' ? '?' : ch;
    }
  }
  return out;
}

}  // namespace peerlab

#endif  // PEERLAB_BASE_XML_ESCAPE_H_
