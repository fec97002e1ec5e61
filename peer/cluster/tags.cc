#include "peer/cluster/tags.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace peerlab::cluster {
namespace {

bool KeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

absl::Status ValidateTagKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("tag key: empty");
  if (key.size() > kMaxTagKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag key ", absl::CHexEscape(key.substr(0, 32)),
                     "...: ", key.size(), " bytes, at most ", kMaxTagKeyBytes));
  }
  for (char c : key) {
    if (!KeyChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tag key \"", absl::CHexEscape(key),
          "\": only letters, digits, '_', '.' and '-' are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTagValue(absl::string_view key, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tag ", key, ": empty value (tags del ", key, " removes a tag)"));
  }
  if (value.size() > kMaxTagValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag ", key, ": value of ", value.size(),
                     " bytes, at most ", kMaxTagValueBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateTags(const Tags& tags) {
  if (tags.size() > kMaxTags) {
    return absl::InvalidArgumentError(
        absl::StrCat(tags.size(), " tags, at most ", kMaxTags));
  }
  for (const auto& [k, v] : tags) {
    if (auto s = ValidateTagKey(k); !s.ok()) return s;
    if (auto s = ValidateTagValue(k, v); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::string>> ParseTagAssignment(
    absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(text), "\": expected KEY=VALUE"));
  }
  std::string key(text.substr(0, eq));
  std::string value(text.substr(eq + 1));
  if (auto s = ValidateTagKey(key); !s.ok()) return s;
  if (auto s = ValidateTagValue(key, value); !s.ok()) return s;
  return std::make_pair(std::move(key), std::move(value));
}

std::string EscapeTagValue(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '%' || c == ';' || c == '=' || c < 0x20 || c >= 0x7f) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

absl::StatusOr<std::string> UnescapeTagValue(absl::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '%') {
      out.push_back(escaped[i]);
      continue;
    }
    const bool room = i + 2 < escaped.size();
    const int hi = room ? HexValue(escaped[i + 1]) : -1;
    const int lo = room ? HexValue(escaped[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad escape at byte ", i, " of a tag value"));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::map<std::string, std::string> TagFields(const Tags& tags) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : tags) {
    out[absl::StrCat(kTagFieldPrefix, k)] = EscapeTagValue(v);
  }
  return out;
}

Tags DecodeTags(absl::string_view meta) {
  Tags tags;
  for (absl::string_view part : absl::StrSplit(meta, ';', absl::SkipEmpty())) {
    if (!absl::StartsWith(part, kTagFieldPrefix)) continue;
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = part.substr(sizeof(kTagFieldPrefix) - 1,
                                        eq - (sizeof(kTagFieldPrefix) - 1));
    if (!ValidateTagKey(key).ok()) continue;
    auto value = UnescapeTagValue(part.substr(eq + 1));
    if (!value.ok() || value->empty()) continue;
    tags[std::string(key)] = *std::move(value);
  }
  return tags;
}

}  // namespace peerlab::cluster
