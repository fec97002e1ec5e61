#include "base/token_file.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/bounded_file.h"

namespace peerlab {

absl::StatusOr<std::string> ParseToken(std::string_view text,
                                       std::string_view what) {
  absl::string_view token =
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": the token is empty"));
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c == '\n' || c == '\r') {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what),
                       ": the token has more than one line (a token "
                       "is one line of printable ASCII)"));
    }
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(what), ": the token has a ",
          c == 0 ? std::string("NUL byte")
                 : absl::StrCat(c < 0x20 || c == 0x7f ? "control character"
                                                      : "non-ASCII byte",
                                " (0x", absl::Hex(c, absl::kZeroPad2), ")"),
          " at byte ", i + 1,
          ": a client cannot send it (a token is one line of printable "
          "ASCII)"));
    }
  }
  return std::string(token);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          const std::string& what) {
  auto text = ReadFileBounded(path, kMaxTokenFileBytes, what);
  if (!text.ok()) return text.status();
  auto token = ParseToken(*text, absl::StrCat(std::string(what), " ", path));
  if (!token.ok()) {
    return absl::InvalidArgumentError(token.status().message());
  }
  return token;
}

}  // namespace peerlab
